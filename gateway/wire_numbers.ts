import { formatScaled, parseScaled, type Instrument } from '../engine/index.js';

// Numbers at the edge. A wire value (a query-string text, or a JSON number that passed the
// pre-scan of json_scan.ts) becomes a plain decimal text, then an exact integer count of ticks or
// lots for its instrument; anything that does not fit exactly is refused, never rounded.
// Outbound, ticks and lots become JSON numbers whose shortest text is the exact decimal.

/** Scale of the instrument units in engine/instruments.ts (tickScaled, lotScaled). */
const UNIT_SCALE = 6;
const PLAIN = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** The canonical decimal text of a wire value, or undefined (negative, -0, exponent, NaN, …). */
export function wireDecimalText(value: unknown): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || Object.is(value, -0)) return undefined;
    const text = String(value);
    return PLAIN.test(text) ? text : undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 40) return undefined;
  return PLAIN.test(value) ? value : undefined;
}

export type Conversion = { ok: true; value: number } | { ok: false; why: string };

/** Price text → ticks of the instrument: must be positive and a whole number of ticks. */
export function priceToTicks(value: unknown, instrument: Instrument): Conversion {
  return toUnits(value, instrument.tickScaled, instrument.priceTicksMax, 'tick size');
}

/** Amount text → lots of the instrument (lot = min_trade_amount = the amount step). */
export function amountToLots(value: unknown, instrument: Instrument): Conversion {
  return toUnits(value, instrument.lotScaled, instrument.qtyLotsMax, 'amount step');
}

function toUnits(value: unknown, unitScaled: bigint, max: number, unitName: string): Conversion {
  const text = wireDecimalText(value);
  if (text === undefined) return { ok: false, why: 'must be a non-negative decimal number' };
  const small = smallScaled(text);
  if (small !== undefined && Number.isSafeInteger(Number(unitScaled))) return unitsOf(small, Number(unitScaled), max, unitName);
  const scaled = parseScaled(text, UNIT_SCALE);
  if (scaled === undefined) return { ok: false, why: `has more decimals than the ${unitName} allows` };
  if (scaled % unitScaled !== 0n) return { ok: false, why: `is not a multiple of the ${unitName}` };
  const units = scaled / unitScaled;
  if (units < 1n) return { ok: false, why: 'must be positive' };
  if (units > BigInt(max)) return { ok: false, why: 'is above the instrument maximum' };
  return { ok: true, value: Number(units) };
}

/** toUnits' checks, in its order, on a scaled value that is a safe integer (no bigint needed). */
function unitsOf(scaled: number, unit: number, max: number, unitName: string): Conversion {
  if (scaled % unit !== 0) return { ok: false, why: `is not a multiple of the ${unitName}` };
  const units = scaled / unit;
  if (units < 1) return { ok: false, why: 'must be positive' };
  if (units > max) return { ok: false, why: 'is above the instrument maximum' };
  return { ok: true, value: units };
}

/** Whole digits that keep text × 10^UNIT_SCALE below 10^15, so it is exact as a double. */
const SMALL_WHOLE_DIGITS_MAX = 15 - UNIT_SCALE;

/**
 * A plain decimal text × 10^UNIT_SCALE as a number, when it has at most UNIT_SCALE decimals and at
 * most SMALL_WHOLE_DIGITS_MAX whole digits (every order's price and amount); otherwise undefined,
 * and parseScaled decides. Digit by digit, every step exact: no substring, no bigint.
 */
function smallScaled(text: string): number | undefined {
  const point = text.indexOf('.');
  const wholeDigits = point < 0 ? text.length : point;
  const decimals = point < 0 ? 0 : text.length - point - 1;
  if (wholeDigits > SMALL_WHOLE_DIGITS_MAX || decimals > UNIT_SCALE) return undefined;
  let scaled = 0;
  for (let index = 0; index < text.length; index++) if (index !== point) scaled = scaled * 10 + (text.charCodeAt(index) - 0x30);
  for (let padding = decimals; padding < UNIT_SCALE; padding++) scaled *= 10;
  return scaled;
}

/** Ticks → price as a JSON number (its shortest text is the exact decimal). */
export function ticksToPrice(ticks: number, instrument: Instrument): number {
  return countTimesUnitToNumber(ticks, instrument.tickScaled, UNIT_SCALE);
}

export function lotsToAmount(lots: number, instrument: Instrument): number {
  return countTimesUnitToNumber(lots, instrument.lotScaled, UNIT_SCALE);
}

/** A size in tick-lot products (Σ price × qty) → quote amount as a number. */
export function tickLotsToQuote(tickLots: number, instrument: Instrument): number {
  return scaledToNumber(BigInt(tickLots) * instrument.tickScaled * instrument.lotScaled, UNIT_SCALE * 2);
}

/** Base units of a currency → amount as a number (display only; the ledger stays exact). */
export function unitsToAmount(units: bigint, decimals: number): number {
  return scaledToNumber(units, decimals);
}

/** 10^0 … 10^22: every one an exact double (10^23 is not). */
const EXACT_POWERS_OF_TEN = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const EXACT_INTEGER_MAX = 2n ** 53n;

/**
 * `value` / 10^scale as a number: always the same number as Number(formatScaled(value, scale)),
 * which is the exact quotient rounded to the nearest double. When both operands are exact doubles,
 * IEEE division rounds that same exact quotient the same way, so the decimal text (bigint to
 * string, string to number: the order path's costliest formatting) is needed only past 2^53.
 */
export function scaledToNumber(value: bigint, scale: number): number {
  if (scale >= 0 && scale < EXACT_POWERS_OF_TEN.length && value <= EXACT_INTEGER_MAX && value >= -EXACT_INTEGER_MAX) return Number(value) / EXACT_POWERS_OF_TEN[scale];
  return Number(formatScaled(value, scale));
}

/** count × unitScaled / 10^scale as scaledToNumber gives it, without a bigint while the product is a safe integer. */
function countTimesUnitToNumber(count: number, unitScaled: bigint, scale: number): number {
  const product = count * Number(unitScaled);
  // A product that rounded cannot be a safe integer; 0 is returned as +0, as the text "0" parses.
  if (Number.isSafeInteger(count) && Number.isSafeInteger(product) && scale >= 0 && scale < EXACT_POWERS_OF_TEN.length) return product === 0 ? 0 : product / EXACT_POWERS_OF_TEN[scale];
  return scaledToNumber(BigInt(count) * unitScaled, scale);
}

export function amountToUnits(value: unknown, decimals: number): bigint | undefined {
  const text = wireDecimalText(value);
  return text === undefined ? undefined : parseScaled(text, decimals);
}
