#!/usr/bin/env bash
# The resolution differential: apko's credential lookup against crane (go-containerregistry,
# real apko's keychain) and skopeo (containers/image) over one matrix of configurations.
# Prints the table (cells in bold disagree; each is listed with the tool apko follows and why).
set -euo pipefail
cd "$(dirname "$0")/.."
APKO_PEERS_BIN=$(bash tests/peers.sh)
export APKO_PEERS_BIN
cargo test --locked --test testsuite resolution_oracles::resolution_agrees >/dev/null
cat target/resolution-oracles/table.md
