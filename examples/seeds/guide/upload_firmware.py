#!/usr/bin/env python3
"""Scaffolding that runs the implementation guide's (seed 002's) block-wise
upload, `upload_large_file` from coap_blockwise.py (the document's file,
verbatim), against coapwasm's /firmware (plugins/firmware).

Usage: upload_firmware.py HOST PORT. Uploads the document's 10 KB payload
(its LargeResource data, b"x" * 10000), which aiocoap splits into Block1
blocks, prints whether it succeeded, then GETs /firmware (size and SHA-256).
"""

import asyncio
import pathlib
import sys

import aiocoap

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from coap_blockwise import upload_large_file  # noqa: E402  (the document's)


async def main(host, port):
    protocol = await aiocoap.Context.create_client_context()
    try:
        uri = f"coap://{host}:{port}/firmware"
        ok = await upload_large_file(protocol, uri, b"x" * 10000)
        print(f"Upload successful: {ok}")
        response = await protocol.request(aiocoap.Message(code=aiocoap.GET, uri=uri)).response
        print(f"GET /firmware: {response.code} {response.payload.decode()}")
        return 0 if ok else 1
    finally:
        await protocol.shutdown()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
