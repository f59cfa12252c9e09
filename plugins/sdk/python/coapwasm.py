"""coapwasm's helper layer for plugins in Python: what the Rust SDK
(plugins/sdk) gives a Rust plugin, over the bindings componentize-py
generates for wit/plugin.wit's `plugin` world (`wit_world`).

    import coapwasm
    from coapwasm import Methods, ResponseCode

    class WitWorld(wit_world.WitWorld):
        def describe(self):
            return coapwasm.plugin("hello", coapwasm.resource("/hello", rt="greeting"))

        def sample(self, path):
            return False

        def handle(self, request):
            return coapwasm.text("hello")

- Responses: `response(code, ...)` and the shortcuts `text`, `json`,
  `content`, `created`, `deleted`, `changed`, `valid`, `error`,
  `bad_request`, `not_found`, ... (RFC 7252 §5.9); every field but the code
  has a default.
- Descriptions: `plugin(name, *resources, version=...)`, `resource(path,
  methods=Methods.GET, ...)` with `rt=`, `if_=`, `title=` (RFC 6690 §3),
  `members_of(collection, methods)`, `attribute(name, value)`.
- Importing this module also gives the generated records defaults for every
  field but the first ones, so that `Response(ResponseCode.CHANGED)` works:
  componentize-py generates dataclasses whose every field is required, and
  one left out is a TypeError, which traps.
- `kv.get/set/delete/keys` (the key-value import; a failure raises
  `StoreError`), `log.trace/debug/info/warn/error` (the log import).
- `query_value(request, name)`, `payload_text(request)`.

An uncaught exception in `describe`, `handle` or `sample` traps: the host
answers 5.00 and writes the traceback, which Python prints on stderr, to its
log at warn, tagged with the plugin's name.

`coapwasm new` copies this file beside a new plugin's app.py; inside the
repository the Python template's build.sh takes it from plugins/sdk/python.
"""

import json as _json

from componentize_py_types import Err
from wit_world.imports import key_value as _key_value
from wit_world.imports import log as _log
from wit_world.imports.log import Level
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

__all__ = [
    "LinkAttribute", "Method", "Methods", "PluginDescription", "Request",
    "ResourceDescription", "Response", "ResponseCode", "Level",
    "TEXT_PLAIN", "LINK_FORMAT", "OCTET_STREAM", "JSON", "CBOR",
    "response", "content", "text", "json", "created", "deleted", "valid",
    "changed", "error", "bad_request", "unauthorized", "forbidden",
    "not_found", "method_not_allowed", "not_acceptable", "conflict",
    "unsupported_content_format", "internal_server_error",
    "service_unavailable", "plugin", "resource", "members_of", "attribute",
    "query_value", "payload_text", "kv", "log", "StoreError",
]

# Content-Format numbers from the IANA CoAP registry (RFC 7252 §12.3).
TEXT_PLAIN = 0  # text/plain;charset=utf-8
LINK_FORMAT = 40  # application/link-format
OCTET_STREAM = 42  # application/octet-stream
JSON = 50  # application/json
CBOR = 60  # application/cbor


# --- Defaults for the generated records ----------------------------------


def _with_defaults(record, **defaults):
    """Gives the generated dataclass `record` defaults for the fields in
    `defaults` (a list default is a fresh list each time, through a
    callable), keeping its own __init__ for the rest."""
    generated = record.__init__

    def __init__(self, *args, **kwargs):
        names = list(record.__dataclass_fields__)
        given = set(names[: len(args)]) | set(kwargs)
        for name, default in defaults.items():
            if name not in given:
                kwargs[name] = default() if callable(default) else default
        generated(self, *args, **kwargs)

    __init__.__doc__ = generated.__doc__
    record.__init__ = __init__


_with_defaults(
    Response,
    content_format=None,
    max_age=None,
    etag=None,
    location_path=list,
    location_query=list,
    payload=b"",
)
_with_defaults(
    ResourceDescription,
    methods=Methods.GET,
    observable=False,
    content_formats=list,
    attributes=list,
    sample_interval_ms=None,
)
_with_defaults(PluginDescription, version="0.1.0", resources=list)
_with_defaults(LinkAttribute, value=None)


# --- Responses (RFC 7252 §5.9; options §5.10) ------------------------------


def response(
    code,
    payload=b"",
    content_format=None,
    *,
    max_age=None,
    etag=None,
    location_path=(),
    location_query=(),
):
    """A response with `code`. A `str` payload is sent as UTF-8 and, unless
    `content_format` says otherwise, as text/plain. `max_age` in seconds
    (§5.10.5, default 60), `etag` 1 to 8 bytes (§5.10.6), `location_path`
    and `location_query` for a created resource (§5.10.7)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
        if content_format is None:
            content_format = TEXT_PLAIN
    return Response(
        code=code,
        content_format=content_format,
        max_age=max_age,
        etag=None if etag is None else bytes(etag),
        location_path=list(location_path),
        location_query=list(location_query),
        payload=bytes(payload),
    )


def content(content_format, payload, **options):
    """2.05 Content: `payload` in `content_format`."""
    return response(ResponseCode.CONTENT, payload, content_format, **options)


def text(text, code=ResponseCode.CONTENT, **options):
    """`text` as text/plain;charset=utf-8; 2.05 Content unless `code`."""
    return response(code, str(text).encode("utf-8"), TEXT_PLAIN, **options)


def json(value, code=ResponseCode.CONTENT, **options):
    """`value` as application/json: serialised compactly, or sent as it is
    if it is already `str` or `bytes`; 2.05 Content unless `code`."""
    if isinstance(value, str):
        body = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        body = bytes(value)
    else:
        body = _json.dumps(value, separators=(",", ":")).encode("utf-8")
    return response(code, body, JSON, **options)


def created(location_path=(), location_query=(), **options):
    """2.01 Created, with where (§5.8.2, §5.10.7): `["items", "7"]`."""
    return response(
        ResponseCode.CREATED,
        location_path=location_path,
        location_query=location_query,
        **options,
    )


def deleted(**options):
    """2.02 Deleted, empty."""
    return response(ResponseCode.DELETED, **options)


def valid(**options):
    """2.03 Valid, empty (the host already answers it for a matching ETag)."""
    return response(ResponseCode.VALID, **options)


def changed(payload=b"", content_format=None, **options):
    """2.04 Changed, empty unless given a payload."""
    return response(ResponseCode.CHANGED, payload, content_format, **options)


def error(code, diagnostic=""):
    """An error `code` (4.xx or 5.xx) with a human-readable diagnostic as
    text/plain (§5.5.2)."""
    return response(code, str(diagnostic).encode("utf-8"), TEXT_PLAIN)


def bad_request(diagnostic=""):
    """4.00 Bad Request."""
    return error(ResponseCode.BAD_REQUEST, diagnostic)


def unauthorized(diagnostic=""):
    """4.01 Unauthorized."""
    return error(ResponseCode.UNAUTHORIZED, diagnostic)


def forbidden(diagnostic=""):
    """4.03 Forbidden."""
    return error(ResponseCode.FORBIDDEN, diagnostic)


def not_found(diagnostic=""):
    """4.04 Not Found (a collection's member that does not exist)."""
    return error(ResponseCode.NOT_FOUND, diagnostic)


def method_not_allowed(diagnostic=""):
    """4.05 Method Not Allowed; the host already answers it to a method the
    description does not list."""
    return error(ResponseCode.METHOD_NOT_ALLOWED, diagnostic)


def not_acceptable(diagnostic=""):
    """4.06 Not Acceptable."""
    return error(ResponseCode.NOT_ACCEPTABLE, diagnostic)


def conflict(diagnostic=""):
    """4.09 Conflict (RFC 8132)."""
    return error(ResponseCode.CONFLICT, diagnostic)


def unsupported_content_format(diagnostic=""):
    """4.15 Unsupported Content-Format: the request's payload is in a format
    the resource does not take."""
    return error(ResponseCode.UNSUPPORTED_CONTENT_FORMAT, diagnostic)


def internal_server_error(diagnostic=""):
    """5.00 Internal Server Error."""
    return error(ResponseCode.INTERNAL_SERVER_ERROR, diagnostic)


def service_unavailable(diagnostic="", max_age=None):
    """5.03 Service Unavailable; `max_age` says when to retry (§5.9.3.4)."""
    r = error(ResponseCode.SERVICE_UNAVAILABLE, diagnostic)
    r.max_age = max_age
    return r


# --- Descriptions -----------------------------------------------------------


def plugin(name, *resources, version="0.1.0"):
    """A plugin named `name` (lowercase letters, digits and '-'; it names the
    key-value namespace, so keep it across versions) serving `resources`."""
    return PluginDescription(name=name, version=version, resources=list(resources))


def attribute(name, value=None):
    """A link attribute for /.well-known/core (RFC 6690 §3); no value for a
    flag."""
    return LinkAttribute(name=name, value=None if value is None else str(value))


def resource(
    path,
    methods=Methods.GET,
    *,
    observable=False,
    content_formats=(),
    rt=None,
    if_=None,
    title=None,
    attributes=(),
    sample_interval_ms=None,
):
    """The resource at `path` accepting `methods` (GET unless said): not
    observable, no declared Content-Format (then the host does not check
    Accept; list them, default first, and it answers 4.06 itself), `rt`,
    `if` (`if_`, a Python keyword) and `title` shown in /.well-known/core
    beside other `attributes`; `sample_interval_ms` for an observable
    sensor (the host calls `sample`)."""
    links = [attribute(n, v) for n, v in (("rt", rt), ("if", if_), ("title", title)) if v is not None]
    links.extend(attributes)
    return ResourceDescription(
        path=path,
        methods=methods,
        observable=observable,
        content_formats=list(content_formats),
        attributes=links,
        sample_interval_ms=sample_interval_ms,
    )


def members_of(collection, methods=Methods.GET, **options):
    """The members of the collection at `collection` (such as `/sensors`):
    every path below it reaches the plugin (a `/*` resource)."""
    return resource(collection.rstrip("/") + "/*", methods, **options)


# --- Requests ---------------------------------------------------------------


def query_value(request, name):
    """The value of the first Uri-Query item `name=value`, "" for a bare
    `name`, None if there is none."""
    for item in request.query:
        key, sep, value = item.partition("=")
        if key == name:
            return value if sep else ""
    return None


def payload_text(request):
    """The request's payload as text (UTF-8); a UnicodeDecodeError if it is
    not."""
    return request.payload.decode("utf-8")


# --- Imports ----------------------------------------------------------------


class StoreError(Exception):
    """A key-value operation failed: `too_large` if the key or value is
    larger than the host allows or the namespace's quota is spent (a smaller
    replacement or a delete always succeeds), else the store failed."""

    def __init__(self, error):
        self.too_large = isinstance(error, _key_value.Error_TooLarge)
        super().__init__("too large" if self.too_large else getattr(error, "value", str(error)))


def _store(operation, *args):
    try:
        return operation(*args)
    except Err as e:
        raise StoreError(e.value) from None


class _KeyValue:
    """The plugin's own namespace in the host's key-value store: where state
    that must outlive a call belongs (the host runs several instances and
    replaces one that trapped)."""

    @staticmethod
    def get(key):
        """The bytes stored under `key`, or None."""
        return _store(_key_value.get, key)

    @staticmethod
    def get_text(key, default=None):
        """The text stored under `key` (UTF-8), or `default`."""
        value = _store(_key_value.get, key)
        return default if value is None else value.decode("utf-8")

    @staticmethod
    def set(key, value):
        """Stores `value` (bytes, or str as UTF-8) under `key`."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        _store(_key_value.set, key, bytes(value))

    @staticmethod
    def delete(key):
        """Removes `key`; True if it was there."""
        return _store(_key_value.delete, key)

    @staticmethod
    def keys():
        """Every key, sorted."""
        return _store(_key_value.keys)


class _Log:
    """Lines in the host's log, tagged with the plugin's name, rate-limited
    per plugin. `print` works too (stdout at info, stderr at warn)."""

    @staticmethod
    def trace(message):
        _log.log(Level.TRACE, str(message))

    @staticmethod
    def debug(message):
        _log.log(Level.DEBUG, str(message))

    @staticmethod
    def info(message):
        _log.log(Level.INFO, str(message))

    @staticmethod
    def warn(message):
        _log.log(Level.WARN, str(message))

    @staticmethod
    def error(message):
        _log.log(Level.ERROR, str(message))


kv = _KeyValue()
log = _Log()
