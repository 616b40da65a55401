// The order path's formatting shortcuts give exactly what the slow, obvious code gives.
//
// What it proves: (1) scaledToNumber (wire_numbers.ts), which divides by an exact power of ten
// instead of going through the decimal text, returns the same double as Number(formatScaled(…))
// for every scale and for values on both sides of 2^53; (2) priceToTicks and amountToLots, whose
// common case skips bigints, refuse with the same reason, in the same order of checks, as the
// bigint reference; (3) userTradeObject, written out field by field, serializes byte for byte as
// the public trade spread under the user's fields did (same keys, same order, same values);
// (4) TradeTape, which trims its trades in chunks, still shows exactly the last
// recentTradesPerInstrumentMax of them.
//
// How to replay: every run prints `SEED=<n>`; rerun with
//   FAST_PATH_SEED=<n> npx tap --reporter=tap test/gateway/format_fast_paths.test.ts

import t, { type TAP } from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyCommand, emptyState, formatScaled, parseScaled, type Instrument, type OrderView, type RawExchangeConfig, type TradeView } from '../../engine/index.js';
import { publicTradeObject, userTradeObject } from '../../gateway/format.js';
import { gatewayLimits } from '../../gateway/limits.js';
import { TradeTape } from '../../gateway/market_data.js';
import { amountToLots, priceToTicks, scaledToNumber, unitsToAmount, wireDecimalText } from '../../gateway/wire_numbers.js';

const SEED = Number(process.env.FAST_PATH_SEED ?? (Date.now() & 0x7fffffff));
const RUNS = 20_000;
const UNIT_DECIMALS = 6;
const TWO_TO_53 = 2n ** 53n;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const config = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8')) as RawExchangeConfig;
const state = emptyState();
applyCommand(state, { kind: 'init_exchange', config }, 1, Date.UTC(2026, 0, 15, 12));
const spot = state.instruments.get('H100_USDAI')!;
const option = [...state.instruments.values()].find((instrument) => instrument.kind === 'option')!;

t.comment(`SEED=${SEED}`);

t.test('scaledToNumber is Number(formatScaled(value, scale)) for every scale, below and above 2^53', async (t) => {
  const nearLimit = fc.bigInt({ min: -1000n, max: 1000n }).map((offset) => TWO_TO_53 + offset);
  const value = fc.oneof(
    fc.bigInt({ min: -TWO_TO_53, max: TWO_TO_53 }),
    fc.bigInt({ min: 0n, max: 10n ** 9n }),
    nearLimit,
    nearLimit.map((near) => -near),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
  );
  check(t, 'values × scales 0..25', fc.property(value, fc.integer({ min: 0, max: 25 }), (scaled, scale) => {
    const expected = Number(formatScaled(scaled, scale));
    const got = scaledToNumber(scaled, scale);
    if (!Object.is(got, expected)) throw new Error(`scaledToNumber(${scaled}, ${scale}) = ${got}, expected ${expected}`);
  }));
  t.ok(Object.is(unitsToAmount(0n, 18), 0), 'zero is +0');
  t.equal(unitsToAmount(7_500_000_000_000_000n, 18), 0.0075, 'a taker fee in USDAI units');
});

for (const [label, instrument] of [['spot', spot], ['option', option]] as const) {
  t.test(`${label}: price and amount refusals give the bigint reference's reason`, async (t) => {
    const text = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 16n }), fc.nat(9)).map(([digits, decimals]) => {
      const padded = digits.toString().padStart(decimals + 1, '0');
      return decimals === 0 ? padded : `${padded.slice(0, padded.length - decimals)}.${padded.slice(padded.length - decimals)}`;
    });
    const value = fc.oneof(text, text.map(Number));
    check(t, 'prices and amounts', fc.property(value, (wire) => {
      same(priceToTicks(wire, instrument), reference(wire, instrument.tickScaled, instrument.priceTicksMax, 'tick size'), `price ${JSON.stringify(wire)}`);
      same(amountToLots(wire, instrument), reference(wire, instrument.lotScaled, instrument.qtyLotsMax, 'amount step'), `amount ${JSON.stringify(wire)}`);
    }));
  });
}

t.test('userTradeObject serializes as the public trade with the user fields spread over it', async (t) => {
  const trade = fc.record({
    tradeId: fc.nat(),
    sequence: fc.nat(),
    instrument: fc.constant(spot.name),
    priceTicks: fc.integer({ min: 1, max: spot.priceTicksMax }),
    amountLots: fc.integer({ min: 1, max: spot.qtyLotsMax }),
    takerSide: fc.constantFrom('buy', 'sell'),
    makerOrderId: fc.integer({ min: 1, max: 4 }),
    takerOrderId: fc.integer({ min: 1, max: 4 }),
    makerAccountId: fc.integer({ min: 1, max: 3 }),
    takerAccountId: fc.integer({ min: 1, max: 3 }),
    makerFeeUnits: fc.bigInt({ min: 0n, max: 10n ** 22n }),
    takerFeeUnits: fc.bigInt({ min: 0n, max: 10n ** 22n }),
    makerOrderType: fc.constantFrom('limit', 'market'),
    takerOrderType: fc.constantFrom('limit', 'market'),
    makerLabel: fc.string({ maxLength: 8 }),
    takerLabel: fc.string({ maxLength: 8 }),
    makerPostOnly: fc.boolean(),
    takerPostOnly: fc.boolean(),
    makerRemainingLots: fc.nat(3),
    takerRemainingLots: fc.nat(3),
    tickDirection: fc.nat(3),
    timeMs: fc.nat(),
  }) as fc.Arbitrary<TradeView>;
  const order = fc.option(fc.record({ orderId: fc.integer({ min: 1, max: 4 }), postOnly: fc.boolean(), label: fc.string({ maxLength: 8 }) }), { nil: undefined });
  check(t, 'trades', fc.property(trade, fc.integer({ min: 1, max: 3 }), order, (view, accountId, own) => {
    const ownOrder = own as OrderView | undefined;
    const expected = JSON.stringify(spreadUserTrade(view, accountId, spot, 'USDAI', 18, ownOrder));
    const got = JSON.stringify(userTradeObject(view, accountId, spot, 'USDAI', 18, ownOrder));
    if (got !== expected) throw new Error(`got ${got}\nexpected ${expected}`);
  }));
});

t.test('TradeTape.recent is the last recentTradesPerInstrumentMax trades, oldest first, after every add', async (t) => {
  const max = gatewayLimits.recentTradesPerInstrumentMax;
  const tape = new TradeTape();
  const all: TradeView[] = [];
  let mismatches = 0;
  for (let tradeId = 1; tradeId <= 3 * max + 7; tradeId++) {
    const trade = { tradeId, priceTicks: 2_500 + (tradeId % 7), amountLots: 1, timeMs: 1_000 * tradeId } as TradeView;
    tape.add(trade);
    all.push(trade);
    const expected = all.slice(-max);
    const recent = tape.recent;
    if (recent.length !== expected.length || recent.some((kept, index) => kept !== expected[index])) mismatches++;
  }
  t.equal(mismatches, 0, `${3 * max + 7} adds, each checked`);
  t.equal(tape.lastPriceTicks, 2_500 + ((3 * max + 7) % 7), 'last price');
});

// ---------------------------------------------------------------------------------------------
// References: the code as it was before the shortcuts

/** userTradeObject as it was: the public trade, then the user's fields spread over it. */
function spreadUserTrade(trade: TradeView, accountId: number, instrument: Instrument, settlementCurrency: string, settlementDecimals: number, order?: OrderView): Record<string, unknown> {
  const isMaker = trade.makerAccountId === accountId && (order === undefined || order.orderId === trade.makerOrderId);
  const amount = Number(formatScaled(BigInt(trade.amountLots) * instrument.lotScaled, UNIT_DECIMALS));
  return {
    ...publicTradeObject(trade, instrument),
    order_id: String(isMaker ? trade.makerOrderId : trade.takerOrderId),
    order_type: isMaker ? trade.makerOrderType : trade.takerOrderType,
    direction: isMaker ? (trade.takerSide === 'buy' ? 'sell' : 'buy') : trade.takerSide,
    amount,
    contracts: amount,
    state: (isMaker ? trade.makerRemainingLots : trade.takerRemainingLots) === 0 ? 'filled' : 'open',
    self_trade: false,
    reduce_only: false,
    post_only: isMaker ? trade.makerPostOnly : trade.takerPostOnly,
    liquidity: isMaker ? 'M' : 'T',
    fee: Number(formatScaled(isMaker ? trade.makerFeeUnits : trade.takerFeeUnits, settlementDecimals)),
    fee_currency: settlementCurrency,
    matching_id: null,
    label: isMaker ? trade.makerLabel : trade.takerLabel,
    profit_loss: 0,
    api: true,
  };
}

/** The bigint conversion, check by check, as wire_numbers.ts did it for every value. */
function reference(value: unknown, unitScaled: bigint, max: number, unitName: string): { ok: true; value: number } | { ok: false; why: string } {
  const text = wireDecimalText(value);
  if (text === undefined) return { ok: false, why: 'must be a non-negative decimal number' };
  const scaled = parseScaled(text, UNIT_DECIMALS);
  if (scaled === undefined) return { ok: false, why: `has more decimals than the ${unitName} allows` };
  if (scaled % unitScaled !== 0n) return { ok: false, why: `is not a multiple of the ${unitName}` };
  const units = scaled / unitScaled;
  if (units < 1n) return { ok: false, why: 'must be positive' };
  if (units > BigInt(max)) return { ok: false, why: 'is above the instrument maximum' };
  return { ok: true, value: Number(units) };
}

function same(got: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
}

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

function check(t: Tap, name: string, property: fc.IProperty<[unknown, ...unknown[]]>): void {
  const details = fc.check(property, { seed: SEED, numRuns: RUNS });
  if (details.failed) {
    t.comment(`${name}: SEED=${details.seed} PATH=${details.counterexamplePath}`);
    t.comment(`counterexample: ${fc.stringify(details.counterexample)}`);
    t.comment(`error: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
  }
  t.notOk(details.failed, `${name}: ${details.numRuns} cases`);
}
