#!/usr/bin/env python3
"""Scaffolding that runs the implementation guide's (seed 002's) Observe client.

coap_observe.py is the document's file, verbatim (run.sh only rewrites its
address); everything in THIS file is scaffolding. Running coap_observe.py
itself would start the document's observable *server* (its `main()`), so
this imports it and runs its client, `observe_example()`, instead. That
client observes forever; this stops it, once it has printed COUNT
notifications (argument, default 3), by cancelling it, which is what Ctrl+C
would do (the document catches the CancelledError and prints "Observation
stopped").
"""

import asyncio
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import coap_observe  # noqa: E402  (the document's file)


class _CountingStdout:
    """Passes output through, counting the document's notification lines."""

    def __init__(self, stream):
        self._stream = stream
        self.notifications = 0
        self.enough = asyncio.Event()
        self.count = 3

    def write(self, text):
        self.notifications += text.count("Notification: ")
        if self.notifications >= self.count:
            self.enough.set()
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()


async def main(count):
    stdout = _CountingStdout(sys.stdout)
    stdout.count = count
    sys.stdout = stdout
    task = asyncio.create_task(coap_observe.observe_example())
    waiting = asyncio.create_task(stdout.enough.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    waiting.cancel()
    sys.stdout = stdout._stream
    return 0 if stdout.notifications >= count else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))
