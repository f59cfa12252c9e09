// coapwasm's helper layer for plugins in JavaScript: what the Rust SDK
// (plugins/sdk) gives a Rust plugin, over the world's imports as jco's
// QuickJS backend maps them.
//
//   import { plugin, resource, text } from './coapwasm.js';
//
//   export function describe() {
//     return plugin('hello', [resource('/hello', { rt: 'greeting' })]);
//   }
//   export function sample(_path) { return false; }
//   export function handle(request) { return text('hello'); }
//
// - Responses: response(code, options) and the shortcuts text, json,
//   content, created, deleted, valid, changed, error, badRequest, notFound,
//   ... (RFC 7252 §5.9); every field but the code has a default.
// - Descriptions: plugin(name, resources, { version }), resource(path,
//   { methods, observable, contentFormats, rt, if, title, attributes,
//   sampleIntervalMs }), membersOf(collection, options), attribute(name,
//   value) (RFC 6690 §3).
// - kv.get/getText/set/delete/keys (the key-value import; a failure throws
//   a StoreError), log.trace/debug/info/warn/error (the log import).
// - queryValue(request, name), encodeText(text), decodeText(bytes): UTF-8
//   without TextEncoder, which QuickJS lacks.
//
// An uncaught exception in an export traps: the host answers 5.00, and the
// exception's message and stack, which the engine prints on stderr, are in
// the host's log at warn, tagged with the plugin's name.
//
// QuickJS has no `console`: a plugin calling console.log would trap on
// "console is not defined". Importing this module defines one over the log
// import (log, info: info; debug; warn; error).
//
// jco resolves a relative import such as './coapwasm.js' when it builds the
// component, so this file sits beside app.js: `coapwasm new` copies it there,
// and inside the repository the JavaScript template's build.sh puts it beside
// a copy of the plugin's sources.

import { log as writeLog } from 'coapwasm:plugin/log@0.2.3';
import * as keyValue from 'coapwasm:plugin/key-value@0.2.3';

// Content-Format numbers from the IANA CoAP registry (RFC 7252 §12.3).
export const TEXT_PLAIN = 0; // text/plain;charset=utf-8
export const LINK_FORMAT = 40; // application/link-format
export const OCTET_STREAM = 42; // application/octet-stream
export const JSON_FORMAT = 50; // application/json
export const CBOR = 60; // application/cbor

// --- Text -------------------------------------------------------------------

/** `text` as UTF-8 bytes. */
export function encodeText(text) {
  const binary = unescape(encodeURIComponent(String(text)));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** UTF-8 `bytes` as text; throws a URIError if they are not UTF-8. */
export function decodeText(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) {
    binary += String.fromCharCode(bytes[i]);
  }
  return decodeURIComponent(escape(binary));
}

function bytesOf(payload) {
  if (payload === undefined || payload === null) {
    return new Uint8Array(0);
  }
  return typeof payload === 'string' ? encodeText(payload) : payload;
}

// --- Responses (RFC 7252 §5.9; options §5.10) -------------------------------

/**
 * A response with `code` (a WIT response-code: 'content', 'not-found', ...).
 * Options: `payload` (bytes, or a string sent as UTF-8 and, unless
 * `contentFormat` says otherwise, as text/plain), `contentFormat`, `maxAge`
 * in seconds (§5.10.5, default 60), `etag` of 1 to 8 bytes (§5.10.6),
 * `locationPath` and `locationQuery` of a created resource (§5.10.7).
 */
export function response(code, options = {}) {
  let contentFormat = options.contentFormat ?? null;
  if (typeof options.payload === 'string' && contentFormat === null) {
    contentFormat = TEXT_PLAIN;
  }
  return {
    code,
    contentFormat,
    maxAge: options.maxAge ?? null,
    etag: options.etag ?? null,
    locationPath: options.locationPath ?? [],
    locationQuery: options.locationQuery ?? [],
    payload: bytesOf(options.payload),
  };
}

/** 2.05 Content: `payload` in `contentFormat`. */
export function content(contentFormat, payload, options = {}) {
  return response('content', { ...options, contentFormat, payload });
}

/** `text` as text/plain;charset=utf-8; 2.05 Content unless `options.code`. */
export function text(value, options = {}) {
  return response(options.code ?? 'content', {
    ...options,
    contentFormat: TEXT_PLAIN,
    payload: encodeText(value),
  });
}

/** `value` as application/json (a string is sent as it is); 2.05 Content
 * unless `options.code`. */
export function json(value, options = {}) {
  const body = typeof value === 'string' ? value : JSON.stringify(value);
  return response(options.code ?? 'content', {
    ...options,
    contentFormat: JSON_FORMAT,
    payload: encodeText(body),
  });
}

/** 2.01 Created, with where (§5.8.2, §5.10.7): `created(['items', '7'])`. */
export function created(locationPath = [], options = {}) {
  return response('created', { ...options, locationPath });
}

/** 2.02 Deleted, empty. */
export function deleted(options = {}) {
  return response('deleted', options);
}

/** 2.03 Valid, empty (the host already answers it for a matching ETag). */
export function valid(options = {}) {
  return response('valid', options);
}

/** 2.04 Changed, empty unless given a payload. */
export function changed(payload, options = {}) {
  return response('changed', { ...options, payload });
}

/** An error `code` (4.xx or 5.xx) with a human-readable diagnostic as
 * text/plain (§5.5.2). */
export function error(code, diagnostic = '') {
  return response(code, { contentFormat: TEXT_PLAIN, payload: encodeText(diagnostic) });
}

/** 4.00 Bad Request. */
export const badRequest = (diagnostic) => error('bad-request', diagnostic);
/** 4.01 Unauthorized. */
export const unauthorized = (diagnostic) => error('unauthorized', diagnostic);
/** 4.03 Forbidden. */
export const forbidden = (diagnostic) => error('forbidden', diagnostic);
/** 4.04 Not Found (a collection's member that does not exist). */
export const notFound = (diagnostic) => error('not-found', diagnostic);
/** 4.05 Method Not Allowed; the host already answers it to a method the
 * description does not list. */
export const methodNotAllowed = (diagnostic) => error('method-not-allowed', diagnostic);
/** 4.06 Not Acceptable. */
export const notAcceptable = (diagnostic) => error('not-acceptable', diagnostic);
/** 4.09 Conflict (RFC 8132). */
export const conflict = (diagnostic) => error('conflict', diagnostic);
/** 4.15 Unsupported Content-Format. */
export const unsupportedContentFormat = (diagnostic) =>
  error('unsupported-content-format', diagnostic);
/** 5.00 Internal Server Error. */
export const internalServerError = (diagnostic) => error('internal-server-error', diagnostic);
/** 5.03 Service Unavailable. */
export const serviceUnavailable = (diagnostic) => error('service-unavailable', diagnostic);

// --- Descriptions -------------------------------------------------------------

/** A plugin named `name` (lowercase letters, digits and '-'; it names the
 * key-value namespace, so keep it across versions) serving `resources`. */
export function plugin(name, resources, options = {}) {
  return { name, version: options.version ?? '0.1.0', resources };
}

/** A link attribute for /.well-known/core (RFC 6690 §3); no value for a flag. */
export function attribute(name, value = null) {
  return { name, value: value === null ? null : String(value) };
}

/**
 * The resource at `path`. Options: `methods` (a list such as ['get', 'put'],
 * or WIT flags { get: true }; GET unless given), `observable` (false),
 * `contentFormats` (none: the host does not check Accept; list them, default
 * first, and it answers 4.06 itself), `rt`, `if` and `title` shown in
 * /.well-known/core beside other `attributes`, `sampleIntervalMs` for an
 * observable sensor (the host calls `sample`).
 */
export function resource(path, options = {}) {
  let methods = options.methods ?? ['get'];
  if (Array.isArray(methods)) {
    methods = Object.fromEntries(methods.map((m) => [m.toLowerCase(), true]));
  }
  const attributes = [];
  for (const name of ['rt', 'if', 'title']) {
    if (options[name] !== undefined && options[name] !== null) {
      attributes.push(attribute(name, options[name]));
    }
  }
  attributes.push(...(options.attributes ?? []));
  return {
    path,
    methods,
    observable: options.observable ?? false,
    contentFormats: options.contentFormats ?? [],
    attributes,
    sampleIntervalMs: options.sampleIntervalMs ?? null,
  };
}

/** The members of the collection at `collection` (such as '/sensors'): every
 * path below it reaches the plugin (a `/*` resource). */
export function membersOf(collection, options = {}) {
  return resource(`${collection.replace(/\/+$/, '')}/*`, options);
}

// --- Requests -----------------------------------------------------------------

/** The value of the first Uri-Query item `name=value`, '' for a bare `name`,
 * null if there is none (RFC 7252 §5.10.1: one option each). */
export function queryValue(request, name) {
  for (const item of request.query) {
    const at = item.indexOf('=');
    const key = at < 0 ? item : item.slice(0, at);
    if (key === name) {
      return at < 0 ? '' : item.slice(at + 1);
    }
  }
  return null;
}

// --- Imports ------------------------------------------------------------------

/** A key-value operation failed: `tooLarge` if the key or value is larger
 * than the host allows or the namespace's quota is spent (a smaller
 * replacement or a delete always succeeds), else the store failed. */
export class StoreError extends Error {
  constructor(cause) {
    const tooLarge = cause?.tag === 'too-large' || cause?.payload?.tag === 'too-large';
    super(tooLarge ? 'too large' : `store failed: ${JSON.stringify(cause)}`);
    this.tooLarge = tooLarge;
    this.cause = cause;
  }
}

function stored(operation) {
  try {
    return operation();
  } catch (cause) {
    throw new StoreError(cause);
  }
}

/** The plugin's own namespace in the host's key-value store: where state that
 * must outlive a call belongs (the host runs several instances and replaces
 * one that trapped). */
export const kv = {
  /** The bytes stored under `key`, or null. */
  get: (key) => stored(() => keyValue.get(key)) ?? null,
  /** The text stored under `key` (UTF-8), or `fallback`. */
  getText(key, fallback = null) {
    const value = this.get(key);
    return value === null ? fallback : decodeText(value);
  },
  /** Stores `value` (bytes, or a string as UTF-8) under `key`. */
  set: (key, value) => stored(() => keyValue.set(key, bytesOf(value))),
  /** Removes `key`; true if it was there. */
  delete: (key) => stored(() => keyValue['delete'](key)),
  /** Every key, sorted. */
  keys: () => stored(() => keyValue.keys()),
};

/** Lines in the host's log, tagged with the plugin's name, rate-limited per
 * plugin. */
export const log = {
  trace: (message) => writeLog('trace', String(message)),
  debug: (message) => writeLog('debug', String(message)),
  info: (message) => writeLog('info', String(message)),
  warn: (message) => writeLog('warn', String(message)),
  error: (message) => writeLog('error', String(message)),
};

function consoleLine(parts) {
  return parts
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
    .join(' ');
}

if (globalThis.console === undefined) {
  globalThis.console = {
    log: (...parts) => log.info(consoleLine(parts)),
    info: (...parts) => log.info(consoleLine(parts)),
    debug: (...parts) => log.debug(consoleLine(parts)),
    warn: (...parts) => log.warn(consoleLine(parts)),
    error: (...parts) => log.error(consoleLine(parts)),
  };
}
