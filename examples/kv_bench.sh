#!/usr/bin/env bash
# Measures the shared key-value backend against the default one, in one run:
# requests per second and server CPU per request for GET and POST on a
# namespace in Redis (`--kv`) and the same on redb, through the same plugins:
#   - /led (Rust): GET reads its state (one get), POST toggles it (get + set);
#   - /counter (Go): GET reads the count (one get), POST increments it (one
#     atomics.increment: a Lua script in Redis, a write transaction in redb).
# Two hosts, one with every namespace in its redb file, one with every
# namespace in a redis-server of its own: without persistence by default,
# or with `--aof always` (or `everysec`) an append-only file, as the README
# recommends for writes that must survive a crash of Redis. Hosts and redis-server on one core,
# the load generator (coapwasm-bench, 16 in flight over 16 sockets) on the
# other. Server CPU per request is coapwasm's, and for Redis runs also
# redis-server's, from /proc/PID/stat. Prints medians and (min-max) over the
# runs, with the load average before and after: the machine may be shared.
#
#   bash examples/kv_bench.sh                    # 3 runs of 3 s per figure (~2 min)
#   bash examples/kv_bench.sh --runs 5 --duration 5 --no-build
#   bash examples/kv_bench.sh --aof always       # Redis fsyncs each write
#
# SERVER_CPU and GENERATOR_CPU (default 0 and 1) choose the cores. Raw
# results are kept in target/bench/kv-*.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
duration=3
warmup=1
in_flight=16
build=1
aof=no
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --in-flight) in_flight=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --aof) aof=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--duration S] [--warmup S] [--in-flight N] [--aof no|everysec|always] [--no-build]" >&2; exit 2 ;;
    esac
done
case "$aof" in
    no) persistence=(--appendonly no) ;;
    everysec | always) persistence=(--appendonly yes --appendfsync "$aof") ;;
    *) echo "--aof takes no, everysec or always" >&2; exit 2 ;;
esac
server_cpu=${SERVER_CPU:-0}
generator_cpu=${GENERATOR_CPU:-1}

log() { printf '==> %s\n' "$*" >&2; }

if [ "$build" = 1 ]; then
    bash examples/setup.sh
    cargo build --release --locked -p coapwasm-bench
fi
coapwasm=target/release/coapwasm
bench=target/release/coapwasm-bench
for f in "$coapwasm" "$bench" target/wasm32-wasip2/plugin/led.wasm target/wasm32-wasip2/plugin/counter.wasm; do
    [ -e "$f" ] || { echo "$f is missing: run without --no-build" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server is missing: bash examples/setup.sh" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_tcp_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The port of a host's "listening on ADDR" line, then its "plugins loaded"
# line, waiting at most 60 s.
wait_host() {
    local out=$1 pid=$2
    for _ in $(seq 600); do
        if grep -q '^plugins loaded' "$out" 2>/dev/null; then
            sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -n 1
            return
        fi
        kill -0 "$pid" 2>/dev/null || { echo "host $pid exited: $(cat "$out" "$out.err")" >&2; return 1; }
        sleep 0.1
    done
    echo "host $pid did not load its plugins within 60 s" >&2
    return 1
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

mkdir -p "$work/plugins"
cp target/wasm32-wasip2/plugin/led.wasm target/wasm32-wasip2/plugin/counter.wasm "$work/plugins/"

redis_port=$(free_tcp_port)
taskset -c "$server_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    "${persistence[@]}" --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")

start_host() { # name, extra flags...
    local name=$1
    shift
    taskset -c "$server_cpu" "$coapwasm" serve --bind 127.0.0.1:0 --plugins "$work/plugins" \
        --data-dir "$work/data-$name" --log-level warn "$@" \
        >"$work/$name.out" 2>"$work/$name.out.err" &
    local pid=$!
    pids+=("$pid")
    local port
    port=$(wait_host "$work/$name.out" "$pid")
    echo "$pid $port"
}
read -r redb_pid redb_port < <(start_host redb)
read -r redis_host_pid redis_host_port < <(start_host redis --kv "redis://127.0.0.1:$redis_port")

mkdir -p target/bench
results=target/bench/kv-$(date -u +%Y%m%dT%H%M%SZ).jsonl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ticks_per_second=$(getconf CLK_TCK)
cases=("GET /led" "POST /led" "GET /counter" "POST /counter")
backends=("redb $redb_pid $redb_port" "redis $redis_host_pid $redis_host_port")
total=$((runs * ${#cases[@]} * ${#backends[@]}))
n=0
for run in $(seq "$runs"); do
    for c in "${cases[@]}"; do
        read -r method path <<<"$c"
        for b in "${backends[@]}"; do
            read -r backend pid port <<<"$b"
            n=$((n + 1))
            log "[$n/$total] run $run: $method $path on $backend"
            before=$(cpu_ticks "$redis_pid")
            line=$(taskset -c "$generator_cpu" "$bench" "coap://127.0.0.1:$port$path" \
                --method "${method,,}" --in-flight "$in_flight" --sockets 16 \
                --duration "$duration" --warmup "$warmup" --server-pid "$pid" --json)
            after=$(cpu_ticks "$redis_pid")
            printf '{"backend":"%s","case":"%s %s","run":%d,"redis_ticks":%d,"ticks_per_second":%d,"result":%s}\n' \
                "$backend" "$method" "$path" "$run" "$((after - before))" "$ticks_per_second" \
                "$line" >>"$results"
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$results" "$load_before" "$load_after" "$warmup" "$aof" <<'EOF'
import json, statistics, sys
path, before, after, warmup = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
rows = [json.loads(line) for line in open(path)]
def span(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"
print(f"load average before {before}, after {after}; Redis appendfsync: {sys.argv[5]}; results in {path}")
print(f"{'case':<14} {'backend':<6} {'req/s':>24} {'coapwasm us/req':>22} {'redis-server us/req':>22} {'codes'}")
for case in dict.fromkeys(r["case"] for r in rows):
    for backend in ("redb", "redis"):
        runs = [r for r in rows if r["case"] == case and r["backend"] == backend]
        rate = [r["result"]["rate"] for r in runs]
        cpu = [r["result"]["server_cpu_us_per_request"] or 0.0 for r in runs]
        # redis-server's ticks cover the warm-up too: per request of the
        # warm-up and the measurement together.
        redis = [
            r["redis_ticks"] / r["ticks_per_second"] * 1e6
            / max(1.0, r["result"]["rate"] * (r["result"]["seconds"] + warmup))
            for r in runs
        ]
        codes = {}
        for r in runs:
            for code, count in r["result"]["codes"].items():
                codes[code] = codes.get(code, 0) + count
        redis_text = span(redis, "{:.1f}") if backend == "redis" else "-"
        print(f"{case:<14} {backend:<6} {span(rate, '{:.0f}'):>24} {span(cpu, '{:.1f}'):>22} {redis_text:>22} {codes}")
EOF
