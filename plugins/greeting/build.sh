#!/usr/bin/env bash
# Builds the greeting plugin (Python) into
# target/wasm32-wasip2/plugin/greeting.wasm with componentize-py. Installs
# what it needs idempotently, never prompts: pip from Debian if missing, and
# componentize-py, pinned, from PyPI.
set -euo pipefail
plugin_dir="$(cd "$(dirname "$0")" && pwd)"
name="$(basename "$plugin_dir")"
cd "$plugin_dir/../.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

componentize_py_version=0.25.1

if ! python3 -m pip --version >/dev/null 2>&1; then
    log "installing pip (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip </dev/null
fi

installed="$(python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)"
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

out=target/wasm32-wasip2/plugin
mkdir -p "$out"
# The module `app` (app.py here) defines the WitWorld class that implements the world.
(cd "$plugin_dir" && componentize_py --wit-path "$OLDPWD/wit" --world plugin componentize app \
    --output "$OLDPWD/$out/.$name.wasm.tmp" >/dev/null)
mv -f "$out/.$name.wasm.tmp" "$out/$name.wasm"
log "built $out/$name.wasm"
