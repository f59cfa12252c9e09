#!/usr/bin/env bash
# Builds this plugin into target/wasm32-wasip2/plugin/counter.wasm with the
# Go template's build script (examples/templates/go/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../../examples/templates/go/build.sh" "$here"
