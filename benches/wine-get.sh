#!/usr/bin/env bash
# Median `get` latency under Wine of docker-credential-apko (release, x86_64-pc-windows-gnu)
# against docker-credential-helpers 0.9.13's wincred, on the same fresh Wine prefix (Wine's
# Credential Manager), each the median of RUNS sequential invocations through a python driver
# and the two-line wrapper tests/cross.sh uses. `version` is each exe's start-up floor.
#
# Under Wine 8 wincred never finds what it stored (Wine drops the "label" attribute it looks
# for, tests/fixtures/wine/README.md): its "hit" row is the lookup of a key it stored, which
# lists every credential and then answers "not found", as its miss row does.
#
# Builds what is missing with tests/fixtures/wine/lib.sh (run tests/cross.sh once first to
# install the toolchain and Wine).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
. tests/fixtures/wine/lib.sh
xcargo build -q --release --target "$WIN_TARGET"
PEERS=${APKO_PEERS_BIN:-$(bash tests/peers.sh)}
work=$(mktemp -d)
trap 'wine_down; rm -rf "$work"' EXIT
wine_up "$work"
mkdir -p "$work/bin"
cp "$PEERS/docker-credential-wincred-0.9.13.exe" "$work/wincred.exe"
wine_wrapper "$work/bin" apko-win "$(win_exe release)"
wine_wrapper "$work/bin" wincred "$work/wincred.exe"
OURS=$work/bin/docker-credential-apko-win
THEIRS=$work/bin/docker-credential-wincred

payload='{"ServerURL":"https://bench.example:5000","Username":"benchuser","Secret":"benchsecret"}'
printf '%s' "$payload" | "$OURS" store
printf '%s' "$payload" | "$THEIRS" store
# A few other entries, as a real Credential Manager has (wincred lists them all on every get).
for n in 1 2 3 4 5 6 7 8; do
  p="{\"ServerURL\":\"https://other-$n.example\",\"Username\":\"u$n\",\"Secret\":\"s$n\"}"
  printf '%s' "$p" | "$OURS" store
  printf '%s' "$p" | "$THEIRS" store
done

python3 - "$RUNS" "$OURS" "$THEIRS" <<'PY'
import statistics, subprocess, sys, time
runs, ours, theirs = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def medians_ms(a, b, stdin, expect_a, expect_b):
    """Medians of `runs` calls of a and of b, alternated so that load hits both alike."""
    ta, tb = [], []
    for _ in range(runs):
        for cmd, expect, times in ((a, expect_a, ta), (b, expect_b, tb)):
            t = time.perf_counter()
            p = subprocess.run(cmd, input=stdin, capture_output=True)
            times.append((time.perf_counter() - t) * 1000)
            assert expect(p), (cmd, p.returncode, p.stdout[:200])
    return statistics.median(ta), statistics.median(tb)

hit = lambda p: p.returncode == 0 and b"benchuser" in p.stdout
miss = lambda p: p.returncode == 1 and b"credentials not found" in p.stdout
ok = lambda p: p.returncode == 0
rows = [
    ("version (start-up floor)", *medians_ms([ours, "version"], [theirs, "version"], b"", ok, ok)),
    # wincred under Wine: lists everything, then "not found" (see the header).
    ("get, stored key",
     *medians_ms([ours, "get"], [theirs, "get"], b"https://bench.example:5000", hit, miss)),
    ("get, missing key",
     *medians_ms([ours, "get"], [theirs, "get"], b"https://missing.example", miss, miss)),
]
print(f"Under Wine, median of {runs} sequential invocations (ms):")
print(f"  {'':<26} {'docker-credential-apko':>22} {'wincred 0.9.13':>15} {'ratio':>6}")
for name, a, w in rows:
    print(f"  {name:<26} {a:>22.1f} {w:>15.1f} {a / w:>6.2f}")
PY
