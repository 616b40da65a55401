// Exact decimal text ⇄ scaled integers, for configuration and the wire edge. Accepts only plain
// non-negative decimals ("0", "12", "2.345"): no sign, exponent, whitespace, leading zeros or
// trailing dot, and no more fractional digits than the scale allows. Nothing passes through a float.

const PLAIN_DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** `text` × 10^scale as a bigint, or undefined when it is not a plain decimal with ≤ scale decimals. */
export function parseScaled(text: string, scale: number): bigint | undefined {
  if (typeof text !== 'string' || text.length > 64 || !PLAIN_DECIMAL.test(text)) return undefined;
  const point = text.indexOf('.');
  const whole = point < 0 ? text : text.slice(0, point);
  const fraction = point < 0 ? '' : text.slice(point + 1);
  if (fraction.length > scale) return undefined;
  return BigInt(whole + fraction.padEnd(scale, '0'));
}

/** The shortest plain decimal text of value / 10^scale (no trailing zeros, no trailing dot). */
export function formatScaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return (negative ? '-' : '') + (fraction ? `${whole}.${fraction}` : whole);
}

/** How many decimals a plain decimal text has ("0.001" → 3, "100" → 0). */
export function decimalPlaces(text: string): number {
  const point = text.indexOf('.');
  return point < 0 ? 0 : text.length - point - 1;
}

/** ceil(numerator / denominator) for non-negative bigints. */
export function divideRoundingUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}
