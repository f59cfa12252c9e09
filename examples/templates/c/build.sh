#!/usr/bin/env bash
# Builds a coapwasm plugin written in C: every *.c file in the plugin's folder
# (default: this script's folder; else the folder given as $1) becomes
# target/wasm32-wasip2/plugin/<folder name>.wasm under the repository root, or
# under the project for one that `coapwasm new` wrote (wit/ beside it).
#
#   1. clang, lld and wasi-libc from Debian (installed if missing) compile
#      the sources with the world's bindings into a WASI preview1 core module
#      (a reactor: a library of exports, no main);
#   2. examples/componentize (a workspace binary) writes the bindings with
#      wit-bindgen's C generator, then makes the core module a component with
#      the WASI preview1 reactor adapter.
#
# Idempotent, never prompts. Copy this folder to plugins/<name>/ to start a
# plugin; see "Writing a plugin" in README.md.
set -euo pipefail

plugin_dir=$(cd "${1:-$(dirname "$0")}" && pwd)
name=$(basename "$plugin_dir")

# Where wit/plugin.wit is: beside the plugin in a project of its own
# (`coapwasm new`), else in the repository above it.
root=$plugin_dir
until [ -f "$root/wit/plugin.wit" ]; do
    if [ "$root" = / ]; then
        echo "no wit/plugin.wit in $plugin_dir or above it: start a plugin with \`coapwasm new\`," \
            "or keep it inside the coapwasm repository" >&2
        exit 1
    fi
    root=$(dirname "$root")
done
cd "$root"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# clang, wasm-ld, wasi-libc and compiler-rt's wasm32 builtins: Debian's.
if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null \
    || [ ! -f /usr/lib/wasm32-wasi/libc.a ] \
    || [ ! -f "$(clang --target=wasm32-wasi -print-libgcc-file-name 2>/dev/null)" ]; then
    log "installing clang, lld, wasi-libc (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        clang lld wasi-libc libclang-rt-dev-wasm32 </dev/null
fi

# componentize (examples/componentize, a workspace binary): built here when
# the plugin is inside the repository. A project outside it (`coapwasm new`)
# uses, in order: the path in COMPONENTIZE; a build in the coapwasm checkout
# `coapwasm new` came from (recorded on the next line; COAPWASM_REPO
# overrides it); the componentize on PATH.
coapwasm_repo=${COAPWASM_REPO:-}
target_dir=${CARGO_TARGET_DIR:-target}
if [ -f "$root/examples/componentize/Cargo.toml" ]; then
    cargo build --quiet --release --locked -p componentize
    componentize=$target_dir/release/componentize
elif [ -n "${COMPONENTIZE:-}" ]; then
    componentize=$COMPONENTIZE
elif [ -n "$coapwasm_repo" ] && [ -f "$coapwasm_repo/examples/componentize/Cargo.toml" ]; then
    (cd "$coapwasm_repo" && cargo build --quiet --release --locked -p componentize)
    case $target_dir in /*) componentize=$target_dir ;; *) componentize=$coapwasm_repo/$target_dir ;; esac
    componentize=$componentize/release/componentize
elif command -v componentize >/dev/null; then
    componentize=$(command -v componentize)
else
    echo "componentize not found: set COMPONENTIZE to its path or COAPWASM_REPO to a coapwasm" \
        "checkout, or run \`cargo install --locked --path examples/componentize\` in one" >&2
    exit 1
fi

build=$target_dir/c-plugins/$name
# One build of a plugin at a time: two would delete each other's files.
mkdir -p "$target_dir/c-plugins"
exec 9>"$target_dir/c-plugins/.$name.lock"
flock 9
rm -rf "$build"
mkdir -p "$build" "$target_dir/wasm32-wasip2/plugin"
log "building the C plugin $name ($plugin_dir)"
"$componentize" bindings c --wit wit --out "$build"
# plugin_component_type.o carries the world's type; componentize embeds it
# again anyway. Stripping drops the names section: a smaller component.
clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra \
    -I "$build" -o "$build/$name.core.wasm" \
    "$plugin_dir"/*.c "$build/plugin.c" "$build/plugin_component_type.o" \
    -Wl,--strip-all
"$componentize" new --wit wit "$build/$name.core.wasm" -o "$target_dir/wasm32-wasip2/plugin/$name.wasm"
log "built $(cd "$target_dir/wasm32-wasip2/plugin" && pwd)/$name.wasm"
