#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60), FUZZ_JOBS (default: one
# per core) at a time; fails when any crashes.
# Crashes land in fuzz/artifacts/<target>/; every crash fixed becomes a regression test.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#   bash fuzz/run.sh build        (builds only; tests/run.sh does it beside the tests)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"; shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# cargo-fuzz needs nightly-only rustc flags; this machine has one stable toolchain.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --release
[ "$seconds" = build ] && exit 0
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
# Real inputs from the shared test data seed the corpora (read in place, never committed).
testdata=../../shared/testdata
seed_from() { # TARGET FILE...
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "corpus/$t/$(basename "$(dirname "$f")")-$(basename "$f")"; done
  return 0
}
if [ -d "$testdata" ]; then
  seed_from apk_index "$testdata"/apk/rsa256-signed/*.tar.gz "$testdata"/apko-cli/packages/x86_64/APKINDEX.tar.gz "$testdata"/apk/extracted/APKINDEX
  seed_from apk_package "$testdata"/apk/hello-0.1.0-r0.apk "$testdata"/apko-cli/packages/x86_64/*.apk
  seed_from yaml_config "$testdata"/apko-cli/*.yaml "$testdata"/apko-types/*.yaml
  seed_from registry_input "$testdata"/apko-cli/base_image/index.json "$testdata"/apko-cli/base_image/blobs/sha256/*
fi
# One fuzzer per core at a time (FUZZ_JOBS, default nproc): each still runs SECONDS.
jobs="${FUZZ_JOBS:-$(nproc)}"
logs=$(mktemp -d)
run_one() { # TARGET
  local t=$1
  mkdir -p "corpus/$t"
  [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  if cargo fuzz run -s none --release "$t" "corpus/$t" -- -max_total_time="$seconds" >"$logs/$t" 2>&1; then
    printf '%-16s %s\n' "$t" "$(grep -a '^Done' "$logs/$t" | tail -1)"
  else
    touch "$logs/$t.crashed"
  fi
}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
  if [ -e "$logs/$t.crashed" ]; then
    tail -40 "$logs/$t"; echo "fuzz/run.sh: $t crashed; the input is in fuzz/artifacts/$t/" >&2; status=1
  fi
done
rm -rf "$logs"
exit $status
