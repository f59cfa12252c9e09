#!/usr/bin/env bash
# Builds the dice plugin (JavaScript) into
# target/wasm32-wasip2/plugin/dice.wasm with jco's QuickJS backend
# (componentize-qjs). Installs what it needs idempotently, never prompts:
# Node.js and npm from Debian if missing, and jco, pinned by this folder's
# package-lock.json, into node_modules/ here.
set -euo pipefail
plugin_dir="$(cd "$(dirname "$0")" && pwd)"
name="$(basename "$plugin_dir")"
cd "$plugin_dir/../.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing Node.js and npm (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm </dev/null
fi

# npm ci installs exactly the lockfile; skipped while node_modules is newer
# than the lockfile (npm writes node_modules/.package-lock.json last).
if [ ! "$plugin_dir/node_modules/.package-lock.json" -nt "$plugin_dir/package-lock.json" ]; then
    log "installing jco for plugins/$name (npm ci)"
    (cd "$plugin_dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

# The QuickJS backend: a call costs tens of microseconds where the default
# StarlingMonkey one costs hundreds (README, "Writing a plugin"). Its sync
# runtime, since the host does not enable component-model async.
out=target/wasm32-wasip2/plugin
mkdir -p "$out"
"$plugin_dir/node_modules/.bin/jco" componentize "$plugin_dir/app.js" \
    --wit "$PWD/wit" --world-name plugin \
    --backend quickjs --backend-qjs-disable-async \
    -o "$PWD/$out/.$name.wasm.tmp" >/dev/null
mv -f "$out/.$name.wasm.tmp" "$out/$name.wasm"
log "built $out/$name.wasm"
