import type { AmendOrder, CancelAll, CancelByLabel, CancelOrder, PlaceOrder } from './commands.js';
import { orderView, type ApplyContext } from './context.js';
import { MS_PER_DAY, MS_PER_HOUR } from './calendar.js';
import type { Instrument } from './instruments.js';
import { availableOf, reserve, release } from './ledger.js';
import { limits } from './limits.js';
import { applyBookReport, closeOrder, releaseOrderReserve, reservePerLot, submitToBook } from './matching.js';
import { BookResultCode } from '../book/index.js';
import { Reject, type Rejection } from './result_codes.js';
import type { Account, ExchangeState, OrderRecord } from './state.js';
import { addStopOrder, isStopType, removeStopOrder } from './stops.js';

// Order entry: place, amend, cancel. Each command is checked completely before anything changes,
// so a rejection leaves the state exactly as it was (the rejection is the only event).

const ORDER_TYPES = new Set(['limit', 'market', 'stop_limit', 'stop_market', 'take_limit', 'take_market']);
const TIMES_IN_FORCE = new Set(['good_til_cancelled', 'good_til_day', 'fill_or_kill', 'immediate_or_cancel']);
const TRIGGERS = new Set(['last_price', 'mark_price', 'index_price']);
const SELF_TRADE = new Set(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement_both']);
const THOUSANDTHS = 1000;

export function placeOrder(ctx: ApplyContext, command: PlaceOrder): void {
  const state = ctx.state;
  const account = state.accounts[command.accountId];
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  // A retry is answered with the original before anything else is checked: what was accepted
  // stays the answer even if the instrument has halted since, or the account's limits filled up.
  if (command.label) {
    const remembered = account.labels.get(command.label);
    if (remembered !== undefined) {
      if (remembered.fingerprint === placeFingerprint(command)) {
        const original = state.orders.get(remembered.orderId);
        ctx.events.push({ kind: 'order_retry', orderId: remembered.orderId, order: original ? orderView(original) : null });
        return;
      }
      if (state.orders.has(remembered.orderId)) return void ctx.reject(Reject.duplicateLabel, `label ${command.label} is on open order ${remembered.orderId}`);
    }
  }
  const instrument = state.instruments.get(command.instrument);
  if (!instrument) return void ctx.reject(Reject.invalidInstrument, command.instrument);
  const invalid = checkTradable(state, instrument) ?? checkPlaceArguments(instrument, command);
  if (invalid) return void ctx.reject(invalid.rejection, invalid.detail);

  const stop = isStopType(command.type);
  const openOrdersMax = state.config!.raw.accounts.openOrdersMax;
  if (account.openOrderIds.size >= openOrdersMax) return void ctx.reject(Reject.tooManyOpenOrders, `at most ${openOrdersMax} open orders`);
  if (stop && account.stopOrderCount >= state.config!.raw.accounts.stopOrdersMax) return void ctx.reject(Reject.tooManyOpenOrders, 'too many stop orders');
  if (!stop && state.books.get(instrument.name)!.restingOrderCount >= limits.ordersPerBookMax) return void ctx.reject(Reject.bookFull, `${instrument.name} holds ${limits.ordersPerBookMax} orders`);

  const priceTicks = orderPriceTicks(state, instrument, command);
  if (priceTicks === undefined) return void fillNothing(ctx, account, instrument, command);
  if (command.postOnly && command.rejectPostOnly && crossesBook(state, instrument, command.side, priceTicks)) {
    return void ctx.reject(Reject.postOnlyReject, 'post-only order would take liquidity');
  }
  const holding = reservePerLot(instrument, command.side, priceTicks, state.config!.raw.fees);
  const holdUnits = BigInt(command.amountLots) * holding.units;
  if (availableOf(account, holding.currency) < holdUnits) {
    return void ctx.reject(Reject.notEnoughFunds, `needs ${holdUnits} ${holding.currency} available`);
  }
  if (!takeRateToken(state, account, ctx.timeMs)) return void ctx.reject(Reject.tooManyRequests, 'order rate limit');

  const order = newOrderRecord(ctx, account, instrument, command, priceTicks);
  order.reservePerLotUnits = holding.units;
  order.reserveCurrency = holding.currency;
  reserve(ctx, account, holding.currency, holdUnits);
  state.orders.set(order.orderId, order);
  account.openOrderIds.add(order.orderId);
  if (command.label) rememberLabel(state, account, command.label, order.orderId, placeFingerprint(command));
  if (stop) {
    addStopOrder(ctx, order);
    return;
  }
  submitToBook(ctx, instrument, order);
}

/** Deribit `edit`: new total amount and price (and trigger price for stops). */
export function amendOrder(ctx: ApplyContext, command: AmendOrder): void {
  const state = ctx.state;
  const found = findOwnOrder(state, command.accountId, command.orderId, command.label, command.instrument);
  if ('rejection' in found) return void ctx.reject(found.rejection, found.detail);
  const { account, order } = found;
  const instrument = state.instruments.get(order.instrument)!;
  const tradable = checkTradable(state, instrument);
  if (tradable) return void ctx.reject(tradable.rejection, tradable.detail);
  const priceTicks = command.priceTicks ?? order.priceTicks;
  const remainingLots = command.amountLots - order.filledLots;
  const invalid =
    checkAmount(instrument, command.amountLots) ??
    (remainingLots <= 0 ? { rejection: Reject.invalidAmount, detail: `amount must exceed the filled ${order.filledLots}` } : undefined) ??
    (order.type === 'limit' || order.type === 'stop_limit' || order.type === 'take_limit' ? checkPrice(instrument, priceTicks, Reject.priceWrongTick) : undefined) ??
    (command.triggerPriceTicks !== undefined ? (isStopType(order.type) && !order.triggered ? checkPrice(instrument, command.triggerPriceTicks, Reject.triggerPriceWrongTick) : { rejection: Reject.invalidArguments, detail: 'trigger_price applies to untriggered stop orders only' }) : undefined);
  if (invalid) return void ctx.reject(invalid.rejection, invalid.detail);
  if (order.postOnly && order.rejectPostOnly && order.state === 'open' && crossesBook(state, instrument, order.side, priceTicks)) {
    return void ctx.reject(Reject.postOnlyReject, 'post-only order would take liquidity');
  }
  // A stop-market's hold follows its protection price, which follows its trigger.
  const protectionTicks = order.type.endsWith('market') && command.triggerPriceTicks !== undefined
    ? protectionPriceTicks(state, instrument, order.side, command.triggerPriceTicks)
    : order.priceTicks;
  const holding = reservePerLot(instrument, order.side, order.type.endsWith('market') ? protectionTicks : priceTicks, order);
  const heldUnits = BigInt(order.remainingLots) * order.reservePerLotUnits;
  const neededUnits = BigInt(remainingLots) * holding.units;
  if (neededUnits > heldUnits && availableOf(account, holding.currency) < neededUnits - heldUnits) {
    return void ctx.reject(Reject.notEnoughFunds, `needs ${neededUnits - heldUnits} more ${holding.currency}`);
  }
  if (!takeRateToken(state, account, ctx.timeMs)) return void ctx.reject(Reject.tooManyRequests, 'order rate limit');

  if (order.state === 'untriggered') {
    rehold(ctx, account, order, heldUnits, neededUnits, holding.units);
    order.remainingLots = remainingLots;
    order.amountLots = command.amountLots;
    order.priceTicks = order.type.endsWith('market') ? protectionTicks : priceTicks;
    if (command.triggerPriceTicks !== undefined) order.triggerPriceTicks = command.triggerPriceTicks;
    order.replaced = true;
    ctx.touchOrder(order);
    ctx.priceMoved(instrument.name);
    return;
  }
  const book = state.books.get(instrument.name)!;
  // Re-hold first: fills inside the amend are paid from the new per-lot reserve.
  rehold(ctx, account, order, heldUnits, neededUnits, holding.units);
  const report = book.amend(order.orderId, priceTicks, remainingLots);
  if (report.code !== BookResultCode.Ok) {
    rehold(ctx, account, order, neededUnits, heldUnits, heldUnits / BigInt(Math.max(order.remainingLots, 1)));
    return void ctx.reject(Reject.postOnlyReject, 'post-only order would take liquidity');
  }
  order.amountLots = command.amountLots;
  order.remainingLots = remainingLots;
  order.priceTicks = priceTicks;
  order.replaced = true;
  applyBookReport(ctx, instrument, report);
  if (order.state === 'open') order.priceTicks = report.restingPriceTicks || priceTicks;
  ctx.touchOrder(order);
}

export function cancelOrder(ctx: ApplyContext, command: CancelOrder): void {
  const found = findOwnOrder(ctx.state, command.accountId, command.orderId, undefined, undefined);
  if ('rejection' in found) return void ctx.reject(found.rejection, found.detail);
  cancelOne(ctx, found.order, 'user_cancel');
}

export function cancelByLabel(ctx: ApplyContext, command: CancelByLabel): void {
  const account = ctx.state.accounts[command.accountId];
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  for (const order of openOrdersOf(ctx.state, account)) {
    if (order.label === command.label && (command.instrument === undefined || order.instrument === command.instrument)) cancelOne(ctx, order, 'user_cancel');
  }
}

/** Deribit's cancel_all family: every open order of the account matching the filters. */
export function cancelAll(ctx: ApplyContext, command: CancelAll): void {
  const state = ctx.state;
  const account = state.accounts[command.accountId];
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  for (const order of openOrdersOf(state, account)) {
    const instrument = state.instruments.get(order.instrument)!;
    if (command.instrument !== undefined && order.instrument !== command.instrument) continue;
    if (command.currency !== undefined && instrument.baseCurrency !== command.currency && instrument.settlementCurrency !== command.currency) continue;
    if (command.instrumentKind !== undefined && instrument.kind !== command.instrumentKind) continue;
    const isUntriggered = order.state === 'untriggered';
    if (command.orderType === 'limit' && isUntriggered) continue;
    if (command.orderType === 'trigger' && !isUntriggered) continue;
    cancelOne(ctx, order, 'user_cancel');
  }
}

/** Cancels one open or untriggered order with the given reason. */
export function cancelOne(ctx: ApplyContext, order: OrderRecord, reason: string): void {
  if (order.state === 'untriggered') {
    removeStopOrder(ctx.state, order);
    closeOrder(ctx, order, reason);
    return;
  }
  const instrument = ctx.state.instruments.get(order.instrument)!;
  const report = ctx.state.books.get(order.instrument)!.cancel(order.orderId);
  applyBookReport(ctx, instrument, report);
  if (reason !== 'user_cancel') order.cancelReason = reason;
}

/** The account's open orders, in placement order, as a copy (safe to cancel while iterating). */
export function openOrdersOf(state: ExchangeState, account: Account): OrderRecord[] {
  return [...account.openOrderIds].map((orderId) => state.orders.get(orderId)!);
}

// ---------------------------------------------------------------------------------------------
// Checks

interface Invalid {
  rejection: Rejection;
  detail: string;
}

function checkTradable(state: ExchangeState, instrument: Instrument): Invalid | undefined {
  if (instrument.state !== 'trading') return { rejection: Reject.bookClosed, detail: `${instrument.name} is ${instrument.state}` };
  // Futures and options are listed and visible; trading them needs the margin engine.
  if (instrument.kind !== 'spot') return { rejection: Reject.derivativesNotTradable, detail: `${instrument.name}: derivatives trading opens with margin` };
  return undefined;
}

function checkPlaceArguments(instrument: Instrument, command: PlaceOrder): Invalid | undefined {
  const bad = (detail: string): Invalid => ({ rejection: Reject.invalidArguments, detail });
  if (command.side !== 'buy' && command.side !== 'sell') return bad('side must be buy or sell');
  if (!ORDER_TYPES.has(command.type)) return bad(`unknown order type ${command.type}`);
  if (!TIMES_IN_FORCE.has(command.timeInForce)) return bad(`unknown time_in_force ${command.timeInForce}`);
  if (command.selfTrade !== undefined && !SELF_TRADE.has(command.selfTrade)) return bad('unknown self-trade mode');
  if (command.label !== undefined && (typeof command.label !== 'string' || command.label.length > limits.labelLengthMax)) return bad(`label longer than ${limits.labelLengthMax}`);
  if (command.reduceOnly) return bad('reduce_only applies to derivatives positions, not spot');
  const amountInvalid = checkAmount(instrument, command.amountLots);
  if (amountInvalid) return amountInvalid;
  const isMarket = command.type.endsWith('market');
  if (!isMarket) {
    if (command.priceTicks === undefined) return bad('price is required for a limit order');
    const priceInvalid = checkPrice(instrument, command.priceTicks, Reject.priceWrongTick);
    if (priceInvalid) return priceInvalid;
  }
  if (command.postOnly && (isMarket || command.timeInForce === 'immediate_or_cancel' || command.timeInForce === 'fill_or_kill')) {
    return bad('post_only needs a resting limit order');
  }
  if (isMarket && command.timeInForce !== 'immediate_or_cancel' && command.timeInForce !== 'fill_or_kill' && command.timeInForce !== 'good_til_cancelled') {
    return bad('a market order is immediate');
  }
  if (isStopType(command.type)) {
    if (command.triggerPriceTicks === undefined) return bad('trigger_price is required for a stop order');
    if (command.trigger === undefined || !TRIGGERS.has(command.trigger)) return bad('trigger must be last_price, mark_price or index_price');
    return checkPrice(instrument, command.triggerPriceTicks, Reject.triggerPriceWrongTick);
  }
  if (command.triggerPriceTicks !== undefined || command.trigger !== undefined) return bad('trigger applies to stop and take orders only');
  return undefined;
}

function checkAmount(instrument: Instrument, amountLots: number): Invalid | undefined {
  if (!Number.isSafeInteger(amountLots) || amountLots > instrument.qtyLotsMax || amountLots < 1) return { rejection: Reject.invalidAmount, detail: 'amount out of range' };
  if (amountLots < instrument.minTradeLots) return { rejection: Reject.qtyTooLow, detail: 'amount below min_trade_amount' };
  return undefined;
}

function checkPrice(instrument: Instrument, priceTicks: number, wrongTick: Rejection): Invalid | undefined {
  if (!Number.isSafeInteger(priceTicks) || priceTicks < 1) return { rejection: Reject.priceTooLow, detail: 'price must be positive' };
  if (priceTicks > instrument.priceTicksMax) return { rejection: Reject.priceTooHigh, detail: 'price above the instrument maximum' };
  if (instrument.coarseTickAboveTicks > 0 && priceTicks > instrument.coarseTickAboveTicks && priceTicks % instrument.coarseTickMultiple !== 0) {
    return { rejection: wrongTick, detail: 'price is not a multiple of the tick size at this price' };
  }
  return undefined;
}

/**
 * The price an order is held and submitted at: its limit, or for a market order the protection
 * price: `marketProtectionPercent` beyond the opposite best (or beyond the trigger for a stop).
 * Undefined when a market order has nothing to trade against.
 */
function orderPriceTicks(state: ExchangeState, instrument: Instrument, command: PlaceOrder): number | undefined {
  if (!command.type.endsWith('market')) return command.priceTicks!;
  const book = state.books.get(instrument.name)!;
  const referenceTicks = isStopType(command.type) ? command.triggerPriceTicks! : command.side === 'buy' ? book.bestAsk() : book.bestBid();
  if (referenceTicks < 1) return undefined;
  return protectionPriceTicks(state, instrument, command.side, referenceTicks);
}

export function protectionPriceTicks(state: ExchangeState, instrument: Instrument, side: 'buy' | 'sell', referenceTicks: number): number {
  const percent = state.config!.raw.spot.marketProtectionPercent;
  if (side === 'buy') return Math.min(instrument.priceTicksMax, Math.floor((referenceTicks * (100 + percent)) / 100));
  return Math.max(1, Math.ceil((referenceTicks * (100 - percent)) / 100));
}

function crossesBook(state: ExchangeState, instrument: Instrument, side: 'buy' | 'sell', priceTicks: number): boolean {
  const book = state.books.get(instrument.name)!;
  if (side === 'buy') {
    const ask = book.bestAsk();
    return ask > 0 && priceTicks >= ask;
  }
  const bid = book.bestBid();
  return bid > 0 && priceTicks <= bid;
}

/** A market order with no opposite side: accepted and closed at once, holding nothing. */
function fillNothing(ctx: ApplyContext, account: Account, instrument: Instrument, command: PlaceOrder): void {
  if (!takeRateToken(ctx.state, account, ctx.timeMs)) return void ctx.reject(Reject.tooManyRequests, 'order rate limit');
  const order = newOrderRecord(ctx, account, instrument, command, 0);
  // Remembered like any other: a retry gets this (closed) order back, not a second one that fills.
  if (command.label) rememberLabel(ctx.state, account, command.label, order.orderId, placeFingerprint(command));
  order.reserveCurrency = instrument.quoteCurrency;
  order.state = 'cancelled';
  order.cancelReason = 'immediate_remainder';
  order.remainingLots = 0;
  ctx.touchOrder(order);
}

function newOrderRecord(ctx: ApplyContext, account: Account, instrument: Instrument, command: PlaceOrder, priceTicks: number): OrderRecord {
  const state = ctx.state;
  const stop = isStopType(command.type);
  return {
    orderId: state.nextOrderId++,
    accountId: account.id,
    instrument: instrument.name,
    side: command.side,
    type: command.type,
    timeInForce: command.timeInForce,
    state: stop ? 'untriggered' : 'open',
    cancelReason: '',
    priceTicks,
    amountLots: command.amountLots,
    filledLots: 0,
    remainingLots: command.amountLots,
    filledNotionalTickLots: 0,
    feeUnits: 0n,
    postOnly: command.postOnly === true,
    rejectPostOnly: command.rejectPostOnly === true,
    reduceOnly: false,
    replaced: false,
    label: command.label ?? '',
    selfTrade: command.selfTrade ?? 'cancel_maker',
    triggerPriceTicks: command.triggerPriceTicks ?? 0,
    trigger: command.trigger ?? '',
    triggered: false,
    createdMs: ctx.timeMs,
    updatedMs: ctx.timeMs,
    expiresAtMs: command.timeInForce === 'good_til_day' && command.type !== 'market' ? goodTillDayExpiryMs(state, ctx.timeMs) : 0,
    makerBasisPoints: state.config!.raw.fees.makerBasisPoints,
    takerBasisPoints: state.config!.raw.fees.takerBasisPoints,
    reservePerLotUnits: 0n,
    reserveCurrency: '',
    eventSequence: 0,
  };
}

/** Deribit's good_til_day: until the next daily settlement time (expiryHourUtc). */
function goodTillDayExpiryMs(state: ExchangeState, timeMs: number): number {
  const settlementMs = Math.floor(timeMs / MS_PER_DAY) * MS_PER_DAY + state.config!.raw.futures.expiryHourUtc * MS_PER_HOUR;
  return settlementMs > timeMs ? settlementMs : settlementMs + MS_PER_DAY;
}

/** Moves an order's hold from `heldUnits` to `neededUnits` and records the new per-lot hold. */
function rehold(ctx: ApplyContext, account: Account, order: OrderRecord, heldUnits: bigint, neededUnits: bigint, perLotUnits: bigint): void {
  if (neededUnits > heldUnits) reserve(ctx, account, order.reserveCurrency, neededUnits - heldUnits);
  else if (heldUnits > neededUnits) release(ctx, account, order.reserveCurrency, heldUnits - neededUnits);
  order.reservePerLotUnits = perLotUnits;
}

function findOwnOrder(state: ExchangeState, accountId: number, orderId: number | undefined, label: string | undefined, instrument: string | undefined):
  | { account: Account; order: OrderRecord }
  | Invalid {
  const account = state.accounts[accountId];
  if (!account) return { rejection: Reject.accountNotFound, detail: `account ${accountId}` };
  let order: OrderRecord | undefined;
  if (orderId !== undefined) {
    order = state.orders.get(orderId);
    if (order !== undefined && order.accountId !== accountId) return { rejection: Reject.orderNotFound, detail: `order ${orderId}` };
  } else if (label !== undefined) {
    order = openOrdersOf(state, account).find((candidate) => candidate.label === label && (instrument === undefined || candidate.instrument === instrument));
  }
  if (order === undefined) {
    const known = orderId !== undefined && orderId > 0 && orderId < state.nextOrderId;
    return known ? { rejection: Reject.alreadyClosed, detail: `order ${orderId} is closed` } : { rejection: Reject.orderNotFound, detail: `order ${orderId ?? label}` };
  }
  return { account, order };
}

/** Deterministic token bucket on command time: `orderBurst` deep, refilled at `ordersPerSecond`. */
function takeRateToken(state: ExchangeState, account: Account, timeMs: number): boolean {
  const { ordersPerSecond, orderBurst } = state.config!.raw.accounts;
  const elapsedMs = Math.max(0, timeMs - account.rateUpdatedMs);
  const tokens = Math.min(orderBurst * THOUSANDTHS, account.rateTokensMilli + elapsedMs * ordersPerSecond);
  if (tokens < THOUSANDTHS) return false;
  account.rateTokensMilli = tokens - THOUSANDTHS;
  account.rateUpdatedMs = timeMs;
  return true;
}

/** What makes two place commands "the same order" for an idempotent retry. */
function placeFingerprint(command: PlaceOrder): string {
  return [
    command.instrument, command.side, command.type, command.amountLots, command.priceTicks ?? '', command.timeInForce,
    command.postOnly === true, command.rejectPostOnly === true, command.reduceOnly === true, command.triggerPriceTicks ?? '',
    command.trigger ?? '', command.selfTrade ?? '',
  ].join('|');
}

function rememberLabel(state: ExchangeState, account: Account, label: string, orderId: number, fingerprint: string): void {
  account.labels.delete(label);
  account.labels.set(label, { orderId, fingerprint });
  if (account.labels.size <= limits.labelsRememberedPerAccountMax) return;
  // Forget the oldest label whose order has closed; labels of open orders are always kept.
  for (const [oldLabel, memory] of account.labels) {
    if (!state.orders.has(memory.orderId)) {
      account.labels.delete(oldLabel);
      return;
    }
  }
}
