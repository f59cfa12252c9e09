# coap_gateway.py
# HTTP to CoAP gateway

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
import asyncio
import aiocoap
import json

app = FastAPI(title="CoAP Gateway")

# CoAP client context
coap_context = None

class DeviceRequest(BaseModel):
    value: float = None
    state: str = None

@app.on_event("startup")
async def startup():
    global coap_context
    coap_context = await aiocoap.Context.create_client_context()

@app.get("/devices/{device_ip}/temperature")
async def get_temperature(device_ip: str):
    """Proxy GET request to CoAP device"""
    uri = f"coap://{device_ip}:5683/temperature"
    request = aiocoap.Message(code=aiocoap.GET, uri=uri)

    try:
        response = await asyncio.wait_for(
            coap_context.request(request).response,
            timeout=10.0
        )

        if response.code.is_successful():
            return json.loads(response.payload.decode())
        else:
            raise HTTPException(status_code=502, detail=f"CoAP error: {response.code}")

    except asyncio.TimeoutError:
        raise HTTPException(status_code=504, detail="Device timeout")

@app.put("/devices/{device_ip}/led")
async def set_led(device_ip: str, data: DeviceRequest):
    """Proxy PUT request to CoAP device"""
    uri = f"coap://{device_ip}:5683/led"
    payload = json.dumps({"state": data.state}).encode()

    request = aiocoap.Message(code=aiocoap.PUT, uri=uri, payload=payload)
    request.opt.content_format = 50

    try:
        response = await asyncio.wait_for(
            coap_context.request(request).response,
            timeout=10.0
        )

        if response.code.is_successful():
            return {"status": "success"}
        else:
            raise HTTPException(status_code=502, detail=f"CoAP error: {response.code}")

    except asyncio.TimeoutError:
        raise HTTPException(status_code=504, detail="Device timeout")
