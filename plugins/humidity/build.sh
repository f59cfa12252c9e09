#!/usr/bin/env bash
# Builds this plugin into target/wasm32-wasip2/plugin/humidity.wasm with the
# C template's build script (examples/templates/c/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../../examples/templates/c/build.sh" "$here"
