#!/usr/bin/env bash
# `apko push` against `skopeo copy oci:… docker://…`, `crane push` (go-containerregistry, what
# real apko pushes with) and `oras cp --from-oci-layout`, and `apko pull` against the same tools
# pulling into an OCI layout, on a local docker-registry (htpasswd, plain HTTP), same registry,
# same run, rotating which tool goes first. crane and oras read the credentials from a docker
# config.json `auths` entry, apko from `--auth-file`, skopeo from `--*-creds`. Every push of fresh blobs gets a new
# random layout (4 layers, ~100 MB in all, never pushed before). Prints medians and ratios for:
# fresh blobs, every blob already there (the same layout again), and pulling.
#   RUNS=9 bash benches/push.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-9}
MB=${MB:-100}
cargo build -q --release --bin apko
APKO=${CARGO_TARGET_DIR:-$PWD/target}/release/apko
PEERS=$(bash tests/peers.sh)
for tool in docker-registry skopeo htpasswd python3; do
  command -v "$tool" >/dev/null || { echo "benches/push.sh needs $tool (bash tests/run.sh installs it)" >&2; exit 1; }
done
work=$(mktemp -d)
reg_pid=""
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
htpasswd -Bbn bench benchpass > "$work/htpasswd"
cat > "$work/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: $host
  secret: bench-only
auth:
  htpasswd:
    realm: bench
    path: $work/htpasswd
EOF
docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null; do sleep 0.05; done

printf '%s=bench:benchpass\n' "$host" > "$work/auth.txt"
mkdir -p "$work/home/docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$host" "$(printf bench:benchpass | base64)" > "$work/home/docker/config.json"

python3 - "$APKO" "$host" "$work" "$RUNS" "$MB" "$PEERS" <<'PY'
import hashlib, json, os, shutil, statistics, subprocess, sys, time

apko, host, work, runs, mb, peers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
crane, oras = f"{peers}/crane", f"{peers}/oras"
env = dict(os.environ, HOME=f"{work}/home", DOCKER_CONFIG=f"{work}/home/docker")
for k in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "APKO_AUTH"):
    env.pop(k, None)
serial = 0

def layout():
    """A fresh layout: index.json -> an image index (tag "bench") -> one linux/amd64 image."""
    global serial
    serial += 1
    d = f"{work}/layout-{serial}"
    os.makedirs(f"{d}/blobs/sha256")
    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(f"{d}/blobs/sha256/{h}", "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}
    layers = [blob(os.urandom(mb * 1024 * 1024 // 4)) for _ in range(4)]
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode())
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(l, mediaType="application/vnd.oci.image.layer.v1.tar") for l in layers]}).encode())
    index = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [dict(manifest, mediaType="application/vnd.oci.image.manifest.v1+json",
                           platform={"architecture": "amd64", "os": "linux"})]}).encode())
    with open(f"{d}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(index, mediaType="application/vnd.oci.image.index.v1+json",
                   annotations={"org.opencontainers.image.ref.name": "bench"})]}, f)
    with open(f"{d}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return d

def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return elapsed

def apko_push(d, repo):
    return timed([apko, "push", d, f"{host}/{repo}:1", "--auth-file", f"{work}/auth.txt"])

def skopeo_push(d, repo):
    return timed(["skopeo", "copy", "-q", "--all", "--dest-creds", "bench:benchpass", "--dest-tls-verify=false",
                  f"oci:{d}:bench", f"docker://{host}/{repo}:1"])

def apko_pull(repo, d):
    return timed([apko, "pull", f"{host}/{repo}:1", d, "--auth-file", f"{work}/auth.txt"])

def skopeo_pull(repo, d):
    return timed(["skopeo", "copy", "-q", "--all", "--src-creds", "bench:benchpass", "--src-tls-verify=false",
                  f"docker://{host}/{repo}:1", f"oci:{d}:1"])

def crane_push(d, repo):
    return timed([crane, "push", "--insecure", d, f"{host}/{repo}:1"])

def crane_pull(repo, d):
    return timed([crane, "pull", "--insecure", "--format", "oci", f"{host}/{repo}:1", d])

def oras_push(d, repo):
    return timed([oras, "cp", "--from-oci-layout", "--to-plain-http", f"{d}:bench", f"{host}/{repo}:1"])

def oras_pull(repo, d):
    return timed([oras, "cp", "--from-plain-http", "--to-oci-layout", f"{host}/{repo}:1", f"{d}:1"])

tools = [("apko", apko_push, apko_pull), ("skopeo", skopeo_push, skopeo_pull),
         ("crane", crane_push, crane_pull), ("oras", oras_push, oras_pull)]
peer_names = [t[0] for t in tools[1:]]
results = {k: {t[0]: [] for t in tools} for k in ("fresh", "existing", "pull")}
for i in range(runs):
    order = tools[i % len(tools):] + tools[:i % len(tools)]
    for name, push, pull in order:
        d = layout()
        repo = f"{name}-{i}"
        results["fresh"][name].append(push(d, repo))
        results["existing"][name].append(push(d, repo))
        out = f"{work}/pulled-{name}-{i}"
        results["pull"][name].append(pull(repo, out))
        shutil.rmtree(d)
        shutil.rmtree(out)

labels = {"fresh": f"push, fresh blobs (4 layers, {mb} MB)", "existing": "push, every blob already there",
          "pull": f"pull ({mb} MB)"}
print(f"medians of {runs} runs, registry on loopback (plain HTTP, htpasswd):")
for key, label in labels.items():
    a = statistics.median(results[key]["apko"])
    for peer in peer_names:
        s = statistics.median(results[key][peer])
        print(f"  {label:40} apko {a:6.3f} s   {peer:6} {s:6.3f} s   ratio {a / s:.2f}")
        goal = {"fresh": "<= 0.85", "existing": "<= 1.0", "pull": "-"}[key]
        if os.environ.get("BENCH_ROWS"):
            with open(os.environ["BENCH_ROWS"], "a") as rows:
                rows.write(f"{label}|{a:.3f} s|{peer} {s:.3f} s|{a / s:.2f}|{goal}\n")
PY
