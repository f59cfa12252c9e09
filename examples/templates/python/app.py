"""A coapwasm plugin in Python: GET /hello answers "hello".

Start a plugin from here: copy this folder to plugins/<name>/, rename
things, and run `bash plugins/<name>/build.sh`. The bindings of
wit/plugin.wit's `plugin` world come from componentize-py: the module
`wit_world` (the class WitWorld to implement) and `wit_world.imports.*`
(types, log, key_value, host_info, observe, collection). `componentize-py -d wit -w
plugin bindings DIR` writes them out to read, with every type documented.

The helper module `coapwasm` (plugins/sdk/python/coapwasm.py, which
build.sh puts on the module path) wraps them as the Rust SDK does:
`coapwasm.text(...)`, `coapwasm.json(...)`, `coapwasm.changed()`,
`coapwasm.not_found(...)` and so on, `coapwasm.plugin(...)` and
`coapwasm.resource(...)` for the description, `coapwasm.kv` and
`coapwasm.log`.

WIT maps to Python as: records are dataclasses, enums are Enum members
(`Method.GET`), flags are Flag members (`Methods.GET | Methods.PUT`),
option<T> is T or None, list<u8> is bytes, and an import's result<T, E>
returns T or raises componentize_py_types.Err(E). An uncaught exception in
an export traps: the host answers 5.00, replaces the instance, and writes
the traceback (and anything else printed) to its log under plugin=<name>.
"""

import coapwasm
import wit_world
from coapwasm import Request, Response


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return coapwasm.plugin(
            "hello",  # names its key-value namespace; keep it across versions
            coapwasm.resource(
                "/hello", content_formats=[coapwasm.TEXT_PLAIN], rt="greeting"
            ),
            version="0.1.0",
        )

    def sample(self, path: str) -> bool:
        return False

    def handle(self, request: Request) -> Response:
        coapwasm.log.debug(f"GET {request.path} from {request.source}")
        return coapwasm.text("hello")
