# coap_client.py
# CoAP client for interacting with IoT devices

import asyncio
import aiocoap
import json
import logging

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)

class CoAPClient:
    """Client for CoAP device communication"""

    def __init__(self, host: str, port: int = 5683):
        self.host = host
        self.port = port
        self.protocol = None

    async def connect(self):
        """Initialize CoAP protocol context"""
        self.protocol = await aiocoap.Context.create_client_context()
        logger.info(f"CoAP client ready for {self.host}:{self.port}")

    async def get(self, path: str) -> dict:
        """Perform CoAP GET request"""
        uri = f"coap://{self.host}:{self.port}/{path}"
        request = aiocoap.Message(code=aiocoap.GET, uri=uri)

        try:
            response = await self.protocol.request(request).response
            logger.info(f"GET {path}: {response.code}")

            if response.code.is_successful():
                return json.loads(response.payload.decode())
            else:
                return {"error": str(response.code)}

        except Exception as e:
            logger.error(f"GET error: {e}")
            return {"error": str(e)}

    async def put(self, path: str, data: dict) -> dict:
        """Perform CoAP PUT request"""
        uri = f"coap://{self.host}:{self.port}/{path}"
        payload = json.dumps(data).encode()

        request = aiocoap.Message(
            code=aiocoap.PUT,
            uri=uri,
            payload=payload
        )
        request.opt.content_format = 50  # application/json

        try:
            response = await self.protocol.request(request).response
            logger.info(f"PUT {path}: {response.code}")

            if response.payload:
                return json.loads(response.payload.decode())
            return {"status": str(response.code)}

        except Exception as e:
            logger.error(f"PUT error: {e}")
            return {"error": str(e)}

    async def post(self, path: str, data: dict = None) -> dict:
        """Perform CoAP POST request"""
        uri = f"coap://{self.host}:{self.port}/{path}"
        payload = json.dumps(data).encode() if data else b""

        request = aiocoap.Message(
            code=aiocoap.POST,
            uri=uri,
            payload=payload
        )
        if data:
            request.opt.content_format = 50

        try:
            response = await self.protocol.request(request).response
            logger.info(f"POST {path}: {response.code}")

            if response.payload:
                return json.loads(response.payload.decode())
            return {"status": str(response.code)}

        except Exception as e:
            logger.error(f"POST error: {e}")
            return {"error": str(e)}

    async def discover(self) -> list:
        """Discover available resources"""
        uri = f"coap://{self.host}:{self.port}/.well-known/core"
        request = aiocoap.Message(code=aiocoap.GET, uri=uri)

        try:
            response = await self.protocol.request(request).response

            if response.code.is_successful():
                # Parse link-format response
                links = response.payload.decode().split(",")
                resources = []
                for link in links:
                    # Extract path from <path>;attributes
                    path = link.split(";")[0].strip("<>")
                    resources.append(path)
                return resources

        except Exception as e:
            logger.error(f"Discovery error: {e}")
            return []


async def main():
    # Connect to CoAP server
    client = CoAPClient("192.168.1.100")
    await client.connect()

    # Discover resources
    print("Discovering resources...")
    resources = await client.discover()
    print(f"Available resources: {resources}")

    # Get temperature
    print("\nGetting temperature...")
    temp = await client.get("temperature")
    print(f"Temperature: {temp}")

    # Get device info
    print("\nGetting device info...")
    info = await client.get("info")
    print(f"Device info: {json.dumps(info, indent=2)}")

    # Control LED
    print("\nTurning LED on...")
    result = await client.put("led", {"state": "on"})
    print(f"LED result: {result}")

    # Toggle LED
    print("\nToggling LED...")
    result = await client.post("led")
    print(f"Toggle result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
