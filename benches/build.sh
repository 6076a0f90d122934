#!/usr/bin/env bash
# End-to-end `apko build` against real apko (v1.2.39, built by tests/peers.sh) building the
# same config with the same SOURCE_DATE_EPOCH, and against `tar c ROOTFS | gzip -6` of the
# same tree (the layer apko writes, unpacked): wall time and peak RSS, medians of interleaved
# runs. Images: the bundled example, synthetic repositories of 100 and 1,000 packages, a
# synthetic 2 GB tree (100 packages of 20 MiB executables; BIG_RUNS runs, default 1; BIG_RUNS=0
# skips it), and apko's own `apko.yaml` (two architectures) from the shared testdata.
#
#   bash benches/build.sh [RUNS]     (default 7 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
big_runs=${BIG_RUNS:-1}

cargo build --release --quiet --bin apko --example synthrepo
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd) # absolute: benches cd into other dirs
apko=$target/release/apko
peers=$(bash tests/peers.sh)
apko_go=$peers/apko-go
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure DIR CMD...: runs CMD in DIR once, prints "SECONDS MAXRSS_KB" (the child's own rusage).
measure() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
d, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
p = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, ru = os.wait4(p.pid, 0)
elapsed = time.perf_counter() - t
if status != 0:
    sys.exit(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
print(f"{elapsed:.4f} {ru.ru_maxrss}")
PY
}

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
median_mb() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m/1024}'; }

# bench NAME DIR CONFIG ARCH [RUNS]: builds in DIR, then times the three commands RUNS times,
# interleaved.
bench() {
  local name=$1 dir=$2 config=$3 arch=$4 out=$work/$1.tar rootfs=$work/$1-rootfs runs=${5:-$runs}
  export SOURCE_DATE_EPOCH=0
  (cd "$dir" && "$apko" build "$config" bench:1 "$out" --arch "$arch" >/dev/null 2>&1)
  mkdir -p "$work/$name-x" "$rootfs"
  tar xf "$out" -C "$work/$name-x"
  local layer
  layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][-1])' "$work/$name-x/manifest.json")
  tar xzf "$work/$name-x/$layer" -C "$rootfs"
  local size
  size=$(du -sh "$rootfs" | cut -f1)
  : >"$work/a" && : >"$work/g" && : >"$work/b"
  for i in $(seq "$runs"); do
    if ((i % 2)); then
      measure "$dir" "$apko" build "$config" bench:1 "$out" --arch "$arch" >>"$work/a"
      measure "$dir" "$apko_go" build "$config" bench:1 "$work/go.tar" --arch "$arch" >>"$work/g"
    else
      measure "$dir" "$apko_go" build "$config" bench:1 "$work/go.tar" --arch "$arch" >>"$work/g"
      measure "$dir" "$apko" build "$config" bench:1 "$out" --arch "$arch" >>"$work/a"
    fi
    measure "$dir" sh -c "tar c -C '$rootfs' . | gzip -6 >/dev/null" >>"$work/b"
  done
  unset SOURCE_DATE_EPOCH
  local a ar g gr b
  a=$(cut -d' ' -f1 "$work/a" | median); ar=$(cut -d' ' -f2 "$work/a" | median_mb)
  g=$(cut -d' ' -f1 "$work/g" | median); gr=$(cut -d' ' -f2 "$work/g" | median_mb)
  b=$(cut -d' ' -f1 "$work/b" | median)
  local ratio_go ratio_rss ratio_tar
  ratio_go=$(awk -v a="$a" -v b="$g" 'BEGIN { printf "%.2f", a / b }')
  ratio_rss=$(awk -v a="$ar" -v b="$gr" 'BEGIN { printf "%.2f", a / b }')
  ratio_tar=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  printf '%-28s %4s %9s %7s %9s %7s %7s %7s %11s %7s\n' "$name ($size)" "$runs" "${a}s" "${ar}M" "${g}s" "${gr}M" \
    "$ratio_go" "$ratio_rss" "${b}s" "$ratio_tar"
  if [ -n "${BENCH_ROWS:-}" ]; then
    echo "apko build $name ($size tree), time|${a} s|apko 1.2.39 ${g} s|$ratio_go|<= 1.0" >>"$BENCH_ROWS"
    # issue 15's goals: big trees in bounded memory, at most 0.6x a single gzip
    local rss_goal=- tar_goal="<= 1.0"
    case $name in
      synthetic-1000) rss_goal="<= 300 MB, <= 2.5x synthetic-100" tar_goal="<= 0.6" ;;
      synthetic-*) tar_goal="<= 0.6" ;;
    esac
    echo "apko build $name ($size tree), peak RSS|${ar} MB|apko 1.2.39 ${gr} MB|$ratio_rss|$rss_goal" >>"$BENCH_ROWS"
    echo "apko build $name ($size tree) vs tar|${a} s|tar c, gzip -6: ${b} s|$ratio_tar|$tar_goal" >>"$BENCH_ROWS"
  fi
}

openssl genrsa -out "$work/bench.rsa" 2048 2>/dev/null
host_apk=$(uname -m)
"$target/release/examples/synthrepo" "$work/bench.rsa" "$host_apk" 100 "$work/synth"
"$target/release/examples/synthrepo" "$work/bench.rsa" "$host_apk" 1000 "$work/synth1000"
if ((big_runs > 0)); then
  "$target/release/examples/synthrepo" "$work/bench.rsa" "$host_apk" 100 "$work/synth2g" --big-files 20
fi
mkdir -p "$work/apko-cli"
ln -s "$(cd ../shared/testdata/apko-cli && pwd)" "$work/apko-cli/testdata"
cp ../shared/testdata/apko-cli/apko.yaml "$work/apko-cli/apko.yaml"

echo "apko build vs real apko $("$apko_go" version 2>/dev/null | awk '/GitVersion/ {print $2}') and tar c ROOTFS | gzip -6"
echo "(medians; $(nproc) cores; load average $(cut -d" " -f1-3 /proc/loadavg); RSS is each process's peak)"
printf '%-28s %4s %9s %7s %9s %7s %7s %7s %11s %7s\n' "image" "runs" "apko" "RSS" "apko-go" "RSS" "t ratio" "M ratio" "tar|gzip-6" "ratio"
bench hello "$PWD" examples/hello/apko.yaml x86_64
bench synthetic-100 "$work/synth" apko.yaml "$host_apk"
bench synthetic-1000 "$work/synth1000" apko.yaml "$host_apk"
if ((big_runs > 0)); then
  bench synthetic-2g "$work/synth2g" apko.yaml "$host_apk" "$big_runs"
  rm -rf "$work/synth2g" "$work"/synthetic-2g* # 6 GB of scratch
fi
bench apko.yaml "$work/apko-cli" apko.yaml x86_64,aarch64
