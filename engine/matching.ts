import {
  BookResultCode,
  DoneReason,
  NO_PRICE,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  blankOrderSpec,
  type BookReport,
  type OrderBook,
  type OrderSpec,
} from '../book/index.js';
import { fail } from './assert.js';
import type { SelfTradeText, TimeInForceText } from './commands.js';
import type { ApplyContext } from './context.js';
import { divideRoundingUp } from './decimal.js';
import type { TradeView } from './events.js';
import type { Instrument } from './instruments.js';
import { addTo, credit, release, spendReserved } from './ledger.js';
import type { Account, ExchangeState, OrderRecord } from './state.js';

// Between the engine's orders and the book: an order record goes into its instrument's book, and
// the book's report comes back as fills settled in the ledger, orders closed, and L2 changes.
// The money of a fill moves in one place, `settleSpotFill`, and conserves every currency.

const BASIS_POINTS = 10_000n;

const SELF_TRADE_MODES: Record<SelfTradeText, OrderSpec['selfTradePrevention']> = {
  cancel_taker: SelfTradePrevention.CancelTaker,
  cancel_maker: SelfTradePrevention.CancelMaker,
  cancel_both: SelfTradePrevention.CancelBoth,
  decrement_both: SelfTradePrevention.DecrementBoth,
};

const BOOK_TIME_IN_FORCE: Record<TimeInForceText, OrderSpec['timeInForce']> = {
  good_til_cancelled: TimeInForce.GoodTillCancelled,
  good_til_day: TimeInForce.GoodTillDate,
  immediate_or_cancel: TimeInForce.ImmediateOrCancel,
  fill_or_kill: TimeInForce.FillOrKill,
};

const DONE_REASON_TEXT: Record<number, string> = {
  [DoneReason.Filled]: '',
  [DoneReason.Cancelled]: 'user_cancel',
  [DoneReason.Expired]: 'expired',
  [DoneReason.SelfTradePrevented]: 'self_trade',
  [DoneReason.PostOnlyRejected]: 'post_only_reject',
  [DoneReason.FillOrKillUnfillable]: 'fok_unfillable',
  [DoneReason.ImmediateRemainderCancelled]: 'immediate_remainder',
};

/** One spec object reused for every book call (every field is set per call): the book copies what it keeps. */
const spec: OrderSpec = blankOrderSpec();

/**
 * Sends an order (already recorded in `state.orders` with its reserve held) into its book and
 * applies the outcome. A book that is full refuses it: the order closes as `book_full` (order
 * entry checks capacity first, so only a triggered stop order can meet a full book).
 */
export function submitToBook(ctx: ApplyContext, instrument: Instrument, order: OrderRecord): void {
  const book = ctx.state.books.get(instrument.name)!;
  const isMarket = order.type === 'market' || order.type === 'stop_market' || order.type === 'take_market';
  spec.orderId = order.orderId;
  spec.accountId = order.accountId;
  spec.side = order.side === 'buy' ? Side.Buy : Side.Sell;
  spec.type = isMarket ? OrderType.Market : OrderType.Limit;
  spec.priceTicks = order.priceTicks;
  spec.qtyLots = order.remainingLots;
  spec.timeInForce = isMarket && order.timeInForce !== 'fill_or_kill' ? TimeInForce.ImmediateOrCancel : BOOK_TIME_IN_FORCE[order.timeInForce];
  spec.expiresAtMs = order.expiresAtMs;
  spec.postOnly = !order.postOnly ? PostOnly.None : order.rejectPostOnly ? PostOnly.Reject : PostOnly.Reprice;
  spec.selfTradePrevention = SELF_TRADE_MODES[order.selfTrade];
  const report = book.place(spec);
  if (report.code !== BookResultCode.Ok) {
    if (report.code !== BookResultCode.BookFull) fail(`book refused a validated order ${order.orderId}: code ${report.code}`);
    closeOrder(ctx, order, 'book_full');
    return;
  }
  applyBookReport(ctx, instrument, report);
  if (order.remainingLots > 0 && order.state === 'open') {
    // It rests: at the book's price, which differs from the limit when post-only re-priced it.
    if (report.restingQtyLots !== order.remainingLots) fail(`order ${order.orderId} rests ${report.restingQtyLots}, record says ${order.remainingLots}`);
    if (report.restingPriceTicks !== order.priceTicks) repriceHold(ctx, instrument, order, report.restingPriceTicks);
    order.priceTicks = report.restingPriceTicks;
    if (order.expiresAtMs > 0) trackGoodTillDate(ctx.state, instrument.name, order.expiresAtMs);
  }
  ctx.touchOrder(order);
}

/** A buy re-priced lower (post-only) holds only what its new price needs; the rest is released. */
function repriceHold(ctx: ApplyContext, instrument: Instrument, order: OrderRecord, priceTicks: number): void {
  const perLotUnits = reservePerLot(instrument, order.side, priceTicks, order).units;
  if (perLotUnits >= order.reservePerLotUnits) return;
  release(ctx, ctx.state.accounts[order.accountId]!, order.reserveCurrency, BigInt(order.remainingLots) * (order.reservePerLotUnits - perLotUnits));
  order.reservePerLotUnits = perLotUnits;
}

/** Applies everything a book call reported: fills, self-trade reductions, closed orders, L2. */
export function applyBookReport(ctx: ApplyContext, instrument: Instrument, report: BookReport): void {
  const orders = ctx.state.orders;
  const takerId = report.orderId;
  for (let index = 0; index < report.fillCount; index++) {
    const maker = orders.get(report.fillMakerOrderId[index])!;
    const taker = orders.get(takerId)!;
    settleSpotFill(ctx, instrument, maker, taker, report.fillPriceTicks[index], report.fillQtyLots[index]);
  }
  for (let index = 0; index < report.reducedCount; index++) {
    const order = orders.get(report.reducedOrderId[index])!;
    const reducedLots = report.reducedByLots[index];
    // A self-trade decrement takes the quantity away for good: the order is smaller.
    order.amountLots -= reducedLots;
    order.remainingLots -= reducedLots;
    releaseOrderReserve(ctx, order, reducedLots);
    ctx.touchOrder(order);
  }
  for (let index = 0; index < report.doneCount; index++) {
    const order = orders.get(report.doneOrderId[index])!;
    closeOrder(ctx, order, DONE_REASON_TEXT[report.doneReason[index]]);
  }
  if (report.levelCount > 0) ctx.events.push({ kind: 'book', instrument: instrument.name, levels: levelChanges(report) });
}

/**
 * Moves the money of one spot fill. The buyer pays notional + its fee out of what the order
 * reserved (qty × reservePerLot, which covers both at the limit price) and gets the base units; the
 * seller delivers reserved base units and gets notional − its fee. Fees go to the fee pool, with the
 * configured share to the insurance fund.
 */
function settleSpotFill(ctx: ApplyContext, instrument: Instrument, maker: OrderRecord, taker: OrderRecord, priceTicks: number, qtyLots: number): void {
  const state = ctx.state;
  const fees = state.config!.raw.fees;
  const lots = BigInt(qtyLots);
  // ticks × lots is a safe integer (limits.ts), so one conversion instead of two bigint products.
  const notionalUnits = instrument.quoteUnitsPerTickLot * BigInt(priceTicks * qtyLots);
  const makerFeeUnits = feeUnits(notionalUnits, maker.makerBasisPoints);
  const takerFeeUnits = feeUnits(notionalUnits, taker.takerBasisPoints);
  const buyer = maker.side === 'buy' ? maker : taker;
  const seller = maker.side === 'buy' ? taker : maker;
  const buyerFeeUnits = buyer === maker ? makerFeeUnits : takerFeeUnits;
  const sellerFeeUnits = seller === maker ? makerFeeUnits : takerFeeUnits;
  const buyerAccount = state.accounts[buyer.accountId]!;
  const sellerAccount = state.accounts[seller.accountId]!;
  const quote = instrument.quoteCurrency;
  const base = instrument.baseCurrency;

  const buyerHeldUnits = lots * buyer.reservePerLotUnits;
  spendReserved(ctx, buyerAccount, quote, buyerHeldUnits);
  if (buyerHeldUnits < notionalUnits + buyerFeeUnits) fail(`order ${buyer.orderId} reserved too little for its fill`);
  credit(ctx, buyerAccount, quote, buyerHeldUnits - notionalUnits - buyerFeeUnits);
  credit(ctx, buyerAccount, base, lots * instrument.baseUnitsPerLot);
  spendReserved(ctx, sellerAccount, base, lots * seller.reservePerLotUnits);
  credit(ctx, sellerAccount, quote, notionalUnits - sellerFeeUnits);

  const totalFeeUnits = makerFeeUnits + takerFeeUnits;
  const insuranceUnits = totalFeeUnits === 0n ? 0n : (totalFeeUnits * BigInt(fees.insuranceSharePercent)) / 100n;
  addTo(state.insuranceFund, quote, insuranceUnits);
  addTo(state.feePool, quote, totalFeeUnits - insuranceUnits);

  recordFill(maker, priceTicks, qtyLots, makerFeeUnits);
  recordFill(taker, priceTicks, qtyLots, takerFeeUnits);
  ctx.touchOrder(maker);
  ctx.touchOrder(taker);
  const tickDirection = nextTickDirection(state.lastPriceTicks.get(instrument.name), state.lastTickDirection.get(instrument.name), priceTicks);
  state.lastTickDirection.set(instrument.name, tickDirection);
  const trade: TradeView = {
    tradeId: state.nextTradeId++,
    sequence: ctx.sequence,
    instrument: instrument.name,
    priceTicks,
    amountLots: qtyLots,
    takerSide: taker.side,
    makerOrderId: maker.orderId,
    takerOrderId: taker.orderId,
    makerAccountId: maker.accountId,
    takerAccountId: taker.accountId,
    makerFeeUnits,
    takerFeeUnits,
    makerOrderType: maker.type,
    takerOrderType: taker.type,
    makerLabel: maker.label,
    takerLabel: taker.label,
    makerPostOnly: maker.postOnly,
    takerPostOnly: taker.postOnly,
    makerRemainingLots: maker.remainingLots,
    takerRemainingLots: taker.remainingLots,
    tickDirection,
    timeMs: ctx.timeMs,
  };
  ctx.events.push({ kind: 'trade', trade });
  state.lastPriceTicks.set(instrument.name, priceTicks);
  ctx.priceMoved(instrument.name);
}

/** Deribit's tick direction: up 0, equal after up 1, down 2, equal after down 3 (first trade: 0). */
function nextTickDirection(previousPriceTicks: number | undefined, previousDirection: number | undefined, priceTicks: number): number {
  if (previousPriceTicks === undefined || priceTicks > previousPriceTicks) return 0;
  if (priceTicks < previousPriceTicks) return 2;
  return previousDirection === 2 || previousDirection === 3 ? 3 : 1;
}

function recordFill(order: OrderRecord, priceTicks: number, qtyLots: number, feeUnits: bigint): void {
  order.filledLots += qtyLots;
  order.remainingLots -= qtyLots;
  order.filledNotionalTickLots += priceTicks * qtyLots;
  order.feeUnits += feeUnits;
}

/** A fee rounds up: the exchange never undercharges by a rounding. */
export function feeUnits(notionalUnits: bigint, basisPoints: number): bigint {
  if (basisPoints === 0) return 0n;
  return divideRoundingUp(notionalUnits * BigInt(basisPoints), BASIS_POINTS);
}

/**
 * What one lot of an order must hold: for a buy, the notional at `priceTicks` plus the larger of
 * its two fee rates (so any fill at that price or better is covered); for a sell, the base units.
 */
export function reservePerLot(instrument: Instrument, side: 'buy' | 'sell', priceTicks: number, fees: { makerBasisPoints: number; takerBasisPoints: number }): { currency: string; units: bigint } {
  if (side === 'sell') return { currency: instrument.baseCurrency, units: instrument.baseUnitsPerLot };
  const notionalUnits = instrument.quoteUnitsPerTickLot * BigInt(priceTicks);
  return { currency: instrument.quoteCurrency, units: notionalUnits + feeUnits(notionalUnits, Math.max(fees.makerBasisPoints, fees.takerBasisPoints)) };
}

/** Closes an order: releases what it still holds, removes it from the open set, reports it. */
export function closeOrder(ctx: ApplyContext, order: OrderRecord, reason: string): void {
  releaseOrderReserve(ctx, order, order.remainingLots);
  order.remainingLots = 0;
  order.state = reason === '' ? 'filled' : 'cancelled';
  order.cancelReason = reason;
  forgetOrder(ctx.state, order);
  ctx.touchOrder(order);
}

export function releaseOrderReserve(ctx: ApplyContext, order: OrderRecord, lots: number): void {
  if (lots <= 0) return;
  const account = ctx.state.accounts[order.accountId]!;
  release(ctx, account, order.reserveCurrency, BigInt(lots) * order.reservePerLotUnits);
}

/** Removes a closed order from the open indexes (the record lives on in its events). */
function forgetOrder(state: ExchangeState, order: OrderRecord): void {
  state.orders.delete(order.orderId);
  const account: Account = state.accounts[order.accountId]!;
  account.openOrderIds.delete(order.orderId);
}

export function trackGoodTillDate(state: ExchangeState, instrument: string, expiresAtMs: number): void {
  const earliest = state.gtdExpiryByInstrument.get(instrument);
  if (earliest === undefined || expiresAtMs < earliest) state.gtdExpiryByInstrument.set(instrument, expiresAtMs);
}

/**
 * Expires good-till-day orders whose time has come, in every book that holds any; books are
 * visited in a fixed (instrument name) order so replay produces the same events.
 */
export function expireGoodTillDate(ctx: ApplyContext): void {
  const state = ctx.state;
  const due = [...state.gtdExpiryByInstrument].filter(([, expiresAtMs]) => expiresAtMs <= ctx.timeMs).map(([name]) => name).sort();
  for (const name of due) {
    state.gtdExpiryByInstrument.delete(name);
    const book: OrderBook = state.books.get(name)!;
    applyBookReport(ctx, state.instruments.get(name)!, book.expireOrders(ctx.timeMs));
    const nextExpiryMs = book.earliestExpiryMs();
    if (nextExpiryMs !== NO_PRICE) trackGoodTillDate(state, name, nextExpiryMs);
  }
}

function levelChanges(report: BookReport): number[] {
  const levels: number[] = [];
  for (let index = 0; index < report.levelCount; index++) {
    levels.push(report.levelSide[index], report.levelPriceTicks[index], report.levelQtyLots[index], report.levelOrderCount[index]);
  }
  return levels;
}
