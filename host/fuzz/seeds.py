#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the fuzz targets: small valid and
near-valid CoAP datagrams (RFC 7252 §3), one per file, in
corpus/<target>/seed-<name>. A seed of several datagrams joins them with the
separator of src/lib.rs. The files are committed; run this again after
changing it:  python3 host/fuzz/seeds.py
"""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent
TARGETS = ["datagram", "request_path"]
SEPARATOR = b"\x00|next|\x00"  # src/lib.rs SEPARATOR

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE, FETCH = 1, 2, 3, 4, 5

URI_HOST, ETAG, OBSERVE, URI_PORT, URI_PATH = 3, 4, 6, 7, 11
CONTENT_FORMAT, URI_QUERY, ACCEPT = 12, 15, 17
BLOCK2, BLOCK1, SIZE2, PROXY_URI, SIZE1 = 23, 27, 28, 35, 60


def nibble(value):
    """The 4-bit field and extension bytes of an option delta or length (§3.1)."""
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes([value - 13])
    return 14, (value - 269).to_bytes(2, "big")


def options(opts):
    """Encodes (number, value) pairs, sorted by number as §3.1 requires."""
    out, last = b"", 0
    for number, value in sorted(opts, key=lambda o: o[0]):
        delta, delta_ext = nibble(number - last)
        length, length_ext = nibble(len(value))
        out += bytes([delta << 4 | length]) + delta_ext + length_ext + value
        last = number
    return out


def message(mtype, code, mid, token=b"", opts=(), payload=b""):
    header = bytes([0x40 | mtype << 4 | len(token), code]) + mid.to_bytes(2, "big")
    body = header + token + options(opts)
    return body + (b"\xff" + payload if payload else b"")


def path(*segments):
    return [(URI_PATH, s.encode()) for s in segments]


def uint(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


def block(num, more, szx):
    return uint(num << 4 | more << 3 | szx)


TOKEN = b"\x03\x01"  # byte 4 = 3: the first peer (src/lib.rs peer)

SEEDS = {
    "ping": message(CON, 0, 0x1001),
    "ack": message(ACK, 0, 0x1002),
    "rst": message(RST, 0, 0x1003),
    "get-discovery": message(CON, GET, 0x1004, TOKEN, path(".well-known", "core")),
    "get-discovery-query": message(
        NON, GET, 0x1005, TOKEN, path(".well-known", "core") + [(URI_QUERY, b"rt=*")]
    ),
    "get-echo-query": message(
        CON, GET, 0x1006, TOKEN,
        [(URI_HOST, b"localhost"), (URI_PORT, uint(5683))]
        + path("test", "echo") + [(URI_QUERY, b"a=1"), (URI_QUERY, b"b"), (ACCEPT, uint(50))],
    ),
    "post-echo": message(
        CON, POST, 0x1007, TOKEN, path("test", "echo") + [(CONTENT_FORMAT, uint(50))],
        b'{"state":"on"}',
    ),
    "put-observable": message(NON, PUT, 0x1008, TOKEN, path("test", "observable"), b"42"),
    "delete-echo": message(CON, DELETE, 0x1009, TOKEN, path("test", "echo")),
    "fetch-echo": message(CON, FETCH, 0x100A, TOKEN, path("test", "echo"), b"q"),
    "get-etag": message(
        CON, GET, 0x100B, TOKEN, [(ETAG, b"\xe1\x7a\x60\x01")] + path("test", "etag")
    ),
    "get-accept-cbor": message(CON, GET, 0x100C, TOKEN, path("test", "accept") + [(ACCEPT, uint(60))]),
    "get-big-block2": message(
        CON, GET, 0x100D, TOKEN, path("test", "big") + [(BLOCK2, block(1, 0, 2)), (SIZE2, b"")]
    ),
    "put-block1-first": message(
        CON, PUT, 0x100E, TOKEN,
        path("test", "echo") + [(BLOCK1, block(0, 1, 0)), (SIZE1, uint(20))], b"0123456789abcdef",
    ),
    "get-observe": message(CON, GET, 0x100F, TOKEN, [(OBSERVE, b"")] + path("test", "observable")),
    "get-unknown": message(NON, GET, 0x1010, TOKEN, path("nowhere")),
    "proxy-uri": message(CON, GET, 0x1011, TOKEN, [(PROXY_URI, b"coap://example.com/")]),
    "critical-unknown": message(NON, GET, 0x1012, TOKEN, path("test", "echo") + [(9, b"x")]),
    "unknown-method": message(CON, 0x1F, 0x1013, TOKEN, path("test", "echo")),
    "response-in-con": message(CON, 0x45, 0x1014, TOKEN, payload=b"x"),
    "trap": message(CON, GET, 0x1015, TOKEN, path("test", "trap")),
    "notify": message(CON, POST, 0x1016, TOKEN, path("test", "notify") + [(URI_QUERY, b"important")]),
    "created": message(NON, POST, 0x1017, TOKEN, path("test", "created")),
    "long-option": message(CON, GET, 0x1018, TOKEN, path("test", "x" * 300)),
    # Near-valid: each breaks one rule of §3.
    "truncated-header": bytes([0x40, 0x01, 0x10]),
    "version-2": bytes([0x80, 0x01, 0x10, 0x19]),
    "token-length-9": bytes([0x49, 0x01, 0x10, 0x1A]) + b"\x00" * 9,
    "token-cut": bytes([0x48, 0x01, 0x10, 0x1B, 1, 2, 3]),
    "empty-with-token": bytes([0x41, 0x00, 0x10, 0x1C, 0xAA]),
    "marker-no-payload": message(CON, GET, 0x101D, TOKEN) + b"\xff",
    "delta-15": message(CON, GET, 0x101E, TOKEN) + bytes([0xF1, 0x00]),
    "length-15": message(CON, GET, 0x101F, TOKEN) + bytes([0xBF, 0x00]),
    "option-cut": message(CON, GET, 0x1020, TOKEN) + bytes([0xB5]) + b"te",
    "delta-ext-cut": message(CON, GET, 0x1021, TOKEN) + bytes([0xE0, 0x01]),
    "path-not-utf8": message(CON, GET, 0x1022, TOKEN, [(URI_PATH, b"\xff\xfe")]),
    "path-ends-ff": message(CON, GET, 0x1023, TOKEN, [(URI_PATH, b"\xff")]),
}

MULTI = {
    "upload-two-blocks": [
        message(CON, PUT, 0x2001, TOKEN, path("test", "echo") + [(BLOCK1, block(0, 1, 0))], b"A" * 16),
        message(CON, PUT, 0x2002, TOKEN, path("test", "echo") + [(BLOCK1, block(1, 0, 0))], b"B" * 5),
    ],
    "observe-then-change": [
        message(CON, GET, 0x2003, TOKEN, [(OBSERVE, b"")] + path("test", "observable")),
        message(CON, PUT, 0x2004, b"\x03\x02", path("test", "observable"), b"7"),
        message(RST, 0, 0x2005),
    ],
    "duplicate-con": [
        message(CON, POST, 0x2006, TOKEN, path("test", "counter")),
        message(CON, POST, 0x2006, TOKEN, path("test", "counter")),
    ],
    "post-big-then-block": [
        message(CON, POST, 0x2007, TOKEN, path("test", "echo"), b"x" * 1500),
        message(CON, POST, 0x2008, TOKEN, path("test", "echo") + [(BLOCK2, block(1, 0, 6))]),
    ],
}


def main():
    for target in TARGETS:
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, datagram in SEEDS.items():
            (folder / f"seed-{name}").write_bytes(datagram)
        for name, datagrams in MULTI.items():
            (folder / f"seed-{name}").write_bytes(SEPARATOR.join(datagrams))
    print(f"{len(SEEDS) + len(MULTI)} seeds for each of {', '.join(TARGETS)}")


if __name__ == "__main__":
    main()
