// Exact decimals at the wire edge, and the JSON pre-scan (RELIABILITY.md test 3; STYLE 1).
//
// What it proves: gateway/wire_numbers.ts turns wire prices and amounts into integer ticks and
// lots exactly or not at all, on real instruments from the shipped catalogue (spot H100_USDAI:
// tick 0.001, lot 1; a monthly future: tick 0.001, lot 100; an option: tick 0.0001, lot 100), and
// turns them back into JSON numbers whose text is the exact decimal; ticks × lots is exact
// (a safe integer equal to the bigint product, and the settlement-currency units of the engine
// equal price × amount computed from the decimal texts); and gateway/json_scan.ts refuses deep
// nesting quickly, exponent and over-precise numbers, and the keys __proto__, constructor and
// prototype, while accepting the same words inside strings.
//
// The generators: (1) every tick count 1..priceTicksMax and lot count 1..qtyLotsMax (uniform,
// plus the bounds), formatted by an independent bigint reference and, half the time, padded with
// trailing zeros; (2) random texts over the alphabet of decimals and their near misses (digits,
// '.', '-', '+', 'e', 'E', space, tab, ',', '_', 'x'); (3) random doubles, including -0, NaN,
// ±Infinity, tiny and huge values; (4) random JSON values (fast-check's jsonValue, with keys
// sometimes forbidden words) for the scanner.
//
// The oracle: an independent reference parser, written here from the rules (a plain decimal
// /^(0|[1-9][0-9]*)(\.[0-9]+)?$/ of at most 40 characters with at most 6 decimals — the unit
// scale of the instrument catalogue — that is a whole multiple of the tick or lot, at least one
// unit and at most the instrument maximum), with bigint arithmetic only; for numbers, the text
// is the shortest round-trip text String(x). For the scanner, a walk over the parsed value that
// knows the depth limit (16), the forbidden keys and which numbers cannot round-trip.
// A hand list of rejections is checked one by one as well.
//
// How to replay: every run prints `SEED=<n>`; rerun with
//   DECIMAL_SEED=<n> npx tap --reporter=tap test/gateway/decimal_edge.test.ts
// DECIMAL_RUNS=<n> sets the runs per property (default 20,000; about 100k cases in all).

import t, { type TAP } from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyCommand, emptyState, type ExchangeState, type Instrument, type RawExchangeConfig } from '../../engine/index.js';
import { JsonRefused, parseUntrustedJson } from '../../gateway/json_scan.js';
import { gatewayLimits } from '../../gateway/limits.js';
import { amountToLots, lotsToAmount, priceToTicks, tickLotsToQuote, ticksToPrice, wireDecimalText } from '../../gateway/wire_numbers.js';
import { readIntegerEnv } from '../_env.js';

const RUNS = readIntegerEnv('DECIMAL_RUNS') ?? 20_000;
const SEED = readIntegerEnv('DECIMAL_SEED') ?? (Date.now() & 0x7fffffff) ^ Math.floor(Math.random() * 0x7fffffff);
/** Decimals of the instrument catalogue's units (engine/config.ts CONFIG_PRICE_SCALE). */
const UNIT_DECIMALS = 6;
const WIRE_TEXT_LENGTH_MAX = 40;
const SETTLEMENT_DECIMALS = 18;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const config = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8')) as RawExchangeConfig;

t.comment(`SEED=${SEED} runs=${RUNS}`);
t.comment(`replay: DECIMAL_SEED=${SEED} npx tap --reporter=tap test/gateway/decimal_edge.test.ts`);

const state = listedState();
const spot = state.instruments.get('H100_USDAI')!;
const future = [...state.instruments.values()].find((instrument) => instrument.kind === 'future' && instrument.sku === 'H100')!;
const option = [...state.instruments.values()].find((instrument) => instrument.kind === 'option' && instrument.sku === 'H100')!;
const markets: { label: string; instrument: Instrument; tick: string; lot: string }[] = [
  { label: `spot ${spot.name}`, instrument: spot, tick: config.spot.tickSize, lot: config.spot.amountStep },
  { label: `future ${future.name}`, instrument: future, tick: config.futures.tickSize, lot: config.futures.amountStep },
  { label: `option ${option.name}`, instrument: option, tick: config.options.tickSize, lot: config.options.amountStep },
];

t.test('the catalogue gives the instruments this file assumes', async (t) => {
  t.equal(spot.tickScaled, 1_000n, 'spot tick 0.001');
  t.equal(spot.lotScaled, 1_000_000n, 'spot lot 1');
  t.equal(option.tickScaled, 100n, 'option tick 0.0001');
  t.equal(option.lotScaled, 100_000_000n, 'option lot 100');
  for (const { label, instrument } of markets) {
    t.ok(Number.isSafeInteger(instrument.priceTicksMax * instrument.qtyLotsMax), `${label}: ticks × lots max is a safe integer`);
  }
});

// ---------------------------------------------------------------------------------------------
// Round trips

for (const { label, instrument, tick, lot } of markets) {
  t.test(`${label}: every price within precision round-trips (ticks → price → ticks, text → ticks → text)`, async (t) => {
    const ticks = unitCount(instrument.priceTicksMax);
    check(t, 'ticks → number → ticks', fc.property(ticks, (count) => {
      const price = ticksToPrice(count, instrument);
      const expectedText = referenceText(count, tick);
      if (String(price) !== expectedText) throw new Error(`ticksToPrice(${count}) = ${price}, expected ${expectedText}`);
      expectConversion(priceToTicks(price, instrument), count, `priceToTicks(${price})`);
      expectConversion(priceToTicks(expectedText, instrument), count, `priceToTicks("${expectedText}")`);
    }));
    check(t, 'padded text → ticks', fc.property(ticks, fc.nat(UNIT_DECIMALS), (count, padding) => {
      const text = padWithZeros(referenceText(count, tick), padding);
      const expected = referenceUnits(text, tick, instrument.priceTicksMax);
      const converted = priceToTicks(text, instrument);
      if (expected === undefined) {
        if (converted.ok) throw new Error(`"${text}" accepted as ${converted.value}; the reference refuses it`);
      } else expectConversion(converted, expected, `priceToTicks("${text}")`);
      if (decimalsOf(text) <= UNIT_DECIMALS && expected !== count) throw new Error(`reference disagrees with itself on "${text}"`);
    }));
  });

  t.test(`${label}: every amount within precision round-trips`, async (t) => {
    check(t, 'lots → number → lots', fc.property(unitCount(instrument.qtyLotsMax), (count) => {
      const amount = lotsToAmount(count, instrument);
      const expectedText = referenceText(count, lot);
      if (String(amount) !== expectedText) throw new Error(`lotsToAmount(${count}) = ${amount}, expected ${expectedText}`);
      expectConversion(amountToLots(amount, instrument), count, `amountToLots(${amount})`);
      expectConversion(amountToLots(expectedText, instrument), count, `amountToLots("${expectedText}")`);
    }));
  });

  t.test(`${label}: random texts and doubles are accepted exactly when the reference accepts them`, async (t) => {
    const nearMissText = fc.string({ unit: fc.constantFrom(...'0123456789012345678901234567890123456789..-+eE \t,_x'), maxLength: 14 });
    const decimalLike = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.nat(9), fc.boolean()).map(([digits, point, lead]) => {
      const text = digits.toString();
      const at = Math.max(0, text.length - point);
      const withPoint = point === 0 ? text : `${text.slice(0, at) || '0'}.${text.slice(at).padStart(point, '0')}`;
      return lead ? withPoint : withPoint.replace(/^0+(?=\d)/, '');
    });
    check(t, 'texts', fc.property(fc.oneof(nearMissText, decimalLike), (text) => {
      expectSameVerdict(priceToTicks(text, instrument), referenceUnits(text, tick, instrument.priceTicksMax), `priceToTicks("${text}")`);
      expectSameVerdict(amountToLots(text, instrument), referenceUnits(text, lot, instrument.qtyLotsMax), `amountToLots("${text}")`);
    }));
    const doubles = fc.oneof(
      fc.double(),
      fc.double({ min: 0, max: 2_000_000, noNaN: true }),
      fc.integer({ min: -5, max: 2_000_000_000 }).map((n) => n / 10_000),
      fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 1e21, 1e-7, Number.MIN_VALUE, Number.MAX_VALUE, 0.1 + 0.2, 2 ** 53 + 2),
    );
    check(t, 'doubles', fc.property(doubles, (value) => {
      const text = Number.isFinite(value) && !Object.is(value, -0) ? String(value) : undefined;
      expectSameVerdict(priceToTicks(value, instrument), text === undefined ? undefined : referenceUnits(text, tick, instrument.priceTicksMax), `priceToTicks(${String(value)})`);
      expectSameVerdict(amountToLots(value, instrument), text === undefined ? undefined : referenceUnits(text, lot, instrument.qtyLotsMax), `amountToLots(${String(value)})`);
    }));
  });

  t.test(`${label}: ticks × lots is exact against a bigint reference`, async (t) => {
    check(t, 'notional', fc.property(unitCount(instrument.priceTicksMax), unitCount(instrument.qtyLotsMax), (ticks, lots) => {
      const tickLots = ticks * lots;
      const exact = BigInt(ticks) * BigInt(lots);
      if (!Number.isSafeInteger(tickLots) || BigInt(tickLots) !== exact) throw new Error(`${ticks} × ${lots} = ${tickLots} is not exact (${exact})`);
      // Settlement units from the decimal texts: price × amount × 10^18, by hand.
      const priceText = referenceText(ticks, tick);
      const amountText = referenceText(lots, lot);
      const settlementUnits = (scaledOf(priceText) * scaledOf(amountText) * 10n ** BigInt(SETTLEMENT_DECIMALS)) / 10n ** BigInt(2 * UNIT_DECIMALS);
      if (exact * instrument.quoteUnitsPerTickLot !== settlementUnits) throw new Error(`${priceText} × ${amountText}: engine units ${exact * instrument.quoteUnitsPerTickLot}, reference ${settlementUnits}`);
      // The wire shows a double; it must be the double nearest the exact decimal.
      const quoteText = decimalText(exact * scaledOf(tick) * scaledOf(lot), 2 * UNIT_DECIMALS);
      if (tickLotsToQuote(tickLots, instrument) !== Number(quoteText)) throw new Error(`tickLotsToQuote(${tickLots}) = ${tickLotsToQuote(tickLots, instrument)}, nearest to ${quoteText} is ${Number(quoteText)}`);
    }));
  });
}

// ---------------------------------------------------------------------------------------------
// The rejection list, value by value

t.test('the rejection list: every value is refused, for price and amount alike', async (t) => {
  const refused: [string, unknown][] = [
    ['exponent', '2e3'], ['exponent, capital', '2E3'], ['negative exponent', '1e-3'], ['exponent with sign', '1e+3'],
    ['exponent as a number', 1e21], ['tiny number (prints with an exponent)', 1e-7], ['NaN', NaN], ['"NaN"', 'NaN'],
    ['Infinity', Infinity], ['"Infinity"', 'Infinity'], ['-Infinity', -Infinity], ['"1e309"', '1e309'],
    ['-0 as a number', -0], ['"-0"', '-0'], ['"-0.0"', '-0.0'], ['leading +', '+1'], ['leading + on a number text', '+2.5'],
    ['leading space', ' 1'], ['trailing space', '1 '], ['tab', '\t1'], ['newline', '1\n'], ['inner space', '1 000'],
    ['comma decimal', '2,5'], ['thousands separator', '1,000'], ['underscore', '1_000'], ['hex', '0x10'], ['octal-ish', '010'],
    ['leading zero', '02.5'], ['leading dot', '.5'], ['trailing dot', '2.'], ['two dots', '1.2.3'], ['empty', ''],
    ['fullwidth digit', '２'], ['Arabic-Indic digit', '١'], ['41 characters', `1${'0'.repeat(40)}`],
    ['more decimals than the unit scale', '1.0000001'], ['zero', '0'], ['zero with decimals', '0.000'], ['zero as a number', 0],
    ['negative', '-1'], ['negative number', -1], ['negative fraction', -0.5],
    ['null', null], ['undefined', undefined], ['true', true], ['false', false], ['object', {}], ['array', [1]],
    ['bigint', 1n], ['a boxed number', Object(1)], ['a boxed string', Object('1')], ['a function', () => 1], ['a symbol', Symbol('1')],
  ];
  for (const { label, instrument } of markets) {
    for (const [what, value] of refused) {
      const price = priceToTicks(value, instrument);
      const amount = amountToLots(value, instrument);
      t.notOk(price.ok, `${label}: price ${what} refused`);
      t.notOk(amount.ok, `${label}: amount ${what} refused`);
      if (!price.ok) t.ok(price.why.length > 0, `${label}: price ${what} says why`);
    }
  }
  t.equal(wireDecimalText(-0), undefined, 'wireDecimalText(-0)');
  t.equal(wireDecimalText('-0'), undefined, 'wireDecimalText("-0")');
});

t.test('the rejection list: precision and range per instrument', async (t) => {
  const cases: [Instrument, 'price' | 'amount', unknown, boolean, string][] = [
    [spot, 'price', '2.001', true, 'one tick of decimals'],
    [spot, 'price', '2.0001', false, 'one decimal more than the tick'],
    [spot, 'price', 2.0001, false, 'one decimal more than the tick, as a number'],
    [spot, 'price', '2.0010', true, 'a trailing zero beyond the tick is the same value'],
    [spot, 'price', '2.0010000', false, 'decimals beyond the unit scale, even zeros'],
    [spot, 'price', '0.001', true, 'the smallest price'],
    [spot, 'price', '0.0005', false, 'half a tick'],
    [spot, 'price', '1000', true, 'the largest price'],
    [spot, 'price', '1000.001', false, 'one tick above the maximum'],
    [spot, 'price', 1000.001, false, 'one tick above the maximum, as a number'],
    [spot, 'price', '99999999999999999999', false, 'far above the maximum'],
    [spot, 'amount', '1', true, 'one lot'],
    [spot, 'amount', '1.5', false, 'half a lot'],
    [spot, 'amount', '10000000', true, 'the largest amount'],
    [spot, 'amount', '10000001', false, 'one lot above the maximum'],
    [option, 'price', '0.0001', true, 'one option tick'],
    [option, 'price', '0.00015', false, 'an option price between ticks'],
    [option, 'price', '100', true, 'the largest option price'],
    [option, 'price', '100.0001', false, 'one option tick above the maximum'],
    [option, 'amount', '100', true, 'one option lot'],
    [option, 'amount', '150', false, 'an option amount between lots'],
    [option, 'amount', '1', false, 'below one option lot'],
    [future, 'amount', '200', true, 'two future lots'],
    [future, 'amount', '250', false, 'a future amount between lots'],
  ];
  for (const [instrument, what, value, ok, why] of cases) {
    const converted = what === 'price' ? priceToTicks(value, instrument) : amountToLots(value, instrument);
    t.equal(converted.ok, ok, `${instrument.name} ${what} ${JSON.stringify(value)}: ${ok ? 'accepted' : 'refused'} (${why})`);
  }
  t.same(priceToTicks('1000', spot), { ok: true, value: spot.priceTicksMax }, 'max price is priceTicksMax');
  t.same(amountToLots('10000000', spot), { ok: true, value: spot.qtyLotsMax }, 'max amount is qtyLotsMax');
});

// ---------------------------------------------------------------------------------------------
// The JSON pre-scan

t.test('json_scan: depth 10^5 is refused, and fast', async (t) => {
  for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
    const text = open.repeat(100_000) + '1' + close.repeat(100_000);
    const startedMs = performance.now();
    const problem = refusal(() => parseUntrustedJson(text));
    const elapsedMs = performance.now() - startedMs;
    t.equal(problem, 'depth', `${open}… ×10^5 refused for depth`);
    t.ok(elapsedMs < 50, `refused in ${elapsedMs.toFixed(2)} ms (< 50 ms: it stops at the limit)`);
  }
  const limit = gatewayLimits.jsonDepthMax;
  t.same(parseUntrustedJson('['.repeat(limit) + ']'.repeat(limit)), nested(limit), `depth ${limit} (the limit) is accepted`);
  t.equal(refusal(() => parseUntrustedJson('['.repeat(limit + 1) + ']'.repeat(limit + 1))), 'depth', `depth ${limit + 1} is refused`);
  t.equal(refusal(() => parseUntrustedJson(`{"a":"${'['.repeat(1000)}"}`)), 'ok', 'brackets inside a string are not depth');
});

t.test('json_scan: numbers that would not survive JSON.parse are refused', async (t) => {
  const refusedNumbers = ['1e309', '-1e309', '1E5', '1e-7', '2.5e0', '9007199254740993', '9007199254740992', '12345678901234567', '0.1234567890123456', '-1234567890123456'];
  for (const number of refusedNumbers) {
    t.equal(refusal(() => parseUntrustedJson(`{"price":${number}}`)), 'number', `${number} refused`);
    t.equal(refusal(() => parseUntrustedJson(`[${number}]`)), 'number', `[${number}] refused`);
  }
  const accepted: [string, number][] = [['123456789012345', 123456789012345], ['0.000000000000001', 1e-15], ['-0', -0], ['2.05', 2.05], ['100', 100], ['0', 0]];
  for (const [number, value] of accepted) t.same(parseUntrustedJson(`{"price":${number}}`), { price: value }, `${number} accepted`);
  t.equal(refusal(() => parseUntrustedJson('{"price":"1e309","id":"9007199254740993"}')), 'ok', 'the same texts inside strings are fine');
});

t.test('json_scan: __proto__, constructor and prototype keys are refused; the words elsewhere are fine', async (t) => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    t.equal(refusal(() => parseUntrustedJson(`{"${key}":{"admin":true}}`)), 'key', `top-level key ${key}`);
    t.equal(refusal(() => parseUntrustedJson(`{"params":{"a":[{"${key}" :1}]}}`)), 'key', `nested key ${key}, space before the colon`);
    t.equal(refusal(() => parseUntrustedJson(`{"a":1,\n"${key}"\n:\t2}`)), 'key', `key ${key} after a newline`);
    t.equal(refusal(() => parseUntrustedJson(`{"a":"${key}"}`)), 'ok', `value "${key}"`);
    t.equal(refusal(() => parseUntrustedJson(`["${key}", ":"]`)), 'ok', `array element "${key}" followed by a colon string`);
    t.equal(refusal(() => parseUntrustedJson(`{"label":"my ${key}: thing","${key}x":1,"x${key}":2}`)), 'ok', `words containing ${key}`);
  }
  const parsed = parseUntrustedJson('{"a":"__proto__"}') as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(parsed), Object.prototype, 'an accepted object keeps the normal prototype');
  // Regression (fixed; was a server bug in gateway/json_scan.ts): the scanner compares the key's raw text, so a key written
  // with a JSON escape, "\u005f_proto__", is not recognised, and JSON.parse then makes it the
  // own key "__proto__" — exactly what the scanner promises to refuse. Repro:
  //   parseUntrustedJson('{"\\u005f_proto__":{"admin":true}}')  // returns { ['__proto__']: {admin: true} }
  // Over the wire, the same key at the top level of a request is silently accepted (extra envelope
  // keys are ignored); inside params Ajv refuses it as an unknown parameter. Fix: decode the key
  // text (JSON.parse of the quoted slice) before comparing, or refuse any key with a backslash.
  for (const escaped of ['\\u005f_proto__', '__proto\\u005f_', '\\u0063onstructor', 'prototyp\\u0065']) {
    t.equal(refusal(() => parseUntrustedJson(`{"${escaped}":{"admin":true}}`)), 'key', `escaped key "${escaped}" refused (decodes to a forbidden key)`);
  }
});

t.test('json_scan: random JSON values are refused exactly when the rules say so, else parsed as JSON.parse does', async (t) => {
  const forbiddenKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
  const key = fc.oneof({ weight: 10, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 1, arbitrary: forbiddenKey }, { weight: 1, arbitrary: fc.constantFrom('a', 'id', 'price') });
  const value = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(null, true, false),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map((n) => Number(n)),
      fc.string({ maxLength: 8 }),
      fc.constantFrom('__proto__', 'constructor', '1e309', '-0'),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(key, tie('value'), { maxKeys: 3, noNullPrototype: true }),
    ),
  })).value;
  const deep = fc.tuple(value, fc.integer({ min: 10, max: 24 })).map(([inner, depth]) => {
    let wrapped: unknown = inner;
    for (let level = 0; level < depth; level++) wrapped = level % 2 === 0 ? [wrapped] : { k: wrapped };
    return wrapped;
  });
  const verdicts = new Map<string, number>();
  check(t, 'scanner vs rules', fc.property(fc.oneof(value, deep), fc.boolean(), (input, pretty) => {
    const text = JSON.stringify(input, null, pretty ? 1 : undefined);
    const expected = expectedScanVerdict(JSON.parse(text), 1);
    const actual = refusal(() => parseUntrustedJson(text));
    verdicts.set(actual, (verdicts.get(actual) ?? 0) + 1);
    if (expected === 'ok') {
      if (actual !== 'ok') throw new Error(`refused (${actual}) but the rules allow it: ${text.slice(0, 300)}`);
      const parsed = parseUntrustedJson(text);
      if (JSON.stringify(parsed) !== JSON.stringify(JSON.parse(text))) throw new Error(`parsed differently from JSON.parse: ${text.slice(0, 300)}`);
    } else if (actual === 'ok') throw new Error(`accepted but the rules refuse it (${expected.join('/')}): ${text.slice(0, 300)}`);
    else if (!expected.includes(actual)) throw new Error(`refused for ${actual}, expected one of ${expected.join('/')}: ${text.slice(0, 300)}`);
  }), Math.min(RUNS, 10_000));
  t.comment(`scanner verdicts: ${[...verdicts].map(([verdict, count]) => `${verdict} ${count}`).join(', ')}`);
  for (const verdict of ['ok', 'depth', 'number', 'key']) t.ok((verdicts.get(verdict) ?? 0) > 0, `the generator reaches '${verdict}'`);
});

t.test('json_scan: malformed JSON is a syntax refusal, never an exception of another kind', async (t) => {
  const malformed = ['', '{', '{"a":}', '{"a" 1}', "{'a':1}", '[1,]', '{"a":1,}', 'nul', 'tru', '"unterminated', '{"a":"\\"}', 'NaN', 'Infinity', '-', '01', '[.5]', '{"a":1}x', '\u0000'];
  for (const text of malformed) {
    let thrown: unknown;
    try {
      parseUntrustedJson(text);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof JsonRefused, `${JSON.stringify(text)} refused with JsonRefused`);
  }
});

// ---------------------------------------------------------------------------------------------
// Helpers

function listedState(): ExchangeState {
  const listed = emptyState();
  applyCommand(listed, { kind: 'init_exchange', config }, 1, Date.UTC(2026, 0, 15, 12));
  return listed;
}

type Property = fc.IProperty<[unknown, ...unknown[]]>;

/** Runs one property with the file's seed; on failure prints seed, path and the counterexample. */
function check(t: Tap, name: string, property: Property, numRuns = RUNS): void {
  const details = fc.check(property, { seed: SEED, numRuns });
  if (details.failed) {
    t.comment(`${name}: SEED=${details.seed} PATH=${details.counterexamplePath}`);
    t.comment(`counterexample: ${fc.stringify(details.counterexample)}`);
    t.comment(`error: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
  }
  t.notOk(details.failed, `${name}: ${details.numRuns} cases`);
}

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

/** Counts 1..max, weighted toward the ends. */
function unitCount(max: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: Math.min(max, 1_000) }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.max(1, max - 1_000), max }) },
    { weight: 1, arbitrary: fc.constantFrom(1, max) },
  );
}

/** count × unit as the shortest decimal text, computed with bigints from the unit's own text. */
function referenceText(count: number, unit: string): string {
  const [whole, fraction = ''] = unit.split('.');
  const mantissa = BigInt(whole + fraction);
  return decimalText(BigInt(count) * mantissa, fraction.length);
}

function decimalText(value: bigint, decimals: number): string {
  if (decimals === 0) return value.toString();
  const digits = value.toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** The reference parser: the count of `unit` that `text` is, or undefined when it must be refused. */
function referenceUnits(text: string, unit: string, max: number): number | undefined {
  if (text.length === 0 || text.length > WIRE_TEXT_LENGTH_MAX || !/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)) return undefined;
  if (decimalsOf(text) > UNIT_DECIMALS) return undefined;
  const scaled = scaledOf(text);
  const unitScaled = scaledOf(unit);
  if (scaled % unitScaled !== 0n) return undefined;
  const count = scaled / unitScaled;
  return count >= 1n && count <= BigInt(max) ? Number(count) : undefined;
}

/** A plain decimal text × 10^6 as a bigint (the text has at most 6 decimals). */
function scaledOf(text: string): bigint {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole + fraction.padEnd(UNIT_DECIMALS, '0'));
}

function decimalsOf(text: string): number {
  const point = text.indexOf('.');
  return point < 0 ? 0 : text.length - point - 1;
}

function padWithZeros(text: string, zeros: number): string {
  if (zeros === 0) return text;
  return text.includes('.') ? text + '0'.repeat(zeros) : `${text}.${'0'.repeat(zeros)}`;
}

function expectConversion(converted: { ok: true; value: number } | { ok: false; why: string }, expected: number, what: string): void {
  if (!converted.ok) throw new Error(`${what} refused (${converted.why}), expected ${expected}`);
  if (converted.value !== expected) throw new Error(`${what} = ${converted.value}, expected ${expected}`);
}

function expectSameVerdict(converted: { ok: true; value: number } | { ok: false; why: string }, expected: number | undefined, what: string): void {
  if (expected === undefined) {
    if (converted.ok) throw new Error(`${what} accepted as ${converted.value}; the reference refuses it`);
    return;
  }
  expectConversion(converted, expected, what);
}

/** 'ok', or the JsonRefused problem; anything else thrown is rethrown (a bug). */
function refusal(parse: () => unknown): string {
  try {
    parse();
    return 'ok';
  } catch (error) {
    if (error instanceof JsonRefused) return error.problem;
    throw error;
  }
}

/** What the scanner must do with the text of `value`: 'ok', or the problems that may refuse it. */
function expectedScanVerdict(value: unknown, depth: number): 'ok' | string[] {
  const problems = new Set<string>();
  walk(value, depth);
  return problems.size === 0 ? 'ok' : [...problems];

  function walk(node: unknown, level: number): void {
    if (typeof node === 'number') {
      const text = JSON.stringify(node);
      if (/e/i.test(text) || significantDigits(text) > 15) problems.add('number');
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    if (level > gatewayLimits.jsonDepthMax) problems.add('depth');
    if (Array.isArray(node)) {
      for (const item of node) walk(item, level + 1);
      return;
    }
    for (const [key, item] of Object.entries(node)) {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') problems.add('key');
      walk(item, level + 1);
    }
  }
}

function significantDigits(numberText: string): number {
  return numberText.replace(/[-.]/g, '').replace(/^0+/, '').length;
}

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
}
