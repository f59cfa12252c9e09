"""An aiocoap server (a CoAP implementation no one here wrote) for the
client's interoperability tests (tests/e2e/client_interop.rs).

    python3 aiocoap_server.py LARGE_FILE

Resources:
  /method      every method (GET POST PUT DELETE FETCH PATCH iPATCH); the
               answer is "METHOD:payload"
  /large       LARGE_FILE's bytes (served block-wise by aiocoap, Block2)
  /upload      PUT stores the body (Block1, reassembled by aiocoap); GET
               returns it
  /counter     observable, changes every 0.5 s (rt="counter", if="sensor")
  /fail        raises an exception: aiocoap answers 5.00
  /.well-known/core

Prints "listening PORT" on standard output once it listens on 127.0.0.1,
"observers N" each time the number of observations of /counter changes,
and exits when its standard input closes (so it never outlives the test).
"""

import asyncio
import socket
import sys

import aiocoap
import aiocoap.resource as resource


def say(line):
    print(line, flush=True)


class Method(resource.Resource):
    rt = "echo"
    if_ = "method"

    async def _echo(self, request):
        text = str(request.code).encode() + b":" + request.payload
        return aiocoap.Message(payload=text, content_format=0)

    render_get = render_post = render_put = render_delete = _echo
    render_fetch = render_patch = render_ipatch = _echo


class Large(resource.Resource):
    def __init__(self, body):
        super().__init__()
        self.body = body

    async def render_get(self, request):
        return aiocoap.Message(payload=self.body, content_format=42)


class Upload(resource.Resource):
    def __init__(self):
        super().__init__()
        self.body = b""

    async def render_put(self, request):
        self.body = request.payload
        say(f"uploaded {len(self.body)}")
        return aiocoap.Message(code=aiocoap.CHANGED)

    async def render_get(self, request):
        return aiocoap.Message(payload=self.body, content_format=42)


class Counter(resource.ObservableResource):
    rt = "counter"
    if_ = "sensor"

    def __init__(self):
        super().__init__()
        self.value = 0

    def update_observation_count(self, count):
        say(f"observers {count}")

    async def tick(self):
        while True:
            await asyncio.sleep(0.5)
            self.value += 1
            self.updated_state()

    async def render_get(self, request):
        return aiocoap.Message(payload=str(self.value).encode(), content_format=0)


class Fail(resource.Resource):
    async def render_get(self, request):
        raise RuntimeError("this resource always fails")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def main():
    with open(sys.argv[1], "rb") as f:
        large = f.read()
    site = resource.Site()
    site.add_resource([".well-known", "core"],
                      resource.WKCResource(site.get_resources_as_linkheader))
    site.add_resource(["method"], Method())
    site.add_resource(["large"], Large(large))
    site.add_resource(["upload"], Upload())
    counter = Counter()
    site.add_resource(["counter"], counter)
    site.add_resource(["fail"], Fail())
    # aiocoap cannot say which port 0 became: take a free one, retrying if
    # another process takes it first (bounded).
    for attempt in range(20):
        port = free_port()
        try:
            context = await aiocoap.Context.create_server_context(
                site, bind=("127.0.0.1", port))
            break
        except OSError:
            if attempt == 19:
                raise
    ticking = asyncio.ensure_future(counter.tick())
    say(f"listening {port}")
    loop = asyncio.get_running_loop()
    # Exit when the test closes standard input (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    ticking.cancel()
    await context.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
