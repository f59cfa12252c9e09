#!/usr/bin/env bash
# GET /led over HTTP/1.1 (keep-alive, wrk from Debian) against GET /led
# over CoAP (coapwasm-bench, CON), one host serving both, 16 requests in
# flight, the host pinned to core 0 and the load generator to core 1.
# Prints requests per second and p99 latency per round and the median and
# range over the rounds. The cross-proxy against seed 002's FastAPI gateway
# is to come with the proxy.
#
#   bash examples/http_bench.sh [--runs N] [--duration S] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
duration=5
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "usage: $0 [--runs N] [--duration S] [--no-build]" >&2; exit 2 ;;
    esac
done
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v wrk >/dev/null; then
    echo "==> installing wrk (apt)" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk </dev/null >/dev/null
fi
if [ "$build" = 1 ]; then
    cargo build --release --locked -p coapwasm -p coapwasm-bench >&2
fi
[ -f target/wasm32-wasip2/plugin/led.wasm ] || { echo "build the plugins first: bash examples/setup.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $host 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/plugins"
cp target/wasm32-wasip2/plugin/led.wasm "$work/plugins/"
taskset -c 0 target/release/coapwasm serve --bind 127.0.0.1:0 --http 127.0.0.1:0 \
    --plugins "$work/plugins" --data-dir "$work/data" >"$work/out" 2>"$work/err" &
host=$!
for _ in $(seq 100); do grep -q "plugins loaded" "$work/out" 2>/dev/null && break; sleep 0.1; done
coap=$(sed -n 's/^listening on //p' "$work/out" | head -1)
http=$(sed -n 's/^http listening on //p' "$work/out" | head -1)
[ -n "$coap" ] && [ -n "$http" ] || { echo "the host did not start: $(cat "$work/err")" >&2; exit 1; }

for run in $(seq "$runs"); do
    line=$(taskset -c 1 target/release/coapwasm-bench "coap://$coap/led" --in-flight 16 \
        --duration "$duration" --warmup 1 --json)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("coap %.0f %.0f" % (r["rate"], r["latency_us"]["p99"]))' "$line" >>"$work/results"
    taskset -c 1 wrk -t1 -c16 -d1s "http://$http/led" >/dev/null
    taskset -c 1 wrk -t1 -c16 -d"${duration}s" --latency "http://$http/led" >"$work/wrk"
    python3 - "$work/wrk" >>"$work/results" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", text).groups()
p99 = float(value) * {"us": 1, "ms": 1000, "s": 1e6}[unit]
print(f"http {rate:.0f} {p99:.0f}")
PY
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rate, p99 = line.split()
    rows.setdefault(name, []).append((float(rate), float(p99)))
print(f"{'GET /led':10} {'req/s median (range)':>28} {'p99 µs median (range)':>28}")
for name, values in rows.items():
    rates = [r for r, _ in values]
    p99s = [p for _, p in values]
    print(f"{name:10} {statistics.median(rates):>12.0f} ({min(rates):.0f}-{max(rates):.0f}) "
          f"{statistics.median(p99s):>12.0f} ({min(p99s):.0f}-{max(p99s):.0f})")
PY
