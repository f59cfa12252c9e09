"""A greeting at `/greeting`, written in Python: GET says hello to a name
that PUT sets and DELETE resets.

The name lives in the host's key-value store, never in a global: the host
may run several instances at once and replaces one that trapped or was
reloaded, and every one of them must greet the same name.
"""

import coapwasm
import wit_world
from coapwasm import Method, Methods, Request, Response, ResponseCode, StoreError

PATH = "/greeting"
TEXT = coapwasm.TEXT_PLAIN  # text/plain;charset=utf-8 (RFC 7252 §12.3)
JSON = coapwasm.JSON  # application/json
NAME_KEY = "name"
DEFAULT_NAME = "world"
MAX_NAME_LENGTH = 64


class Failure(Exception):
    """A request answered with an error code and a diagnostic payload
    (RFC 7252 §5.5.2)."""

    def __init__(self, code: ResponseCode, text: str):
        super().__init__(text)
        self.code = code
        self.text = text


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return coapwasm.plugin(
            "greeting",
            coapwasm.resource(
                PATH,
                Methods.GET | Methods.PUT | Methods.DELETE,
                content_formats=[TEXT, JSON],
                rt="greeting",
                if_="parameter",
                title="Greeting (Python)",
            ),
            version="0.1.0",
        )

    def sample(self, path: str) -> bool:
        return False

    def handle(self, request: Request) -> Response:
        try:
            if request.method == Method.GET:
                return greet(load_name(), request.accept)
            if request.method == Method.PUT:
                name = requested_name(request)
                store(lambda: coapwasm.kv.set(NAME_KEY, name))
                coapwasm.log.info(f"{request.source} set the name to {name!r}")
                return coapwasm.changed(name)
            if request.method == Method.DELETE:
                store(lambda: coapwasm.kv.delete(NAME_KEY))
                coapwasm.log.info(f"{request.source} reset the name")
                return coapwasm.deleted()
            # The host refuses the methods `describe` does not list.
            raise Failure(ResponseCode.METHOD_NOT_ALLOWED, "GET, PUT or DELETE only")
        except Failure as failure:
            return coapwasm.error(failure.code, failure.text)


def greet(name: str, accept) -> Response:
    text = f"Hello, {name}!"
    if accept == JSON:
        return coapwasm.json({"greeting": text, "name": name})
    return coapwasm.text(text)


def requested_name(request: Request) -> str:
    """The name a PUT carries: 1 to 64 printable characters of UTF-8 text."""
    if request.content_format not in (None, TEXT):
        raise Failure(
            ResponseCode.UNSUPPORTED_CONTENT_FORMAT, "the name is text/plain (ct=0)"
        )
    try:
        name = coapwasm.payload_text(request).strip()
    except UnicodeDecodeError:
        raise Failure(ResponseCode.BAD_REQUEST, "the name is not UTF-8")
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise Failure(
            ResponseCode.BAD_REQUEST,
            f"the name must be 1 to {MAX_NAME_LENGTH} printable characters",
        )
    return name


def load_name() -> str:
    return store(lambda: coapwasm.kv.get_text(NAME_KEY, DEFAULT_NAME))


def store(operation):
    """Runs a key-value operation; a store error becomes a 5.00."""
    try:
        return operation()
    except StoreError as error:
        coapwasm.log.error(f"key-value store failed: {error}")
        raise Failure(ResponseCode.INTERNAL_SERVER_ERROR, "the store failed")
