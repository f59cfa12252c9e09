#!/usr/bin/env bash
# Installs what coapwasm needs on a Debian machine that has only the Rust
# toolchain, then builds the host and every plugin. Idempotent, never prompts.
# Used by examples/run.sh and tests/run.sh; run it alone to just build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# The plugins' compilation target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "adding the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

# OpenSSL's headers and pkg-config: the host's coaps (DTLS) is built on the
# system's libssl through the openssl crate.
# The openssl command makes the certificates of the coaps tests.
if ! pkg-config --exists openssl 2>/dev/null || ! command -v openssl >/dev/null; then
    log "installing libssl-dev, pkg-config and openssl (for coaps)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev pkg-config openssl </dev/null
fi

# libcoap's command-line client, to talk to the host (and for the tests).
if ! command -v coap-client-notls >/dev/null && ! command -v coap-client >/dev/null; then
    log "installing libcoap3-bin (coap-client)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libcoap3-bin </dev/null
fi

# Redis, the shared key-value backend ([kv] redis, --kv): the fleet tests
# (tests/e2e/fleet_kv.rs) and examples/kv_bench.sh start their own
# redis-server on a loopback port; Debian's package also starts a system
# service where systemd runs, which they do not use.
if ! command -v redis-server >/dev/null; then
    log "installing redis-server (for the shared key-value backend's tests)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server </dev/null
fi

# nginx with its stream module: the UDP balancer with source-address
# affinity of examples/nginx-coap-udp.conf, which the fleet_observe test
# runs on loopback (its own config and ports; Debian's default site, where
# a service manager starts it, is not used).
if ! command -v nginx >/dev/null || [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
    log "installing nginx-core and libnginx-mod-stream (for the balancer test)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-core libnginx-mod-stream </dev/null
fi

# aiocoap, a second real client (Python) for the Observe tests
# (tests/clients/aiocoap_observe.py). Pinned, so the tests meet a known version.
# Its `aiocoap-rd` entry point is the Resource Directory of the
# resource_directory tests; 0.4.17 needs no extra for it (link-format parsing
# is built in). libcoap3-bin above brings the other one, `coap-rd-notls`.
if ! python3 -c 'import aiocoap' 2>/dev/null; then
    log "installing aiocoap (pip)"
    # A Debian-managed Python refuses plain installs (PEP 668); this is a
    # test tool, so install it for the user anyway.
    python3 -m pip install --quiet 'aiocoap==0.4.17' \
        || python3 -m pip install --quiet --break-system-packages 'aiocoap==0.4.17'
fi

# FastAPI and uvicorn, to run seed 002's HTTP gateway
# (examples/seeds/guide/coap_gateway.py) against coapwasm: its e2e test and
# examples/http_bench.sh. Pinned, like aiocoap; plain uvicorn (h11, asyncio),
# as `pip install uvicorn` gives it.
if ! python3 -c 'import fastapi, uvicorn' 2>/dev/null; then
    log "installing fastapi and uvicorn (pip)"
    python3 -m pip install --quiet 'fastapi==0.165.0' 'uvicorn==0.55.0' \
        || python3 -m pip install --quiet --break-system-packages 'fastapi==0.165.0' 'uvicorn==0.55.0'
fi

# A headless browser for the web console's test (tests/e2e/console.rs):
# Debian's chromium and its driver, and selenium (pinned) to drive them.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium and chromium-driver (for the console test)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver </dev/null
fi
if ! python3 -c 'import selenium' 2>/dev/null; then
    log "installing selenium (pip)"
    python3 -m pip install --quiet 'selenium==4.27.1' \
        || python3 -m pip install --quiet --break-system-packages 'selenium==4.27.1'
fi

# prometheus_client's text parser, which tests/e2e/metrics.rs reads the
# host's /metrics with. Pinned, like aiocoap.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
    log "installing prometheus-client (pip)"
    python3 -m pip install --quiet 'prometheus-client==0.23.1' \
        || python3 -m pip install --quiet --break-system-packages 'prometheus-client==0.23.1'
fi

log "building the host"
cargo build --release --locked -p coapwasm

# Example plugins, the test-only ones (small; the tests need them), and the
# Rust template (examples/templates/rust, package hello), so that it keeps
# building.
example_plugins=(temperature led light info firmware sensors)
test_plugins=(testkit clash storm stuck-sampler bulky hoarder chatter slowstart whoami)
template_plugins=(hello)
log "building the plugins: ${example_plugins[*]} ${test_plugins[*]} ${template_plugins[*]}"
package_flags=()
for p in "${example_plugins[@]}" "${test_plugins[@]}" "${template_plugins[@]}"; do package_flags+=(-p "$p"); done
cargo build --locked --profile plugin --target wasm32-wasip2 "${package_flags[@]}"

# The hot-reload tests swap versions of one test plugin: build each variant
# and keep a copy, since every build writes the same versioned.wasm.
test_plugin_dir=target/test-plugins
log "building the versioned test plugin: v1, v2, moved"
mkdir -p "$test_plugin_dir"
for variant in v1 v2 moved; do
    feature_flags=()
    if [ "$variant" != v1 ]; then feature_flags=(--features "$variant"); fi
    cargo build --locked --profile plugin --target wasm32-wasip2 -p versioned "${feature_flags[@]}"
    cp -f target/wasm32-wasip2/plugin/versioned.wasm "$test_plugin_dir/versioned-$variant.wasm"
done

# Example plugins in other languages: each folder's build.sh installs the
# tools it needs (idempotently, without prompts) and writes
# target/wasm32-wasip2/plugin/<name>.wasm, beside the Rust ones.
other_language_plugins=(humidity counter greeting dice)
for p in "${other_language_plugins[@]}"; do
    log "building the $p plugin (plugins/$p/build.sh)"
    bash "plugins/$p/build.sh"
done

# Test-only plugins in other languages (tests/plugins/<name>/build.sh), not
# served by the examples.
test_other_language_plugins=(pykit)
for p in "${test_other_language_plugins[@]}"; do
    log "building the $p test plugin (tests/plugins/$p/build.sh)"
    bash "tests/plugins/$p/build.sh"
done

# The folder the host serves from: the example plugins only.
mkdir -p target/plugins
for p in "${example_plugins[@]}" "${other_language_plugins[@]}"; do
    cp -f "target/wasm32-wasip2/plugin/$p.wasm" target/plugins/
done
log "plugins ready in target/plugins"
