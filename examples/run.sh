#!/usr/bin/env bash
# Builds everything (installing what is missing) and serves the example
# plugins on UDP port 5683, IPv4 and IPv6. Extra arguments go to
# `coapwasm serve`, e.g. `examples/run.sh --bind 127.0.0.1:5683 --log-level debug`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
exec target/release/coapwasm serve --plugins target/plugins "$@"
