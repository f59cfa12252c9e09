"""A test-only plugin in Python, for the end-to-end tests of issue 16
(tests/e2e/python_output.rs): what a Python plugin's author sees when it
fails, and the helper layer (plugins/sdk/python/coapwasm.py).

- GET /py/raise raises an exception: a trap, with the traceback, which
  Python prints on stderr, in the host's log.
- GET /py/print prints a line on stdout and one on stderr.
- GET /py/minimal answers a Response given only its code (the generated
  record, with the defaults importing coapwasm gives it); POST answers
  coapwasm.changed().
"""

import sys

import coapwasm
import wit_world
from coapwasm import Method, Methods, Response, ResponseCode


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return coapwasm.plugin(
            "pykit",
            coapwasm.resource("/py/raise"),
            coapwasm.resource("/py/print"),
            coapwasm.resource("/py/minimal", Methods.GET | Methods.POST),
        )

    def sample(self, path):
        return False

    def handle(self, request):
        if request.path == "/py/raise":
            raise ValueError("deliberate failure from Python")
        if request.path == "/py/print":
            print("pykit says hello on stdout")
            print("pykit says hello on stderr", file=sys.stderr)
            return coapwasm.text("printed")
        if request.method == Method.POST:
            return coapwasm.changed()
        return Response(ResponseCode.CONTENT)
