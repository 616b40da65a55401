import { createHash } from 'node:crypto';
import { NO_PRICE, OrderType, PostOnly, Side, TimeInForce, type OrderSpec } from '../book/index.js';
import { assert, fail } from './assert.js';
import { parseExchangeConfig, type RawExchangeConfig } from './config.js';
import type { Instrument } from './instruments.js';
import { newBook } from './state_machine.js';
import { emptyState, type Account, type Capacity, type ExchangeState, type OrderRecord, type Redemption, type Withdrawal } from './state.js';

// Snapshots: the whole state as one canonical JSON text, and its hash. Canonical means the same
// state always gives the same bytes: every map and set is written in its iteration order, which the
// deterministic state machine makes identical live and on replay (and which matters: cancel-all
// order, label eviction, calendar order). Bigints are written as decimal strings.
//
// Books are not serialized as structures: each book is rebuilt by placing its resting orders again
// in canonical order (bids best to worst, asks best to worst, each level oldest first), which gives
// back the same queues. Each book's own state hash is stored, and checked after the rebuild.

const SNAPSHOT_VERSION = 1;

export function stateHash(state: ExchangeState): string {
  return hashText(serializeState(state));
}

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function serializeState(state: ExchangeState): string {
  return JSON.stringify(captureState(state));
}

/** Array elements stringified per slice: about a millisecond of work, so replies get through between slices. */
const RENDER_SLICE_ELEMENTS = 500;

/**
 * Turns a captured tree into exactly the text `JSON.stringify(tree)` gives, and its sha256, in
 * slices with a turn of the event loop between them. The sequencer captures at the snapshot point
 * (a few ms) and renders afterwards, instead of stopping every reply for the whole text and hash
 * (35-50 ms at 5 MB).
 */
export async function renderSnapshot(tree: Record<string, unknown>, yieldTurn: () => Promise<void> = nextTurn): Promise<{ body: string; stateHash: string }> {
  const pieces: string[] = [];
  const hash = createHash('sha256');
  const emit = (text: string) => {
    pieces.push(text);
    hash.update(text);
  };
  let first = true;
  for (const [key, value] of Object.entries(tree)) {
    if (value === undefined) continue;
    emit(`${first ? '{' : ','}${JSON.stringify(key)}:`);
    first = false;
    if (!Array.isArray(value) || value.length <= RENDER_SLICE_ELEMENTS) {
      emit(JSON.stringify(value));
      continue;
    }
    for (let start = 0; start < value.length; start += RENDER_SLICE_ELEMENTS) {
      const slice = JSON.stringify(value.slice(start, start + RENDER_SLICE_ELEMENTS));
      // The slice's own brackets are dropped; the array's are written once around all slices.
      emit(`${start === 0 ? '[' : ','}${slice.slice(1, -1)}`);
      await yieldTurn();
    }
    emit(']');
  }
  emit(first ? '{}' : '}');
  return { body: pieces.join(''), stateHash: hash.digest('hex') };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The snapshot as a tree of plain values, copied out of the state: later commands do not change
 * it, so it can be turned into text after the sequencer has moved on (renderSnapshot).
 */
export function captureState(state: ExchangeState): Record<string, unknown> {
  const books: unknown[] = [];
  for (const [name, book] of state.books) {
    if (book.restingOrderCount === 0 && book.timeMs === 0) continue;
    const restingOrderIds: number[] = [];
    book.forEachResting((_side, orderId) => restingOrderIds.push(orderId));
    books.push([name, book.timeMs, book.stateHash(), restingOrderIds]);
  }
  return {
    version: SNAPSHOT_VERSION,
    config: state.config?.raw ?? null,
    sequence: state.sequence,
    timeMs: state.timeMs,
    instruments: [...state.instruments.values()].map(encodeInstrument),
    books,
    accounts: state.accounts.slice(1).map((account) => encodeAccount(account!)),
    orders: [...state.orders.values()].map(encodeOrder),
    stopOrderIds: [...state.stopOrderIds].map(([name, orderIds]) => [name, [...orderIds]]),
    nextOrderId: state.nextOrderId,
    nextTradeId: state.nextTradeId,
    lastPriceTicks: [...state.lastPriceTicks],
    lastTickDirection: [...state.lastTickDirection],
    markPriceTicks: [...state.markPriceTicks],
    indexPriceTicks: [...state.indexPriceTicks],
    feePool: encodeAmounts(state.feePool),
    insuranceFund: encodeAmounts(state.insuranceFund),
    deposited: encodeAmounts(state.deposited),
    withdrawn: encodeAmounts(state.withdrawn),
    withdrawalsInFlight: encodeAmounts(state.withdrawalsInFlight),
    depositIds: [...state.depositIds],
    transferIds: [...state.transferIds],
    withdrawals: [...state.withdrawals.values()].map((withdrawal) => ({ ...withdrawal, amountUnits: withdrawal.amountUnits.toString() })),
    capacities: [...state.capacities.values()].map((capacity) => ({ ...capacity, bondUnits: capacity.bondUnits.toString(), bondOutstandingUnits: capacity.bondOutstandingUnits.toString() })),
    redemptions: [...state.redemptions.values()].map((redemption) => ({ ...redemption })),
    gtdExpiryByInstrument: [...state.gtdExpiryByInstrument],
    nextStopExpiryMs: state.nextStopExpiryMs,
    nextCalendarMs: state.nextCalendarMs,
    haltedReason: state.haltedReason,
  };
}

/** Rebuilds a state from `serializeState` text, checking every book against its stored hash. */
export function restoreState(text: string): ExchangeState {
  const data = JSON.parse(text);
  assert(data.version === SNAPSHOT_VERSION, `snapshot version ${data.version} is not ${SNAPSHOT_VERSION}`);
  const state = emptyState();
  state.config = data.config === null ? null : parseExchangeConfig(data.config as RawExchangeConfig);
  state.sequence = data.sequence;
  state.timeMs = data.timeMs;
  for (const encoded of data.instruments) {
    const instrument = decodeInstrument(encoded);
    state.instruments.set(instrument.name, instrument);
    if (instrument.state === 'trading' || instrument.state === 'halted') state.books.set(instrument.name, newBook(instrument));
  }
  for (const encoded of data.accounts) {
    const account = decodeAccount(encoded);
    state.accounts.push(account);
    state.accountIdByOwner.set(account.owner, account.id);
  }
  for (const encoded of data.orders) {
    const order = decodeOrder(encoded);
    state.orders.set(order.orderId, order);
  }
  for (const [name, timeMs, bookHash, restingOrderIds] of data.books as [string, number, string, number[]][]) {
    rebuildBook(state, name, timeMs, restingOrderIds);
    if (!(state.books.get(name)!.stateHash() === bookHash)) fail(`book ${name} does not rebuild to its snapshot hash`);
  }
  state.stopOrderIds = new Map(data.stopOrderIds);
  state.nextOrderId = data.nextOrderId;
  state.nextTradeId = data.nextTradeId;
  state.lastPriceTicks = new Map(data.lastPriceTicks);
  state.lastTickDirection = new Map(data.lastTickDirection);
  state.markPriceTicks = new Map(data.markPriceTicks);
  state.indexPriceTicks = new Map(data.indexPriceTicks);
  state.feePool = decodeAmounts(data.feePool);
  state.insuranceFund = decodeAmounts(data.insuranceFund);
  state.deposited = decodeAmounts(data.deposited);
  state.withdrawn = decodeAmounts(data.withdrawn);
  state.withdrawalsInFlight = decodeAmounts(data.withdrawalsInFlight);
  state.depositIds = new Set(data.depositIds);
  state.transferIds = new Set(data.transferIds);
  for (const withdrawal of data.withdrawals as Withdrawal[]) state.withdrawals.set(withdrawal.withdrawalId, { ...withdrawal, amountUnits: BigInt(withdrawal.amountUnits) });
  for (const capacity of data.capacities as Capacity[]) {
    state.capacities.set(capacity.capacityId, { ...capacity, bondUnits: BigInt(capacity.bondUnits), bondOutstandingUnits: BigInt(capacity.bondOutstandingUnits) });
  }
  for (const redemption of data.redemptions as Redemption[]) state.redemptions.set(redemption.redemptionId, redemption);
  state.gtdExpiryByInstrument = new Map(data.gtdExpiryByInstrument);
  state.nextStopExpiryMs = data.nextStopExpiryMs;
  state.nextCalendarMs = data.nextCalendarMs;
  state.haltedReason = data.haltedReason;
  return state;
}

/** Places a book's resting orders again, in canonical order, after telling it its time. */
function rebuildBook(state: ExchangeState, name: string, timeMs: number, restingOrderIds: number[]): void {
  const book = state.books.get(name)!;
  if (timeMs > 0) book.expireOrders(timeMs);
  const spec: OrderSpec = {
    orderId: 0, accountId: 0, side: Side.Buy, type: OrderType.Limit, priceTicks: 0, qtyLots: 0,
    timeInForce: TimeInForce.GoodTillCancelled, expiresAtMs: 0, postOnly: PostOnly.None, selfTradePrevention: 0,
  };
  for (const orderId of restingOrderIds) {
    const order = state.orders.get(orderId)!;
    const view = book.order(orderId);
    if (!(view === undefined && order.state === 'open')) fail(`order ${orderId} cannot be rebuilt into ${name}`);
    spec.orderId = orderId;
    spec.accountId = order.accountId;
    spec.side = order.side === 'buy' ? Side.Buy : Side.Sell;
    spec.priceTicks = order.priceTicks;
    spec.qtyLots = order.remainingLots;
    spec.timeInForce = order.expiresAtMs > 0 ? TimeInForce.GoodTillDate : TimeInForce.GoodTillCancelled;
    spec.expiresAtMs = order.expiresAtMs;
    spec.postOnly = !order.postOnly ? PostOnly.None : order.rejectPostOnly ? PostOnly.Reject : PostOnly.Reprice;
    spec.selfTradePrevention = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement_both'].indexOf(order.selfTrade) as OrderSpec['selfTradePrevention'];
    const report = book.place(spec);
    if (!(report.code === 0 && report.fillCount === 0 && report.restingQtyLots === order.remainingLots)) fail(`order ${orderId} did not rest again in ${name}`);
  }
  assert(restingOrderIds.length === 0 || book.bestBid() === NO_PRICE || book.bestAsk() === NO_PRICE || book.bestBid() < book.bestAsk(), `${name} rebuilt crossed`);
}

/**
 * Instruments hardly change (only their trading state), so each one's encoding is kept and reused
 * by later snapshots while that state is the same: the capture, which stops the sequencer, then
 * copies a few thousand references instead of re-encoding them (bigints to text).
 */
const encodedInstruments = new WeakMap<Instrument, { state: string; encoded: unknown }>();

function encodeInstrument(instrument: Instrument): unknown {
  const cached = encodedInstruments.get(instrument);
  if (cached !== undefined && cached.state === instrument.state) return cached.encoded;
  const encoded = encodeInstrumentFields(instrument);
  encodedInstruments.set(instrument, { state: instrument.state, encoded });
  return encoded;
}

function encodeInstrumentFields(instrument: Instrument): unknown {
  return {
    ...instrument,
    tickScaled: instrument.tickScaled.toString(),
    lotScaled: instrument.lotScaled.toString(),
    quoteUnitsPerTickLot: instrument.quoteUnitsPerTickLot.toString(),
    baseUnitsPerLot: instrument.baseUnitsPerLot.toString(),
    strikeScaled: instrument.strikeScaled.toString(),
  };
}

function decodeInstrument(encoded: Record<string, unknown>): Instrument {
  const instrument = encoded as unknown as Instrument;
  return {
    ...instrument,
    tickScaled: BigInt(encoded.tickScaled as string),
    lotScaled: BigInt(encoded.lotScaled as string),
    quoteUnitsPerTickLot: BigInt(encoded.quoteUnitsPerTickLot as string),
    baseUnitsPerLot: BigInt(encoded.baseUnitsPerLot as string),
    strikeScaled: BigInt(encoded.strikeScaled as string),
  };
}

function encodeAccount(account: Account): unknown {
  return {
    id: account.id,
    owner: account.owner,
    kind: account.kind,
    balances: [...account.balances].map(([currency, balance]) => [currency, balance.available.toString(), balance.reserved.toString(), balance.bonded.toString()]),
    openOrderIds: [...account.openOrderIds],
    stopOrderCount: account.stopOrderCount,
    labels: [...account.labels].map(([label, memory]) => [label, memory.orderId, memory.fingerprint]),
    rateTokensMilli: account.rateTokensMilli,
    rateUpdatedMs: account.rateUpdatedMs,
  };
}

function decodeAccount(encoded: ReturnType<typeof encodeAccount> & Record<string, any>): Account {
  return {
    id: encoded.id,
    owner: encoded.owner,
    kind: encoded.kind,
    balances: new Map(encoded.balances.map(([currency, available, reserved, bonded]: string[]) => [currency, { available: BigInt(available), reserved: BigInt(reserved), bonded: BigInt(bonded) }])),
    openOrderIds: new Set(encoded.openOrderIds),
    stopOrderCount: encoded.stopOrderCount,
    labels: new Map(encoded.labels.map(([label, orderId, fingerprint]: [string, number, string]) => [label, { orderId, fingerprint }])),
    rateTokensMilli: encoded.rateTokensMilli,
    rateUpdatedMs: encoded.rateUpdatedMs,
  };
}

function encodeOrder(order: OrderRecord): unknown {
  return { ...order, feeUnits: order.feeUnits.toString(), reservePerLotUnits: order.reservePerLotUnits.toString() };
}

function decodeOrder(encoded: Record<string, unknown>): OrderRecord {
  return { ...(encoded as unknown as OrderRecord), feeUnits: BigInt(encoded.feeUnits as string), reservePerLotUnits: BigInt(encoded.reservePerLotUnits as string) };
}

function encodeAmounts(amounts: Map<string, bigint>): [string, string][] {
  return [...amounts].map(([currency, units]) => [currency, units.toString()]);
}

function decodeAmounts(encoded: [string, string][]): Map<string, bigint> {
  return new Map(encoded.map(([currency, units]) => [currency, BigInt(units)]));
}
