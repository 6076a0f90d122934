#!/usr/bin/env bash
# Differential builds, real apko (v1.2.39, built by tests/peers.sh) against ours: runs
# tests/testsuite/differential/ over the corpus and prints its table (config | archs | differences |
# ids), then any difference docs/apko-differences.md does not explain and any row that
# matched nothing. The table is also in target/differential/table.md, every key with the row
# it matched in target/differential/keys.tsv. Exits with the test's status.
#
#   bash benches/differential.sh          (DIFFERENTIAL_KEEP=1 keeps the builds)
set -uo pipefail
cd "$(dirname "$0")/.."

bash tests/peers.sh >/dev/null || exit 1
table=target/differential/table.md
rm -f "$table"
start=$(date +%s.%N)
cargo test --locked --quiet --test testsuite differential:: -- --nocapture >target/differential.log 2>&1
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
if [ -f "$table" ]; then
  cat "$table"
else
  tail -40 target/differential.log
fi
grep -h '^kept the builds' target/differential.log || true
printf '\ntest %s in %.1f s (log: target/differential.log)\n' \
  "$([ $status -eq 0 ] && echo passed || echo FAILED)" "$elapsed"
exit $status
