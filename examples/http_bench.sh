#!/usr/bin/env bash
# HTTP against CoAP, and coapwasm's cross-proxy against seed 002's own FastAPI
# gateway, in one run on loopback (issue 17's benchmark).
#
#   bash examples/http_bench.sh [--rounds N] [--duration S] [--connections "1 16"] [--no-build]
#
# One coapwasm device host (the release binary, target/plugins' led and
# temperature) serves CoAP on 127.0.0.1:5683 (the port seed 002's gateway
# writes) and HTTP (--http). In front of it: two coapwasm gateways
# (--http, --proxy-allow 127.0.0.1, examples/gateway.toml's routes, one with
# the proxy's cache and one with cache_entries = 0) and seed 002's
# coap_gateway.py (examples/seeds/guide/, verbatim) under uvicorn, as FastAPI
# documents it: `uvicorn coap_gateway:app`, one worker, its defaults. Every
# server is pinned to core 0, the load generators to core 1:
#
#   CoAP GET /led, /temperature             coapwasm-bench, CON, N in flight
#   HTTP GET /led, /temperature             wrk -t1 -cN, keep-alive
#   GET /devices/127.0.0.1/temperature      wrk through each gateway
#   PUT /led over CoAP and HTTP, direct     the same, {"state":"on"} as JSON
#   PUT /devices/127.0.0.1/led              wrk (a Lua script for the PUT)
#
# Each row runs for S seconds after 1 s of warm-up, N = each of
# --connections, and the rows take turns within each of the rounds. Prints a
# Markdown table: 2xx responses per second (median and range over the
# rounds), p50 and p99 latency in µs (medians; p99's range), and the share of
# other answers (the proxy's 503 past NSTART 1, for instance).
# Needs examples/setup.sh's plugins and Python packages (fastapi, uvicorn,
# aiocoap, pinned there); installs wrk (apt) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
duration=5
connections="1 16"
build=1
usage() { echo "usage: $0 [--rounds N] [--duration S] [--connections \"1 16\"] [--no-build]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds|--runs) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
        --duration) [ $# -ge 2 ] || usage; duration=$2; shift 2 ;;
        --connections) [ $# -ge 2 ] || usage; connections=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) usage ;;
    esac
done
case "$rounds$duration${connections// /}" in *[!0-9]*|'') usage ;; esac

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v wrk >/dev/null; then
    log "installing wrk (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk </dev/null >/dev/null
fi
if ! python3 -c 'import fastapi, uvicorn, aiocoap' 2>/dev/null; then
    echo "seed 002's gateway needs fastapi, uvicorn and aiocoap: bash examples/setup.sh" >&2
    exit 1
fi
if [ "$build" = 1 ]; then
    cargo build --release --locked -p coapwasm -p coapwasm-bench >&2
fi
for p in led temperature; do
    [ -f "target/plugins/$p.wasm" ] || { echo "build the plugins first: bash examples/setup.sh" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/coapwasm-http-bench.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 20 s for a line matching $2 in file $1.
wait_for() {
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# A coapwasm host pinned to core 0: serve_host NAME ARGS...; its HTTP
# address in $work/NAME.http.
serve_host() {
    local name=$1; shift
    mkdir -p "$work/$name.plugins"
    taskset -c 0 target/release/coapwasm serve --data-dir "$work/$name.data" \
        --plugins "$work/$name.plugins" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    wait_for "$work/$name.out" "plugins loaded" \
        || { echo "$name did not start: $(cat "$work/$name.err")" >&2; exit 1; }
    sed -n 's/^http listening on //p' "$work/$name.out" | head -1 >"$work/$name.http"
}

device=127.0.0.1
mkdir "$work/device.plugins"
cp target/plugins/led.wasm target/plugins/temperature.wasm "$work/device.plugins/"
serve_host device --bind "$device:5683" --http 127.0.0.1:0
device_http=$(cat "$work/device.http")

sed 's/^cache_entries = 1024 /cache_entries = 0    /' examples/gateway.toml >"$work/gateway-nocache.toml"
grep -q '^cache_entries = 0 ' "$work/gateway-nocache.toml" \
    || { echo "examples/gateway.toml: no 'cache_entries = 1024' line to turn off" >&2; exit 1; }
serve_host proxy --bind 127.0.0.1:0 --http 127.0.0.1:0 --proxy-allow "$device" --config examples/gateway.toml
serve_host proxy-nocache --bind 127.0.0.1:0 --http 127.0.0.1:0 --proxy-allow "$device" --config "$work/gateway-nocache.toml"
proxy_http=$(cat "$work/proxy.http")
nocache_http=$(cat "$work/proxy-nocache.http")

# Seed 002's gateway, the file as the seed writes it, under uvicorn's defaults.
mkdir "$work/seed"
cp examples/seeds/guide/coap_gateway.py "$work/seed/"
seed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work/seed" && exec taskset -c 0 python3 -m uvicorn coap_gateway:app --host 127.0.0.1 --port "$seed_port" \
    >"$work/uvicorn.out" 2>"$work/uvicorn.err") &
pids+=($!)
wait_for "$work/uvicorn.err" "Uvicorn running on" \
    || { echo "uvicorn did not start: $(cat "$work/uvicorn.err")" >&2; exit 1; }
seed_http=127.0.0.1:$seed_port

cat >"$work/put_led.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = '{"state":"on"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Each route answers 2xx before anything is measured.
check() {
    local code
    code=$(curl -s -o "$work/check.body" -w '%{http_code}' --max-time 15 "$@")
    case "$code" in 2??) ;; *) echo "curl $*: $code $(cat "$work/check.body")" >&2; exit 1 ;; esac
}
put_led=(-X PUT -H 'Content-Type: application/json' --data-binary '{"state":"on"}')
for front in "$proxy_http" "$nocache_http" "$seed_http"; do
    check "http://$front/devices/$device/temperature"
    check "${put_led[@]}" "http://$front/devices/$device/led"
done
check "http://$device_http/led"
check "http://$device_http/temperature"

# Rows: key|label|kind|target (kind coap, coap-put: a CoAP URI; get, put: an
# HTTP URL; the PUTs send seed 002's {"state":"on"} as JSON).
rows=(
    "coap-led|CoAP GET /led, direct|coap|coap://$device:5683/led"
    "http-led|HTTP GET /led, direct (null mapping)|get|http://$device_http/led"
    "coap-temp|CoAP GET /temperature, direct|coap|coap://$device:5683/temperature"
    "http-temp|HTTP GET /temperature, direct|get|http://$device_http/temperature"
    "proxy-temp|coapwasm proxy GET /devices/$device/temperature, cache|get|http://$proxy_http/devices/$device/temperature"
    "nocache-temp|coapwasm proxy GET /devices/$device/temperature, cache_entries = 0|get|http://$nocache_http/devices/$device/temperature"
    "seed-temp|seed 002 gateway (uvicorn) GET /devices/$device/temperature|get|http://$seed_http/devices/$device/temperature"
    "coap-put|CoAP PUT /led, direct|coap-put|coap://$device:5683/led"
    "http-put|HTTP PUT /led, direct|put|http://$device_http/led"
    "proxy-led|coapwasm proxy PUT /devices/$device/led|put|http://$proxy_http/devices/$device/led"
    "seed-led|seed 002 gateway (uvicorn) PUT /devices/$device/led|put|http://$seed_http/devices/$device/led"
)
limit=$((duration + 60))
measure() { # key kind target connections round
    local key=$1 kind=$2 target=$3 c=$4 round=$5 script=() put=()
    if [ "$kind" = coap ] || [ "$kind" = coap-put ]; then
        [ "$kind" = coap-put ] && put=(--method put --payload '{"state":"on"}' --content-format 50)
        timeout "$limit" taskset -c 1 target/release/coapwasm-bench "$target" --in-flight "$c" \
            --duration "$duration" --warmup 1 --json "${put[@]}" >"$work/raw.json"
        python3 - "$work/raw.json" "$key $c $round" >>"$work/results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = sum(n for code, n in r["codes"].items() if code.startswith("2."))
bad = r["responses"] - ok + r["errors"] + r["timeouts"]
lat = r["latency_us"]
print(sys.argv[2], ok / r["seconds"], lat["p50"], lat["p99"], bad / max(1, ok + bad))
PY
        return
    fi
    [ "$kind" = put ] && script=(-s "$work/put_led.lua")
    timeout "$limit" taskset -c 1 wrk -t1 -c"$c" -d1s "${script[@]}" "$target" >/dev/null
    timeout "$limit" taskset -c 1 wrk -t1 -c"$c" -d"${duration}s" --timeout 15s --latency "${script[@]}" "$target" >"$work/raw.wrk"
    python3 - "$work/raw.wrk" "$key $c $round" >>"$work/results" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def us(value, unit):
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[unit]
requests, secs, secs_unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text).groups()
seconds = us(secs, secs_unit) / 1e6
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
non2xx = int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(map(int, m.groups())) if m else 0
ok = int(requests) - non2xx
p50 = us(*re.search(r"50%\s+([\d.]+)(us|ms|s|m)\b", text).groups())
p99 = us(*re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", text).groups())
print(sys.argv[2], ok / seconds, p50, p99, (non2xx + errors) / max(1, int(requests) + errors))
PY
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
    log "round $round of $rounds"
    for c in $connections; do
        for row in "${rows[@]}"; do
            IFS='|' read -r key _ kind target <<<"$row"
            measure "$key" "$kind" "$target" "$c" "$round"
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

versions=$(python3 -c '
import importlib.metadata as m
print(", ".join(f"{p} {m.version(p)}" for p in ("fastapi", "uvicorn", "aiocoap", "h11")))')
echo "$started, $(nproc) CPUs, load average (1, 5, 15 min) $load_start at the start, $load_end at the end;"
echo "$rounds rounds of ${duration} s per row; servers on core 0, load generators on core 1; $versions"
echo
printf '%s\n' "${rows[@]}" | cut -d'|' -f1,2 >"$work/labels"
python3 - "$work/labels" "$work/results" "$connections" <<'PY'
import statistics, sys
labels = dict(line.rstrip("\n").split("|", 1) for line in open(sys.argv[1]))
runs = {}
for line in open(sys.argv[2]):
    key, c, _, rate, p50, p99, bad = line.split()
    runs.setdefault((key, int(c)), []).append((float(rate), float(p50), float(p99), float(bad)))
def n(x):
    return f"{x:,.0f}"
print("| request | in flight | 2xx req/s, median (min–max) | p50 µs | p99 µs, median (min–max) | not 2xx, max |")
print("|---|---:|---:|---:|---:|---:|")
for c in map(int, sys.argv[3].split()):
    for key, label in labels.items():
        values = runs.get((key, c))
        if not values:
            continue
        rate, p50, p99, bad = zip(*values)
        print(f"| {label} | {c} | {n(statistics.median(rate))} ({n(min(rate))}–{n(max(rate))}) "
              f"| {n(statistics.median(p50))} | {n(statistics.median(p99))} ({n(min(p99))}–{n(max(p99))}) "
              f"| {max(bad):.1%} |")
PY
