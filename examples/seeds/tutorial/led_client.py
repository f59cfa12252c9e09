# led_client.py
# Not from the tutorial (seed 000): its LED mini project gives only the
# server. A client for it in the style of the tutorial's coap_client.py:
# PUT each colour of the mini project, and one it does not know, then GET.
# run.sh rewrites localhost:5683 like the tutorial's own scripts.
from aiocoap import *
import asyncio, json

async def main():
    protocol = await Context.create_client_context()

    for color in ["red", "green", "blue", "off", "purple"]:
        payload = json.dumps({"color": color}).encode()
        request = Message(code=PUT, uri='coap://localhost:5683/led', payload=payload)
        response = await protocol.request(request).response
        print(f"LED {color}: {response.code} {response.payload.decode()}".rstrip())

        request = Message(code=GET, uri='coap://localhost:5683/led')
        response = await protocol.request(request).response
        print(f"  GET /led: {response.code} {response.payload.decode()}")

if __name__ == "__main__":
    asyncio.run(main())
