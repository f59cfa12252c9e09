# coap_blockwise.py
# Block-wise transfer for large payloads

import asyncio
import aiocoap
import aiocoap.resource as resource

class LargeResource(resource.Resource):
    """Resource that returns large payload using block-wise transfer"""

    def __init__(self):
        super().__init__()
        # Generate large data (e.g., firmware, logs)
        self.data = b"x" * 10000  # 10KB payload

    async def render_get(self, request):
        """Return large payload - aiocoap handles block-wise automatically"""
        return aiocoap.Message(
            code=aiocoap.CONTENT,
            payload=self.data
        )

    async def render_put(self, request):
        """Accept large payload upload"""
        # aiocoap reassembles block-wise uploads automatically
        received_data = request.payload
        print(f"Received {len(received_data)} bytes")

        # Process the complete payload
        self.data = received_data

        return aiocoap.Message(code=aiocoap.CHANGED)


async def upload_large_file(client_protocol, uri: str, data: bytes):
    """Upload large file using block-wise transfer"""
    request = aiocoap.Message(
        code=aiocoap.PUT,
        uri=uri,
        payload=data
    )

    # aiocoap automatically splits into blocks if needed
    response = await client_protocol.request(request).response
    return response.code.is_successful()
