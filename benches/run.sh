#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Benchmarks are scripts, not timed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== client overhead: Program::get vs running the helper directly"
cargo bench -q -p apko-credential --bench helper_overhead
echo "== docker-credential-apko get latency vs docker-credential-secretservice"
bash benches/helper-get.sh
echo "== APK: parse the Alpine 3.16 index and resolve alpine-base vs gunzip"
bash benches/apk-resolve.sh
echo "== apko build vs tar | gzip -6 (the example and a synthetic 100-package repository)"
bash benches/build.sh
echo "== registry: apko push/pull vs skopeo copy"
bash benches/push.sh
