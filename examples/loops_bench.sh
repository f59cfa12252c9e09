#!/usr/bin/env bash
# What socket loops (`--loops`) cost and give: coapwasm serving GET /led
# with 1 and with 2 loops, loaded by coapwasm-bench at 64 in flight over 16
# sockets, in two placements: the host on core 0 and the generator on core
# 1 (a second loop has no core of its own: its cost alone), and both
# processes free on cores 0-1 (a second loop has a core only when the
# generator leaves one). Rounds interleave the two loop counts. Prints the
# median and range of requests per second and server CPU per request.
#
#   bash examples/loops_bench.sh                 # 3 rounds of 4 s (~1 min)
#   bash examples/loops_bench.sh --rounds 5 --no-build
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=4
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "usage: $0 [--rounds N] [--duration S] [--no-build]" >&2; exit 2 ;;
    esac
done
if [ "$build" = 1 ]; then
    bash examples/setup.sh
    cargo build --release --locked -p coapwasm-bench
fi
coapwasm=target/release/coapwasm
bench=target/release/coapwasm-bench

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/plugins"
cp target/plugins/led.wasm "$work/plugins/"

# Prints "req/s µs-per-request" for $1 loops, the host on cores $2 and
# the generator on cores $3.
measure() {
    taskset -c "$2" "$coapwasm" serve --loops "$1" --bind 127.0.0.1:0 --plugins "$work/plugins" \
        --data-dir "$work/data" --log-level warn >"$work/out" 2>"$work/err" &
    server_pid=$!
    for _ in $(seq 300); do
        grep -q '^plugins loaded' "$work/out" 2>/dev/null && break
        sleep 0.1
    done
    local port
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/out" | head -n 1)
    taskset -c "$3" "$bench" "coap://127.0.0.1:$port/led" --in-flight 64 --sockets 16 \
        --duration "$duration" --warmup 1 --server-pid "$server_pid" --json |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print(round(r["rate"]), r["server_cpu_us_per_request"])'
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

results="$work/results"
for round in $(seq "$rounds"); do
    for placement in "0 1" "0-1 0-1"; do
        read -r server generator <<<"$placement"
        for loops in 1 2; do
            echo "round $round: $loops loops, host on $server, generator on $generator" >&2
            echo "$server $loops $(measure "$loops" "$server" "$generator")" >>"$results"
        done
    done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    server, loops, rate, cpu = line.split()
    rows.setdefault((server, loops), []).append((float(rate), float(cpu)))
def cell(values, digits):
    f = lambda x: f"{x:,.{digits}f}"
    return f"{f(statistics.median(values))} ({f(min(values))}–{f(max(values))})"
print("| host on | generator on | loops | req/s | server CPU µs/req |")
print("|---|---|---:|---:|---:|")
for server, generator in [("0", "1"), ("0-1", "0-1")]:
    for loops in ["1", "2"]:
        r = rows[(server, loops)]
        print(f"| {server} | {generator} | {loops} | {cell([x for x, _ in r], 0)} | {cell([y for _, y in r], 2)} |")
EOF
