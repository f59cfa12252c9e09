#!/usr/bin/env python3
"""Scaffolding that runs the tutorial's (seed 000's) Observe fragment.

The document's lines are in observe_snippet.py, verbatim (run.sh only
rewrites its address); everything in THIS file is scaffolding, not the
document's. The fragment uses `protocol`, `Message`, `GET` and `json` without
defining them and uses top-level `await`, so this file:

- provides `Message` and `GET` (`from aiocoap import *`, as the tutorial's
  client does) and `json`;
- provides `protocol`, a thin adapter over an aiocoap client context that
  makes the fragment work with aiocoap 0.4.17, which it does not as written:
  aiocoap creates an observation only for a request carrying Observe: 0
  (RFC 7641 §3.1, registration), which the fragment's Message lacks, and its
  observation object is not awaitable, which the fragment awaits. The adapter
  adds Observe: 0 and makes `.observation` awaitable (it waits for the
  registration's answer);
- stops the `async for` after 5 updates, as the fragment's comment says
  ("Exit after 5 updates"), since the fragment has no code for it;
- compiles the fragment with top-level await allowed, and runs it.
"""

import ast
import asyncio
import json
import pathlib
import sys

from aiocoap import *  # noqa: F401,F403  (Message, GET for the fragment)

UPDATES = 5
SNIPPET = pathlib.Path(__file__).with_name("observe_snippet.py")


class _FirstUpdates:
    """The observation's notifications, ending after `count` of them."""

    def __init__(self, request, count):
        # Holding the request holds its observation: aiocoap cancels an
        # observation that is garbage-collected.
        self._request = request
        self._iterator = request.observation.__aiter__()
        self._left = count

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._left == 0:
            raise StopAsyncIteration
        self._left -= 1
        return await self._iterator.__anext__()


class _Request:
    def __init__(self, request):
        self._request = request

    @property
    def response(self):
        return self._request.response

    @property
    def observation(self):
        return self._established()

    async def _established(self):
        response = await self._request.response
        if self._request.observation is None or response.opt.observe is None:
            raise SystemExit(f"not observable: {response.code} {response.payload!r}")
        return _FirstUpdates(self._request, UPDATES)


class _Protocol:
    def __init__(self, context):
        self._context = context

    def request(self, message):
        if message.opt.observe is None:
            message.opt.observe = 0  # register (RFC 7641): the fragment omits it
        return _Request(self._context.request(message))


async def main():
    context = await Context.create_client_context()
    code = compile(
        SNIPPET.read_text(encoding="utf-8"),
        str(SNIPPET),
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
    )
    namespace = dict(globals(), protocol=_Protocol(context))
    try:
        result = eval(code, namespace)
        if result is not None:
            await result
    finally:
        await context.shutdown()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
