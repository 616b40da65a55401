// A deliberately plain price-time book, independent of book/, that the workload generator plays
// every generated operation into. It decides what the generator may emit (which orders rest, what
// the k-th opposite level is) and yields the `# expect` outcome, so that a replay through any
// engine is checked against a second implementation rather than against itself.
//
// Plain means: levels are arrays sorted best-last, each level a FIFO array of order records, and a
// cancelled order is only marked dead in its queue and skipped later (compacted when dead ones pile
// up). It implements the shared semantics, plus the `E` (amend) extension documented in workload.ts.

import type { EngineAdapter, FillListener, RestingOrderVisitor, WorkloadParams } from './adapters/adapter.js';

interface RestingOrder {
  orderId: number;
  side: number;
  priceTicks: number;
  qtyLots: number;
  live: boolean;
  /** Position in `ReferenceBook.restingOrders`, for an O(1) swap-remove. */
  restingIndex: number;
}

interface Level {
  priceTicks: number;
  queue: RestingOrder[];
  /** Queue entries before `head` are gone (filled); later dead entries were cancelled or moved. */
  head: number;
  liveCount: number;
  deadCount: number;
}

/** Compact a level's queue once this many dead entries sit in it and they outnumber the live ones. */
const COMPACT_DEAD_MIN = 64;

export class ReferenceBook {
  /** Per side (0 = bids, 1 = asks), levels sorted so that the best is last. */
  private readonly levels: [Level[], Level[]] = [[], []];
  private readonly ordersById = new Map<number, RestingOrder>();
  /** Every live resting order, unordered, for picking one uniformly at random. */
  private readonly restingOrders: RestingOrder[] = [];

  get restingCount(): number {
    return this.restingOrders.length;
  }

  /** The `index`-th live resting order in no particular order (0 ≤ index < restingCount). */
  restingOrderAt(index: number): { orderId: number; side: number; priceTicks: number; qtyLots: number } {
    return this.restingOrders[index];
  }

  levelCount(side: number): number {
    return this.levels[side].length;
  }

  /** Price of the `rank`-th best level of a side (rank 1 is the best), or null. */
  levelPriceTicks(side: number, rank: number): number | null {
    const levels = this.levels[side];
    const index = levels.length - rank;
    return index >= 0 && index < levels.length ? levels[index].priceTicks : null;
  }

  bestPriceTicks(side: number): number | null {
    return this.levelPriceTicks(side, 1);
  }

  limit(orderId: number, side: number, priceTicks: number, qtyLots: number, timeInForce: number, onFill: FillListener): void {
    const remainingLots = this.match(orderId, side, priceTicks, qtyLots, onFill);
    if (remainingLots > 0 && timeInForce === 0) this.rest(orderId, side, priceTicks, remainingLots);
  }

  market(orderId: number, side: number, qtyLots: number, onFill: FillListener): void {
    this.match(orderId, side, side === 0 ? Infinity : -Infinity, qtyLots, onFill);
  }

  cancel(orderId: number): boolean {
    const order = this.ordersById.get(orderId);
    if (order === undefined) return false;
    this.remove(order);
    return true;
  }

  /**
   * The `E` semantics: a smaller quantity at the same price keeps the order's place; anything else
   * (more quantity, or a new price) takes it out and places it again as a GTC limit of the same
   * side, which matches first when the new price crosses.
   */
  amend(orderId: number, priceTicks: number, qtyLots: number, onFill: FillListener): boolean {
    const order = this.ordersById.get(orderId);
    if (order === undefined) return false;
    if (priceTicks === order.priceTicks && qtyLots <= order.qtyLots) {
      order.qtyLots = qtyLots;
      return true;
    }
    const side = order.side;
    this.remove(order);
    this.limit(orderId, side, priceTicks, qtyLots, 0, onFill);
    return true;
  }

  forEachResting(visit: RestingOrderVisitor): void {
    for (const side of [0, 1]) {
      const levels = this.levels[side];
      for (let index = levels.length - 1; index >= 0; index--) {
        const level = levels[index];
        for (let position = level.head; position < level.queue.length; position++) {
          const order = level.queue[position];
          if (order.live) visit(side, order.orderId, order.priceTicks, order.qtyLots);
        }
      }
    }
  }

  /** Fills against the opposite side while its best price is within the limit; returns what is left. */
  private match(takerOrderId: number, side: number, limitTicks: number, qtyLots: number, onFill: FillListener): number {
    const opposite = this.levels[1 - side];
    let remainingLots = qtyLots;
    while (remainingLots > 0 && opposite.length > 0) {
      const level = opposite[opposite.length - 1];
      if (side === 0 ? level.priceTicks > limitTicks : level.priceTicks < limitTicks) break;
      remainingLots = this.matchLevel(level, takerOrderId, remainingLots, onFill);
      if (level.liveCount === 0) opposite.pop();
    }
    return remainingLots;
  }

  private matchLevel(level: Level, takerOrderId: number, remainingLots: number, onFill: FillListener): number {
    while (remainingLots > 0 && level.liveCount > 0) {
      const maker = level.queue[level.head];
      if (!maker.live) {
        level.head++;
        level.deadCount--;
        continue;
      }
      const fillLots = Math.min(maker.qtyLots, remainingLots);
      onFill(maker.orderId, takerOrderId, level.priceTicks, fillLots);
      remainingLots -= fillLots;
      maker.qtyLots -= fillLots;
      if (maker.qtyLots === 0) {
        this.forget(maker);
        level.head++;
        level.liveCount--;
      }
    }
    return remainingLots;
  }

  private rest(orderId: number, side: number, priceTicks: number, qtyLots: number): void {
    const order: RestingOrder = { orderId, side, priceTicks, qtyLots, live: true, restingIndex: this.restingOrders.length };
    this.restingOrders.push(order);
    this.ordersById.set(orderId, order);
    const level = this.levelAt(side, priceTicks);
    level.queue.push(order);
    level.liveCount++;
  }

  /** Takes a live order out of the book: marks it dead in its queue and drops an emptied level. */
  private remove(order: RestingOrder): void {
    this.forget(order);
    const levels = this.levels[order.side];
    const index = findLevel(levels, order.side, order.priceTicks);
    const level = levels[index];
    level.liveCount--;
    level.deadCount++;
    if (level.liveCount === 0) {
      levels.splice(index, 1);
    } else if (level.deadCount >= COMPACT_DEAD_MIN && level.deadCount > level.liveCount) {
      level.queue = level.queue.slice(level.head).filter((entry) => entry.live);
      level.head = 0;
      level.deadCount = 0;
    }
  }

  private forget(order: RestingOrder): void {
    order.live = false;
    this.ordersById.delete(order.orderId);
    const last = this.restingOrders.pop()!;
    if (last !== order) {
      last.restingIndex = order.restingIndex;
      this.restingOrders[order.restingIndex] = last;
    }
  }

  private levelAt(side: number, priceTicks: number): Level {
    const levels = this.levels[side];
    const index = findLevel(levels, side, priceTicks);
    if (index >= 0) return levels[index];
    const level: Level = { priceTicks, queue: [], head: 0, liveCount: 0, deadCount: 0 };
    levels.splice(-index - 1, 0, level);
    return level;
  }
}

/**
 * Index of the level at `priceTicks`, or -(insertion point) - 1. Bids ascend and asks descend, so
 * that the best level of either side is the last one.
 */
function findLevel(levels: Level[], side: number, priceTicks: number): number {
  const key = side === 0 ? priceTicks : -priceTicks;
  let low = 0;
  let high = levels.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const middleKey = side === 0 ? levels[middle].priceTicks : -levels[middle].priceTicks;
    if (middleKey < key) low = middle + 1;
    else if (middleKey > key) high = middle - 1;
    else return middle;
  }
  return -low - 1;
}

/** The reference book behind the adapter interface, so the same replay and outcome code can drive it. */
export const referenceAdapter = {
  name: 'reference',
  version: '1',
  create: (_params: WorkloadParams) => new ReferenceBook(),
  limit: (book, orderId, side, priceTicks, qtyLots, timeInForce, onFill) => book.limit(orderId, side, priceTicks, qtyLots, timeInForce, onFill),
  market: (book, orderId, side, qtyLots, onFill) => book.market(orderId, side, qtyLots, onFill),
  cancel: (book, orderId) => book.cancel(orderId),
  amend: (book, orderId, priceTicks, qtyLots, onFill) => book.amend(orderId, priceTicks, qtyLots, onFill),
  bestBid: (book) => book.bestPriceTicks(0),
  bestAsk: (book) => book.bestPriceTicks(1),
  forEachResting: (book, visit) => book.forEachResting(visit),
} satisfies EngineAdapter<ReferenceBook>;
