import { BookReport } from './report.js';
import { Fnv64 } from './_fnv64.js';
import { ExpiryHeap } from './_expiry_heap.js';
import { IdIndex } from './_id_index.js';
import {
  ANONYMOUS_ACCOUNT,
  BookResultCode,
  DoneReason,
  NO_PRICE,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  blankOrderSpec,
  type BookLimits,
  type LevelView,
  type OrderSpec,
  type RestingOrderView,
} from './types.js';

// One instrument's order book: strict price-time priority, pure (no clock, no random, no I/O).
//
// Layout, chosen so the hot path allocates nothing:
// - Resting orders live in parallel typed arrays indexed by a slot number, recycled through a
//   free list. `slotNext`/`slotPrev` link each price level's FIFO queue, so removing an order
//   anywhere is O(1).
// - Each side keeps its price levels in an array sorted so that the best level is the LAST
//   element (`key` = price for bids, -price for asks, ascending). Taking or emptying the best
//   level is a push or pop; a level elsewhere is found by binary search.
// - `Level` objects are pooled; `slotLevel` points each live order at its level.
// - Good-till-date orders are also in a min-heap on (expiry, order id), checked lazily.
// Every mutating call overwrites `report` (see report.ts) and returns it.

const NONE = -1;
const SAFE_INTEGER_LIMIT = 2 ** 53;
// Small: the exchange lists thousands of option books, most of them nearly empty; slots double as needed.
const INITIAL_SLOTS = 16;

export class BookInvariantError extends Error {
  override name = 'BookInvariantError';
}

function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BookInvariantError(message);
}

class Level {
  /** Sort key: price for bids, -price for asks; the best level has the largest key. */
  key = 0;
  priceTicks = 0;
  headSlot = NONE;
  tailSlot = NONE;
  qtyLots = 0;
  orderCount = 0;
  /** Which call last reported this level, and where in the report. */
  reportStamp = 0;
  reportIndex = 0;
}

export class OrderBook {
  readonly limits: Readonly<BookLimits>;
  readonly report = new BookReport();

  private readonly bidLevels: Level[] = [];
  private readonly askLevels: Level[] = [];
  private readonly levelPool: Level[] = [];
  private readonly slotByOrderId = new IdIndex();
  private readonly expiries = new ExpiryHeap();

  private slotCapacity = 0;
  private freeSlot = NONE;
  private slotOrderId = new Float64Array(0);
  private slotAccountId = new Float64Array(0);
  private slotSide = new Uint8Array(0);
  private slotPriceTicks = new Float64Array(0);
  private slotQtyLots = new Float64Array(0);
  private slotTimeInForce = new Uint8Array(0);
  private slotPostOnly = new Uint8Array(0);
  private slotSelfTrade = new Uint8Array(0);
  private slotExpiresAtMs = new Float64Array(0);
  private slotArrival = new Float64Array(0);
  private slotNext = new Int32Array(0);
  private slotPrev = new Int32Array(0);
  private slotLevel: (Level | null)[] = [];

  /** Scratch spec for amends, shaped like callers' specs so `execute` stays monomorphic. */
  private readonly amendSpec: OrderSpec = blankOrderSpec();
  private arrivalCounter = 0;
  private callStamp = 0;
  /** Latest time the book was told (by `expireOrders`); GTD orders must expire after it. */
  private nowMs = 0;

  constructor(limits: BookLimits) {
    assertLimits(limits);
    this.limits = Object.freeze({ ...limits });
    this.growSlots(Math.min(INITIAL_SLOTS, limits.ordersMax));
  }

  // ---------------------------------------------------------------------------------------
  // Commands

  /** Places an order: matches what crosses, then rests, cancels or rejects the rest. */
  place(spec: OrderSpec): BookReport {
    const report = this.beginCall(spec.orderId);
    const code = this.validateSpec(spec);
    if (code !== BookResultCode.Ok) {
      report.code = code;
      return report;
    }
    const { orderId, accountId, side, timeInForce, postOnly } = spec;
    let priceTicks = spec.priceTicks;
    if (postOnly !== PostOnly.None && this.crossesOpposite(side, priceTicks)) {
      priceTicks = postOnly === PostOnly.Reprice ? this.oneTickBehindOpposite(side) : NONE;
      if (priceTicks === NONE) {
        report.addDone(orderId, accountId, DoneReason.PostOnlyRejected, spec.qtyLots);
        return report;
      }
    }
    if (timeInForce === TimeInForce.FillOrKill && this.fillableQtyLots(spec) < spec.qtyLots) {
      report.addDone(orderId, accountId, DoneReason.FillOrKillUnfillable, spec.qtyLots);
      return report;
    }
    this.execute(spec, priceTicks, spec.qtyLots, spec.expiresAtMs);
    return report;
  }

  /** Cancels one resting order. */
  cancel(orderId: number): BookReport {
    const report = this.beginCall(orderId);
    const slot = this.slotByOrderId.get(orderId);
    if (slot === -1) {
      report.code = BookResultCode.UnknownOrder;
      return report;
    }
    this.removeResting(slot, DoneReason.Cancelled);
    return report;
  }

  /**
   * Changes a resting order's price and/or remaining quantity. Reducing the quantity at the same
   * price keeps its place in the queue; raising it, or any price change, sends it to the back of
   * its (new) level, and a new price that crosses matches like a new order of the same kind.
   * A post-only order keeps its flavour: `Reject` refuses the amend (the order stays as it was),
   * `Reprice` re-prices it one tick behind the opposite best.
   */
  amend(orderId: number, priceTicks: number, qtyLots: number): BookReport {
    const report = this.beginCall(orderId);
    const slot = this.slotByOrderId.get(orderId);
    if (slot === -1) {
      report.code = BookResultCode.UnknownOrder;
      return report;
    }
    if (!this.isPriceInRange(priceTicks)) {
      report.code = BookResultCode.PriceOutOfRange;
      return report;
    }
    if (!this.isQtyInRange(qtyLots)) {
      report.code = BookResultCode.QuantityOutOfRange;
      return report;
    }
    if (priceTicks === this.slotPriceTicks[slot]) {
      this.amendQtyAtSamePrice(slot, qtyLots);
    } else {
      this.amendPrice(slot, priceTicks, qtyLots);
    }
    return report;
  }

  /** Cancels every resting order of an account, or of one side of it; best price first, FIFO. */
  cancelAllOfAccount(accountId: number, side?: Side): BookReport {
    const report = this.beginCall(0);
    if (side === undefined || side === Side.Buy) this.cancelAccountOnSide(accountId, this.bidLevels);
    if (side === undefined || side === Side.Sell) this.cancelAccountOnSide(accountId, this.askLevels);
    return report;
  }

  /**
   * Tells the book the time. Every good-till-date order whose expiry is at or before `nowMs`
   * leaves the book (Expired), earliest expiry first, then by order id (which a snapshot keeps,
   * unlike arrival order across levels). Time never goes
   * backwards: an earlier time than one already seen is ignored.
   */
  expireOrders(nowMs: number): BookReport {
    const report = this.beginCall(0);
    if (nowMs > this.nowMs) this.nowMs = nowMs;
    const expiries = this.expiries;
    while (expiries.size > 0 && expiries.peekTimeMs() <= this.nowMs) {
      const slot = expiries.peekSlot();
      const arrival = expiries.peekArrival();
      expiries.pop();
      // Entries are left behind when an order is cancelled or moved; arrival numbers are unique,
      // so a mismatch means the entry is stale.
      if (this.slotLevel[slot] !== null && this.slotArrival[slot] === arrival) {
        this.removeResting(slot, DoneReason.Expired);
      }
    }
    return report;
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  bestBid(): number {
    const levels = this.bidLevels;
    return levels.length === 0 ? NO_PRICE : levels[levels.length - 1].priceTicks;
  }

  bestAsk(): number {
    const levels = this.askLevels;
    return levels.length === 0 ? NO_PRICE : levels[levels.length - 1].priceTicks;
  }

  /**
   * The earliest expiry among good-till-date entries, or NO_PRICE when there are none. It may name
   * an order already gone (entries are dropped lazily), so it is a lower bound: expiring at that
   * time is always safe.
   */
  earliestExpiryMs(): number {
    return this.expiries.size === 0 ? NO_PRICE : this.expiries.peekTimeMs();
  }

  /** The latest time the book has been told by `expireOrders`. */
  get timeMs(): number {
    return this.nowMs;
  }

  get restingOrderCount(): number {
    return this.slotByOrderId.size;
  }

  hasOrder(orderId: number): boolean {
    return this.slotByOrderId.has(orderId);
  }

  order(orderId: number): RestingOrderView | undefined {
    const slot = this.slotByOrderId.get(orderId);
    return slot === -1 ? undefined : this.viewOfSlot(slot);
  }

  /** The best `depth` levels of one side, best first. */
  topLevels(side: Side, depth: number): LevelView[] {
    const levels = this.levelsOf(side);
    const views: LevelView[] = [];
    for (let index = levels.length - 1; index >= 0 && views.length < depth; index--) {
      const level = levels[index];
      views.push({ priceTicks: level.priceTicks, qtyLots: level.qtyLots, orderCount: level.orderCount });
    }
    return views;
  }

  /** The full queue of one level, oldest first (empty when no level rests at that price). */
  levelOrders(side: Side, priceTicks: number): RestingOrderView[] {
    const levels = this.levelsOf(side);
    const index = findLevelIndex(levels, side === Side.Buy ? priceTicks : -priceTicks);
    const views: RestingOrderView[] = [];
    if (index < 0) return views;
    for (let slot = levels[index].headSlot; slot !== NONE; slot = this.slotNext[slot]) {
      views.push(this.viewOfSlot(slot));
    }
    return views;
  }

  /** Every resting order in canonical order: bids best to worst, then asks best to worst, FIFO. */
  forEachResting(visit: (side: Side, orderId: number, priceTicks: number, qtyLots: number, accountId: number) => void): void {
    for (const side of [Side.Buy, Side.Sell] as const) {
      const levels = this.levelsOf(side);
      for (let index = levels.length - 1; index >= 0; index--) {
        for (let slot = levels[index].headSlot; slot !== NONE; slot = this.slotNext[slot]) {
          visit(side, this.slotOrderId[slot], this.slotPriceTicks[slot], this.slotQtyLots[slot], this.slotAccountId[slot]);
        }
      }
    }
  }

  /**
   * A hash of everything that decides future behaviour, over the resting orders in canonical
   * order (so any correct implementation of the same book gives the same hash): FNV-1a 64 over
   * 32-bit words of side, id, account, price, quantity, time in force, expiry, post-only and
   * self-trade mode, plus the book's time.
   */
  stateHash(): string {
    const hash = new Fnv64();
    hash.number(this.nowMs);
    for (const side of [Side.Buy, Side.Sell] as const) {
      const levels = this.levelsOf(side);
      for (let index = levels.length - 1; index >= 0; index--) {
        for (let slot = levels[index].headSlot; slot !== NONE; slot = this.slotNext[slot]) {
          hash.word(side);
          hash.number(this.slotOrderId[slot]);
          hash.number(this.slotAccountId[slot]);
          hash.number(this.slotPriceTicks[slot]);
          hash.number(this.slotQtyLots[slot]);
          hash.word(this.slotTimeInForce[slot]);
          hash.number(this.slotExpiresAtMs[slot]);
          hash.word(this.slotPostOnly[slot]);
          hash.word(this.slotSelfTrade[slot]);
        }
      }
    }
    return hash.hex();
  }

  /** Checks every structural invariant; throws `BookInvariantError` naming the first broken one. */
  validateInternalState(): void {
    let restingCount = 0;
    restingCount += this.validateSide(Side.Buy);
    restingCount += this.validateSide(Side.Sell);
    invariant(restingCount === this.slotByOrderId.size, `resting orders ${restingCount} != index size ${this.slotByOrderId.size}`);
    const bid = this.bestBid();
    const ask = this.bestAsk();
    invariant(bid === NO_PRICE || ask === NO_PRICE || bid < ask, `book crossed at rest: bid ${bid} >= ask ${ask}`);
    let freeCount = 0;
    for (let slot = this.freeSlot; slot !== NONE; slot = this.slotNext[slot]) {
      invariant(this.slotLevel[slot] === null, `free slot ${slot} still belongs to a level`);
      invariant(++freeCount <= this.slotCapacity, 'free list has a cycle');
    }
    invariant(freeCount + restingCount === this.slotCapacity, `slots leak: ${freeCount} free + ${restingCount} used != ${this.slotCapacity}`);
    this.slotByOrderId.forEachValue((slot) => {
      if (this.slotTimeInForce[slot] === TimeInForce.GoodTillDate) {
        invariant(this.expiries.contains(slot, this.slotArrival[slot]), `GTD order ${this.slotOrderId[slot]} has no expiry entry`);
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Matching

  /**
   * Matches a validated taker against the opposite side, then rests the remainder (GTC, GTD) or
   * reports it done. Shared by `place` and by a price-changing `amend`.
   */
  private execute(spec: OrderSpec, priceTicks: number, qtyLots: number, expiresAtMs: number): void {
    const report = this.report;
    const { orderId, accountId, side } = spec;
    const remainingLots = this.matchTaker(orderId, accountId, side, priceTicks, qtyLots, spec.selfTradePrevention);
    if (this.takerStopped) return;
    if (remainingLots === 0) {
      report.addDone(orderId, accountId, DoneReason.Filled, 0);
    } else if (spec.timeInForce === TimeInForce.GoodTillCancelled || spec.timeInForce === TimeInForce.GoodTillDate) {
      this.rest(spec, priceTicks, remainingLots, expiresAtMs);
    } else {
      report.addDone(orderId, accountId, DoneReason.ImmediateRemainderCancelled, remainingLots);
    }
  }

  /** Set by `matchTaker` when self-trade prevention ended the taker (already reported done). */
  private takerStopped = false;

  /** Fills the taker level by level, best price first and oldest first; returns what is left. */
  private matchTaker(orderId: number, accountId: number, side: Side, limitTicks: number, qtyLots: number, selfTrade: SelfTradePrevention): number {
    this.takerStopped = false;
    const levels = side === Side.Buy ? this.askLevels : this.bidLevels;
    let remainingLots = qtyLots;
    while (remainingLots > 0 && levels.length > 0) {
      const level = levels[levels.length - 1];
      const levelPrice = level.priceTicks;
      if (side === Side.Buy ? levelPrice > limitTicks : levelPrice < limitTicks) break;
      const levelLotsBefore = level.qtyLots;
      remainingLots = this.matchTakerAgainstLevel(level, orderId, accountId, remainingLots, selfTrade);
      // A taker cancelled by self-trade prevention may leave the level untouched: not a change.
      if (level.qtyLots !== levelLotsBefore) this.reportLevel((1 - side) as Side, level);
      if (level.orderCount === 0) {
        levels.pop();
        this.releaseLevel(level);
      }
      if (this.takerStopped) return 0;
    }
    return remainingLots;
  }

  /** Fills against one level's queue from its head; returns the taker's remaining quantity. */
  private matchTakerAgainstLevel(level: Level, orderId: number, accountId: number, remainingLots: number, selfTrade: SelfTradePrevention): number {
    const report = this.report;
    const slotQtyLots = this.slotQtyLots;
    const levelPrice = level.priceTicks;
    while (remainingLots > 0) {
      const slot = level.headSlot;
      if (slot === NONE) break;
      if (this.slotAccountId[slot] === accountId && accountId !== ANONYMOUS_ACCOUNT) {
        remainingLots = this.preventSelfTrade(level, slot, orderId, accountId, remainingLots, selfTrade);
        if (this.takerStopped) return 0;
        continue;
      }
      const makerLots = slotQtyLots[slot];
      const fillLots = makerLots < remainingLots ? makerLots : remainingLots;
      const makerLeftLots = makerLots - fillLots;
      remainingLots -= fillLots;
      level.qtyLots -= fillLots;
      report.filledQtyLots += fillLots;
      report.addFill(this.slotOrderId[slot], this.slotAccountId[slot], levelPrice, fillLots, makerLeftLots);
      if (makerLeftLots === 0) {
        report.addDone(this.slotOrderId[slot], this.slotAccountId[slot], DoneReason.Filled, 0);
        this.unlinkHead(level, slot);
      } else {
        slotQtyLots[slot] = makerLeftLots;
      }
    }
    return remainingLots;
  }

  /**
   * The taker meets its own account's order at the head of a level. No fill ever happens; the
   * taker's mode decides who is cancelled or reduced. Returns the taker's remaining quantity and
   * sets `takerStopped` when the taker is done.
   */
  private preventSelfTrade(level: Level, slot: number, orderId: number, accountId: number, remainingLots: number, selfTrade: SelfTradePrevention): number {
    const report = this.report;
    const makerLots = this.slotQtyLots[slot];
    let cancelMaker = selfTrade === SelfTradePrevention.CancelMaker || selfTrade === SelfTradePrevention.CancelBoth;
    let cancelTaker = selfTrade === SelfTradePrevention.CancelTaker || selfTrade === SelfTradePrevention.CancelBoth;
    if (selfTrade === SelfTradePrevention.DecrementBoth) {
      cancelMaker = makerLots <= remainingLots;
      cancelTaker = remainingLots <= makerLots;
      if (!cancelMaker) {
        this.slotQtyLots[slot] = makerLots - remainingLots;
        level.qtyLots -= remainingLots;
        report.addReduced(this.slotOrderId[slot], remainingLots);
      }
      if (!cancelTaker) {
        report.addReduced(orderId, makerLots);
        remainingLots -= makerLots;
      }
    }
    if (cancelMaker) {
      report.addDone(this.slotOrderId[slot], accountId, DoneReason.SelfTradePrevented, makerLots);
      level.qtyLots -= makerLots;
      this.unlinkHead(level, slot);
    }
    if (cancelTaker) {
      report.addDone(orderId, accountId, DoneReason.SelfTradePrevented, remainingLots);
      this.takerStopped = true;
      return 0;
    }
    return remainingLots;
  }

  /**
   * How much a fill-or-kill taker could fill right now, walking the opposite side the way
   * `matchTaker` would without changing anything. Stops early once the whole quantity is covered.
   */
  private fillableQtyLots(spec: OrderSpec): number {
    const { side, priceTicks, qtyLots, accountId } = spec;
    const skipOwnOrders = spec.selfTradePrevention === SelfTradePrevention.CancelMaker;
    const levels = side === Side.Buy ? this.askLevels : this.bidLevels;
    let fillableLots = 0;
    for (let index = levels.length - 1; index >= 0; index--) {
      const level = levels[index];
      if (side === Side.Buy ? level.priceTicks > priceTicks : level.priceTicks < priceTicks) break;
      for (let slot = level.headSlot; slot !== NONE; slot = this.slotNext[slot]) {
        if (this.slotAccountId[slot] === accountId && accountId !== ANONYMOUS_ACCOUNT) {
          // Any other mode ends or shrinks the taker here, so it cannot fill in full.
          if (skipOwnOrders) continue;
          return fillableLots;
        }
        fillableLots += this.slotQtyLots[slot];
        if (fillableLots >= qtyLots) return fillableLots;
      }
    }
    return fillableLots;
  }

  // ---------------------------------------------------------------------------------------
  // Amend and cancel helpers

  private amendQtyAtSamePrice(slot: number, qtyLots: number): void {
    const report = this.report;
    const level = this.slotLevel[slot]!;
    const side = this.slotSide[slot] as Side;
    const oldLots = this.slotQtyLots[slot];
    if (qtyLots < oldLots) {
      this.slotQtyLots[slot] = qtyLots;
      level.qtyLots -= oldLots - qtyLots;
    } else if (qtyLots > oldLots) {
      // More quantity loses time priority: back of the same level, with a new arrival.
      this.unlinkAnywhere(level, slot);
      this.slotQtyLots[slot] = qtyLots;
      this.appendToLevel(level, slot);
      level.qtyLots += qtyLots - oldLots;
      this.trackExpiry(slot);
    }
    report.restingQtyLots = qtyLots;
    report.restingPriceTicks = level.priceTicks;
    if (qtyLots !== oldLots) this.reportLevel(side, level);
  }

  private amendPrice(slot: number, priceTicks: number, qtyLots: number): void {
    const report = this.report;
    const spec = this.specOfSlot(slot);
    let newPriceTicks = priceTicks;
    if (spec.postOnly !== PostOnly.None && this.crossesOpposite(spec.side, priceTicks)) {
      newPriceTicks = spec.postOnly === PostOnly.Reprice ? this.oneTickBehindOpposite(spec.side) : NONE;
      if (newPriceTicks === NONE) {
        // Deribit refuses such an edit and leaves the order as it was.
        report.code = BookResultCode.PostOnlyWouldCross;
        return;
      }
    }
    const oldPriceTicks = this.slotPriceTicks[slot];
    const oldLevel = this.slotLevel[slot]!;
    const oldLevelLots = oldLevel.qtyLots;
    const oldLevelOrders = oldLevel.orderCount;
    this.takeOutOfBook(slot);
    spec.priceTicks = newPriceTicks;
    spec.qtyLots = qtyLots;
    this.execute(spec, newPriceTicks, qtyLots, spec.expiresAtMs);
    // Re-priced back onto its old level with the same quantity: the order moved to the back, but
    // the level's totals are what they were, so for L2 nothing changed.
    const index = report.findLevel(spec.side, oldPriceTicks);
    if (index >= 0 && report.levelQtyLots[index] === oldLevelLots && report.levelOrderCount[index] === oldLevelOrders) report.removeLevel(index);
  }

  private cancelAccountOnSide(accountId: number, levels: Level[]): void {
    for (let index = levels.length - 1; index >= 0; index--) {
      const level = levels[index];
      let slot = level.headSlot;
      while (slot !== NONE) {
        const next = this.slotNext[slot];
        if (this.slotAccountId[slot] === accountId) this.removeResting(slot, DoneReason.Cancelled);
        slot = next;
      }
    }
  }

  /** Removes a resting order, reports it done with `reason`, and reports its level. */
  private removeResting(slot: number, reason: DoneReason): void {
    this.report.addDone(this.slotOrderId[slot], this.slotAccountId[slot], reason, this.slotQtyLots[slot]);
    this.takeOutOfBook(slot);
  }

  /** Unlinks a resting order from its level (dropping the level if it empties) and frees the slot. */
  private takeOutOfBook(slot: number): void {
    const level = this.slotLevel[slot]!;
    const side = this.slotSide[slot] as Side;
    level.qtyLots -= this.slotQtyLots[slot];
    this.unlinkAnywhere(level, slot);
    this.slotByOrderId.delete(this.slotOrderId[slot]);
    this.releaseSlot(slot);
    this.reportLevel(side, level);
    if (level.orderCount === 0) this.dropLevel(side, level);
  }

  // ---------------------------------------------------------------------------------------
  // Resting

  private rest(spec: OrderSpec, priceTicks: number, qtyLots: number, expiresAtMs: number): void {
    const slot = this.acquireSlot();
    const side = spec.side;
    this.slotOrderId[slot] = spec.orderId;
    this.slotAccountId[slot] = spec.accountId;
    this.slotSide[slot] = side;
    this.slotPriceTicks[slot] = priceTicks;
    this.slotQtyLots[slot] = qtyLots;
    this.slotTimeInForce[slot] = spec.timeInForce;
    this.slotPostOnly[slot] = spec.postOnly;
    this.slotSelfTrade[slot] = spec.selfTradePrevention;
    this.slotExpiresAtMs[slot] = spec.timeInForce === TimeInForce.GoodTillDate ? expiresAtMs : 0;
    const level = this.levelForRest(side, priceTicks);
    this.appendToLevel(level, slot);
    level.qtyLots += qtyLots;
    this.slotByOrderId.set(spec.orderId, slot);
    this.trackExpiry(slot);
    this.reportLevel(side, level);
    this.report.restingQtyLots = qtyLots;
    this.report.restingPriceTicks = priceTicks;
  }

  /** Puts a slot at the back of a level's queue with a fresh arrival number. */
  private appendToLevel(level: Level, slot: number): void {
    this.slotArrival[slot] = ++this.arrivalCounter;
    this.slotLevel[slot] = level;
    this.slotNext[slot] = NONE;
    const tail = level.tailSlot;
    this.slotPrev[slot] = tail;
    if (tail === NONE) level.headSlot = slot;
    else this.slotNext[tail] = slot;
    level.tailSlot = slot;
    level.orderCount++;
  }

  private trackExpiry(slot: number): void {
    if (this.slotTimeInForce[slot] === TimeInForce.GoodTillDate) {
      this.expiries.push(this.slotExpiresAtMs[slot], this.slotOrderId[slot], this.slotArrival[slot], slot);
      // Stale entries (cancelled or moved orders) are dropped lazily; rebuild before they pile up.
      if (this.expiries.size > 2 * this.slotByOrderId.size + 1024) this.rebuildExpiries();
    }
  }

  private rebuildExpiries(): void {
    this.expiries.clear();
    // Table order: the heap orders its entries by (expiry, order id) whatever order they come in.
    this.slotByOrderId.forEachValue((slot) => {
      if (this.slotTimeInForce[slot] === TimeInForce.GoodTillDate) {
        this.expiries.push(this.slotExpiresAtMs[slot], this.slotOrderId[slot], this.slotArrival[slot], slot);
      }
    });
  }

  /** Removes the head of a level's queue (filled or cancelled at the head) and frees its slot. */
  private unlinkHead(level: Level, slot: number): void {
    const next = this.slotNext[slot];
    level.headSlot = next;
    if (next === NONE) level.tailSlot = NONE;
    else this.slotPrev[next] = NONE;
    level.orderCount--;
    this.slotByOrderId.delete(this.slotOrderId[slot]);
    this.releaseSlot(slot);
  }

  private unlinkAnywhere(level: Level, slot: number): void {
    const prev = this.slotPrev[slot];
    const next = this.slotNext[slot];
    if (prev === NONE) level.headSlot = next;
    else this.slotNext[prev] = next;
    if (next === NONE) level.tailSlot = prev;
    else this.slotPrev[next] = prev;
    level.orderCount--;
  }

  // ---------------------------------------------------------------------------------------
  // Levels

  private levelsOf(side: Side): Level[] {
    return side === Side.Buy ? this.bidLevels : this.askLevels;
  }

  /** The level at `priceTicks` on `side`, created in sorted position when there is none. */
  private levelForRest(side: Side, priceTicks: number): Level {
    const levels = this.levelsOf(side);
    const key = side === Side.Buy ? priceTicks : -priceTicks;
    const count = levels.length;
    // Most orders rest at or near the touch, which is the end of the array.
    if (count === 0 || levels[count - 1].key < key) {
      const level = this.acquireLevel(key, priceTicks);
      levels.push(level);
      return level;
    }
    if (levels[count - 1].key === key) return levels[count - 1];
    const index = findLevelIndex(levels, key);
    if (index >= 0) return levels[index];
    const level = this.acquireLevel(key, priceTicks);
    levels.splice(-index - 1, 0, level);
    return level;
  }

  private dropLevel(side: Side, level: Level): void {
    const levels = this.levelsOf(side);
    const last = levels.length - 1;
    if (levels[last] === level) {
      levels.pop();
    } else {
      const index = findLevelIndex(levels, level.key);
      invariant(index >= 0 && levels[index] === level, 'dropping a level that is not in its side');
      levels.splice(index, 1);
    }
    this.releaseLevel(level);
  }

  private acquireLevel(key: number, priceTicks: number): Level {
    const level = this.levelPool.pop() ?? new Level();
    // A level emptied and created again in one call (an amend re-priced back to its old price)
    // keeps its one report entry.
    const reportIndex = this.report.findLevel(key > 0 ? Side.Buy : Side.Sell, priceTicks);
    if (reportIndex >= 0) {
      level.reportStamp = this.callStamp;
      level.reportIndex = reportIndex;
    }
    level.key = key;
    level.priceTicks = priceTicks;
    level.headSlot = NONE;
    level.tailSlot = NONE;
    level.qtyLots = 0;
    level.orderCount = 0;
    if (reportIndex < 0) level.reportStamp = 0;
    return level;
  }

  private releaseLevel(level: Level): void {
    // A pooled level may come back for another price in the same call: forget its report entry.
    level.reportStamp = 0;
    this.levelPool.push(level);
  }

  /** Records a level's totals in the report, once per level per call (updated in place). */
  private reportLevel(side: Side, level: Level): void {
    const report = this.report;
    if (level.reportStamp === this.callStamp) {
      report.setLevel(level.reportIndex, level.qtyLots, level.orderCount);
    } else {
      level.reportStamp = this.callStamp;
      level.reportIndex = report.addLevel(side, level.priceTicks, level.qtyLots, level.orderCount);
    }
  }

  private crossesOpposite(side: Side, priceTicks: number): boolean {
    if (side === Side.Buy) {
      const ask = this.bestAsk();
      return ask !== NO_PRICE && priceTicks >= ask;
    }
    const bid = this.bestBid();
    return bid !== NO_PRICE && priceTicks <= bid;
  }

  /** One tick behind the opposite best (only called when it exists), or NONE when out of range. */
  private oneTickBehindOpposite(side: Side): number {
    const priceTicks = side === Side.Buy ? this.bestAsk() - 1 : this.bestBid() + 1;
    return this.isPriceInRange(priceTicks) ? priceTicks : NONE;
  }

  // ---------------------------------------------------------------------------------------
  // Slots

  private acquireSlot(): number {
    if (this.freeSlot === NONE) this.growSlots(this.slotCapacity * 2);
    const slot = this.freeSlot;
    this.freeSlot = this.slotNext[slot];
    return slot;
  }

  private releaseSlot(slot: number): void {
    this.slotLevel[slot] = null;
    this.slotNext[slot] = this.freeSlot;
    this.freeSlot = slot;
  }

  private growSlots(requested: number): void {
    const capacity = Math.max(requested, 1);
    const previous = this.slotCapacity;
    this.slotOrderId = resized(this.slotOrderId, capacity);
    this.slotAccountId = resized(this.slotAccountId, capacity);
    this.slotSide = resized(this.slotSide, capacity);
    this.slotPriceTicks = resized(this.slotPriceTicks, capacity);
    this.slotQtyLots = resized(this.slotQtyLots, capacity);
    this.slotTimeInForce = resized(this.slotTimeInForce, capacity);
    this.slotPostOnly = resized(this.slotPostOnly, capacity);
    this.slotSelfTrade = resized(this.slotSelfTrade, capacity);
    this.slotExpiresAtMs = resized(this.slotExpiresAtMs, capacity);
    this.slotArrival = resized(this.slotArrival, capacity);
    this.slotNext = resized(this.slotNext, capacity);
    this.slotPrev = resized(this.slotPrev, capacity);
    // Filled upward: writing a JS array from its top index down turns it into a dictionary-mode
    // array past a few thousand slots, and every book then gets its own map (V8 deoptimizes).
    for (let slot = previous; slot < capacity; slot++) this.slotLevel.push(null);
    for (let slot = capacity - 1; slot >= previous; slot--) {
      this.slotNext[slot] = this.freeSlot;
      this.freeSlot = slot;
    }
    this.slotCapacity = capacity;
  }

  // ---------------------------------------------------------------------------------------
  // Validation and views

  private beginCall(orderId: number): BookReport {
    this.callStamp++;
    this.report.reset(orderId);
    return this.report;
  }

  private validateSpec(spec: OrderSpec): BookResultCode {
    const { orderId, side, type, timeInForce, postOnly, selfTradePrevention } = spec;
    if (!Number.isSafeInteger(orderId) || orderId <= 0) return BookResultCode.InvalidOrder;
    if (side !== Side.Buy && side !== Side.Sell) return BookResultCode.InvalidOrder;
    if (type !== OrderType.Limit && type !== OrderType.Market) return BookResultCode.InvalidOrder;
    if (!(timeInForce >= TimeInForce.GoodTillCancelled && timeInForce <= TimeInForce.FillOrKill)) return BookResultCode.InvalidOrder;
    if (!(postOnly >= PostOnly.None && postOnly <= PostOnly.Reprice)) return BookResultCode.InvalidOrder;
    if (!(selfTradePrevention >= SelfTradePrevention.CancelTaker && selfTradePrevention <= SelfTradePrevention.DecrementBoth)) return BookResultCode.InvalidOrder;
    const restsIfUnfilled = timeInForce === TimeInForce.GoodTillCancelled || timeInForce === TimeInForce.GoodTillDate;
    // A market order never rests, and only an order that may rest can be post-only.
    if (type === OrderType.Market && restsIfUnfilled) return BookResultCode.InvalidOrder;
    if (postOnly !== PostOnly.None && !restsIfUnfilled) return BookResultCode.InvalidOrder;
    if (!this.isPriceInRange(spec.priceTicks)) return BookResultCode.PriceOutOfRange;
    if (!this.isQtyInRange(spec.qtyLots)) return BookResultCode.QuantityOutOfRange;
    if (!Number.isSafeInteger(spec.accountId) || spec.accountId < 0 || spec.accountId > this.limits.accountIdMax) return BookResultCode.AccountOutOfRange;
    if (timeInForce === TimeInForce.GoodTillDate && !(Number.isSafeInteger(spec.expiresAtMs) && spec.expiresAtMs > this.nowMs)) return BookResultCode.ExpiryNotInFuture;
    if (this.slotByOrderId.has(orderId)) return BookResultCode.DuplicateOrderId;
    if (restsIfUnfilled && this.slotByOrderId.size >= this.limits.ordersMax) return BookResultCode.BookFull;
    return BookResultCode.Ok;
  }

  private isPriceInRange(priceTicks: number): boolean {
    return Number.isInteger(priceTicks) && priceTicks >= 1 && priceTicks <= this.limits.priceTicksMax;
  }

  private isQtyInRange(qtyLots: number): boolean {
    return Number.isInteger(qtyLots) && qtyLots >= 1 && qtyLots <= this.limits.qtyLotsMax;
  }

  private viewOfSlot(slot: number): RestingOrderView {
    return {
      orderId: this.slotOrderId[slot],
      accountId: this.slotAccountId[slot],
      side: this.slotSide[slot] as Side,
      priceTicks: this.slotPriceTicks[slot],
      qtyLots: this.slotQtyLots[slot],
      timeInForce: this.slotTimeInForce[slot] as TimeInForce,
      expiresAtMs: this.slotExpiresAtMs[slot],
      postOnly: this.slotPostOnly[slot] as PostOnly,
      selfTradePrevention: this.slotSelfTrade[slot] as SelfTradePrevention,
    };
  }

  /** The resting order as a spec, in the book's one scratch object (amends must not allocate). */
  private specOfSlot(slot: number): OrderSpec {
    const spec = this.amendSpec;
    spec.orderId = this.slotOrderId[slot];
    spec.accountId = this.slotAccountId[slot];
    spec.side = this.slotSide[slot] as Side;
    spec.type = OrderType.Limit;
    spec.priceTicks = this.slotPriceTicks[slot];
    spec.qtyLots = this.slotQtyLots[slot];
    spec.timeInForce = this.slotTimeInForce[slot] as TimeInForce;
    spec.expiresAtMs = this.slotExpiresAtMs[slot];
    spec.postOnly = this.slotPostOnly[slot] as PostOnly;
    spec.selfTradePrevention = this.slotSelfTrade[slot] as SelfTradePrevention;
    return spec;
  }

  private validateSide(side: Side): number {
    const levels = this.levelsOf(side);
    let orderCount = 0;
    for (let index = 0; index < levels.length; index++) {
      const level = levels[index];
      invariant(level.key === (side === Side.Buy ? level.priceTicks : -level.priceTicks), `level ${level.priceTicks} has a wrong key`);
      invariant(index === 0 || levels[index - 1].key < level.key, `levels of side ${side} not strictly sorted at ${level.priceTicks}`);
      invariant(level.orderCount > 0 && level.headSlot !== NONE, `empty level left behind at ${level.priceTicks}`);
      orderCount += this.validateLevel(side, level);
    }
    return orderCount;
  }

  private validateLevel(side: Side, level: Level): number {
    let count = 0;
    let qtyLots = 0;
    let lastArrival = 0;
    let prev = NONE;
    for (let slot = level.headSlot; slot !== NONE; slot = this.slotNext[slot]) {
      const orderId = this.slotOrderId[slot];
      invariant(this.slotLevel[slot] === level, `order ${orderId} points at another level`);
      invariant(this.slotPrev[slot] === prev, `order ${orderId} has a broken back link`);
      invariant(this.slotSide[slot] === side && this.slotPriceTicks[slot] === level.priceTicks, `order ${orderId} is on the wrong level`);
      invariant(this.slotQtyLots[slot] >= 1 && this.slotQtyLots[slot] <= this.limits.qtyLotsMax, `order ${orderId} rests with quantity ${this.slotQtyLots[slot]}`);
      invariant(this.slotArrival[slot] > lastArrival, `level ${level.priceTicks} is not in arrival order at order ${orderId}`);
      invariant(this.slotByOrderId.get(orderId) === slot, `order ${orderId} is missing from the id index`);
      lastArrival = this.slotArrival[slot];
      qtyLots += this.slotQtyLots[slot];
      prev = slot;
      invariant(++count <= this.slotCapacity, `level ${level.priceTicks} queue has a cycle`);
    }
    invariant(level.tailSlot === prev, `level ${level.priceTicks} tail is not its last order`);
    invariant(count === level.orderCount, `level ${level.priceTicks} counts ${level.orderCount} orders, holds ${count}`);
    invariant(qtyLots === level.qtyLots, `level ${level.priceTicks} total ${level.qtyLots} != sum of orders ${qtyLots}`);
    return count;
  }
}

/** Index of the level with `key`, or -(insertion point) - 1 when there is none. */
function findLevelIndex(levels: Level[], key: number): number {
  let low = 0;
  let high = levels.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const middleKey = levels[middle].key;
    if (middleKey < key) low = middle + 1;
    else if (middleKey > key) high = middle - 1;
    else return middle;
  }
  return -low - 1;
}

function assertLimits(limits: BookLimits): void {
  const { priceTicksMax, qtyLotsMax, ordersMax, accountIdMax } = limits;
  invariant(Number.isSafeInteger(priceTicksMax) && priceTicksMax >= 1, 'priceTicksMax must be a positive safe integer');
  invariant(Number.isSafeInteger(qtyLotsMax) && qtyLotsMax >= 1, 'qtyLotsMax must be a positive safe integer');
  invariant(Number.isSafeInteger(ordersMax) && ordersMax >= 1 && ordersMax < 2 ** 31, 'ordersMax must be a positive integer below 2^31');
  invariant(Number.isSafeInteger(accountIdMax) && accountIdMax >= 0, 'accountIdMax must be a non-negative safe integer');
  // Notional (price × quantity) and a level's total (orders × quantity) must stay exact.
  invariant(priceTicksMax * qtyLotsMax < SAFE_INTEGER_LIMIT, 'priceTicksMax × qtyLotsMax must stay below 2^53');
  invariant(ordersMax * qtyLotsMax < SAFE_INTEGER_LIMIT, 'ordersMax × qtyLotsMax must stay below 2^53');
}

function resized<T extends Float64Array | Int32Array | Uint8Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array.subarray(0, Math.min(array.length, length)));
  return bigger;
}
