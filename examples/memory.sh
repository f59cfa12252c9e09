#!/usr/bin/env bash
# The host's resident memory (VmRSS) with sets of the example plugins, each
# on a freshly started host with a warm compile cache: right after the
# plugins are loaded, after a burst of 8 concurrent GETs to each plugin's
# resource (which makes up to 8 instances of each), and 2.5 s later, once
# the instances the burst made have gone unneeded through two release
# periods (`runtime.idle_instance_release_s` = 1 here; 60 by default).
#
#   bash examples/memory.sh              # builds what it needs first
#   bash examples/memory.sh --no-build
#
# COAPWASM names another binary to measure (its config must know
# runtime.idle_instance_release_s). Prints a Markdown table in KiB.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
case "${1:-}" in
    --no-build) build=0 ;;
    "") ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac
if [ "$build" = 1 ]; then
    bash examples/setup.sh
    cargo build --release --locked -p coapwasm-bench
fi
coapwasm=${COAPWASM:-target/release/coapwasm}
bench=target/release/coapwasm-bench

declare -A path=(
    [temperature]=/temperature [led]=/led [light]=/actuators/light [info]=/info
    [firmware]=/firmware [sensors]=/sensors [humidity]=/humidity [counter]=/counter
    [greeting]=/greeting [dice]=/dice
)
rust="temperature led light info firmware sensors"
all="$rust humidity counter greeting dice"

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# One data folder for every run: the compile cache stays warm.
data="$work/data"
printf '[runtime]\nidle_instance_release_s = 1\n' >"$work/config.toml"

rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# Prints "loaded burst idle" for the plugins named in $1.
measure() {
    rm -rf "$work/plugins"
    mkdir -p "$work/plugins"
    for p in $1; do cp "target/plugins/$p.wasm" "$work/plugins/"; done
    "$coapwasm" serve -c "$work/config.toml" --bind 127.0.0.1:0 --plugins "$work/plugins" \
        --data-dir "$data" --log-level warn >"$work/out" 2>"$work/err" &
    server_pid=$!
    for _ in $(seq 1200); do
        grep -q '^plugins loaded' "$work/out" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
        sleep 0.1
    done
    local port
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/out" | head -n 1)
    sleep 1
    local loaded burst idle
    loaded=$(rss "$server_pid")
    for p in $1; do
        [ -n "${path[$p]:-}" ] || continue
        "$bench" "coap://127.0.0.1:$port${path[$p]}" --in-flight 8 --sockets 8 \
            --duration 0.5 --warmup 0 >/dev/null
    done
    burst=$(rss "$server_pid")
    sleep 2.5
    idle=$(rss "$server_pid")
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    echo "$loaded $burst $idle"
}

# Warm the compile cache (the Python and JavaScript plugins take seconds).
measure "$all" >/dev/null

echo "| plugins | loaded | after 8 concurrent GETs each | 2.5 s idle |"
echo "|---|---:|---:|---:|"
for set in "none:" "the six Rust:$rust" "all ten:$all" $(for p in $all; do echo "$p:$p"; done); do
    name=${set%%:*}
    plugins=${set#*:}
    read -r loaded burst idle <<<"$(measure "$plugins")"
    echo "| $name | $loaded | $burst | $idle |"
done
