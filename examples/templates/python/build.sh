#!/usr/bin/env bash
# Builds a coapwasm plugin written in Python: the module app.py (and any
# other modules beside it) in the plugin's folder (default: this script's
# folder; else the folder given as $1) becomes
# target/wasm32-wasip2/plugin/<folder name>.wasm under the repository root, or
# under the project for one that `coapwasm new` wrote (wit/ beside it).
#
# componentize-py (pinned, from PyPI; installed if missing, pip from Debian
# if that is missing too) generates the world's bindings, embeds CPython and
# app.py, and snapshots the initialised interpreter into a component.
#
# Idempotent, never prompts. Copy this folder to plugins/<name>/ to start a
# plugin; see "Writing a plugin" in README.md.
set -euo pipefail

componentize_py_version=0.25.1

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

if ! python3 -m pip --version >/dev/null 2>&1; then
    log "installing pip (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip </dev/null
fi

installed=$(python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)
if [ "$installed" != "$componentize_py_version" ]; then
    log "installing componentize-py $componentize_py_version (pip)"
    # A Debian-managed Python refuses plain installs (PEP 668); this is a
    # build tool, so install it for the user anyway.
    python3 -m pip install --quiet "componentize-py==$componentize_py_version" \
        || python3 -m pip install --quiet --break-system-packages "componentize-py==$componentize_py_version"
fi

# Through Python rather than the `componentize-py` script, which a user
# install may have put outside PATH.
componentize_py() {
    python3 -c 'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' "$@"
}

out=${CARGO_TARGET_DIR:-target}/wasm32-wasip2/plugin
mkdir -p "$out"
out=$(cd "$out" && pwd) # so that the last line says where, wherever it runs
log "building the Python plugin $name ($plugin_dir)"
# Written beside the result and renamed into place, so that a host watching
# a copy never sees half a component.
# The helper module coapwasm.py: beside app.py in a project of its own (a
# copy), else the repository's, as a second module path.
python_path=(--python-path "$plugin_dir")
if [ ! -f "$plugin_dir/coapwasm.py" ]; then
    python_path+=(--python-path "$root/plugins/sdk/python")
fi
componentize_py --wit-path wit --world plugin componentize app \
    "${python_path[@]}" --output "$out/.$name.wasm.tmp" >/dev/null
mv -f "$out/.$name.wasm.tmp" "$out/$name.wasm"
log "built $out/$name.wasm"
