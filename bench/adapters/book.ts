// The project's order book (book/) behind the shared workload adapter interface, so that any
// harness can replay `lobwl` files into it (compiled: dist/bench/adapters/book.js, default export).
//
// Every call here runs inside the measured loop, so it allocates nothing: one OrderSpec per book is
// overwritten for each order (the book copies what it keeps), and fills are read straight out of
// the book's reused BookReport.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ANONYMOUS_ACCOUNT,
  BookResultCode,
  NO_PRICE,
  OrderBook,
  OrderType,
  TimeInForce,
  blankOrderSpec,
  type BookReport,
  type OrderSpec,
  type Side,
} from '../../book/index.js';
import type { EngineAdapter, FillListener, RestingOrderVisitor, WorkloadParams } from './adapter.js';

/** Quantities in the workloads are a few hundred lots at most; this only has to bound them. */
const QTY_LOTS_MAX = 1e9;
/** Far above any workload's resting count (the canonical one holds about 5,000). */
const ORDERS_MAX = 1 << 22;

/** What `create` returns: the book plus the one spec reused for every order placed into it. */
export interface BookHandle {
  readonly orderBook: OrderBook;
  readonly spec: OrderSpec;
  /** Protection price of market buys: they may trade through every price the book allows. */
  readonly marketBuyPriceTicks: number;
}

export class BookAdapterError extends Error {
  override name = 'BookAdapterError';
}

function create(params: WorkloadParams): BookHandle {
  const orderBook = new OrderBook({
    priceTicksMax: params.maxPrice,
    qtyLotsMax: QTY_LOTS_MAX,
    ordersMax: ORDERS_MAX,
    accountIdMax: ANONYMOUS_ACCOUNT,
  });
  // Every field is written once here with its final type, so the object keeps one shape.
  const spec: OrderSpec = blankOrderSpec();
  return { orderBook, spec, marketBuyPriceTicks: params.maxPrice };
}

function limit(handle: BookHandle, orderId: number, side: number, priceTicks: number, qtyLots: number, timeInForce: number, onFill: FillListener): void {
  const spec = handle.spec;
  spec.orderId = orderId;
  spec.side = side as Side;
  spec.type = OrderType.Limit;
  spec.priceTicks = priceTicks;
  spec.qtyLots = qtyLots;
  spec.timeInForce = timeInForce === 0 ? TimeInForce.GoodTillCancelled : TimeInForce.ImmediateOrCancel;
  emitFills(handle.orderBook.place(spec), onFill);
}

function market(handle: BookHandle, orderId: number, side: number, qtyLots: number, onFill: FillListener): void {
  const spec = handle.spec;
  spec.orderId = orderId;
  spec.side = side as Side;
  spec.type = OrderType.Market;
  // The workload's market order has no limit: protect at the far end of the allowed range.
  spec.priceTicks = side === 0 ? handle.marketBuyPriceTicks : 1;
  spec.qtyLots = qtyLots;
  spec.timeInForce = TimeInForce.ImmediateOrCancel;
  emitFills(handle.orderBook.place(spec), onFill);
}

function cancel(handle: BookHandle, orderId: number): boolean {
  return handle.orderBook.cancel(orderId).code === BookResultCode.Ok;
}

function amend(handle: BookHandle, orderId: number, priceTicks: number, qtyLots: number, onFill: FillListener): boolean {
  const report = handle.orderBook.amend(orderId, priceTicks, qtyLots);
  if (report.code === BookResultCode.UnknownOrder) return false;
  emitFills(report, onFill);
  return true;
}

/** Hands the report's fills to the listener in execution order; a rejection is a harness bug. */
function emitFills(report: BookReport, onFill: FillListener): void {
  if (report.code !== BookResultCode.Ok) throwRejected(report);
  const fillCount = report.fillCount;
  if (fillCount === 0) return;
  const takerOrderId = report.orderId;
  const makerOrderIds = report.fillMakerOrderId;
  const pricesTicks = report.fillPriceTicks;
  const qtysLots = report.fillQtyLots;
  for (let index = 0; index < fillCount; index++) {
    onFill(makerOrderIds[index], takerOrderId, pricesTicks[index], qtysLots[index]);
  }
}

// Kept out of line so that the hot function above stays small.
function throwRejected(report: BookReport): never {
  throw new BookAdapterError(`book rejected order ${report.orderId} with code ${report.code}`);
}

function bestBid(handle: BookHandle): number | null {
  const priceTicks = handle.orderBook.bestBid();
  return priceTicks === NO_PRICE ? null : priceTicks;
}

function bestAsk(handle: BookHandle): number | null {
  const priceTicks = handle.orderBook.bestAsk();
  return priceTicks === NO_PRICE ? null : priceTicks;
}

function forEachResting(handle: BookHandle, visit: RestingOrderVisitor): void {
  // The book already walks in the workload's bookHash order; its fifth argument (the account) is
  // not part of the interface, so it is not passed on.
  handle.orderBook.forEachResting((side, orderId, priceTicks, qtyLots) => visit(side, orderId, priceTicks, qtyLots));
}

/** The project's version, from the nearest package.json above this file (src or dist). */
function projectVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { version?: string };
      if (typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No manifest at this level: keep walking up.
    }
    directory = dirname(directory);
  }
  return '0.0.0';
}

const bookAdapter = {
  name: 'book',
  version: projectVersion(),
  create,
  limit,
  market,
  cancel,
  amend,
  bestBid,
  bestAsk,
  forEachResting,
} satisfies EngineAdapter<BookHandle>;

export default bookAdapter;
