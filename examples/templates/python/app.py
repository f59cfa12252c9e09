"""A coapwasm plugin in Python: GET /hello answers "hello".

Start a plugin from here: copy this folder to plugins/<name>/, rename
things, and run `bash plugins/<name>/build.sh`. The bindings of
wit/plugin.wit's `plugin` world come from componentize-py: the module
`wit_world` (the class WitWorld to implement) and `wit_world.imports.*`
(types, log, key_value, host_info, observe, collection). `componentize-py -d wit -w
plugin bindings DIR` writes them out to read, with every type documented.

WIT maps to Python as: records are dataclasses, enums are Enum members
(`Method.GET`), flags are Flag members (`Methods.GET | Methods.PUT`),
option<T> is T or None, list<u8> is bytes, and an import's result<T, E>
returns T or raises componentize_py_types.Err(E). An uncaught exception in
an export traps: the host answers 5.00 and replaces the instance.
"""

import wit_world
from wit_world.imports.log import Level, log
from wit_world.imports.types import (
    LinkAttribute,
    Methods,
    PluginDescription,
    Request,
    ResourceDescription,
    Response,
    ResponseCode,
)

TEXT = 0  # Content-Format text/plain;charset=utf-8 (RFC 7252 §12.3)


class WitWorld(wit_world.WitWorld):
    def describe(self) -> PluginDescription:
        return PluginDescription(
            name="hello",  # names its key-value namespace; keep it across versions
            version="0.1.0",
            resources=[
                ResourceDescription(
                    path="/hello",
                    methods=Methods.GET,
                    observable=False,
                    content_formats=[TEXT],
                    attributes=[LinkAttribute("rt", "greeting")],
                    sample_interval_ms=None,
                )
            ],
        )

    def sample(self, path: str) -> bool:
        return False

    def handle(self, request: Request) -> Response:
        log(Level.DEBUG, f"GET {request.path} from {request.source}")
        return Response(
            code=ResponseCode.CONTENT,
            content_format=TEXT,
            max_age=None,
            etag=None,
            location_path=[],
            location_query=[],
            payload=b"hello",
        )
