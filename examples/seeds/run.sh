#!/usr/bin/env bash
# Runs the seed documents' client code, unchanged but for the address,
# against a running coapwasm host (start one with `bash examples/run.sh`).
#
#   examples/seeds/run.sh [HOST[:PORT]] [SCRIPT...]
#
# HOST[:PORT] defaults to 127.0.0.1:5683. HOST must be an IPv4 address or a
# name: the implementation guide builds `coap://{host}:{port}`, which an IPv6
# literal breaks. SCRIPTs (default: all, in this order) are paths under
# examples/seeds/:
#
#   tutorial/coap_client.py   seed 000's client, verbatim
#   tutorial/observe.py       seed 000's Observe fragment (observe_snippet.py,
#                             verbatim) in scaffolding; stops after 5 updates
#   tutorial/led_client.py    a client for seed 000's LED mini project (ours)
#   guide/coap_client.py      seed 002's CoAPClient and main, verbatim
#   guide/observe_example.py  seed 002's observe_example() client from
#                             coap_observe.py (verbatim); stops after
#                             SEEDS_NOTIFICATIONS notifications (default 3)
#   guide/upload_firmware.py  seed 002's upload_large_file (coap_blockwise.py,
#                             verbatim) PUTting 10 KB to /firmware
#
# The scripts are copied into a temporary directory and their address
# rewritten there: seed 000's `localhost:5683`, seed 002's "192.168.1.100"
# and its default `port: int = 5683`. Every script runs under `timeout`:
# SEEDS_TIMEOUT seconds (default 30), SEEDS_OBSERVE_TIMEOUT for the two
# observers (default 60: the temperature is sampled every 2 s and observers
# hear of changes only). Exits non-zero if any script failed or timed out.
# Needs python3 with aiocoap (examples/setup.sh installs 0.4.17).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
address=${1:-127.0.0.1:5683}
shift || true

case "$address" in
    *:*:*|\[*) echo "run.sh: $address: use an IPv4 address or a host name (seed 002 writes coap://{host}:{port})" >&2; exit 2 ;;
    *:*) host=${address%%:*}; port=${address##*:} ;;
    *) host=$address; port=5683 ;;
esac
case "$port" in
    ''|*[!0-9]*) echo "run.sh: bad port in $address" >&2; exit 2 ;;
esac

scripts=("$@")
if [ ${#scripts[@]} -eq 0 ]; then
    scripts=(tutorial/coap_client.py tutorial/observe.py tutorial/led_client.py
             guide/coap_client.py guide/observe_example.py guide/upload_firmware.py)
fi

timeout_secs=${SEEDS_TIMEOUT:-30}
observe_timeout_secs=${SEEDS_OBSERVE_TIMEOUT:-60}
notifications=${SEEDS_NOTIFICATIONS:-3}

work=$(mktemp -d "${TMPDIR:-/tmp}/coapwasm-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$here/tutorial" "$here/guide" "$work/"

# The address rewrite, checked: a file still naming the documents' address
# would talk to some other machine (or none).
for file in "$work"/tutorial/*.py; do
    sed -i "s/localhost:5683/$host:$port/g" "$file"
    if grep -Eq 'localhost:5683([^0-9]|$)' "$file"; then echo "run.sh: cannot rewrite $file" >&2; exit 2; fi
done
for file in "$work"/guide/*.py; do
    sed -i -e "s/\"192\.168\.1\.100\"/\"$host\"/g" -e "s/port: int = 5683/port: int = $port/g" "$file"
    if grep -Eq '192\.168\.1\.100|port: int = 5683([^0-9]|$)' "$file"; then echo "run.sh: cannot rewrite $file" >&2; exit 2; fi
done

failed=0
for script in "${scripts[@]}"; do
    if [ ! -f "$work/$script" ]; then
        echo "run.sh: no script $script" >&2
        failed=1
        continue
    fi
    args=()
    limit=$timeout_secs
    case "$script" in
        tutorial/observe.py) limit=$observe_timeout_secs ;;
        guide/observe_example.py) limit=$observe_timeout_secs; args=("$notifications") ;;
        guide/upload_firmware.py) args=("$host" "$port") ;;
    esac
    printf '==> %s (coap://%s:%s, at most %s s)\n' "$script" "$host" "$port" "$limit"
    (cd "$work/$(dirname "$script")" && timeout --kill-after=5 "$limit" python3 -u "$(basename "$script")" "${args[@]}")
    status=$?
    if [ $status -ne 0 ]; then
        if [ $status -eq 124 ] || [ $status -eq 137 ]; then
            printf '==> %s: timed out after %s s\n' "$script" "$limit"
        else
            printf '==> %s: exit status %s\n' "$script" "$status"
        fi
        failed=1
    fi
done
exit $failed
