import { BookResultCode, type DoneReason, type Side } from './types.js';

// What one book call did, as data the engine turns into events. The book owns a single report
// and overwrites it on every mutating call, so the hot path allocates nothing: read it (or copy
// what you need) before the next call. Lists are parallel typed arrays with a count, in the
// order things happened.

export class BookReport {
  code: BookResultCode = BookResultCode.Ok;

  /** The order the call acted on (the taker of any fills below). */
  orderId = 0;
  /** Total quantity the order filled in this call. */
  filledQtyLots = 0;
  /** Quantity left resting on the book after the call (0 when it does not rest). */
  restingQtyLots = 0;
  /** Price it rests at: the limit, or the re-priced price of a post-only order. */
  restingPriceTicks = 0;

  /** Fills in execution order; the taker is `orderId`. Price is the maker's. */
  fillCount = 0;
  fillMakerOrderId = new Float64Array(16);
  fillMakerAccountId = new Float64Array(16);
  fillPriceTicks = new Float64Array(16);
  fillQtyLots = new Float64Array(16);
  /** What the maker has left after this fill (0 means it is done, Filled). */
  fillMakerRemainingLots = new Float64Array(16);

  /** Orders that left the book or never entered it, and why. `remainingLots` is what was unfilled. */
  doneCount = 0;
  doneOrderId = new Float64Array(16);
  doneAccountId = new Float64Array(16);
  doneReason = new Uint8Array(16);
  doneRemainingLots = new Float64Array(16);

  /** Orders whose quantity was reduced without a fill (self-trade decrement), and by how much. */
  reducedCount = 0;
  reducedOrderId = new Float64Array(4);
  reducedByLots = new Float64Array(4);

  /** Price levels whose total changed, once each, with their totals after the call. */
  levelCount = 0;
  levelSide = new Uint8Array(16);
  levelPriceTicks = new Float64Array(16);
  levelQtyLots = new Float64Array(16);
  levelOrderCount = new Float64Array(16);

  /** @internal Starts a new call. */
  reset(orderId: number): void {
    this.code = BookResultCode.Ok;
    this.orderId = orderId;
    this.filledQtyLots = 0;
    this.restingQtyLots = 0;
    this.restingPriceTicks = 0;
    this.fillCount = 0;
    this.doneCount = 0;
    this.reducedCount = 0;
    this.levelCount = 0;
  }

  /** @internal */
  addFill(makerOrderId: number, makerAccountId: number, priceTicks: number, qtyLots: number, makerRemainingLots: number): void {
    const index = this.fillCount;
    if (index === this.fillMakerOrderId.length) this.growFills();
    this.fillMakerOrderId[index] = makerOrderId;
    this.fillMakerAccountId[index] = makerAccountId;
    this.fillPriceTicks[index] = priceTicks;
    this.fillQtyLots[index] = qtyLots;
    this.fillMakerRemainingLots[index] = makerRemainingLots;
    this.fillCount = index + 1;
  }

  /** @internal */
  addDone(orderId: number, accountId: number, reason: DoneReason, remainingLots: number): void {
    const index = this.doneCount;
    if (index === this.doneOrderId.length) this.growDone();
    this.doneOrderId[index] = orderId;
    this.doneAccountId[index] = accountId;
    this.doneReason[index] = reason;
    this.doneRemainingLots[index] = remainingLots;
    this.doneCount = index + 1;
  }

  /** @internal */
  addReduced(orderId: number, byLots: number): void {
    const index = this.reducedCount;
    if (index === this.reducedOrderId.length) {
      this.reducedOrderId = grow(this.reducedOrderId);
      this.reducedByLots = grow(this.reducedByLots);
    }
    this.reducedOrderId[index] = orderId;
    this.reducedByLots[index] = byLots;
    this.reducedCount = index + 1;
  }

  /** @internal Appends a level entry and returns its index, for later in-place updates. */
  addLevel(side: Side, priceTicks: number, qtyLots: number, orderCount: number): number {
    const index = this.levelCount;
    if (index === this.levelSide.length) this.growLevels();
    this.levelSide[index] = side;
    this.levelPriceTicks[index] = priceTicks;
    this.levelQtyLots[index] = qtyLots;
    this.levelOrderCount[index] = orderCount;
    this.levelCount = index + 1;
    return index;
  }

  /** @internal The index of the entry for (side, price) in this call, or -1. */
  findLevel(side: Side, priceTicks: number): number {
    for (let index = 0; index < this.levelCount; index++) {
      if (this.levelSide[index] === side && this.levelPriceTicks[index] === priceTicks) return index;
    }
    return -1;
  }

  /** @internal Drops an entry, keeping the others in order. */
  removeLevel(index: number): void {
    const last = this.levelCount - 1;
    this.levelSide.copyWithin(index, index + 1, last + 1);
    this.levelPriceTicks.copyWithin(index, index + 1, last + 1);
    this.levelQtyLots.copyWithin(index, index + 1, last + 1);
    this.levelOrderCount.copyWithin(index, index + 1, last + 1);
    this.levelCount = last;
  }

  /** @internal */
  setLevel(index: number, qtyLots: number, orderCount: number): void {
    this.levelQtyLots[index] = qtyLots;
    this.levelOrderCount[index] = orderCount;
  }

  private growFills(): void {
    this.fillMakerOrderId = grow(this.fillMakerOrderId);
    this.fillMakerAccountId = grow(this.fillMakerAccountId);
    this.fillPriceTicks = grow(this.fillPriceTicks);
    this.fillQtyLots = grow(this.fillQtyLots);
    this.fillMakerRemainingLots = grow(this.fillMakerRemainingLots);
  }

  private growDone(): void {
    this.doneOrderId = grow(this.doneOrderId);
    this.doneAccountId = grow(this.doneAccountId);
    this.doneReason = grow(this.doneReason);
    this.doneRemainingLots = grow(this.doneRemainingLots);
  }

  private growLevels(): void {
    this.levelSide = grow(this.levelSide);
    this.levelPriceTicks = grow(this.levelPriceTicks);
    this.levelQtyLots = grow(this.levelQtyLots);
    this.levelOrderCount = grow(this.levelOrderCount);
  }
}

function grow<T extends Float64Array | Uint8Array>(array: T): T {
  const bigger = new (array.constructor as new (length: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}
