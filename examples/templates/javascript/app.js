// A coapwasm plugin in JavaScript: GET /hello answers "hello".
//
// Start a plugin from here: copy this folder to plugins/<name>/, rename
// things, and run `bash plugins/<name>/build.sh`. The world's exports are
// this module's exported functions; its imports are modules named after the
// WIT interfaces, such as 'coapwasm:plugin/log@0.2.2'.
//
// WIT maps to JavaScript (componentize-qjs) as: records are objects with
// camelCase keys, enums are strings ('get', 'content', 'not-found'), flags
// are objects of booleans ({ get: true }), option<T> is T or null, list<u8>
// is a Uint8Array (an Array of numbers is accepted too), integers are
// Numbers (a u64 exact only to 2^53), and an import's
// result<T, E> returns T or throws E. An uncaught exception in an export
// traps: the host answers 5.00 and replaces the instance.
//
// The engine is QuickJS-NG: modern ECMAScript, but no Web APIs such as
// TextEncoder, fetch or crypto. Its state after this module's top level is
// snapshotted when the component is built, Math.random's seed included:
// every instance would draw the same numbers. For randomness import WASI's
// through a world of the plugin's own, and for UTF-8 without TextEncoder see
// plugins/dice (app.js and wit/).

import { log } from 'coapwasm:plugin/log@0.2.2';

const TEXT = 0; // Content-Format text/plain;charset=utf-8 (RFC 7252 §12.3)

export function describe() {
  return {
    name: 'hello', // names its key-value namespace; keep it across versions
    version: '0.1.0',
    resources: [
      {
        path: '/hello',
        methods: { get: true },
        observable: false,
        contentFormats: [TEXT],
        attributes: [{ name: 'rt', value: 'greeting' }],
        sampleIntervalMs: null,
      },
    ],
  };
}

export function sample(_path) {
  return false;
}

export function handle(request) {
  log('debug', `GET ${request.path} from ${request.source}`);
  return {
    code: 'content',
    contentFormat: TEXT,
    maxAge: null,
    etag: null,
    locationPath: [],
    locationQuery: [],
    payload: new Uint8Array([104, 101, 108, 108, 111]), // "hello" in ASCII
  };
}
