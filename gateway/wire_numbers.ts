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
  const scaled = parseScaled(text, UNIT_SCALE);
  if (scaled === undefined) return { ok: false, why: `has more decimals than the ${unitName} allows` };
  if (scaled % unitScaled !== 0n) return { ok: false, why: `is not a multiple of the ${unitName}` };
  const units = scaled / unitScaled;
  if (units < 1n) return { ok: false, why: 'must be positive' };
  if (units > BigInt(max)) return { ok: false, why: 'is above the instrument maximum' };
  return { ok: true, value: Number(units) };
}

/** Ticks → price as a JSON number (its shortest text is the exact decimal). */
export function ticksToPrice(ticks: number, instrument: Instrument): number {
  return Number(formatScaled(BigInt(ticks) * instrument.tickScaled, UNIT_SCALE));
}

export function lotsToAmount(lots: number, instrument: Instrument): number {
  return Number(formatScaled(BigInt(lots) * instrument.lotScaled, UNIT_SCALE));
}

/** A size in tick-lot products (Σ price × qty) → quote amount as a number. */
export function tickLotsToQuote(tickLots: number, instrument: Instrument): number {
  return Number(formatScaled(BigInt(tickLots) * instrument.tickScaled * instrument.lotScaled, UNIT_SCALE * 2));
}

/** Base units of a currency → amount as a number (display only; the ledger stays exact). */
export function unitsToAmount(units: bigint, decimals: number): number {
  return Number(formatScaled(units, decimals));
}

export function amountToUnits(value: unknown, decimals: number): bigint | undefined {
  const text = wireDecimalText(value);
  return text === undefined ? undefined : parseScaled(text, decimals);
}
