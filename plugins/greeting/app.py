"""A greeting at `/greeting`, written in Python: GET says hello to a name
that PUT sets and DELETE resets.

The name lives in the host's key-value store, never in a global: the host
may run several instances at once and replaces one that trapped or was
reloaded, and every one of them must greet the same name.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import key_value
from wit_world.imports.log import Level, log
from wit_world.imports.types import (
    LinkAttribute,
    Method,
    Methods,
    PluginDescription,
    Request,
    ResourceDescription,
    Response,
    ResponseCode,
)

PATH = "/greeting"
TEXT = 0  # text/plain;charset=utf-8 (RFC 7252 §12.3)
JSON = 50  # application/json
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
    def describe(self) -> PluginDescription:
        return PluginDescription(
            name="greeting",
            version="0.1.0",
            resources=[
                ResourceDescription(
                    path=PATH,
                    methods=Methods.GET | Methods.PUT | Methods.DELETE,
                    observable=False,
                    content_formats=[TEXT, JSON],
                    attributes=[
                        LinkAttribute("rt", "greeting"),
                        LinkAttribute("if", "parameter"),
                        LinkAttribute("title", "Greeting (Python)"),
                    ],
                    sample_interval_ms=None,
                )
            ],
        )

    def sample(self, path: str) -> bool:
        return False

    def handle(self, request: Request) -> Response:
        try:
            if request.method == Method.GET:
                return greet(load_name(), request.accept)
            if request.method == Method.PUT:
                name = requested_name(request)
                store(lambda: key_value.set(NAME_KEY, name.encode()))
                log(Level.INFO, f"{request.source} set the name to {name!r}")
                return answer(ResponseCode.CHANGED, TEXT, name.encode())
            if request.method == Method.DELETE:
                store(lambda: key_value.delete(NAME_KEY))
                log(Level.INFO, f"{request.source} reset the name")
                return answer(ResponseCode.DELETED, None, b"")
            # The host refuses the methods `describe` does not list.
            raise Failure(ResponseCode.METHOD_NOT_ALLOWED, "GET, PUT or DELETE only")
        except Failure as failure:
            return answer(failure.code, TEXT, failure.text.encode())


def greet(name: str, accept) -> Response:
    text = f"Hello, {name}!"
    if accept == JSON:
        body = json.dumps({"greeting": text, "name": name}, separators=(",", ":"))
        return answer(ResponseCode.CONTENT, JSON, body.encode())
    return answer(ResponseCode.CONTENT, TEXT, text.encode())


def requested_name(request: Request) -> str:
    """The name a PUT carries: 1 to 64 printable characters of UTF-8 text."""
    if request.content_format not in (None, TEXT):
        raise Failure(
            ResponseCode.UNSUPPORTED_CONTENT_FORMAT, "the name is text/plain (ct=0)"
        )
    try:
        name = request.payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Failure(ResponseCode.BAD_REQUEST, "the name is not UTF-8")
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise Failure(
            ResponseCode.BAD_REQUEST,
            f"the name must be 1 to {MAX_NAME_LENGTH} printable characters",
        )
    return name


def load_name() -> str:
    stored = store(lambda: key_value.get(NAME_KEY))
    return DEFAULT_NAME if stored is None else stored.decode("utf-8")


def store(operation):
    """Runs a key-value operation; a store error becomes a 5.00 (an `Err`
    raised by the import, as componentize-py maps `result`)."""
    try:
        return operation()
    except Err as error:
        log(Level.ERROR, f"key-value store failed: {error.value}")
        raise Failure(ResponseCode.INTERNAL_SERVER_ERROR, "the store failed")


def answer(code: ResponseCode, content_format, payload: bytes) -> Response:
    return Response(
        code=code,
        content_format=content_format,
        max_age=None,
        etag=None,
        location_path=[],
        location_query=[],
        payload=payload,
    )
