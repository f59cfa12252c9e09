# coap_observe.py
# CoAP observe pattern for real-time updates

import asyncio
import aiocoap
import aiocoap.resource as resource
import json
from datetime import datetime
import random
import logging

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)


class ObservableTemperature(resource.ObservableResource):
    """Observable temperature resource that notifies subscribers"""

    def __init__(self):
        super().__init__()
        self.temperature = 22.5
        # Start background task to update temperature
        self.handle = None

    def start_updates(self):
        """Start periodic temperature updates"""
        asyncio.get_event_loop().create_task(self._update_loop())

    async def _update_loop(self):
        """Periodically update temperature and notify observers"""
        while True:
            await asyncio.sleep(5)  # Update every 5 seconds

            # Simulate temperature change
            self.temperature += random.uniform(-0.5, 0.5)
            self.temperature = round(self.temperature, 2)

            logger.info(f"Temperature updated to {self.temperature}")

            # Notify all observers
            # This triggers render_get for each observer
            self.updated_state()

    async def render_get(self, request):
        """Handle GET requests and observations"""
        payload = json.dumps({
            "value": self.temperature,
            "unit": "celsius",
            "timestamp": datetime.utcnow().isoformat()
        })

        response = aiocoap.Message(
            code=aiocoap.CONTENT,
            payload=payload.encode()
        )

        # Set Max-Age to hint when the next update will occur
        response.opt.max_age = 5

        return response


class ObserveClient:
    """Client that observes CoAP resources"""

    def __init__(self, host: str, port: int = 5683):
        self.host = host
        self.port = port
        self.protocol = None
        self.observation = None

    async def connect(self):
        """Initialize client context"""
        self.protocol = await aiocoap.Context.create_client_context()

    async def observe(self, path: str, callback):
        """Start observing a resource"""
        uri = f"coap://{self.host}:{self.port}/{path}"

        request = aiocoap.Message(code=aiocoap.GET, uri=uri, observe=0)

        observation_request = self.protocol.request(request)

        # Handle the initial response
        response = await observation_request.response
        callback(response)

        # Handle subsequent notifications
        async for notification in observation_request.observation:
            callback(notification)

    async def stop_observation(self):
        """Stop observing"""
        if self.observation:
            self.observation.cancel()


async def observe_example():
    """Example of observing a CoAP resource"""

    def notification_handler(response):
        """Handle observation notifications"""
        if response.code.is_successful():
            data = json.loads(response.payload.decode())
            print(f"Notification: Temperature = {data['value']}C at {data['timestamp']}")
        else:
            print(f"Notification error: {response.code}")

    client = ObserveClient("192.168.1.100")
    await client.connect()

    print("Starting observation of /temperature...")
    print("Press Ctrl+C to stop")

    try:
        await client.observe("temperature", notification_handler)
    except asyncio.CancelledError:
        print("Observation stopped")


async def main():
    # Start observable server
    root = resource.Site()

    temp_resource = ObservableTemperature()
    root.add_resource(['temperature'], temp_resource)

    await aiocoap.Context.create_server_context(root, bind=('::', 5683))

    logger.info("Observable CoAP server started")
    temp_resource.start_updates()

    # Keep running
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main())
