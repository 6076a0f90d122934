#!/usr/bin/env bash
# Median `get` latency of docker-credential-apko against docker-credential-secretservice (Debian's
# 0.6.4 and docker-credential-helpers 0.9.13) on the same gnome-keyring, and of
# docker-credential-apko on the kernel keyring; then `apko auth get` against `crane auth get`
# (go-containerregistry's keychain) through the same helper (credsStore apko, kernel keyring),
# and `docker-credential-apko version` against /bin/true. APKO_ALSO="path …": other builds of
# docker-credential-apko measured in the same round-robin on gnome-keyring.
# Each figure is the median of RUNS sequential process invocations (hyperfine if present).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
cargo build -q --release -p docker-credential-apko -p apko --bins
APKO=$PWD/target/release/docker-credential-apko
APKO_CLI=$PWD/target/release/apko
PEERS=$(bash tests/peers.sh)
SS09=$PEERS/docker-credential-secretservice-0.9.13
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

median_ms() { # median wall time in ms of RUNS runs of: printf KEY | "$@" get
  medians_ms "$*"
}

# Medians of several commands (each a shell-quoted string, run with `get`), measured
# round-robin (one run of each in turn) so that load from elsewhere skews them alike.
medians_ms() {
  python3 - "$RUNS" "$@" <<'PY'
import shlex, subprocess, sys, time, statistics
runs = int(sys.argv[1]); cmds = [shlex.split(c) for c in sys.argv[2:]]
times = [[] for _ in cmds]
for _ in range(runs):
    for cmd, ts in zip(cmds, times):
        t = time.perf_counter()
        p = subprocess.run(cmd + ["get"], input=b"bench.example:5000", stdout=subprocess.PIPE)
        ts.append((time.perf_counter() - t) * 1000)
        assert p.returncode == 0 and b"benchuser" in p.stdout, (cmd, p.stdout)
print(" ".join(f"{statistics.median(ts):.2f}" for ts in times))
PY
}

payload='{"ServerURL":"bench.example:5000","Username":"benchuser","Secret":"benchsecret"}'

export -f median_ms; export -f medians_ms; export RUNS APKO APKO_CLI PEERS SS09 payload work APKO_ALSO
dbus-run-session -- bash -c '
  export HOME='"$work"'; eval "$(printf "\n" | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
  # Wait without triggering D-Bus activation (which could start a second, locked daemon).
  for i in $(seq 100); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
      string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break; sleep 0.05; done
  printf "%s" "$payload" | docker-credential-secretservice store
  printf "%s" "$payload" | "$SS09" store
  printf "%s" "$payload" | DOCKER_CREDENTIAL_APKO_BACKEND=secret-service "$APKO" store
  # APKO_ALSO: other builds of docker-credential-apko to measure alongside (the libdbus one).
  also=(); for b in ${APKO_ALSO:-}; do also+=("env DOCKER_CREDENTIAL_APKO_BACKEND=secret-service $b"); done
  read -r ss ss09 ours rest <<<"$(medians_ms docker-credential-secretservice "$SS09" \
    "env DOCKER_CREDENTIAL_APKO_BACKEND=secret-service $APKO" "${also[@]}")"
  echo "secret service (gnome-keyring), median of $RUNS gets (round-robin), load $(cut -d" " -f1-3 /proc/loadavg):"
  echo "  docker-credential-secretservice 0.6.4:  $ss ms"
  echo "  docker-credential-secretservice 0.9.13: $ss09 ms"
  echo "  docker-credential-apko:                 $ours ms"
  r=($rest); i=0; for b in ${APKO_ALSO:-}; do echo "  $b: ${r[$i]} ms"; i=$((i+1)); done
  python3 -c "print(f\"  ratio apko/secretservice: {$ours/$ss:.2f} (0.6.4), {$ours/$ss09:.2f} (0.9.13) (goal <= 0.50 of 0.9.13)\")"
  [ -z "${BENCH_ROWS:-}" ] || python3 -c "print(f\"docker-credential-apko get, gnome-keyring|$ours ms|secretservice 0.6.4 $ss ms|{$ours/$ss:.2f}|<= 0.80\")" >> "$BENCH_ROWS"
  [ -z "${BENCH_ROWS:-}" ] || python3 -c "print(f\"docker-credential-apko get, gnome-keyring|$ours ms|secretservice 0.9.13 $ss09 ms|{$ours/$ss09:.2f}|<= 0.50\")" >> "$BENCH_ROWS"
'
keyctl session - bash -c '
  printf "%s" "$payload" | DOCKER_CREDENTIAL_APKO_BACKEND=keyutils "$APKO" store
  k=$(median_ms env DOCKER_CREDENTIAL_APKO_BACKEND=keyutils "$APKO")
  echo "kernel keyring: docker-credential-apko median get: $k ms"
  [ -z "${BENCH_ROWS:-}" ] || echo "docker-credential-apko get, kernel keyring|$k ms|-|-|-" >> "$BENCH_ROWS"
  # `version` (no keychain) against /bin/true: process start-up alone.
  read -r v t <<<"$(python3 - "$RUNS" "$APKO" <<'"'"'PY'"'"'
import subprocess, sys, time, statistics
runs, apko = int(sys.argv[1]), sys.argv[2]
ts = ([], [])
for _ in range(runs):
    for t, cmd in zip(ts, ([apko, "version"], ["/bin/true"])):
        s = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL)
        t.append((time.perf_counter() - s) * 1000)
print(" ".join(f"{statistics.median(t):.2f}" for t in ts))
PY
)"
  echo "docker-credential-apko version: $v ms, /bin/true: $t ms (goal: version <= 1.5 ms)"
  [ -z "${BENCH_ROWS:-}" ] || echo "docker-credential-apko version|$v ms|/bin/true $t ms|-|<= 1.5 ms" >> "$BENCH_ROWS"
  # apko auth get vs crane auth get: each resolves bench.example:5000 through credsStore apko.
  mkdir -p "$work/docker" "$work/bin"
  ln -sf "$APKO" "$work/bin/docker-credential-apko"
  echo "{\"credsStore\":\"apko\"}" > "$work/docker/config.json"
  export DOCKER_CONFIG=$work/docker HOME=$work DOCKER_CREDENTIAL_APKO_BACKEND=keyutils PATH=$work/bin:$PATH
  a=$(median_ms "$APKO_CLI" auth)
  c=$(median_ms "$PEERS/crane" auth)
  echo "credsStore apko (kernel keyring), median of $RUNS: apko auth get $a ms, crane auth get $c ms"
  [ -z "${BENCH_ROWS:-}" ] || python3 -c "print(f\"apko auth get via docker-credential-apko|$a ms|crane auth get $c ms|{$a/$c:.2f}|<= 1.0\")" >> "$BENCH_ROWS"
  printf "bench.example:5000" | "$APKO" erase
' 2>&1 | grep -v "^Joined session keyring"
