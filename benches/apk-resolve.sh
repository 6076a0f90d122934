#!/usr/bin/env bash
# Parse + resolve `alpine-base` on the whole Alpine 3.16 index vs gunzip of that index.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q --bench apk_resolve
