#!/usr/bin/env bash
# Measures the cost of a cross-host notification: an observer of /led on
# host A (127.0.0.2), a PUT /led through host B (127.0.0.3), both sharing
# the `led` namespace in a redis-server on loopback; the time from sending
# the PUT to B to receiving A's notification with the new state (B acks
# the PUT, Redis publishes, A re-renders /led and notifies). N sequential
# PUT→notification pairs per run, states alternating; prints the median,
# p90, p99 and max per run, and the PUT's own round trip.
#
# `[observe] min_notification_interval_ms = 0` on A, so that pacing, which
# would hold back a notification within 100 ms of the previous one by
# default, is not what is measured.
#
#   bash examples/fleet_bench.sh                  # 2 runs of 500 pairs
#   bash examples/fleet_bench.sh --runs 3 --pairs 1000 --no-build
set -euo pipefail
cd "$(dirname "$0")/.."

runs=2
pairs=500
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "usage: $0 [--runs N] [--pairs N] [--no-build]" >&2; exit 2 ;;
    esac
done

if [ "$build" = 1 ]; then
    bash examples/setup.sh
fi
coapwasm=target/release/coapwasm
for f in "$coapwasm" target/wasm32-wasip2/plugin/led.wasm; do
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

# The port of a host's "listening on ADDR" line once its plugins are
# loaded, waiting at most 60 s.
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

mkdir -p "$work/plugins"
cp target/wasm32-wasip2/plugin/led.wasm "$work/plugins/"
printf '[observe]\nmin_notification_interval_ms = 0\n' >"$work/unpaced.toml"

redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.05
done

start_host() { # name, address
    "$coapwasm" serve --config "$work/unpaced.toml" --bind "$2:0" --plugins "$work/plugins" \
        --data-dir "$work/data-$1" --log-level warn \
        --kv "redis://127.0.0.1:$redis_port" --host-id "$1" \
        >"$work/$1.out" 2>"$work/$1.out.err" &
    local pid=$!
    pids+=("$pid")
    echo "$pid $(wait_host "$work/$1.out" "$pid")"
}
read -r _ a_port < <(start_host a 127.0.0.2)
read -r _ b_port < <(start_host b 127.0.0.3)

echo "uptime: $(uptime)"
for run in $(seq "$runs"); do
    python3 - "$a_port" "$b_port" "$pairs" "$run" <<'EOF'
import json, os, select, socket, statistics, sys, time

a_port, b_port, pairs, run = (int(x) for x in sys.argv[1:5])

def option_bytes(options):
    out, last = b"", 0
    for number, value in options:
        delta, length = number - last, len(value)
        assert delta < 13 and length < 13
        out += bytes([delta << 4 | length]) + value
        last = number
    return out

def request(code, mid, token, options, payload=b""):
    header = bytes([0x40 | len(token), code, mid >> 8, mid & 0xFF]) + token
    return header + option_bytes(options) + (b"\xff" + payload if payload else b"")

def parse(datagram):
    kind, tkl = (datagram[0] >> 4) & 3, datagram[0] & 0xF
    code, mid = datagram[1], int.from_bytes(datagram[2:4], "big")
    token, i, observe = datagram[4:4 + tkl], 4 + tkl, False
    number = 0
    while i < len(datagram) and datagram[i] != 0xFF:
        delta, length = datagram[i] >> 4, datagram[i] & 0xF
        i += 1
        for field in ("delta", "length"):
            value = delta if field == "delta" else length
            if value == 13:
                value, i = datagram[i] + 13, i + 1
            elif value == 14:
                value, i = int.from_bytes(datagram[i:i + 2], "big") + 269, i + 2
            if field == "delta":
                delta = value
            else:
                length = value
        number += delta
        observe |= number == 6
        i += length
    payload = datagram[i + 1:] if i < len(datagram) else b""
    return kind, code, mid, token, observe, payload

observer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
observer.connect(("127.0.0.2", a_port))
writer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
writer.connect(("127.0.0.3", b_port))
mid = (os.getpid() * 7919) & 0xFFFF
token = b"obs" + bytes([run])
observer.send(request(1, mid, token, [(6, b""), (11, b"led")]))
observer.settimeout(5)
kind, code, _, _, observe, _ = parse(observer.recv(2048))
assert code == 0x45 and observe, "registration refused"

def drain(seconds):
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if not select.select([observer], [], [], left)[0]:
            return
        kind, _, m, _, _, _ = parse(observer.recv(2048))
        if kind == 0:
            observer.send(bytes([0x60, 0, m >> 8, m & 0xFF]))

drain(0.5)
latencies, put_rtts, lost = [], [], 0
for n in range(pairs):
    state = b"on" if n % 2 == 0 else b"off"
    mid = (mid + 1) & 0xFFFF
    payload = b'{"state":"' + state + b'"}'
    sent = time.monotonic()
    writer.send(request(3, mid, b"p", [(11, b"led"), (12, bytes([50]))], payload))
    acked = notified = None
    deadline = sent + 2.0
    while (acked is None or notified is None) and time.monotonic() < deadline:
        ready = select.select([observer, writer], [], [], deadline - time.monotonic())[0]
        now = time.monotonic()
        if writer in ready:
            _, code, m, _, _, _ = parse(writer.recv(2048))
            if m == mid:
                assert code == 0x44, f"PUT answered {code >> 5}.{code & 31:02}"
                acked = now
        if observer in ready:
            kind, code, m, t, observe, body = parse(observer.recv(2048))
            if kind == 0:
                observer.send(bytes([0x60, 0, m >> 8, m & 0xFF]))
            if t == token and observe and state in body and b"state" in body:
                notified = now
    if acked is None or notified is None:
        lost += 1
        drain(0.2)
        continue
    latencies.append((notified - sent) * 1e3)
    put_rtts.append((acked - sent) * 1e3)

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

print(json.dumps({
    "run": run, "pairs": pairs, "lost": lost,
    "notification_ms": {"median": round(statistics.median(latencies), 3),
                        "p90": round(pct(latencies, 90), 3),
                        "p99": round(pct(latencies, 99), 3),
                        "max": round(max(latencies), 3)},
    "put_round_trip_ms": {"median": round(statistics.median(put_rtts), 3),
                          "p99": round(pct(put_rtts, 99), 3)},
}))
EOF
done
echo "uptime: $(uptime)"
