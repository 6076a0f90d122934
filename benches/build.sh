#!/usr/bin/env bash
# End-to-end `apko build` time against `tar c ROOTFS | gzip -6` of the same tree (the layer
# apko writes, unpacked), for the bundled example and for a synthetic repository of about 100
# packages. Prints medians and the ratio (goal: at most 1.0).
#
#   bash benches/build.sh [RUNS]     (default 7 runs each, interleaved)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}

cargo build --release --quiet --bin apko --example synthrepo
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd) # absolute: benches cd into other dirs
apko=$target/release/apko
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seconds taken by a command (stdout and stderr discarded).
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }

# bench NAME DIR CONFIG: builds in DIR, then times both commands RUNS times, interleaved.
bench() {
  local name=$1 dir=$2 config=$3 out=$work/$1.tar rootfs=$work/$1-rootfs
  (cd "$dir" && SOURCE_DATE_EPOCH=0 "$apko" build "$config" bench:1 "$out" --arch host)
  mkdir -p "$work/$name-x" "$rootfs"
  tar xf "$out" -C "$work/$name-x"
  local layer
  layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][-1])' "$work/$name-x/manifest.json")
  tar xzf "$work/$name-x/$layer" -C "$rootfs"
  local size
  size=$(du -sh "$rootfs" | cut -f1)
  : >"$work/a" && : >"$work/b"
  for _ in $(seq "$runs"); do
    (cd "$dir" && SOURCE_DATE_EPOCH=0 seconds "$apko" build "$config" bench:1 "$out" --arch host) >>"$work/a"
    seconds sh -c "tar c -C '$rootfs' . | gzip -6 >/dev/null" >>"$work/b"
  done
  local a b
  a=$(median <"$work/a")
  b=$(median <"$work/b")
  local ratio
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  printf '%-34s %8s %12s %16s %7s\n' "$name ($size tree)" "$runs" "${a}s" "${b}s" "$ratio"
  [ -z "${BENCH_ROWS:-}" ] || echo "apko build $name ($size tree)|${a} s|tar c, gzip -6: ${b} s|$ratio|<= 1.0" >>"$BENCH_ROWS"
}

openssl genrsa -out "$work/bench.rsa" 2048 2>/dev/null
host_apk=$(uname -m)
"$target/release/examples/synthrepo" "$work/bench.rsa" "$host_apk" 100 "$work/synth"

echo "apko build vs tar c ROOTFS | gzip -6 (medians; $(nproc) cores; load average $(cut -d" " -f1-3 /proc/loadavg))"
printf '%-34s %8s %12s %16s %7s\n' "image" "runs" "apko build" "tar|gzip -6" "ratio"
bench hello "$PWD" examples/hello/apko.yaml
bench synthetic-100 "$work/synth" apko.yaml
