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
      if (isKeyAt(text, end + 1) && FORBIDDEN_KEYS.has(keyText(text, index, end))) throw new JsonRefused('key', 'this key is not allowed');
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

/** Index of the closing quote of the string opening at `start` (or the end of the text). */
function endOfString(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code === 0x5c /* \ */) index += 2;
    else if (code === 0x22) return index;
    else index++;
  }
  throw new JsonRefused('syntax', 'unterminated string');
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
  while (index < text.length && (text[index] === ' ' || text[index] === '\n' || text[index] === '\r' || text[index] === '\t')) index++;
  return text[index] === ':';
}

function checkNumber(text: string, start: number): number {
  let index = start;
  let significant = 0;
  let leadingZeros = true;
  while (index < text.length) {
    const char = text[index];
    if (char >= '0' && char <= '9') {
      if (char !== '0' || !leadingZeros) {
        leadingZeros = false;
        significant++;
      }
    } else if (char === 'e' || char === 'E') {
      throw new JsonRefused('number', 'numbers with an exponent are not accepted');
    } else if (char !== '.' && char !== '-' && char !== '+') {
      break;
    }
    index++;
  }
  if (significant > SIGNIFICANT_DIGITS_MAX) throw new JsonRefused('number', `more than ${SIGNIFICANT_DIGITS_MAX} significant digits`);
  return index;
}
