#!/usr/bin/env bash
# Builds this test plugin into target/wasm32-wasip2/plugin/pykit.wasm with the
# Python template's build script (examples/templates/python/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../../../examples/templates/python/build.sh" "$here"
