"""A watcher of the exchange log that stops reading: a raw TCP socket with a
small receive buffer, so the server's writes to it stall at once.

Usage: stalled_watcher.py HOST PORT PATH

Prints `open` once the stream's first event (`watching`) has come, then reads
nothing until a line arrives on standard input; then reads what the server
kept for it (at most 20 s) and prints `dropped N` with the sum of the
`dropped` events' counts, and `records N` with the `exchange` events read.
"""

import json
import socket
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Before connect, so the window the server sees is small from the start.
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sock.settimeout(10)
sock.connect((host, port))
sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
received = b""
deadline = time.monotonic() + 10
while b"event: watching" not in received and time.monotonic() < deadline:
    chunk = sock.recv(256)
    if not chunk:
        break
    received += chunk
if b"event: watching" not in received:
    sys.exit(f"no watching event: {received!r}")
print("open", flush=True)
sys.stdin.readline()

deadline = time.monotonic() + 20
sock.settimeout(1)
dropped = records = 0
while time.monotonic() < deadline:
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    received += chunk
# The backlog is drained (a second without data): count its events. The
# body is chunked (HTTP/1.1), one chunk per event, so chunk sizes sit
# between events and never split an `event:` line.
text = received.decode("utf-8", "replace")
for block in text.split("\n\n"):
    lines = block.split("\n")
    if "event: dropped" in lines:
        data = next(l[6:] for l in lines if l.startswith("data: "))
        dropped += json.loads(data)["dropped"]
    elif "event: exchange" in lines:
        records += 1
print("dropped", dropped, flush=True)
print("records", records, flush=True)
sock.close()
