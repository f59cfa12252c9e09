#!/usr/bin/env bash
# Runs the whole test suite: unit tests of every crate and the end-to-end
# tests, which start the real binary on loopback and talk to it with real
# CoAP clients. Installs and builds what it needs first (examples/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
cargo test --release --locked --workspace -- --test-threads 2
