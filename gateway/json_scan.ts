import { gatewayLimits } from './limits.js';

// Untrusted JSON, parsed so that what a client sent is what we read. JSON.parse alone turns
// "1e309" into Infinity, "2.0000000000000001" into 2, accepts a million levels of nesting and makes
// "__proto__" an own key. So one linear pass over the text first enforces the depth limit, refuses
// exponents and numbers with more than 15 significant digits (every such number survives the trip
// through a double and back to its shortest text unchanged), and refuses the keys __proto__,
// constructor and prototype; only then does the native parser run.

export type JsonScanProblem = 'depth' | 'number' | 'key' | 'syntax';

export class JsonRefused extends Error {
  constructor(readonly problem: JsonScanProblem, detail: string) {
    super(detail);
  }
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** The lengths of the forbidden keys: __proto__ and prototype, constructor. */
const FORBIDDEN_KEY_LENGTHS = [9, 11] as const;
const SIGNIFICANT_DIGITS_MAX = 15;

/** Parses `text`, or throws JsonRefused (problem 'syntax' for malformed JSON). */
export function parseUntrustedJson(text: string, depthMax = gatewayLimits.jsonDepthMax): unknown {
  scanJson(text, depthMax);
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonRefused('syntax', 'malformed JSON');
  }
}

function scanJson(text: string, depthMax: number): void {
  let depth = 0;
  let index = 0;
  const length = text.length;
  while (index < length) {
    const code = text.charCodeAt(index);
    if (code === 0x22 /* " */) {
      const end = endOfString(text, index);
      if (isKeyAt(text, end + 1) && mayBeForbidden(text, index, end) && FORBIDDEN_KEYS.has(keyText(text, index, end))) throw new JsonRefused('key', 'this key is not allowed');
      index = end + 1;
    } else if (code === 0x7b /* { */ || code === 0x5b /* [ */) {
      if (++depth > depthMax) throw new JsonRefused('depth', `nesting deeper than ${depthMax}`);
      index++;
    } else if (code === 0x7d /* } */ || code === 0x5d /* ] */) {
      depth--;
      index++;
    } else if (code === 0x2d /* - */ || (code >= 0x30 && code <= 0x39)) {
      index = checkNumber(text, index);
    } else {
      index++;
    }
  }
}

/**
 * Index of the closing quote of the string opening at `start`: the first quote after it that is not
 * escaped, i.e. not preceded by an odd run of backslashes. indexOf finds each candidate quote far
 * faster than a loop over every character of the string.
 */
function endOfString(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  while (quote >= 0) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  throw new JsonRefused('syntax', 'unterminated string');
}

/**
 * Whether the key between the quotes at `start` and `end` needs decoding and looking up: without
 * an escape it is its own text, and only 9 or 11 characters long can it be a forbidden key. Saves
 * a substring per key of every request.
 */
function mayBeForbidden(text: string, start: number, end: number): boolean {
  const length = end - start - 1;
  if (length === FORBIDDEN_KEY_LENGTHS[0] || length === FORBIDDEN_KEY_LENGTHS[1]) return true;
  for (let index = start + 1; index < end; index++) if (text.charCodeAt(index) === 0x5c /* \ */) return true;
  return false;
}

/** A key as JSON.parse will see it: escapes decoded ("\u005f_proto__" is "__proto__"). */
function keyText(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    throw new JsonRefused('syntax', 'malformed string');
  }
}

function isKeyAt(text: string, index: number): boolean {
  let code = text.charCodeAt(index);
  // Space, \n, \r, \t (past the end, NaN: not a key).
  while (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) code = text.charCodeAt(++index);
  return code === 0x3a /* : */;
}

function checkNumber(text: string, start: number): number {
  let index = start;
  let significant = 0;
  let leadingZeros = true;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code >= 0x30 /* 0 */ && code <= 0x39 /* 9 */) {
      if (code !== 0x30 || !leadingZeros) {
        leadingZeros = false;
        significant++;
      }
    } else if (code === 0x65 /* e */ || code === 0x45 /* E */) {
      throw new JsonRefused('number', 'numbers with an exponent are not accepted');
    } else if (code !== 0x2e /* . */ && code !== 0x2d /* - */ && code !== 0x2b /* + */) {
      break;
    }
    index++;
  }
  if (significant > SIGNIFICANT_DIGITS_MAX) throw new JsonRefused('number', `more than ${SIGNIFICANT_DIGITS_MAX} significant digits`);
  return index;
}
