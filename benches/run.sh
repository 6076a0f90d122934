#!/usr/bin/env bash
# Runs every benchmark on the real components and prints one table of medians and ratios.
# Benchmarks are scripts, not timed tests. Each script also prints its own details.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_ROWS=$(mktemp)
export BENCH_ROWS
trap 'rm -f "$BENCH_ROWS"' EXIT
echo "== client overhead: Program::get vs running the helper directly"
cargo bench -q -p apko-credential --bench helper_overhead
echo "== docker-credential-apko get latency vs docker-credential-secretservice"
bash benches/helper-get.sh
echo "== APK: parse the Alpine 3.16 index and resolve alpine-base vs gunzip"
bash benches/apk-resolve.sh
echo "== apko build vs tar | gzip -6 and real apko: time and peak RSS (the example, synthetic 100 and 1,000 packages, a 2 GB tree)"
bash benches/build.sh
echo "== registry: apko push/pull vs skopeo copy"
bash benches/push.sh

echo
echo "== Summary ($(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$BENCH_ROWS" <<'PY'
import sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1]) if l.strip()]
head = ["benchmark", "apko (median)", "peer (median)", "ratio", "goal"]
widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
PY
