// A coapwasm plugin in JavaScript: GET /hello answers "hello".
//
// Start a plugin from here: copy this folder to plugins/<name>/, rename
// things, and run `bash plugins/<name>/build.sh`. The world's exports are
// this module's exported functions; its imports are modules named after the
// WIT interfaces, such as 'coapwasm:plugin/log@0.2.3'.
//
// The helper module './coapwasm.js' (plugins/sdk/javascript/coapwasm.js,
// which build.sh puts beside this file) wraps them as the Rust SDK does:
// text(...), json(...), changed(), notFound(...) and so on, plugin(...) and
// resource(...) for the description, kv and log, UTF-8 without TextEncoder.
//
// WIT maps to JavaScript (componentize-qjs) as: records are objects with
// camelCase keys, enums are strings ('get', 'content', 'not-found'), flags
// are objects of booleans ({ get: true }), option<T> is T or null, list<u8>
// is a Uint8Array (an Array of numbers is accepted too), integers are
// Numbers (a u64 exact only to 2^53), and an import's
// result<T, E> returns T or throws E. An uncaught exception in an export
// traps: the host answers 5.00, replaces the instance, and writes the
// exception's message and stack to its log under plugin=<name>.
//
// The engine is QuickJS-NG: modern ECMAScript, but no Web APIs such as
// TextEncoder, fetch or crypto, nor `console` (the helper defines one over
// the log import). Its state after this module's top level is
// snapshotted when the component is built, Math.random's seed included:
// every instance would draw the same numbers. For randomness import WASI's
// through a world of the plugin's own: see plugins/dice (app.js and wit/).

import { TEXT_PLAIN, log, plugin, resource, text } from './coapwasm.js';

export function describe() {
  return plugin(
    'hello', // names its key-value namespace; keep it across versions
    [resource('/hello', { contentFormats: [TEXT_PLAIN], rt: 'greeting' })],
    { version: '0.1.0' },
  );
}

export function sample(_path) {
  return false;
}

export function handle(request) {
  log.debug(`GET ${request.path} from ${request.source}`);
  return text('hello');
}
