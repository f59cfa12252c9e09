#!/usr/bin/env bash
# Builds a coapwasm plugin written in JavaScript: the module app.js (and the
# modules it imports) in the plugin's folder (default: this script's folder;
# else the folder given as $1) becomes
# target/wasm32-wasip2/plugin/<folder name>.wasm under the repository root, or
# under the project for one that `coapwasm new` wrote (wit/ beside it).
#
# jco's QuickJS backend (componentize-qjs: the QuickJS-NG engine, its state
# after app.js's top level snapshotted into the component) does the work:
# a call costs tens of microseconds there, hundreds in jco's default
# StarlingMonkey backend (README, "Writing a plugin"). Its sync runtime,
# since the host does not enable component-model async.
#
# A plugin that needs more imports than the world gives (WASI randomness,
# say) keeps a wit/ folder of its own: a package whose world `plugin`
# includes coapwasm:plugin/plugin@0.2.3 and adds them, with their WIT under
# wit/deps/; build.sh adds the repository's wit/plugin.wit as a dependency.
#
# jco is pinned by package.json and package-lock.json in the plugin's folder
# and installed there (into node_modules/) when missing or older than the
# lockfile; Node.js and npm come from Debian if missing.
#
# Idempotent, never prompts. Copy this folder to plugins/<name>/ to start a
# plugin; see "Writing a plugin" in README.md.
set -euo pipefail

plugin_dir=$(cd "${1:-$(dirname "$0")}" && pwd)
name=$(basename "$plugin_dir")

# Where wit/plugin.wit is: beside the plugin in a project of its own
# (`coapwasm new`), else in the repository above it (where a plugin's own
# wit/ is a world of its own, below).
root=$plugin_dir
if [ ! -f "$root/wit/plugin.wit" ]; then
    root=$(dirname "$plugin_dir")
    until [ -f "$root/wit/plugin.wit" ]; do
        if [ "$root" = / ]; then
            echo "no wit/plugin.wit in $plugin_dir or above it: start a plugin with \`coapwasm new\`," \
                "or keep it inside the coapwasm repository" >&2
            exit 1
        fi
        root=$(dirname "$root")
    done
fi
cd "$root"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing Node.js and npm (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm </dev/null
fi

# npm writes node_modules/.package-lock.json last: while it is newer than
# the lockfile, the install is complete and current. `npm install` follows
# the lockfile; not `npm ci`, which refuses it because it lacks some native
# binaries of other platforms (optional dependencies) that the registry
# this was locked against did not carry.
if [ ! "$plugin_dir/node_modules/.package-lock.json" -nt "$plugin_dir/package-lock.json" ]; then
    log "installing jco into $plugin_dir/node_modules (npm install, from package-lock.json)"
    (cd "$plugin_dir" && npm install --no-save --no-audit --no-fund --loglevel=error </dev/null)
fi

wit=$root/wit
if [ "$root" != "$plugin_dir" ] && [ -d "$plugin_dir/wit" ]; then
    wit=$(mktemp -d)
    trap 'rm -rf "$wit"' EXIT
    cp -r "$plugin_dir/wit/." "$wit/"
    mkdir -p "$wit/deps/coapwasm-plugin"
    cp "$root/wit/plugin.wit" "$wit/deps/coapwasm-plugin/"
fi

out=${CARGO_TARGET_DIR:-target}/wasm32-wasip2/plugin
mkdir -p "$out"
out=$(cd "$out" && pwd) # so that the last line says where, wherever it runs

# The helper module coapwasm.js, which app.js imports as './coapwasm.js':
# jco 1.35's QuickJS backend reads a relative import from beside the
# source when it builds, so no bundling is needed. A project of its own
# has a copy beside app.js (`coapwasm new` puts it there); a plugin inside
# the repository is built from a copy of its sources beside the
# repository's helper, under target/ and replaced each build.
sources=$plugin_dir
if [ ! -f "$plugin_dir/coapwasm.js" ]; then
    sources=$(cd "$out" && pwd)/.$name.js-sources
    rm -rf "$sources"
    mkdir -p "$sources"
    tar -C "$plugin_dir" --exclude=./node_modules -cf - . | tar -C "$sources" -xf -
    cp "$root/plugins/sdk/javascript/coapwasm.js" "$sources/"
fi

log "building the JavaScript plugin $name ($plugin_dir)"
# jco resolves paths from the source's folder: give it absolute ones. The
# result is written beside its place and renamed into it, so that a host
# watching a copy never sees half a component. From the sources' folder, so
# that an exception's stack names `/app.js`.
"$plugin_dir/node_modules/.bin/jco" componentize "$sources/app.js" \
    --cwd "$sources" \
    --wit "$wit" --world-name plugin \
    --backend quickjs --backend-qjs-disable-async \
    -o "$(cd "$out" && pwd)/.$name.wasm.tmp" >/dev/null
mv -f "$out/.$name.wasm.tmp" "$out/$name.wasm"
log "built $out/$name.wasm"
