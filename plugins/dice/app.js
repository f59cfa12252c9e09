// Dice at `/dice`, written in JavaScript: each GET throws `count` dice
// (`/dice?count=3`, one by default); PUT sets how many sides they have
// (text, `20`; six until set).
//
// The number of sides lives in the host's key-value store, not in a global:
// the host may run several instances at once and replaces one that trapped or
// was reloaded, and every one of them must throw the same dice.
//
// Built with jco's QuickJS backend (see build.sh), whose engine has no
// TextEncoder: the helper module coapwasm.js (plugins/sdk/javascript, which
// build.sh puts beside this file) does UTF-8, responses, the description and
// the key-value store. Nor Math.random: its seed is fixed when the component
// is built, so every instance would throw the same sequence; the rolls come
// from WASI's random numbers instead, imported by the world in wit/dice.wit.

import { getRandomU64 } from 'wasi:random/random@0.2.6';
import {
  JSON_FORMAT,
  TEXT_PLAIN as TEXT,
  decodeText,
  kv,
  log,
  plugin,
  queryValue,
  resource,
  response,
} from './coapwasm.js';

const PATH = '/dice';
const SIDES_KEY = 'sides';
const SIDES = { default: 6, min: 2, max: 1000 };
const COUNT = { default: 1, min: 1, max: 100 };

/** A request answered with an error code and a diagnostic payload (RFC 7252 §5.5.2). */
class Failure extends Error {
  constructor(code, text) {
    super(text);
    this.code = code;
  }
}

export function describe() {
  return plugin('dice', [
    resource(PATH, {
      methods: ['get', 'put'],
      contentFormats: [JSON_FORMAT, TEXT],
      rt: 'dice',
      if: 'sensor',
      title: 'Dice (JavaScript)',
    }),
  ]);
}

export function sample(_path) {
  return false;
}

export function handle(request) {
  try {
    if (request.method === 'get') {
      return roll(request);
    }
    if (request.method === 'put') {
      return setSides(request);
    }
    // The host refuses the methods `describe` does not list.
    throw new Failure('method-not-allowed', 'GET or PUT only');
  } catch (failure) {
    if (failure instanceof Failure) {
      return answer(failure.code, TEXT, failure.message);
    }
    throw failure;
  }
}

function roll(request) {
  const count = parameter(request, 'count', COUNT);
  const sides = storedSides();
  const rolls = [];
  for (let i = 0; i < count; i++) {
    rolls.push(1 + randomBelow(sides));
  }
  const total = rolls.reduce((sum, roll) => sum + roll, 0);
  log.debug(`${count}d${sides}: ${rolls.join(' ')}`);
  if (request.accept === TEXT) {
    return answer('content', TEXT, rolls.join(' '));
  }
  return answer('content', JSON_FORMAT, JSON.stringify({ rolls, sides, total }));
}

function setSides(request) {
  if (request.contentFormat !== null && request.contentFormat !== undefined && request.contentFormat !== TEXT) {
    throw new Failure('unsupported-content-format', 'the number of sides is text/plain (ct=0)');
  }
  let text;
  try {
    text = decodeText(request.payload).trim();
  } catch (_) {
    throw new Failure('bad-request', 'the number of sides is not UTF-8 text');
  }
  const sides = integer('sides', text, SIDES);
  store(() => kv.set(SIDES_KEY, String(sides)));
  log.info(`${request.source} set the dice to ${sides} sides`);
  return answer('changed', TEXT, String(sides));
}

/** A uniformly random integer in 0..n-1. QuickJS hands a WIT u64 over as a
 * Number, exact to 53 bits: plenty for a fraction of n <= 1000. */
function randomBelow(n) {
  const fraction = getRandomU64() / 2 ** 64;
  // A u64 near 2^64 rounds up to it: keep the result below n.
  return Math.min(n - 1, Math.floor(fraction * n));
}

/** The integer query parameter `name=N` (RFC 7252 §5.10.1: one Uri-Query option each), within its bounds. */
function parameter(request, name, bounds) {
  const value = queryValue(request, name);
  return value === null ? bounds.default : integer(name, value, bounds);
}

function integer(name, text, bounds) {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < bounds.min || value > bounds.max) {
    throw new Failure('bad-request', `${name} must be an integer from ${bounds.min} to ${bounds.max}`);
  }
  return value;
}

function storedSides() {
  const stored = store(() => kv.getText(SIDES_KEY));
  return stored === null ? SIDES.default : Number(stored);
}

/** Runs a key-value operation; a store error (a StoreError from the
 * helper) becomes a 5.00. */
function store(operation) {
  try {
    return operation();
  } catch (failure) {
    log.error(`key-value store failed: ${failure.message}`);
    throw new Failure('internal-server-error', 'the store failed');
  }
}

function answer(code, contentFormat, text) {
  // Every throw is new: caches must not keep one (RFC 7252 §5.10.5).
  return response(code, { contentFormat, payload: text, maxAge: 0 });
}
