// The ledger under random trading days (RELIABILITY.md test 2, with test 11's retry rule).
//
// What it proves: for random sequences of every command a spot trader, a provider and the
// settlement service can send, no command creates or loses money, no balance goes negative, every
// account holds exactly what its open orders need, no account trades with itself, every rejected
// command changes nothing, and a retried place (same label, same payload) creates nothing.
//
// The generator: `fc.array` of 80–120 drafted commands (plain data, resolved against the state
// when they run, so a seed and a path replay a case and shrinking stays meaningful). Four traders
// and one provider trade two SKUs (H100_USDAI around 2.500, A100_USDAI around 1.150, prices within
// 6 ticks of the mid so that orders cross often). Drafts: limit, market, stop and take orders on
// the last, mark and index price, all four times in force, post-only, the four self-trade modes,
// labels, and one in twenty with a deliberate fault (zero amount, missing price, a price above the
// maximum, a derivative, reduce-only, a day market order); amends (which may go below the filled
// amount), cancels (own, someone else's, closed), cancel_all with each filter, cancel_by_label;
// exact resends of earlier labelled places; deposits (some replaying an id); transfers of USDai
// and credits (some replayed, to oneself or beyond what is available); withdrawals requested,
// completed and failed (some twice); capacity credited, credits redeemed and fulfilled; mark and
// index moves; and clock ticks of seconds to weeks, so day orders expire and futures roll. Half
// the sequences run with USDAI at its shipped 18 decimals, where every fee is a whole number of
// base units, and half at 6, where 3 bp of a lot is fractional and the rounding rules (fees and
// per-lot holds round up, the insurance share down, a buy gets the difference back) bite. Every
// command also moves the clock 0–250 ms, and small account limits (12 open orders, 4 stops, a
// burst of 5 at 1 order/s) make the limits bite. Halfway through each sequence the state is
// snapshotted and restored, as a restart would, and the restored copy then gets every command the
// live state gets (RELIABILITY 22's crash step, without the process): it must hash the same at
// once, answer every command with the same events, and end with the same hash. The events catch
// what the hash cannot: structures a restore rebuilds rather than reads (books' queues, expiry and
// stop-trigger indexes).
//
// The oracle, after every command: the harness's laws (the engine's checkConservation, the same
// law from the events, each open order's hold recomputed from its price, no self-trade, no crossed
// book); each account's change per currency equals what the events say moved (trades at the
// maker's price with fees recomputed here: 3 bp taker rounded up, 0 maker, deposits, transfers,
// withdrawals, minting and burning), and the fee pool and insurance fund grew by exactly the fees
// (insurance 10%); every order's filled amount grew by exactly its trades; no trade is beyond the
// taker's limit or protection price; a rejected command's only event is the rejection and the
// digest of accounts, orders and books is unchanged; an exact resend of an accepted labelled place
// yields only `order_retry` with the original id and changes nothing. Time-driven effects (day
// order expiry, instrument expiry) are let happen in a clock_tick of their own just before the
// command that would have carried them, so "changes nothing" is exact. At the end every account
// cancels everything and must then hold nothing in reserve.
//
// Every command shape is in the default run (good_til_day stop orders and labelled market orders
// were once kept out while they were known engine bugs; both are fixed).
//
// How to replay: every run prints `SEED=<n>`. Rerun it with
//   ENGINE_LEDGER_SEED=<n> npx tap test/engine/ledger.property.test.ts
// A failure also prints a path: add ENGINE_LEDGER_PATH='<path>' to go straight to the shrunk
// case, whose commands are printed as JSON. ENGINE_LEDGER_RUNS=<n> sets the number of sequences
// (default 200; 2,000 make a long run of a few minutes).

import t from 'tap';
import fc from 'fast-check';
import { applyCommand, restoreState, serializeState, stateHash, type Command, type Event, type ExchangeState, type OrderTypeText, type PlaceOrder, type SelfTradeText, type TimeInForceText, type TriggerText } from '../../engine/index.js';
import {
  A100,
  CREDIT_UNITS_PER_LOT,
  Exchange,
  H100,
  MS_PER_DAY,
  MS_PER_HOUR,
  Outcome,
  SPOT,
  SPOT_A100,
  USDAI,
  credits,
  feeRoundedUp,
  leanConfig,
  ledgerDigest,
  quoteUnitsPerTickLot,
} from './_harness.js';
import { readIntegerEnv } from '../_env.js';

const RUNS_DEFAULT = 200;
const COMMANDS_MIN = 80;
const COMMANDS_MAX = 120;
const TRADERS = [1, 2, 3, 4];
const PROVIDER = 5;
const LABELS = ['L0', 'L1', 'L2', 'L3'];
const MARKETS = [
  { sku: H100, instrument: SPOT, midTicks: 2_500 },
  { sku: A100, instrument: SPOT_A100, midTicks: 1_150 },
] as const;

/** How often each kind of outcome happened over the whole run: a check that the generator reaches every rule. */
const seen = new Map<string, number>();
let lastFailingLog: string[] = [];

// ---------------------------------------------------------------------------------------------
// Drafts

const FAULTS = ['zeroLots', 'noPrice', 'priceAboveMax', 'derivative', 'reduceOnly', 'dayMarket'] as const;
type Fault = (typeof FAULTS)[number];
const SELF_TRADE_MODES: readonly SelfTradeText[] = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement_both'];

type Draft =
  | { kind: 'skip' }
  | { kind: 'place'; account: number; market: number; side: 'buy' | 'sell'; type: OrderTypeText; lots: number; offset: number; timeInForce: TimeInForceText;
      rejectPostOnly: boolean; selfTrade: SelfTradeText | null; label: number | null; triggerOffset: number; trigger: TriggerText; fault: Fault | null }
  | { kind: 'retry'; pick: number }
  | { kind: 'amend'; account: number; pick: number; lotsDelta: number; priceOffset: number | null; triggerOffset: number | null }
  | { kind: 'cancel'; account: number; pick: number; anyone: boolean }
  | { kind: 'cancelAll'; account: number; filter: number }
  | { kind: 'cancelByLabel'; account: number; label: number }
  | { kind: 'deposit'; account: number; amount: number; replay: boolean }
  | { kind: 'transfer'; from: number; to: number; currency: number; amount: number; replay: boolean }
  | { kind: 'withdraw'; account: number; amount: number }
  | { kind: 'settleWithdrawal'; pick: number; complete: boolean }
  | { kind: 'capacity'; account: number; market: number; hours: number }
  | { kind: 'redeem'; account: number; market: number; hours: number }
  | { kind: 'fulfil'; pick: number }
  | { kind: 'mark'; market: number; offset: number }
  | { kind: 'index'; market: number; offset: number }
  | { kind: 'tick'; ms: number };

/** `null` with weight `nullWeight`, a value of `arbitrary` with weight `valueWeight`. */
function maybe<T>(arbitrary: fc.Arbitrary<T>, nullWeight: number, valueWeight: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: nullWeight, arbitrary: fc.constant(null) }, { weight: valueWeight, arbitrary });
}

const account = fc.constantFrom(...TRADERS);
const anyAccount = fc.integer({ min: 1, max: PROVIDER });
const market = fc.integer({ min: 0, max: MARKETS.length - 1 });
const offset = fc.integer({ min: -6, max: 6 });
const pick = fc.nat({ max: 1_000 });

const placeDraft: fc.Arbitrary<Draft> = fc.record({
  kind: fc.constant('place' as const),
  account,
  market,
  side: fc.constantFrom('buy' as const, 'sell' as const),
  type: fc.constantFrom<OrderTypeText>('limit', 'limit', 'limit', 'limit', 'limit', 'limit', 'limit', 'market', 'market', 'stop_limit', 'stop_market', 'take_limit', 'take_market'),
  lots: fc.integer({ min: 1, max: 10 }),
  offset,
  timeInForce: fc.constantFrom<TimeInForceText>('good_til_cancelled', 'good_til_cancelled', 'good_til_cancelled', 'good_til_cancelled', 'good_til_day', 'good_til_day', 'immediate_or_cancel', 'fill_or_kill'),
  rejectPostOnly: fc.boolean(),
  selfTrade: maybe(fc.constantFrom(...SELF_TRADE_MODES), 2, 1),
  label: maybe(fc.integer({ min: 0, max: LABELS.length - 1 }), 2, 1),
  triggerOffset: offset,
  trigger: fc.constantFrom<TriggerText>('last_price', 'last_price', 'mark_price', 'index_price'),
  fault: maybe(fc.constantFrom(...FAULTS), 19, 1),
});

// `skip` comes first and crossShrink is on, so shrinking turns commands that do not matter into
// skips, which run nothing and are left out of the printed case: a shrunk case stays at 80 drafts
// but shows only the commands that matter.
const drafts: fc.Arbitrary<Draft> = fc.oneof(
  { withCrossShrink: true },
  { weight: 1, arbitrary: fc.constant({ kind: 'skip' as const }) },
  { weight: 40, arbitrary: placeDraft },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('amend' as const), account, pick, lotsDelta: fc.integer({ min: -4, max: 4 }), priceOffset: maybe(offset, 1, 3), triggerOffset: maybe(offset, 5, 1) }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('cancel' as const), account, pick, anyone: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancelAll' as const), account, filter: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancelByLabel' as const), account, label: fc.integer({ min: 0, max: LABELS.length - 1 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deposit' as const), account: anyAccount, amount: fc.integer({ min: 1, max: 300 }), replay: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: anyAccount, to: anyAccount, currency: fc.integer({ min: 0, max: 2 }), amount: fc.integer({ min: 1, max: 60 }), replay: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), account: anyAccount, amount: fc.integer({ min: 1, max: 150 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settleWithdrawal' as const), pick, complete: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('capacity' as const), account: fc.constantFrom(PROVIDER, PROVIDER, 1), market, hours: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeem' as const), account: anyAccount, market, hours: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fulfil' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mark' as const), market, offset: fc.integer({ min: -15, max: 15 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('index' as const), market, offset: fc.integer({ min: -15, max: 15 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1_000, max: MS_PER_HOUR }) },
        { weight: 3, arbitrary: fc.integer({ min: MS_PER_HOUR, max: 30 * MS_PER_HOUR }) },
        { weight: 1, arbitrary: fc.integer({ min: 5 * MS_PER_DAY, max: 40 * MS_PER_DAY }) },
      ),
    }),
  },
);

/** A draft, a post-only flag drawn with its own weight, and how far the clock moves before it. */
const step = fc.record({ draft: drafts, postOnly: fc.integer({ min: 0, max: 7 }).map((roll) => roll === 0), delayMs: fc.integer({ min: 0, max: 250 }) });
/**
 * The settlement currency's decimals: the shipped 18, where every fee is a whole number of base
 * units, or 6, where 3 bp of a lot is fractional and every rounding rule (fees up, holds per lot up,
 * insurance share down, refunds of the difference) is exercised.
 */
const sequence = fc.record({ decimals: fc.constantFrom(18, 6), steps: fc.array(step, { minLength: COMMANDS_MIN, maxLength: COMMANDS_MAX }) });

// ---------------------------------------------------------------------------------------------
// The property

t.test('conservation, holds and no-op rejections over random trading days', (t) => {
  const seed = readIntegerEnv('ENGINE_LEDGER_SEED') ?? ((Date.now() & 0x7fffffff) ^ Math.floor(Math.random() * 0x7fffffff));
  const numRuns = readIntegerEnv('ENGINE_LEDGER_RUNS') ?? RUNS_DEFAULT;
  const path = process.env.ENGINE_LEDGER_PATH;
  t.comment(`SEED=${seed} runs=${numRuns}${path === undefined ? '' : ` path=${path}`}`);
  t.comment(`replay: ENGINE_LEDGER_SEED=${seed} npx tap test/engine/ledger.property.test.ts`);
  const startedMs = Date.now();
  const property = fc.property(sequence, ({ decimals, steps }) => runSequence(decimals, steps));
  const details = fc.check(property, { seed, numRuns, path, endOnFailure: path !== undefined });
  t.comment(`${details.numRuns} sequences, ${seen.get('commands') ?? 0} commands in ${Date.now() - startedMs} ms`);
  t.comment(`what the commands did: ${[...seen].sort(([a], [b]) => a.localeCompare(b)).map(([what, count]) => `${what} ${count}`).join(', ')}`);
  if (details.failed) {
    t.comment(`SEED=${details.seed} PATH=${details.counterexamplePath}`);
    t.comment(`replay: ENGINE_LEDGER_SEED=${details.seed} ENGINE_LEDGER_PATH='${details.counterexamplePath}' npx tap test/engine/ledger.property.test.ts`);
    t.comment(`failure: ${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}`);
    t.comment(`commands of the shrunk case (after the set-up):\n${lastFailingLog.join('\n')}`);
  }
  t.notOk(details.failed, details.failed ? `a law broke after ${details.numRuns} sequences (shrunk ${details.numShrinks} times); the commands are above` : 'every law held after every command');
  t.end();
});

/** The world of one sequence: the exchange plus what the drafts need to resolve against. */
interface World {
  exchange: Exchange;
  /** Base units of one whole USDai, and of one tick × one lot, at this sequence's decimals. */
  unitsPerUsdai: bigint;
  unitsPerTickLot: bigint;
  log: string[];
  depositIds: string[];
  transferIds: string[];
  withdrawalIds: string[];
  redemptionIds: string[];
  /** Accepted labelled places, latest per account and label: what an exact resend must return. */
  labelled: Map<string, { command: PlaceOrder; orderId: number }>;
  counter: number;
  /**
   * Halfway through, the state as a restart would have it: serialized (the snapshot text),
   * restored, and from then on given every command the live state gets, with the same sequence
   * number and time. It must answer each with the same events, and end with the same hash: a
   * snapshot that lost anything (a stop's trigger order, a day order's expiry, a remembered
   * label, a rate bucket) would show as a different event sooner or later.
   */
  restored: ExchangeState | undefined;
}

function runSequence(decimals: number, steps: { draft: Draft; postOnly: boolean; delayMs: number }[]): void {
  const world = setUp(decimals);
  try {
    for (const [index, { draft, postOnly, delayMs }] of steps.entries()) {
      if (index === steps.length >> 1) restoreFromSnapshot(world);
      runStep(world, draft, postOnly, delayMs);
    }
    cancelEverything(world);
    const restored = world.restored;
    if (restored !== undefined) expect(stateHash(restored) === stateHash(world.exchange.state), 'the state restored halfway ends with another hash than the live one');
  } catch (error) {
    lastFailingLog = world.log;
    throw error;
  }
}

function setUp(decimals: number): World {
  const config = leanConfig();
  config.accounts = { openOrdersMax: 12, stopOrdersMax: 4, ordersPerSecond: 1, orderBurst: 5 };
  config.currencies.USDAI.decimals = decimals;
  const exchange = new Exchange({ config });
  const world: World = {
    exchange, unitsPerUsdai: 10n ** BigInt(decimals), unitsPerTickLot: quoteUnitsPerTickLot(decimals),
    log: [`(USDAI has ${decimals} decimals)`], depositIds: [], transferIds: [], withdrawalIds: [], redemptionIds: [], labelled: new Map(), counter: 0, restored: undefined,
  };
  const usdai = (whole: number): bigint => BigInt(whole) * world.unitsPerUsdai;
  for (const trader of TRADERS) exchange.account(`trader-${trader}`);
  exchange.account('provider', 'provider');
  exchange.deposit(PROVIDER, USDAI, usdai(10_000));
  for (const { sku } of MARKETS) {
    exchange.run({ kind: 'credit_capacity', capacityId: `setup-${sku}`, providerAccountId: PROVIDER, sku, gpuHours: 400, referencePriceTicks: 2_500 });
  }
  for (const trader of TRADERS) {
    exchange.deposit(trader, USDAI, usdai(200));
    for (const { sku } of MARKETS) {
      exchange.run({ kind: 'transfer', transferId: `setup-${trader}-${sku}`, fromAccountId: PROVIDER, toAccountId: trader, currency: sku, amountUnits: credits(20).toString() });
    }
  }
  return world;
}

function runStep(world: World, draft: Draft, postOnly: boolean, delayMs: number): void {
  if (draft.kind === 'skip') return;
  const exchange = world.exchange;
  const timeMs = exchange.timeMs + (draft.kind === 'tick' ? draft.ms : delayMs);
  if (draft.kind !== 'tick' && timeEffectsDue(exchange, timeMs)) {
    // Let time act in a command of its own, so that the drafted command carries no time effects.
    runChecked(world, { kind: 'clock_tick' }, timeMs, undefined);
  }
  const built = buildCommand(world, draft, postOnly);
  runChecked(world, built.command, timeMs, built.retryOf);
}

function timeEffectsDue(exchange: Exchange, timeMs: number): boolean {
  const state = exchange.state;
  if (state.nextCalendarMs <= timeMs) return true;
  for (const expiresAtMs of state.gtdExpiryByInstrument.values()) if (expiresAtMs <= timeMs) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Building commands from drafts

function buildCommand(world: World, draft: Exclude<Draft, { kind: 'skip' }>, postOnly: boolean): { command: Command; retryOf?: number } {
  const state = world.exchange.state;
  switch (draft.kind) {
    case 'place':
      return { command: buildPlace(draft, postOnly) };
    case 'retry': {
      const remembered = [...world.labelled.values()];
      if (remembered.length === 0) return { command: { kind: 'clock_tick' } };
      const chosen = remembered[draft.pick % remembered.length];
      return { command: chosen.command, retryOf: chosen.orderId };
    }
    case 'amend': {
      const target = pickOrder(world, draft.account, draft.pick, false);
      const order = state.orders.get(target);
      const midTicks = MARKETS[order?.instrument === SPOT_A100 ? 1 : 0].midTicks;
      return {
        command: {
          kind: 'amend_order', accountId: draft.account, orderId: target, amountLots: (order?.amountLots ?? 3) + draft.lotsDelta,
          ...(draft.priceOffset === null ? {} : { priceTicks: midTicks + draft.priceOffset }),
          ...(draft.triggerOffset === null ? {} : { triggerPriceTicks: midTicks + draft.triggerOffset }),
        },
      };
    }
    case 'cancel':
      return { command: { kind: 'cancel_order', accountId: draft.account, orderId: pickOrder(world, draft.account, draft.pick, draft.anyone) } };
    case 'cancelAll': {
      const filters = [{}, { instrument: SPOT }, { instrument: SPOT_A100 }, { currency: A100 }, { instrumentKind: 'spot' as const }, { orderType: 'limit' as const }, { orderType: 'trigger' as const }];
      return { command: { kind: 'cancel_all', accountId: draft.account, ...filters[draft.filter] } };
    }
    case 'cancelByLabel':
      return { command: { kind: 'cancel_by_label', accountId: draft.account, label: LABELS[draft.label] } };
    case 'deposit':
      return { command: { kind: 'credit_deposit', depositId: reuseOrNew(world, world.depositIds, draft.replay, 'dep'), accountId: draft.account, currency: USDAI, amountUnits: (BigInt(draft.amount) * world.unitsPerUsdai).toString() } };
    case 'transfer': {
      const currency = [USDAI, H100, A100][draft.currency];
      const units = currency === USDAI ? BigInt(draft.amount) * world.unitsPerUsdai : credits(draft.amount);
      return { command: { kind: 'transfer', transferId: reuseOrNew(world, world.transferIds, draft.replay, 'tr'), fromAccountId: draft.from, toAccountId: draft.to, currency, amountUnits: units.toString() } };
    }
    case 'withdraw':
      return { command: { kind: 'request_withdrawal', withdrawalId: reuseOrNew(world, world.withdrawalIds, false, 'wd'), accountId: draft.account, currency: USDAI, amountUnits: (BigInt(draft.amount) * world.unitsPerUsdai).toString(), address: `0x${draft.account}` } };
    case 'settleWithdrawal': {
      const withdrawalId = world.withdrawalIds.length === 0 ? 'wd-none' : world.withdrawalIds[draft.pick % world.withdrawalIds.length];
      return { command: draft.complete ? { kind: 'complete_withdrawal', withdrawalId } : { kind: 'fail_withdrawal', withdrawalId } };
    }
    case 'capacity':
      return { command: { kind: 'credit_capacity', capacityId: reuseOrNew(world, [], false, 'cap'), providerAccountId: draft.account, sku: MARKETS[draft.market].sku, gpuHours: draft.hours, referencePriceTicks: MARKETS[draft.market].midTicks } };
    case 'redeem':
      return { command: { kind: 'redeem_credits', redemptionId: reuseOrNew(world, world.redemptionIds, false, 'rd'), accountId: draft.account, sku: MARKETS[draft.market].sku, gpuHours: draft.hours } };
    case 'fulfil': {
      const redemptionId = world.redemptionIds.length === 0 ? 'rd-none' : world.redemptionIds[draft.pick % world.redemptionIds.length];
      return { command: { kind: 'fulfil_redemption', redemptionId } };
    }
    case 'mark':
      return { command: { kind: 'set_mark_price', instrument: MARKETS[draft.market].instrument, priceTicks: MARKETS[draft.market].midTicks + draft.offset } };
    case 'index':
      return { command: { kind: 'set_index_price', sku: MARKETS[draft.market].sku, priceTicks: MARKETS[draft.market].midTicks + draft.offset } };
    case 'tick':
      return { command: { kind: 'clock_tick' } };
  }
}

function buildPlace(draft: Extract<Draft, { kind: 'place' }>, postOnly: boolean): PlaceOrder {
  const { instrument, midTicks } = MARKETS[draft.market];
  const isMarket = draft.type.endsWith('market');
  const isStop = draft.type !== 'limit' && draft.type !== 'market';
  let timeInForce = draft.timeInForce;
  if (isMarket && timeInForce === 'good_til_day') timeInForce = 'immediate_or_cancel';
  const command: PlaceOrder = {
    kind: 'place_order', accountId: draft.account, instrument, side: draft.side, type: draft.type, amountLots: draft.lots, timeInForce,
    ...(isMarket ? {} : { priceTicks: midTicks + draft.offset }),
    ...(isStop ? { triggerPriceTicks: midTicks + draft.triggerOffset, trigger: draft.trigger } : {}),
    ...(postOnly && !isMarket ? { postOnly: true, rejectPostOnly: draft.rejectPostOnly } : {}),
    ...(draft.selfTrade === null ? {} : { selfTrade: draft.selfTrade }),
    ...(draft.label === null ? {} : { label: LABELS[draft.label] }),
  };
  switch (draft.fault) {
    case 'zeroLots': command.amountLots = 0; break;
    case 'noPrice': if (!isMarket) delete command.priceTicks; break;
    case 'priceAboveMax': command.priceTicks = 1_000_001; break;
    case 'derivative': command.instrument = 'H100_USDAI-30SEP26'; break;
    case 'reduceOnly': command.reduceOnly = true; break;
    case 'dayMarket': command.type = 'market'; delete command.priceTicks; command.timeInForce = 'good_til_day'; break;
    case null: break;
  }
  return command;
}

/** An order id for an amend or cancel: mostly one of the account's own open orders. */
function pickOrder(world: World, accountId: number, pickIndex: number, anyone: boolean): number {
  const state = world.exchange.state;
  const candidates = anyone ? [...state.orders.keys()] : [...(state.accounts[accountId]?.openOrderIds ?? [])];
  if (candidates.length > 0) return candidates[pickIndex % candidates.length];
  return 1 + (pickIndex % Math.max(1, state.nextOrderId));
}

function reuseOrNew(world: World, ids: string[], replay: boolean, prefix: string): string {
  if (replay && ids.length > 0) return ids[world.counter % ids.length];
  world.counter += 1;
  const id = `${prefix}-${world.counter}`;
  ids.push(id);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Running and checking one command

interface Before {
  digest: string;
  totals: Map<string, bigint>;
  feePool: bigint;
  insurance: bigint;
  filled: Map<number, number>;
}

function runChecked(world: World, command: Command, timeMs: number, retryOf: number | undefined): void {
  const exchange = world.exchange;
  world.log.push(`${JSON.stringify(command)} @+${timeMs - exchange.timeMs}ms`);
  const before = observe(exchange);
  const outcome = exchange.at(timeMs).run(command);
  if (world.restored !== undefined) {
    const events = applyCommand(world.restored, command, exchange.sequence, exchange.timeMs);
    const live = eventsText(outcome.events);
    const fromSnapshot = eventsText(events);
    expect(fromSnapshot === live, `after a snapshot restore, ${command.kind} gave other events than the live state:\n  live     ${live.slice(0, 600)}\n  restored ${fromSnapshot.slice(0, 600)}`);
  }
  count('commands');
  tally(command, outcome);
  const rejection = outcome.rejection;
  if (retryOf !== undefined) {
    expect(outcome.kinds().join() === 'order_retry', `a resend of a labelled place must yield only order_retry, got ${outcome.kinds().join()}`);
    const retry = outcome.of('order_retry')[0];
    expect(retry.orderId === retryOf, `the resend names order ${retry.orderId}, the original was ${retryOf}`);
    expect(ledgerDigest(exchange.state) === before.digest, 'a resend changed the state');
    return;
  }
  if (rejection !== undefined) {
    expect(outcome.kinds().join() === 'rejected', `a rejected command (${rejection.reason}) had other events: ${outcome.kinds().join()}`);
    expect(ledgerDigest(exchange.state) === before.digest, `a rejected command (${rejection.reason}) changed the state`);
    return;
  }
  checkFlows(world, outcome, before);
  checkFills(outcome, before);
  if (command.kind === 'place_order' && command.label !== undefined && outcome.issuedOrderId !== undefined) {
    world.labelled.set(`${command.accountId}:${command.label}`, { command: structuredClone(command), orderId: outcome.issuedOrderId });
  }
}

/** The restart halfway: snapshot text → state, which must hash as the live state does. */
function restoreFromSnapshot(world: World): void {
  const live = world.exchange.state;
  world.restored = restoreState(serializeState(live));
  world.log.push('(snapshot taken and restored here; from now on every command also runs on the restored state)');
  expect(stateHash(world.restored) === stateHash(live), 'a restored snapshot hashes differently from the state it was taken from');
  count('snapshot restores');
}

function eventsText(events: readonly Event[]): string {
  return JSON.stringify(events, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

function observe(exchange: Exchange): Before {
  const state = exchange.state;
  const totals = new Map<string, bigint>();
  for (const accountRecord of state.accounts) {
    if (accountRecord === null) continue;
    for (const [currency, balance] of accountRecord.balances) totals.set(`${accountRecord.id}:${currency}`, balance.available + balance.reserved + balance.bonded);
  }
  const filled = new Map<number, number>();
  for (const order of state.orders.values()) filled.set(order.orderId, order.filledLots);
  return { digest: ledgerDigest(state), totals, feePool: exchange.feePool(), insurance: exchange.insuranceFund(), filled };
}

/** Each account's change per currency is what the events say moved; pools grow by the fees. */
function checkFlows(world: World, outcome: Outcome, before: Before): void {
  const exchange = world.exchange;
  const fees = exchange.state.config!.raw.fees;
  const moved = new Map<string, bigint>();
  const add = (accountId: number, currency: string, units: bigint) => moved.set(`${accountId}:${currency}`, (moved.get(`${accountId}:${currency}`) ?? 0n) + units);
  let feesUnits = 0n;
  let insuranceUnits = 0n;
  for (const event of outcome.events) {
    switch (event.kind) {
      case 'trade': {
        const trade = event.trade;
        const notionalUnits = world.unitsPerTickLot * BigInt(trade.priceTicks) * BigInt(trade.amountLots);
        const makerFee = feeRoundedUp(notionalUnits, BigInt(fees.makerBasisPoints));
        const takerFee = feeRoundedUp(notionalUnits, BigInt(fees.takerBasisPoints));
        expect(trade.makerFeeUnits === makerFee && trade.takerFeeUnits === takerFee, `trade ${trade.tradeId} fees ${trade.makerFeeUnits}/${trade.takerFeeUnits}, the rule says ${makerFee}/${takerFee}`);
        const base = trade.instrument === SPOT ? H100 : A100;
        const buyer = trade.takerSide === 'buy' ? trade.takerAccountId : trade.makerAccountId;
        const seller = trade.takerSide === 'buy' ? trade.makerAccountId : trade.takerAccountId;
        const buyerFee = trade.takerSide === 'buy' ? takerFee : makerFee;
        const sellerFee = trade.takerSide === 'buy' ? makerFee : takerFee;
        add(buyer, USDAI, -(notionalUnits + buyerFee));
        add(buyer, base, BigInt(trade.amountLots) * CREDIT_UNITS_PER_LOT);
        add(seller, base, -BigInt(trade.amountLots) * CREDIT_UNITS_PER_LOT);
        add(seller, USDAI, notionalUnits - sellerFee);
        feesUnits += makerFee + takerFee;
        insuranceUnits += ((makerFee + takerFee) * BigInt(fees.insuranceSharePercent)) / 100n;
        break;
      }
      case 'deposit_credited': add(event.accountId, event.currency, event.amountUnits); break;
      case 'transfer': add(event.fromAccountId, event.currency, -event.amountUnits); add(event.toAccountId, event.currency, event.amountUnits); break;
      case 'withdrawal':
        if (event.state === 'requested') add(event.accountId, event.currency, -event.amountUnits);
        if (event.state === 'failed') add(event.accountId, event.currency, event.amountUnits);
        break;
      case 'capacity_credited': add(event.providerAccountId, event.sku, credits(event.gpuHours)); break;
      case 'redemption': if (event.state === 'pending') add(event.accountId, event.sku, -credits(event.gpuHours)); break;
      default: break;
    }
  }
  const after = observe(exchange);
  for (const key of new Set([...before.totals.keys(), ...after.totals.keys(), ...moved.keys()])) {
    const change = (after.totals.get(key) ?? 0n) - (before.totals.get(key) ?? 0n);
    expect(change === (moved.get(key) ?? 0n), `account:currency ${key} changed by ${change}, the events say ${moved.get(key) ?? 0n}`);
  }
  expect(after.feePool + after.insurance - before.feePool - before.insurance === feesUnits, `the pools grew by ${after.feePool + after.insurance - before.feePool - before.insurance}, the fees were ${feesUnits}`);
  expect(after.insurance - before.insurance === insuranceUnits, `the insurance fund grew by ${after.insurance - before.insurance}, 10% of the fees is ${insuranceUnits}`);
}

/** Every order's filled amount grew by exactly its trades, at prices within the taker's limit. */
function checkFills(outcome: Outcome, before: Before): void {
  const tradedLots = new Map<number, number>();
  const views = new Map(outcome.orders.map((order) => [order.orderId, order]));
  for (const trade of outcome.trades) {
    for (const orderId of [trade.makerOrderId, trade.takerOrderId]) tradedLots.set(orderId, (tradedLots.get(orderId) ?? 0) + trade.amountLots);
    const taker = views.get(trade.takerOrderId);
    const maker = views.get(trade.makerOrderId);
    expect(taker !== undefined && maker !== undefined, `trade ${trade.tradeId} without events for both orders`);
    expect(maker!.priceTicks === trade.priceTicks, `trade ${trade.tradeId} at ${trade.priceTicks}, not at the maker's price ${maker!.priceTicks}`);
    const withinLimit = trade.takerSide === 'buy' ? trade.priceTicks <= taker!.priceTicks : trade.priceTicks >= taker!.priceTicks;
    expect(withinLimit, `trade ${trade.tradeId} at ${trade.priceTicks} is beyond the taker's ${trade.takerSide} limit ${taker!.priceTicks}`);
    count('trades');
  }
  for (const view of outcome.orders) {
    const grown = view.filledLots - (before.filled.get(view.orderId) ?? 0);
    expect(grown === (tradedLots.get(view.orderId) ?? 0), `order ${view.orderId} filled ${grown} more lots, its trades say ${tradedLots.get(view.orderId) ?? 0}`);
    expect(view.filledLots <= view.amountLots, `order ${view.orderId} filled ${view.filledLots} of ${view.amountLots}`);
  }
}

/** The end of the day: everyone cancels everything and must then hold nothing in reserve. */
function cancelEverything(world: World): void {
  const exchange = world.exchange;
  for (const accountId of [...TRADERS, PROVIDER]) runChecked(world, { kind: 'cancel_all', accountId }, exchange.timeMs + 1, undefined);
  expect(exchange.state.orders.size === 0, `${exchange.state.orders.size} orders still open after cancel_all`);
  for (const accountRecord of exchange.state.accounts) {
    if (accountRecord === null) continue;
    for (const [currency, balance] of accountRecord.balances) expect(balance.reserved === 0n, `account ${accountRecord.id} still reserves ${balance.reserved} ${currency}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function count(what: string): void {
  seen.set(what, (seen.get(what) ?? 0) + 1);
}

function tally(command: Command, outcome: Outcome): void {
  const rejection = outcome.rejection;
  if (rejection !== undefined) {
    count(`rejected ${rejection.reason}`);
    return;
  }
  if (outcome.kinds().includes('order_retry')) count('order_retry');
  count(`accepted ${command.kind}`);
  for (const event of outcome.events as Event[]) {
    if (event.kind !== 'order') continue;
    if (event.order.stopOrderId !== 0) count('events of triggered stops');
    if (event.order.cancelReason !== '' && event.order.state === 'cancelled') count(`closed ${event.order.cancelReason}`);
  }
  if (outcome.of('instrument_state').length > 0) count('instrument expired');
}
