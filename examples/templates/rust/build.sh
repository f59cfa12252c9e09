#!/usr/bin/env bash
# Builds a coapwasm plugin written in Rust: the crate in the plugin's folder
# (default: this script's folder; else the folder given as $1) becomes a
# component, wasm32-wasip2 with the `plugin` profile (whole-program LTO),
# under the target folder of the Cargo workspace it belongs to: the
# project's own target/ for one that `coapwasm new` wrote, the repository's
# for the template inside it. The last line names the .wasm.
#
# Idempotent, never prompts; adds the wasm32-wasip2 target with rustup if
# it is missing. See "Start a plugin" in README.md.
set -euo pipefail

plugin_dir=$(cd "${1:-$(dirname "$0")}" && pwd)
manifest=$plugin_dir/Cargo.toml

log() { printf '==> %s\n' "$*" >&2; }

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "adding the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

# The package's name, and the workspace whose target/ the build goes to.
package=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
workspace=$(cd "$plugin_dir" && cargo locate-project --workspace --message-format plain)
target_dir=${CARGO_TARGET_DIR:-$(dirname "$workspace")/target}

log "building the Rust plugin $package ($plugin_dir)"
cargo build --quiet --manifest-path "$manifest" -p "$package" --profile plugin --target wasm32-wasip2
log "built $target_dir/wasm32-wasip2/plugin/${package//-/_}.wasm"
