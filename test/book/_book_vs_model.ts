// Folder-private checks shared by the book's model tests: read the real book's report and
// state into the reference model's plain shapes, and fail with a readable diff where they differ.

import { deepStrictEqual } from 'node:assert/strict';
import { NO_PRICE, Side, type BookReport, type DoneReason, type OrderBook } from '../../book/index.js';
import type { NaiveBook, NaiveLevel, NaiveResult } from '../model/naive_book.js';

/** What one real book call reported, in the model's shape (levels sorted by side, then price). */
export type BookOutcome = Omit<NaiveResult, 'applicableRejections'>;

/**
 * The report must say what the model says: the code, the taker's filled and resting quantity
 * (and price when it rests), every fill in order, every done order in order, every reduction,
 * and the set of changed levels with their final totals. When several rejections apply at once
 * the specification does not rank them, so any one of them is accepted.
 */
export function expectReportMatchesModel(report: BookReport, expected: NaiveResult): void {
  const actual = readReport(report);
  const { applicableRejections, ...expectedOutcome } = expected;
  if (applicableRejections.length > 1 && applicableRejections.includes(actual.code)) {
    expectedOutcome.code = actual.code;
  }
  deepStrictEqual(actual, expectedOutcome, 'the book reported something else than the model');
}

/** The full book (levels best first, orders oldest first, every field) and the best prices. */
export function expectBookMatchesModel(book: OrderBook, model: NaiveBook): void {
  for (const side of [Side.Buy, Side.Sell] as const) {
    const expectedLevels = model.levels(side);
    deepStrictEqual(readLevels(book, side), expectedLevels, `the ${sideName(side)} side differs from the model`);
    const expectedTotals = expectedLevels.map((level) => ({
      priceTicks: level.priceTicks,
      qtyLots: level.orders.reduce((sum, order) => sum + order.qtyLots, 0),
      orderCount: level.orders.length,
    }));
    deepStrictEqual(book.topLevels(side, Number.MAX_SAFE_INTEGER), expectedTotals, `${sideName(side)} level totals differ`);
  }
  deepStrictEqual(book.bestBid(), model.bestBid() ?? NO_PRICE, 'best bid differs');
  deepStrictEqual(book.bestAsk(), model.bestAsk() ?? NO_PRICE, 'best ask differs');
  deepStrictEqual(book.restingOrderCount, model.orders().length, 'resting order count differs');
}

/**
 * What must hold after every call whatever the model says: a book that is never crossed at rest,
 * and fills that add up to the taker's filled quantity.
 */
export function expectCallInvariants(book: OrderBook, report: BookReport): void {
  const bid = book.bestBid();
  const ask = book.bestAsk();
  if (bid !== NO_PRICE && ask !== NO_PRICE && !(bid < ask)) throw new Error(`book crossed at rest: bid ${bid} >= ask ${ask}`);
  let filledLots = 0;
  for (let index = 0; index < report.fillCount; index++) filledLots += report.fillQtyLots[index];
  if (filledLots !== report.filledQtyLots) {
    throw new Error(`fills add up to ${filledLots} lots but the taker filled ${report.filledQtyLots}`);
  }
}

/**
 * The book's own structural checks, and no resting order with a quantity outside
 * 1..qtyLotsMax. Linear in the book's size.
 */
export function expectStructureInvariants(book: OrderBook): void {
  book.validateInternalState();
  book.forEachResting((side, orderId, priceTicks, qtyLots) => {
    if (!(qtyLots >= 1 && qtyLots <= book.limits.qtyLotsMax)) throw new Error(`order ${orderId} rests with ${qtyLots} lots`);
  });
}

export function readReport(report: BookReport): BookOutcome {
  const outcome: BookOutcome = {
    code: report.code,
    orderId: report.orderId,
    filledQtyLots: report.filledQtyLots,
    restingQtyLots: report.restingQtyLots,
    restingPriceTicks: report.restingQtyLots > 0 ? report.restingPriceTicks : 0,
    fills: [],
    done: [],
    reduced: [],
    levels: [],
  };
  for (let index = 0; index < report.fillCount; index++) {
    outcome.fills.push({
      makerOrderId: report.fillMakerOrderId[index],
      makerAccountId: report.fillMakerAccountId[index],
      priceTicks: report.fillPriceTicks[index],
      qtyLots: report.fillQtyLots[index],
      makerRemainingLots: report.fillMakerRemainingLots[index],
    });
  }
  for (let index = 0; index < report.doneCount; index++) {
    outcome.done.push({
      orderId: report.doneOrderId[index],
      accountId: report.doneAccountId[index],
      reason: report.doneReason[index] as DoneReason,
      remainingLots: report.doneRemainingLots[index],
    });
  }
  for (let index = 0; index < report.reducedCount; index++) {
    outcome.reduced.push({ orderId: report.reducedOrderId[index], byLots: report.reducedByLots[index] });
  }
  for (let index = 0; index < report.levelCount; index++) {
    outcome.levels.push({
      side: report.levelSide[index] as Side,
      priceTicks: report.levelPriceTicks[index],
      qtyLots: report.levelQtyLots[index],
      orderCount: report.levelOrderCount[index],
    });
  }
  outcome.levels.sort((a, b) => a.side - b.side || a.priceTicks - b.priceTicks);
  return outcome;
}

function readLevels(book: OrderBook, side: Side): NaiveLevel[] {
  return book.topLevels(side, Number.MAX_SAFE_INTEGER).map((level) => ({
    priceTicks: level.priceTicks,
    orders: book.levelOrders(side, level.priceTicks).map((order) => ({ ...order })),
  }));
}

function sideName(side: Side): string {
  return side === Side.Buy ? 'bid' : 'ask';
}
