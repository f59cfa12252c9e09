#!/usr/bin/env bash
# Times one request from the command line, process start included: GET /led
# from a coapwasm host on loopback by `coapwasm get`, libcoap's
# `coap-client-notls` and `coap-client-openssl` (which, like coapwasm, loads
# libssl), and aiocoap's `aiocoap-client`, each run N times in
# sequence (default 200; aiocoap 20, it is Python), 3 rounds. Prints the
# median and the 10th-90th percentiles of each round's wall time per run.
#
#   bash examples/client_bench.sh [N] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
if [ "${2:-}" != "--no-build" ] && [ "${1:-}" != "--no-build" ]; then
    cargo build --release -p coapwasm >&2
fi
[ "${1:-}" = "--no-build" ] && runs=200
bin=$PWD/target/release/coapwasm
dir=$(mktemp -d)
trap 'kill $host 2>/dev/null; rm -rf "$dir"' EXIT
mkdir "$dir/plugins"
cp target/wasm32-wasip2/plugin/led.wasm "$dir/plugins/"
"$bin" serve --bind 127.0.0.1:0 --plugins "$dir/plugins" --data-dir "$dir/data" >"$dir/out" 2>"$dir/err" &
host=$!
for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on \(.*\)$/\1/p' "$dir/out" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "the host did not start: $(cat "$dir/err")" >&2; exit 1; }
uri="coap://$addr/led"
# Until the plugin answers.
for _ in $(seq 100); do "$bin" get -q "$uri" >/dev/null 2>&1 && break; sleep 0.1; done

measure() { # name count command...
    local name=$1 count=$2; shift 2
    python3 - "$name" "$count" "$@" <<'PY'
import statistics, subprocess, sys, time
name, count, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for round in range(3):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            sys.exit(f"{name}: {' '.join(command)} exited {done.returncode}")
    times.sort()
    p10, p90 = times[len(times) // 10], times[len(times) * 9 // 10]
    print(f"{name:20} round {round + 1}: median {statistics.median(times):6.2f} ms  (p10 {p10:.2f}, p90 {p90:.2f}) over {count} runs")
PY
}
measure "coapwasm get" "$runs" "$bin" get "$uri"
measure "coap-client-notls" "$runs" coap-client-notls "$uri"
measure "coap-client-openssl" "$runs" coap-client-openssl "$uri"
measure "aiocoap-client" 20 aiocoap-client "$uri"
