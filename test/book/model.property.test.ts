// The order book against its reference model, call by call (RELIABILITY.md test 1).
//
// What it proves: for random sequences of every book call, the fast book in book/ does exactly
// what the obviously-correct model in test/model/naive_book.ts does: strict price-time priority,
// fills at the maker's price, partial fills that keep their place, GTC/GTD/IOC/FOK, market orders
// with a protection price, both post-only flavours, amend with and without loss of priority,
// cancel, cancel-all of an account, GTD expiry with time that only moves forward, self-trade
// prevention in all four modes, and every validation rejection leaving the book unchanged.
//
// The generator: an `fc.array` of up to 200 drafted calls (the `fc.commands` pattern, kept as
// plain data so that a seed and a path alone replay a case), weighted toward placing orders.
// Each sequence runs on one of four instruments: two roomy ones (one builds a deep book, one
// churns a thin one), one only 9 ticks wide (so a re-priced post-only order can fall off either
// end), and one with tiny limits (8 resting orders, 12 lots) that hits BookFull and the quantity
// bound. Prices sit within 7 ticks of the mid, so crossing is frequent; accounts are 0..3, so
// self-trades are frequent (0 is anonymous and never self-trades). Places use every type, time in
// force, post-only flavour and self-trade mode; one in eight carries exactly one fault (unknown
// enumeration value, a market order that would rest, post-only IOC, FOK or market, price,
// quantity or account out of range, expiry not in the future), and some reuse a resting id (DuplicateOrderId) or a
// finished one (allowed). Cancels and amends mostly name a resting order, chosen when the call
// runs; some name an unknown one. Amends keep or change the price and shrink, keep or grow the
// quantity, sometimes to invalid values. expireOrders moves time forward or back (back must be
// ignored).
//
// The oracle, after every call: the report equals the model's (code, filled and resting
// quantity, fills in execution order, done orders in order, reductions, changed levels with
// their final totals); the whole book equals the model's (every level best first, every order
// oldest first, with all its fields), as do the best bid and ask, the order count and the state
// hash; `validateInternalState()` passes; the fills add up to the taker's filled quantity; the book
// is never crossed. A failure prints the shrunk calls as code, ready to paste into a unit test.
// The run ends with a tally of what the calls did, to show that the generator reaches every rule.
//
// How to replay: every run prints `SEED=<n>`. Rerun that seed with
//   BOOK_PROPERTY_SEED=<n> npx tap test/book/model.property.test.ts
// A failure also prints a path: add BOOK_PROPERTY_PATH='<path>' to go straight to the shrunk
// case. BOOK_PROPERTY_RUNS=<n> sets the number of sequences (default 1,000; try 20,000 for a long
// run, about a minute).

import t from 'tap';
import fc from 'fast-check';
import {
  BookResultCode,
  DoneReason,
  OrderBook,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type BookLimits,
  type BookReport,
  type OrderSpec,
} from '../../book/index.js';
import { NaiveBook, type NaiveResult } from '../model/naive_book.js';
import { expectBookMatchesModel, expectCallInvariants, expectReportMatchesModel, expectStructureInvariants } from './_book_vs_model.js';
import { readIntegerEnv } from '../_env.js';

const RUNS_DEFAULT = 1_000;
const COMMANDS_MAX = 200;
const BAND_TICKS = 6;

/** How often each kind of outcome happened over the whole run: a check that the generator reaches every rule. */
const seen = new Map<string, number>();

/** The instruments a sequence runs on. */
const ROOMY_LIMITS: BookLimits = { priceTicksMax: 10_000, qtyLotsMax: 1_000_000, ordersMax: 10_000, accountIdMax: 3 };
const SEQUENCE_CONFIGS: SequenceConfig[] = [
  { name: 'roomy, deep book', limits: ROOMY_LIMITS, midTicks: 5_000, aggressivePercent: 35 },
  { name: 'roomy, thin churning book', limits: ROOMY_LIMITS, midTicks: 5_000, aggressivePercent: 80 },
  { name: 'nine ticks wide', limits: { ...ROOMY_LIMITS, priceTicksMax: 9 }, midTicks: 5, aggressivePercent: 50 },
  { name: 'tiny limits', limits: { ...ROOMY_LIMITS, qtyLotsMax: 12, ordersMax: 8 }, midTicks: 5_000, aggressivePercent: 50 },
];

const FAULTS: readonly Fault[] = [
  'orderIdZero', 'orderIdFraction', 'sideUnknown', 'typeUnknown', 'timeInForceUnknown', 'postOnlyUnknown',
  'selfTradeUnknown', 'marketGoodTillCancelled', 'marketGoodTillDate', 'postOnlyImmediateOrCancel',
  'postOnlyFillOrKill', 'postOnlyMarket', 'priceZero', 'priceAboveMax', 'priceFraction',
  'qtyZero', 'qtyAboveMax', 'qtyFraction', 'accountAboveMax', 'accountNegative', 'expiryNow', 'expiryPast',
];

t.test('the book matches the reference model after every call of random sequences', (t) => {
  const seed = readIntegerEnv('BOOK_PROPERTY_SEED') ?? (Date.now() & 0x7fffffff) ^ Math.floor(Math.random() * 0x7fffffff);
  const numRuns = readIntegerEnv('BOOK_PROPERTY_RUNS') ?? RUNS_DEFAULT;
  const path = process.env.BOOK_PROPERTY_PATH;
  t.comment(`SEED=${seed} runs=${numRuns}${path === undefined ? '' : ` path=${path}`}`);
  t.comment(`replay: BOOK_PROPERTY_SEED=${seed} npx tap test/book/model.property.test.ts`);
  const drafts = fc.array(draftArbitrary(), { maxLength: COMMANDS_MAX, size: 'max' });
  const property = fc.property(sequenceConfigArbitrary(), drafts, (config, sequence) => runSequence(config, sequence));
  const startedMs = Date.now();
  const details = fc.check(property, { seed, numRuns, path, endOnFailure: path !== undefined });
  t.comment(`${details.numRuns} sequences, ${seen.get('calls') ?? 0} calls in ${Date.now() - startedMs} ms`);
  t.comment(`what the calls did: ${[...seen].map(([what, count]) => `${what} ${count}`).join(', ')}`);
  if (details.failed) {
    t.comment(`SEED=${details.seed} PATH=${details.counterexamplePath}`);
    t.comment(`replay: BOOK_PROPERTY_SEED=${details.seed} BOOK_PROPERTY_PATH='${details.counterexamplePath}' npx tap test/book/model.property.test.ts`);
    t.comment(failureExplanation(details.errorInstance));
  }
  t.notOk(details.failed, details.failed ? `diverged from the model after ${details.numRuns} sequences (shrunk ${details.numShrinks} times); the diff and the calls are above` : 'no divergence from the model');
  t.end();
});

// The smallest sequences on which this property has caught the book disagreeing with the
// specification, kept as fixed regression cases that run without a seed.
t.test('minimal cases the property found', (t) => {
  const roomy = SEQUENCE_CONFIGS[0];
  const buy = (orderId: number, priceTicks: number, extra: Partial<OrderSpec> = {}): Call => ({
    kind: 'place',
    spec: { ...gtcSpec(orderId, priceTicks), side: Side.Buy, ...extra },
  });
  const sell = (orderId: number, priceTicks: number, extra: Partial<OrderSpec> = {}): Call => ({
    kind: 'place',
    spec: { ...gtcSpec(orderId, priceTicks), side: Side.Sell, ...extra },
  });
  const dated = { timeInForce: TimeInForce.GoodTillDate, expiresAtMs: 10 };
  const cases: { rule: string; calls: Call[] }[] = [
    {
      // Ties leave by order id, so a restored book (which re-places orders level by level) expires
      // them in the same order as the live one.
      rule: 'GTD orders with the same expiry leave by order id (#1 first, although #2 arrived first)',
      calls: [buy(2, 4_999, dated), buy(1, 4_998, dated), { kind: 'expire', nowMs: 10 }],
    },
    {
      // The amend re-prices #2 straight back onto bid 5000, its old level, with the same quantity:
      // bid 5000 ends as it began (1 lot, 1 order), so it is not a changed level.
      rule: 'a level whose totals end where they began is not a changed level',
      calls: [sell(1, 5_001), buy(2, 5_000, { postOnly: PostOnly.Reprice }), { kind: 'amend', orderId: 2, priceTicks: 5_001, qtyLots: 1 }],
    },
  ];
  for (const { rule, calls } of cases) {
    const harness = newHarness(roomy);
    const book = new OrderBook(roomy.limits);
    try {
      for (const call of calls) runCallOnBothBooks(harness, book, call);
      t.pass(rule);
    } catch (error) {
      t.comment(failureExplanation(error));
      t.fail(rule);
    }
  }
  t.end();
});

function gtcSpec(orderId: number, priceTicks: number): OrderSpec {
  return {
    orderId,
    accountId: 0,
    side: Side.Buy,
    type: OrderType.Limit,
    priceTicks,
    qtyLots: 1,
    timeInForce: TimeInForce.GoodTillCancelled,
    expiresAtMs: 0,
    postOnly: PostOnly.None,
    selfTradePrevention: SelfTradePrevention.CancelTaker,
  };
}

/** The diff and the transcript of calls that `runOnBothBooks` put in the error. */
function failureExplanation(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// -----------------------------------------------------------------------------------------
// One sequence: an instrument, the model beside the real book, and a transcript of the calls

interface SequenceConfig {
  name: string;
  limits: BookLimits;
  midTicks: number;
  /** Share of orders priced toward the other side: high churns a thin book, low builds depth. */
  aggressivePercent: number;
}

interface Harness {
  config: SequenceConfig;
  model: NaiveBook;
  nextOrderId: number;
  usedOrderIds: number[];
  /** The calls so far, as code, to paste into a unit test. */
  transcript: string[];
}

function sequenceConfigArbitrary(): fc.Arbitrary<SequenceConfig> {
  return fc.constantFrom(...SEQUENCE_CONFIGS);
}

function newHarness(config: SequenceConfig): Harness {
  const model = new NaiveBook(config.limits);
  return { config, model, nextOrderId: 1, usedOrderIds: [], transcript: [`const book = new OrderBook(${JSON.stringify(config.limits)});`] };
}

// -----------------------------------------------------------------------------------------
// The operations, as drawn (ids and prices are resolved against the book when they run)

type Fault =
  | 'orderIdZero' | 'orderIdFraction' | 'sideUnknown' | 'typeUnknown' | 'timeInForceUnknown' | 'postOnlyUnknown'
  | 'selfTradeUnknown' | 'marketGoodTillCancelled' | 'marketGoodTillDate' | 'postOnlyImmediateOrCancel'
  | 'postOnlyFillOrKill' | 'postOnlyMarket' | 'priceZero' | 'priceAboveMax' | 'priceFraction'
  | 'qtyZero' | 'qtyAboveMax' | 'qtyFraction' | 'accountAboveMax' | 'accountNegative' | 'expiryNow' | 'expiryPast';

/** Which order an id names: a new one, one resting now, one that rested once and is gone, or one never seen. */
type IdChoice = 'fresh' | 'resting' | 'finished' | 'neverSeen';

interface PlaceDraft {
  kind: 'place';
  id: IdChoice;
  pick: number;
  accountId: number;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  postOnly: PostOnly;
  selfTradePrevention: SelfTradePrevention;
  /** Aggressive when below the instrument's `aggressivePercent`. */
  aggressiveRoll: number;
  distanceTicks: number;
  qtyLots: number;
  expiresInMs: number;
  fault: Fault | 'none';
}

interface CancelDraft {
  kind: 'cancel';
  id: IdChoice;
  pick: number;
}

type AmendPrice = { kind: 'same' } | { kind: 'band'; offsetTicks: number } | { kind: 'fault'; fault: 'priceZero' | 'priceAboveMax' };
type AmendQty =
  | { kind: 'same'; byLots: number }
  | { kind: 'smaller'; byLots: number }
  | { kind: 'larger'; byLots: number }
  | { kind: 'exact'; qtyLots: number } | { kind: 'fault'; fault: 'qtyZero' | 'qtyAboveMax' };

interface AmendDraft {
  kind: 'amend';
  id: IdChoice;
  pick: number;
  price: AmendPrice;
  qty: AmendQty;
}

interface CancelAllDraft {
  kind: 'cancelAll';
  accountId: number;
  side: Side | undefined;
}

interface ExpireDraft {
  kind: 'expire';
  /** Added to the model's latest time; negative goes back in time. */
  deltaMs: number;
}

type Draft = PlaceDraft | CancelDraft | AmendDraft | CancelAllDraft | ExpireDraft;

/** Each call the generator draws, weighted toward placing orders. */
function draftArbitrary(): fc.Arbitrary<Draft> {
  return fc.oneof(
    { arbitrary: placeArbitrary() as fc.Arbitrary<Draft>, weight: 55 },
    { arbitrary: cancelArbitrary(), weight: 11 },
    { arbitrary: amendArbitrary(), weight: 20 },
    { arbitrary: cancelAllArbitrary(), weight: 3 },
    { arbitrary: expireArbitrary(), weight: 11 },
  );
}

function placeArbitrary(): fc.Arbitrary<PlaceDraft> {
  const noFault = fc.constant('none' as const);
  return fc
    .record({
      id: fc.constantFrom<IdChoice>(...Array<IdChoice>(18).fill('fresh'), 'resting', 'finished'),
      pick: pickArbitrary(),
      accountId: fc.integer({ min: 0, max: 3 }),
      side: fc.constantFrom(Side.Buy, Side.Sell),
      orderKind: placeOrderKindArbitrary(),
      selfTradePrevention: fc.constantFrom(
        SelfTradePrevention.CancelTaker,
        SelfTradePrevention.CancelMaker,
        SelfTradePrevention.CancelBoth,
        SelfTradePrevention.DecrementBoth,
      ),
      aggressiveRoll: fc.integer({ min: 0, max: 99 }),
      distanceTicks: fc.integer({ min: 0, max: BAND_TICKS }),
      qtyLots: qtyArbitrary(),
      expiresInMs: fc.integer({ min: 1, max: 40 }),
      fault: fc.oneof({ arbitrary: noFault, weight: 7 }, { arbitrary: fc.constantFrom(...FAULTS), weight: 1 }),
    })
    .map(({ orderKind, ...draft }) => ({ kind: 'place' as const, ...orderKind, ...draft }));
}

/** Type, time in force and post-only, drawn as a combination that makes sense (faults break it on purpose). */
function placeOrderKindArbitrary(): fc.Arbitrary<Pick<PlaceDraft, 'type' | 'timeInForce' | 'postOnly'>> {
  const { GoodTillCancelled, GoodTillDate, ImmediateOrCancel, FillOrKill } = TimeInForce;
  const resting = fc.record({
    type: fc.constant<OrderType>(OrderType.Limit),
    timeInForce: fc.constantFrom<TimeInForce>(GoodTillCancelled, GoodTillDate),
    postOnly: fc.constantFrom<PostOnly>(PostOnly.None, PostOnly.None, PostOnly.Reject, PostOnly.Reprice),
  });
  const immediate = fc.record({
    type: fc.constantFrom<OrderType>(OrderType.Limit, OrderType.Limit, OrderType.Market),
    timeInForce: fc.constantFrom<TimeInForce>(ImmediateOrCancel, FillOrKill),
    postOnly: fc.constant<PostOnly>(PostOnly.None),
  });
  return fc.oneof({ arbitrary: resting, weight: 2 }, { arbitrary: immediate, weight: 1 });
}

function cancelArbitrary(): fc.Arbitrary<CancelDraft> {
  return fc.record({
    kind: fc.constant('cancel' as const),
    id: fc.constantFrom<IdChoice>(...Array<IdChoice>(6).fill('resting'), 'finished', 'neverSeen'),
    pick: pickArbitrary(),
  });
}

function amendArbitrary(): fc.Arbitrary<AmendDraft> {
  const samePrice = fc.constant<AmendPrice>({ kind: 'same' });
  const bandPrice = fc.integer({ min: -BAND_TICKS, max: BAND_TICKS }).map((offsetTicks): AmendPrice => ({ kind: 'band', offsetTicks }));
  const badPrice = fc.constantFrom<AmendPrice>({ kind: 'fault', fault: 'priceZero' }, { kind: 'fault', fault: 'priceAboveMax' });
  const relativeQty = fc.record({ kind: fc.constantFrom('same' as const, 'smaller' as const, 'larger' as const), byLots: fc.integer({ min: 1, max: 10 }) });
  const exactQty = qtyArbitrary().map((qtyLots): AmendQty => ({ kind: 'exact', qtyLots }));
  const badQty = fc.constantFrom<AmendQty>({ kind: 'fault', fault: 'qtyZero' }, { kind: 'fault', fault: 'qtyAboveMax' });
  return fc.record({
    kind: fc.constant('amend' as const),
    id: fc.constantFrom<IdChoice>(...Array<IdChoice>(10).fill('resting'), 'finished', 'neverSeen'),
    pick: pickArbitrary(),
    price: fc.oneof({ arbitrary: samePrice, weight: 8 }, { arbitrary: bandPrice, weight: 11 }, { arbitrary: badPrice, weight: 1 }),
    qty: fc.oneof({ arbitrary: relativeQty as fc.Arbitrary<AmendQty>, weight: 12 }, { arbitrary: exactQty, weight: 6 }, { arbitrary: badQty, weight: 1 }),
  });
}

function cancelAllArbitrary(): fc.Arbitrary<CancelAllDraft> {
  return fc.record({
    kind: fc.constant('cancelAll' as const),
    accountId: fc.integer({ min: 0, max: 3 }),
    side: fc.constantFrom<Side | undefined>(undefined, Side.Buy, Side.Sell),
  });
}

function expireArbitrary(): fc.Arbitrary<ExpireDraft> {
  const forward = fc.integer({ min: 0, max: 25 });
  const back = fc.integer({ min: -20, max: -1 });
  return fc.record({
    kind: fc.constant('expire' as const),
    deltaMs: fc.oneof({ arbitrary: forward, weight: 4 }, { arbitrary: back, weight: 1 }),
  });
}

function qtyArbitrary(): fc.Arbitrary<number> {
  return fc.oneof({ arbitrary: fc.integer({ min: 1, max: 8 }), weight: 8 }, { arbitrary: fc.integer({ min: 9, max: 30 }), weight: 2 });
}

function pickArbitrary(): fc.Arbitrary<number> {
  return fc.nat({ max: 1_000 });
}

// -----------------------------------------------------------------------------------------
// Running one operation on both books and comparing

/** A resolved call, exactly as both books receive it. */
type Call =
  | { kind: 'place'; spec: OrderSpec }
  | { kind: 'cancel'; orderId: number }
  | { kind: 'amend'; orderId: number; priceTicks: number; qtyLots: number }
  | { kind: 'cancelAll'; accountId: number; side: Side | undefined }
  | { kind: 'expire'; nowMs: number };

/** One sequence on a fresh pair of books; throws at the first call where they differ. */
function runSequence(config: SequenceConfig, sequence: Draft[]): void {
  const harness = newHarness(config);
  const book = new OrderBook(config.limits);
  for (const draft of sequence) runOnBothBooks(harness, book, draft);
}

/** One drawn call: resolved against the book when it runs, applied to both books, then compared. */
function runOnBothBooks(harness: Harness, book: OrderBook, draft: Draft): void {
  runCallOnBothBooks(harness, book, resolveCall(harness, draft));
}

function runCallOnBothBooks(harness: Harness, book: OrderBook, call: Call): void {
  harness.transcript.push(callAsCode(call));
  const expected = callModel(harness.model, call);
  const report = callBook(book, call);
  if (call.kind === 'place' && expected.code === BookResultCode.Ok) harness.usedOrderIds.push(call.spec.orderId);
  try {
    expectReportMatchesModel(report, expected);
    expectCallInvariants(book, report);
    expectStructureInvariants(book);
    expectBookMatchesModel(book, harness.model);
    if (book.stateHash() !== harness.model.stateHash()) throw new Error('state hash differs from the model');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n\nafter the calls (instrument '${harness.config.name}'):\n${harness.transcript.join('\n')}`);
  }
  tallyOutcome(harness, call, expected);
}

function tallyOutcome(harness: Harness, call: Call, expected: NaiveResult): void {
  const count = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);
  count('calls');
  count(call.kind);
  if (expected.code !== BookResultCode.Ok) count(codeName(expected.code));
  if (expected.fills.length > 0) count('with fills');
  if (expected.reduced.length > 0) count('with reductions');
  if (call.kind === 'amend' && expected.fills.length > 0) count('amends that traded');
  if (call.kind === 'place' && call.spec.timeInForce === TimeInForce.FillOrKill && expected.fills.length > 0) count('FOK filled');
  if (call.kind === 'place' && call.spec.type === OrderType.Market && expected.fills.length > 0) count('market filled');
  if (call.kind === 'place' && expected.restingQtyLots > 0 && expected.restingPriceTicks !== call.spec.priceTicks) count('post-only re-priced');
  if (expected.reduced.length > 0 && expected.fills.length > 0) count('reduced and filled');
  if (expected.fills.length > 0 && expected.done.some((done) => done.reason === DoneReason.SelfTradePrevented)) count('filled and self-trade prevented');
  if (call.kind === 'expire' && expected.done.length > 1) count('several expired at once');
  if (expected.levels.length > 2) count('more than 2 levels changed');
  const restingCount = harness.model.orders().length;
  if (restingCount >= 10) count('10+ resting after');
  for (const done of expected.done) count(doneReasonName(done.reason));
}

function callModel(model: NaiveBook, call: Call): NaiveResult {
  switch (call.kind) {
    case 'place':
      return model.place(call.spec);
    case 'cancel':
      return model.cancel(call.orderId);
    case 'amend':
      return model.amend(call.orderId, call.priceTicks, call.qtyLots);
    case 'cancelAll':
      return model.cancelAllOfAccount(call.accountId, call.side);
    case 'expire':
      return model.expireOrders(call.nowMs);
  }
}

function callBook(book: OrderBook, call: Call): BookReport {
  switch (call.kind) {
    case 'place':
      return book.place({ ...call.spec });
    case 'cancel':
      return book.cancel(call.orderId);
    case 'amend':
      return book.amend(call.orderId, call.priceTicks, call.qtyLots);
    case 'cancelAll':
      return call.side === undefined ? book.cancelAllOfAccount(call.accountId) : book.cancelAllOfAccount(call.accountId, call.side);
    case 'expire':
      return book.expireOrders(call.nowMs);
  }
}

function callAsCode(call: Call): string {
  switch (call.kind) {
    case 'place':
      return `book.place(${JSON.stringify(call.spec)});`;
    case 'cancel':
      return `book.cancel(${call.orderId});`;
    case 'amend':
      return `book.amend(${call.orderId}, ${call.priceTicks}, ${call.qtyLots});`;
    case 'cancelAll':
      return `book.cancelAllOfAccount(${call.accountId}${call.side === undefined ? '' : `, ${call.side}`});`;
    case 'expire':
      return `book.expireOrders(${call.nowMs});`;
  }
}

// -----------------------------------------------------------------------------------------
// Resolving drafts against the current book

function resolveCall(harness: Harness, draft: Draft): Call {
  switch (draft.kind) {
    case 'place':
      return { kind: 'place', spec: resolvePlace(harness, draft) };
    case 'cancel':
      return { kind: 'cancel', orderId: resolveOrderId(harness, draft.id, draft.pick) };
    case 'amend':
      return resolveAmend(harness, draft);
    case 'cancelAll':
      return { kind: 'cancelAll', accountId: draft.accountId, side: draft.side };
    case 'expire':
      return { kind: 'expire', nowMs: Math.max(0, harness.model.nowMs + draft.deltaMs) };
  }
}

function resolvePlace(harness: Harness, draft: PlaceDraft): OrderSpec {
  const { limits, midTicks } = harness.config;
  const isDated = draft.timeInForce === TimeInForce.GoodTillDate;
  const spec: OrderSpec = {
    orderId: resolveOrderId(harness, draft.id, draft.pick),
    accountId: draft.accountId,
    side: draft.side,
    type: draft.type,
    priceTicks: clamp(midTicks + placePriceOffsetTicks(draft, harness.config), 1, limits.priceTicksMax),
    qtyLots: Math.min(draft.qtyLots, limits.qtyLotsMax),
    timeInForce: draft.timeInForce,
    expiresAtMs: isDated ? harness.model.nowMs + draft.expiresInMs : 0,
    postOnly: draft.postOnly,
    selfTradePrevention: draft.selfTradePrevention,
  };
  if (draft.fault !== 'none') resolvePlaceFault(harness, spec, draft.fault);
  return spec;
}

/** Passive orders rest 1..7 ticks behind the mid; aggressive ones reach up to 5 ticks through it. */
function placePriceOffsetTicks(draft: PlaceDraft, config: SequenceConfig): number {
  const aggressive = draft.aggressiveRoll < config.aggressivePercent;
  const towardOppositeTicks = aggressive ? draft.distanceTicks - 1 : -1 - draft.distanceTicks;
  return draft.side === Side.Buy ? towardOppositeTicks : -towardOppositeTicks;
}

/** Breaks exactly one thing about an otherwise valid order. */
function resolvePlaceFault(harness: Harness, spec: OrderSpec, fault: Fault): void {
  const { limits } = harness.config;
  const nowMs = harness.model.nowMs;
  const faults: Record<Fault, () => void> = {
    orderIdZero: () => (spec.orderId = 0),
    orderIdFraction: () => (spec.orderId += 0.5),
    sideUnknown: () => (spec.side = 2 as Side),
    typeUnknown: () => (spec.type = 2 as OrderType),
    timeInForceUnknown: () => (spec.timeInForce = 4 as TimeInForce),
    postOnlyUnknown: () => (spec.postOnly = 3 as PostOnly),
    selfTradeUnknown: () => (spec.selfTradePrevention = 4 as SelfTradePrevention),
    marketGoodTillCancelled: () => Object.assign(spec, { type: OrderType.Market, timeInForce: TimeInForce.GoodTillCancelled, postOnly: PostOnly.None, expiresAtMs: 0 }),
    marketGoodTillDate: () => Object.assign(spec, { type: OrderType.Market, timeInForce: TimeInForce.GoodTillDate, postOnly: PostOnly.None, expiresAtMs: nowMs + 10 }),
    postOnlyImmediateOrCancel: () => Object.assign(spec, { type: OrderType.Limit, timeInForce: TimeInForce.ImmediateOrCancel, postOnly: PostOnly.Reject, expiresAtMs: 0 }),
    postOnlyFillOrKill: () => Object.assign(spec, { type: OrderType.Limit, timeInForce: TimeInForce.FillOrKill, postOnly: PostOnly.Reprice, expiresAtMs: 0 }),
    postOnlyMarket: () => Object.assign(spec, { type: OrderType.Market, timeInForce: TimeInForce.ImmediateOrCancel, postOnly: PostOnly.Reject, expiresAtMs: 0 }),
    priceZero: () => (spec.priceTicks = 0),
    priceAboveMax: () => (spec.priceTicks = limits.priceTicksMax + 1),
    priceFraction: () => (spec.priceTicks = Math.min(spec.priceTicks, limits.priceTicksMax - 1) + 0.5),
    qtyZero: () => (spec.qtyLots = 0),
    qtyAboveMax: () => (spec.qtyLots = limits.qtyLotsMax + 1),
    qtyFraction: () => (spec.qtyLots = Math.min(spec.qtyLots, limits.qtyLotsMax - 1) + 0.5),
    accountAboveMax: () => (spec.accountId = limits.accountIdMax + 1),
    accountNegative: () => (spec.accountId = -1),
    expiryNow: () => Object.assign(spec, { type: OrderType.Limit, timeInForce: TimeInForce.GoodTillDate, expiresAtMs: nowMs }),
    expiryPast: () => Object.assign(spec, { type: OrderType.Limit, timeInForce: TimeInForce.GoodTillDate, expiresAtMs: Math.max(0, nowMs - 7) }),
  };
  faults[fault]();
}

function resolveAmend(harness: Harness, draft: AmendDraft): Call {
  const { limits, midTicks } = harness.config;
  const orderId = resolveOrderId(harness, draft.id, draft.pick);
  const order = harness.model.order(orderId);
  if (order === undefined) {
    // An unknown id with an otherwise valid amend: exactly one reason to reject.
    return { kind: 'amend', orderId, priceTicks: midTicks, qtyLots: 1 };
  }
  const price = draft.price;
  const priceTicks =
    price.kind === 'same' ? order.priceTicks
    : price.kind === 'band' ? clamp(midTicks + price.offsetTicks, 1, limits.priceTicksMax)
    : price.fault === 'priceZero' ? 0 : limits.priceTicksMax + 1;
  const qtyLots = resolveAmendQty(draft.qty, order.qtyLots, limits.qtyLotsMax);
  // One fault at a time: a bad price keeps a valid quantity.
  return { kind: 'amend', orderId, priceTicks, qtyLots: price.kind === 'fault' ? order.qtyLots : qtyLots };
}

function resolveAmendQty(qty: AmendQty, currentLots: number, qtyLotsMax: number): number {
  switch (qty.kind) {
    case 'same':
      return currentLots;
    case 'smaller':
      return Math.max(1, currentLots - qty.byLots);
    case 'larger':
      return Math.min(qtyLotsMax, currentLots + qty.byLots);
    case 'exact':
      return Math.min(qty.qtyLots, qtyLotsMax);
    case 'fault':
      return qty.fault === 'qtyZero' ? 0 : qtyLotsMax + 1;
  }
}

function resolveOrderId(harness: Harness, choice: IdChoice, pick: number): number {
  const restingIds = harness.model.orders().map((order) => order.orderId);
  if (choice === 'resting' && restingIds.length > 0) return restingIds[pick % restingIds.length];
  if (choice === 'finished') {
    const finishedIds = harness.usedOrderIds.filter((orderId) => !restingIds.includes(orderId));
    if (finishedIds.length > 0) return finishedIds[pick % finishedIds.length];
  }
  if (choice === 'fresh') return harness.nextOrderId++;
  return 1_000_000 + pick; // never placed: fresh ids stay far below this
}

function codeName(code: BookResultCode): string {
  return Object.entries(BookResultCode).find(([, value]) => value === code)?.[0] ?? String(code);
}

function doneReasonName(reason: DoneReason): string {
  return `done ${Object.entries(DoneReason).find(([, value]) => value === reason)?.[0] ?? String(reason)}`;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
