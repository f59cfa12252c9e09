#!/usr/bin/env bash
# Builds this plugin into target/wasm32-wasip2/plugin/dice.wasm with the
# JavaScript template's build script (examples/templates/javascript/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../../examples/templates/javascript/build.sh" "$here"
