// nodejs-order-book (the peer the shared README measures) behind the workload adapter interface.
//
// Its fastest correct path: `limit()` and `market()` directly (no `createOrder` dispatch),
// journaling off, and one options object per book reused for every call (it reads the fields and
// keeps nothing of the object). Ids are strings in its API, so they are converted both ways.
//
// It reports no fill list. The fills of one call are rebuilt from its response, in execution order:
// - `done` holds every maker it filled completely, in match order, each with its price and the size
//   it had left (= the fill's quantity); when the taker itself filled completely, the taker is
//   appended as the last entry of `done`.
// - A maker filled only in part is always the last fill (the taker ran out on it); it is then
//   `partial`, with `partialQuantityProcessed` as the fill's quantity. When the taker did not fill
//   completely, `partial` is the taker's own remainder instead, and no maker was partly filled.
// - `quantityLeft` is what the taker did not fill (it stays at the order's size if nothing matched).

import { createRequire } from 'node:module';
import { OrderBook as PeerOrderBook, Side as PeerSide, type IOrder, type IProcessOrder, type LimitOrderOptions, type MarketOrderOptions } from 'nodejs-order-book';
import type { EngineAdapter, FillListener, RestingOrderVisitor, WorkloadParams } from './adapter.js';

type PeerTimeInForce = NonNullable<LimitOrderOptions['timeInForce']>;
// The package's index does not export its TimeInForce enum; these are its string values.
const GOOD_TILL_CANCELLED = 'GTC' as PeerTimeInForce;
const IMMEDIATE_OR_CANCEL = 'IOC' as PeerTimeInForce;

export interface PeerHandle {
  readonly orderBook: PeerOrderBook;
  readonly limitOptions: LimitOrderOptions;
  readonly marketOptions: MarketOrderOptions;
  /** Reused for `modify` calls, which take price and size together. */
  readonly modifyUpdate: { price: number; size: number };
}

export class PeerAdapterError extends Error {
  override name = 'PeerAdapterError';
}

function create(_params: WorkloadParams): PeerHandle {
  return {
    orderBook: new PeerOrderBook(),
    limitOptions: { id: '', side: PeerSide.BUY, size: 0, price: 0, timeInForce: GOOD_TILL_CANCELLED },
    marketOptions: { side: PeerSide.BUY, size: 0 },
    modifyUpdate: { price: 0, size: 0 },
  };
}

function peerSide(side: number): PeerSide {
  return side === 0 ? PeerSide.BUY : PeerSide.SELL;
}

function limit(handle: PeerHandle, orderId: number, side: number, priceTicks: number, qtyLots: number, timeInForce: number, onFill: FillListener): void {
  const options = handle.limitOptions;
  options.id = String(orderId);
  options.side = peerSide(side);
  options.size = qtyLots;
  options.price = priceTicks;
  options.timeInForce = timeInForce === 0 ? GOOD_TILL_CANCELLED : IMMEDIATE_OR_CANCEL;
  emitLimitFills(handle.orderBook.limit(options), orderId, onFill);
}

function market(handle: PeerHandle, orderId: number, side: number, qtyLots: number, onFill: FillListener): void {
  const options = handle.marketOptions;
  options.side = peerSide(side);
  options.size = qtyLots;
  const response = handle.orderBook.market(options);
  if (response.err !== null) throwRejected(orderId, response);
  // A market taker never appears in `done`, and `partial` can only be a maker.
  emitMakerFills(response.done, response.done.length, orderId, onFill);
  if (response.partial !== null && response.partialQuantityProcessed > 0) {
    onFill(Number(response.partial.id), orderId, response.partial.price, response.partialQuantityProcessed);
  }
}

function cancel(handle: PeerHandle, orderId: number): boolean {
  return handle.orderBook.cancel(String(orderId)) !== undefined;
}

/** Its `modify` cancels and re-places the order as a GTC limit, so a crossing price matches. */
function amend(handle: PeerHandle, orderId: number, priceTicks: number, qtyLots: number, onFill: FillListener): boolean {
  const update = handle.modifyUpdate;
  update.price = priceTicks;
  update.size = qtyLots;
  const response = handle.orderBook.modify(String(orderId), update);
  if (response.err !== null) {
    if (handle.orderBook.order(String(orderId)) === undefined) return false;
    throwRejected(orderId, response);
  }
  emitLimitFills(response, orderId, onFill);
  return true;
}

function emitLimitFills(response: IProcessOrder, takerOrderId: number, onFill: FillListener): void {
  if (response.err !== null) throwRejected(takerOrderId, response);
  const done = response.done;
  if (done.length === 0) return;
  const takerFilledCompletely = response.quantityLeft === 0;
  // A completely filled taker is appended to `done` after its makers.
  emitMakerFills(done, takerFilledCompletely ? done.length - 1 : done.length, takerOrderId, onFill);
  const partial = response.partial;
  if (takerFilledCompletely && partial !== null && response.partialQuantityProcessed > 0) {
    onFill(Number(partial.id), takerOrderId, partial.price, response.partialQuantityProcessed);
  }
}

function emitMakerFills(done: IOrder[], makerCount: number, takerOrderId: number, onFill: FillListener): void {
  for (let index = 0; index < makerCount; index++) {
    const maker = done[index] as { id: string; price: number; size: number };
    onFill(Number(maker.id), takerOrderId, maker.price, maker.size);
  }
}

function throwRejected(orderId: number, response: IProcessOrder): never {
  throw new PeerAdapterError(`nodejs-order-book rejected order ${orderId}: ${response.err?.message ?? 'unknown error'}`);
}

// Reads below run once per replay, outside the measured loop, so they may use the snapshot.

function bestBid(handle: PeerHandle): number | null {
  return bestOf(handle.orderBook.snapshot().bids);
}

function bestAsk(handle: PeerHandle): number | null {
  return bestOf(handle.orderBook.snapshot().asks);
}

/** Snapshot levels are best first on both sides (the bid tree sorts descending). */
function bestOf(levels: Array<{ price: number }>): number | null {
  return levels.length === 0 ? null : levels[0].price;
}

function forEachResting(handle: PeerHandle, visit: RestingOrderVisitor): void {
  const snapshot = handle.orderBook.snapshot();
  visitLevels(0, snapshot.bids, visit);
  visitLevels(1, snapshot.asks, visit);
}

function visitLevels(side: number, levels: Array<{ price: number; orders: Array<{ id: string; size: number }> }>, visit: RestingOrderVisitor): void {
  for (const level of levels) {
    for (const order of level.orders) visit(side, Number(order.id), level.price, order.size);
  }
}

function peerVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('nodejs-order-book/package.json') as { version: string }).version;
}

const nodejsOrderBookAdapter = {
  name: 'nodejs-order-book',
  version: peerVersion(),
  create,
  limit,
  market,
  cancel,
  amend,
  bestBid,
  bestAsk,
  forEachResting,
} satisfies EngineAdapter<PeerHandle>;

export default nodejsOrderBookAdapter;
