#!/usr/bin/env python3
"""Observes a CoAP resource with aiocoap, a real third-party client (RFC 7641).

Usage: aiocoap_observe.py URI COUNT TIMEOUT_SECONDS

Registers an observation of URI through aiocoap's observation API
(`request.observation`), then prints the payload of every notification on a
line of its own on standard output, flushed at once. It exits 0 after COUNT
notifications; 1 if fewer arrived within TIMEOUT_SECONDS, or if the server
refused or ended the observation first; 2 on bad arguments.

Standard error gets one line once the registration is answered,
`registered code=2.05 observe=N payload=...` (observe=None if the server
answered without the Observe option, i.e. did not register), so that a test
knows when to start changing the resource, and a line saying why it failed
if it did.
"""

import asyncio
import sys

from aiocoap import GET, Context, Message


def say(text):
    print(text, file=sys.stderr, flush=True)


async def observe(uri, count, received):
    context = await Context.create_client_context()
    try:
        request = context.request(Message(code=GET, uri=uri, observe=0))
        response = await request.response
        say(
            f"registered code={response.code.dotted} observe={response.opt.observe} "
            f"payload={response.payload.decode('utf-8', 'replace')}"
        )
        if not response.code.is_successful() or response.opt.observe is None:
            return
        async for notification in request.observation:
            print(notification.payload.decode("utf-8", "replace"), flush=True)
            received.append(notification)
            if len(received) >= count:
                break
        if not request.observation.cancelled:
            request.observation.cancel()
    finally:
        await context.shutdown()


def main(argv):
    if len(argv) != 4:
        say(__doc__.strip().splitlines()[2])
        return 2
    try:
        uri, count, timeout = argv[1], int(argv[2]), float(argv[3])
    except ValueError:
        say("COUNT must be a whole number and TIMEOUT_SECONDS a number")
        return 2
    received = []

    async def bounded():
        await asyncio.wait_for(observe(uri, count, received), timeout)

    try:
        asyncio.run(bounded())
    except asyncio.TimeoutError:
        say(f"timed out after {timeout} s with {len(received)} of {count} notifications")
        return 1
    except Exception as error:  # a network error, a cancelled observation...
        say(f"failed with {len(received)} of {count} notifications: {error!r}")
        return 1
    if len(received) < count:
        say(f"the observation ended after {len(received)} of {count} notifications")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
