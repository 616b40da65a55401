// The reference order book (STYLE.md convention 13): the rulebook of book/ written out as
// plainly as we could, so that the fast book can be checked against it call by call.
//
// Nothing here is clever and nothing is fast. Each side is an array of price levels sorted best
// first, and each level is an array of orders, oldest first. Every search is a linear scan, and
// every removal is a splice. Each call snapshots every level's totals before and after and
// reports the difference, so the list of changed levels can't miss a change. Results are fresh
// plain objects, never reused.
//
// The rules, from the book's specification:
// - Strict price-time priority: best price first, oldest first within a price; a fill is at the
//   maker's price; a partly filled maker keeps its place.
// - GTC and GTD remainders rest; GTD leaves when `expireOrders(nowMs)` reaches its expiry (earliest
//   first, ties in arrival order); IOC remainders are cancelled; FOK is all or nothing, decided
//   before any fill. Market orders never trade through their protection price.
// - Post-only Reject refuses a crossing order; Reprice moves it one tick behind the opposite best.
// - Amend keeps priority only for a smaller quantity at the same price; any other change goes to
//   the back of the (new) level, and a new price that crosses matches like a new order.
// - Self-trade prevention (never for account 0): the taker's mode decides; no self-fill ever.
// - A rejected call returns a code and changes nothing.

import {
  ANONYMOUS_ACCOUNT,
  BookResultCode,
  DoneReason,
  Fnv64,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type BookLimits,
  type OrderSpec,
  type RestingOrderView,
} from '../../book/index.js';

/** A resting order as the model keeps it: the same fields the book reports (its own view type). */
export type NaiveOrder = RestingOrderView;

export interface NaiveLevel {
  priceTicks: number;
  /** Oldest first. */
  orders: NaiveOrder[];
}

export interface NaiveFill {
  makerOrderId: number;
  makerAccountId: number;
  priceTicks: number;
  qtyLots: number;
  makerRemainingLots: number;
}

export interface NaiveDone {
  orderId: number;
  accountId: number;
  reason: DoneReason;
  remainingLots: number;
}

export interface NaiveReduced {
  orderId: number;
  byLots: number;
}

export interface NaiveLevelChange {
  side: Side;
  priceTicks: number;
  /** Totals after the call; 0 and 0 when the level is gone. */
  qtyLots: number;
  orderCount: number;
}

export interface NaiveResult {
  code: BookResultCode;
  /**
   * Every rejection that applies to the call, in the order the specification lists them. The
   * specification does not say which one wins when several apply, so a checker should accept any
   * of them; `code` is the first.
   */
  applicableRejections: BookResultCode[];
  orderId: number;
  filledQtyLots: number;
  restingQtyLots: number;
  restingPriceTicks: number;
  fills: NaiveFill[];
  done: NaiveDone[];
  reduced: NaiveReduced[];
  /** Sorted by side, then price ascending. */
  levels: NaiveLevelChange[];
}

/** An order on the book, with the sequence number of the moment it joined the back of its level. */
interface RestingOrder extends NaiveOrder {
  arrival: number;
}

interface LevelTotals {
  qtyLots: number;
  orderCount: number;
}

export class NaiveBook {
  readonly limits: Readonly<BookLimits>;
  /** Latest time the book was told; time never goes backwards. */
  nowMs = 0;
  /** Highest price first. */
  private readonly bids: NaiveLevel[] = [];
  /** Lowest price first. */
  private readonly asks: NaiveLevel[] = [];
  private arrivalCount = 0;
  private result: NaiveResult = newResult(0);
  private totalsBefore = new Map<string, LevelTotals>();

  constructor(limits: BookLimits) {
    this.limits = Object.freeze({ ...limits });
  }

  // ---------------------------------------------------------------------------------------
  // Calls

  place(spec: OrderSpec): NaiveResult {
    this.beginCall(spec.orderId);
    const rejections = this.placeRejections(spec);
    if (rejections.length > 0) return this.rejectCall(rejections);
    const taker = restingOrderOf(spec);
    if (spec.postOnly !== PostOnly.None && this.crossesOpposite(spec.side, spec.priceTicks)) {
      const repricedTicks = this.oneTickBehindOpposite(spec.side);
      if (spec.postOnly === PostOnly.Reject || !this.isPriceInRange(repricedTicks)) {
        this.reportDone(taker, DoneReason.PostOnlyRejected, taker.qtyLots);
        return this.finishCall();
      }
      taker.priceTicks = repricedTicks;
    }
    if (spec.timeInForce === TimeInForce.FillOrKill && !this.canFillCompletely(taker)) {
      this.reportDone(taker, DoneReason.FillOrKillUnfillable, taker.qtyLots);
      return this.finishCall();
    }
    this.executeTaker(taker);
    return this.finishCall();
  }

  cancel(orderId: number): NaiveResult {
    this.beginCall(orderId);
    const order = this.findOrder(orderId);
    if (order === undefined) return this.rejectCall([BookResultCode.UnknownOrder]);
    this.removeOrder(order);
    this.reportDone(order, DoneReason.Cancelled, order.qtyLots);
    return this.finishCall();
  }

  /** `qtyLots` is the new remaining quantity. */
  amend(orderId: number, priceTicks: number, qtyLots: number): NaiveResult {
    this.beginCall(orderId);
    const order = this.findOrder(orderId);
    if (order === undefined) return this.rejectCall([BookResultCode.UnknownOrder]);
    if (!this.isPriceInRange(priceTicks)) return this.rejectCall([BookResultCode.PriceOutOfRange]);
    if (!this.isQtyInRange(qtyLots)) return this.rejectCall([BookResultCode.QuantityOutOfRange]);
    if (priceTicks === order.priceTicks) {
      this.amendAtSamePrice(order, qtyLots);
      return this.finishCall();
    }
    return this.amendToNewPrice(order, priceTicks, qtyLots);
  }

  /** Bids before asks; within a side best price first, oldest first. */
  cancelAllOfAccount(accountId: number, side?: Side): NaiveResult {
    this.beginCall(0);
    const sides = side === undefined ? [Side.Buy, Side.Sell] : [side];
    for (const order of this.restingOrders()) {
      if (order.accountId === accountId && sides.includes(order.side)) {
        this.removeOrder(order);
        this.reportDone(order, DoneReason.Cancelled, order.qtyLots);
      }
    }
    return this.finishCall();
  }

  expireOrders(nowMs: number): NaiveResult {
    this.beginCall(0);
    this.nowMs = Math.max(this.nowMs, nowMs);
    const expiring = this.restingOrders().filter(
      (order) => order.timeInForce === TimeInForce.GoodTillDate && order.expiresAtMs <= this.nowMs,
    );
    expiring.sort((a, b) => a.expiresAtMs - b.expiresAtMs || tieOrder(a, b));
    for (const order of expiring) {
      this.removeOrder(order);
      this.reportDone(order, DoneReason.Expired, order.qtyLots);
    }
    return this.finishCall();
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** A copy of one side: levels best first, each with its orders oldest first. */
  levels(side: Side): NaiveLevel[] {
    return this.levelsOf(side).map((level) => ({
      priceTicks: level.priceTicks,
      orders: level.orders.map((order) => viewOf(order as RestingOrder)),
    }));
  }

  bestBid(): number | undefined {
    return this.bids[0]?.priceTicks;
  }

  bestAsk(): number | undefined {
    return this.asks[0]?.priceTicks;
  }

  /** Copies of every resting order: bids best to worst, then asks best to worst, oldest first. */
  orders(): NaiveOrder[] {
    return this.restingOrders().map(viewOf);
  }

  order(orderId: number): NaiveOrder | undefined {
    const order = this.findOrder(orderId);
    return order === undefined ? undefined : viewOf(order);
  }

  /**
   * The canonical state hash, the one `OrderBook.stateHash()` documents: FNV-1a 64 over the time,
   * then every resting order in canonical order with all the fields that decide its future.
   */
  stateHash(): string {
    const hash = new Fnv64();
    hash.number(this.nowMs);
    for (const order of this.restingOrders()) {
      hash.word(order.side);
      hash.number(order.orderId);
      hash.number(order.accountId);
      hash.number(order.priceTicks);
      hash.number(order.qtyLots);
      hash.word(order.timeInForce);
      hash.number(order.expiresAtMs);
      hash.word(order.postOnly);
      hash.word(order.selfTradePrevention);
    }
    return hash.hex();
  }

  // ---------------------------------------------------------------------------------------
  // Place helpers

  /** Every rejection that applies, in the order the specification lists them. */
  private placeRejections(spec: OrderSpec): BookResultCode[] {
    const rejections: BookResultCode[] = [];
    if (!isWellFormed(spec)) rejections.push(BookResultCode.InvalidOrder);
    if (!this.isPriceInRange(spec.priceTicks)) rejections.push(BookResultCode.PriceOutOfRange);
    if (!this.isQtyInRange(spec.qtyLots)) rejections.push(BookResultCode.QuantityOutOfRange);
    if (!this.isAccountInRange(spec.accountId)) rejections.push(BookResultCode.AccountOutOfRange);
    if (this.findOrder(spec.orderId) !== undefined) rejections.push(BookResultCode.DuplicateOrderId);
    const mayRest = spec.timeInForce === TimeInForce.GoodTillCancelled || spec.timeInForce === TimeInForce.GoodTillDate;
    if (mayRest && this.restingOrderCount() >= this.limits.ordersMax) rejections.push(BookResultCode.BookFull);
    if (spec.timeInForce === TimeInForce.GoodTillDate && !(spec.expiresAtMs > this.nowMs)) {
      rejections.push(BookResultCode.ExpiryNotInFuture);
    }
    return rejections;
  }

  /**
   * Walks the opposite side as matching would, without changing anything: can the whole
   * quantity fill? An own order met on the way makes that impossible, unless the taker cancels
   * makers (then the own order is skipped: matching will cancel it, not fill it).
   */
  private canFillCompletely(taker: RestingOrder): boolean {
    let coveredLots = 0;
    for (const level of this.levelsOf(opposite(taker.side))) {
      if (!limitReaches(taker, level.priceTicks)) return false;
      for (const maker of level.orders) {
        if (isSelfTrade(taker, maker)) {
          if (taker.selfTradePrevention === SelfTradePrevention.CancelMaker) continue;
          return false;
        }
        coveredLots += maker.qtyLots;
        if (coveredLots >= taker.qtyLots) return true;
      }
    }
    return false;
  }

  /** Matches a taker (a new order, or a re-priced amend), then rests or ends its remainder. */
  private executeTaker(taker: RestingOrder): void {
    const takerStopped = this.matchTaker(taker);
    if (takerStopped) return;
    if (taker.qtyLots === 0) {
      this.reportDone(taker, DoneReason.Filled, 0);
    } else if (taker.timeInForce === TimeInForce.GoodTillCancelled || taker.timeInForce === TimeInForce.GoodTillDate) {
      this.addToBack(taker);
      this.result.restingQtyLots = taker.qtyLots;
      this.result.restingPriceTicks = taker.priceTicks;
    } else {
      this.reportDone(taker, DoneReason.ImmediateRemainderCancelled, taker.qtyLots);
    }
  }

  /**
   * Takes the oldest order at the best opposite price, again and again, while the taker has
   * quantity and its limit reaches that price. Returns true when self-trade prevention ended the
   * taker (already reported done).
   */
  private matchTaker(taker: RestingOrder): boolean {
    while (taker.qtyLots > 0) {
      const level = this.levelsOf(opposite(taker.side))[0];
      if (level === undefined || !limitReaches(taker, level.priceTicks)) return false;
      const maker = level.orders[0];
      if (isSelfTrade(taker, maker)) {
        if (this.matchTakerPreventSelfTrade(taker, maker)) return true;
        continue;
      }
      const qtyLots = Math.min(taker.qtyLots, maker.qtyLots);
      taker.qtyLots -= qtyLots;
      maker.qtyLots -= qtyLots;
      this.result.filledQtyLots += qtyLots;
      this.result.fills.push({
        makerOrderId: maker.orderId,
        makerAccountId: maker.accountId,
        priceTicks: maker.priceTicks,
        qtyLots,
        makerRemainingLots: maker.qtyLots,
      });
      if (maker.qtyLots === 0) {
        this.removeOrder(maker);
        this.reportDone(maker, DoneReason.Filled, 0);
      }
    }
    return false;
  }

  /** The taker meets its own account's order. No fill. Returns true when the taker is done. */
  private matchTakerPreventSelfTrade(taker: RestingOrder, maker: NaiveOrder): boolean {
    switch (taker.selfTradePrevention) {
      case SelfTradePrevention.CancelTaker:
        this.reportDone(taker, DoneReason.SelfTradePrevented, taker.qtyLots);
        return true;
      case SelfTradePrevention.CancelMaker:
        this.cancelMakerForSelfTrade(maker);
        return false;
      case SelfTradePrevention.CancelBoth:
        this.cancelMakerForSelfTrade(maker);
        this.reportDone(taker, DoneReason.SelfTradePrevented, taker.qtyLots);
        return true;
      case SelfTradePrevention.DecrementBoth:
        return this.decrementBoth(taker, maker);
    }
  }

  /** The smaller is cancelled and the larger reduced by the smaller's quantity; both when equal. */
  private decrementBoth(taker: RestingOrder, maker: NaiveOrder): boolean {
    const makerLots = maker.qtyLots;
    const takerLots = taker.qtyLots;
    if (makerLots < takerLots) {
      this.cancelMakerForSelfTrade(maker);
      taker.qtyLots -= makerLots;
      this.result.reduced.push({ orderId: taker.orderId, byLots: makerLots });
      return false;
    }
    if (makerLots > takerLots) {
      maker.qtyLots -= takerLots;
      this.result.reduced.push({ orderId: maker.orderId, byLots: takerLots });
      this.reportDone(taker, DoneReason.SelfTradePrevented, takerLots);
      return true;
    }
    this.cancelMakerForSelfTrade(maker);
    this.reportDone(taker, DoneReason.SelfTradePrevented, takerLots);
    return true;
  }

  private cancelMakerForSelfTrade(maker: NaiveOrder): void {
    this.removeOrder(maker);
    this.reportDone(maker, DoneReason.SelfTradePrevented, maker.qtyLots);
  }

  // ---------------------------------------------------------------------------------------
  // Amend helpers

  private amendAtSamePrice(order: RestingOrder, qtyLots: number): void {
    if (qtyLots < order.qtyLots) {
      order.qtyLots = qtyLots; // keeps its place
    } else if (qtyLots > order.qtyLots) {
      this.removeOrder(order);
      order.qtyLots = qtyLots;
      this.addToBack(order);
    }
    this.result.restingQtyLots = order.qtyLots;
    this.result.restingPriceTicks = order.priceTicks;
  }

  /**
   * A new price: the order leaves its level and comes back as a taker with the same flags. A
   * post-only order that would cross keeps its flavour: Reject refuses the amend, Reprice moves
   * it one tick behind the opposite best. The specification is silent on a Reprice whose new
   * price would fall outside 1..priceTicksMax; like Reject, the amend is refused and the order
   * stays as it was (it is already resting, and an amend that is refused changes nothing).
   */
  private amendToNewPrice(order: RestingOrder, priceTicks: number, qtyLots: number): NaiveResult {
    let newPriceTicks = priceTicks;
    if (order.postOnly !== PostOnly.None && this.crossesOpposite(order.side, priceTicks)) {
      newPriceTicks = this.oneTickBehindOpposite(order.side);
      if (order.postOnly === PostOnly.Reject || !this.isPriceInRange(newPriceTicks)) {
        return this.rejectCall([BookResultCode.PostOnlyWouldCross]);
      }
    }
    this.removeOrder(order);
    const taker: RestingOrder = { ...order, priceTicks: newPriceTicks, qtyLots };
    this.executeTaker(taker);
    return this.finishCall();
  }

  // ---------------------------------------------------------------------------------------
  // Call bookkeeping

  private beginCall(orderId: number): void {
    this.result = newResult(orderId);
    this.totalsBefore = this.levelTotals();
  }

  private rejectCall(rejections: BookResultCode[]): NaiveResult {
    this.result.code = rejections[0];
    this.result.applicableRejections = rejections;
    return this.finishCall();
  }

  /** Reports every level whose totals differ from the start of the call. */
  private finishCall(): NaiveResult {
    const totalsAfter = this.levelTotals();
    const keys = new Set([...this.totalsBefore.keys(), ...totalsAfter.keys()]);
    for (const key of keys) {
      const before = this.totalsBefore.get(key) ?? { qtyLots: 0, orderCount: 0 };
      const after = totalsAfter.get(key) ?? { qtyLots: 0, orderCount: 0 };
      if (before.qtyLots === after.qtyLots && before.orderCount === after.orderCount) continue;
      const [side, priceTicks] = key.split(':').map(Number);
      this.result.levels.push({ side: side as Side, priceTicks, qtyLots: after.qtyLots, orderCount: after.orderCount });
    }
    this.result.levels.sort((a, b) => a.side - b.side || a.priceTicks - b.priceTicks);
    return this.result;
  }

  private levelTotals(): Map<string, LevelTotals> {
    const totals = new Map<string, LevelTotals>();
    for (const side of [Side.Buy, Side.Sell] as const) {
      for (const level of this.levelsOf(side)) {
        let qtyLots = 0;
        for (const order of level.orders) qtyLots += order.qtyLots;
        totals.set(`${side}:${level.priceTicks}`, { qtyLots, orderCount: level.orders.length });
      }
    }
    return totals;
  }

  private reportDone(order: NaiveOrder, reason: DoneReason, remainingLots: number): void {
    this.result.done.push({ orderId: order.orderId, accountId: order.accountId, reason, remainingLots });
  }

  // ---------------------------------------------------------------------------------------
  // The book itself

  private levelsOf(side: Side): NaiveLevel[] {
    return side === Side.Buy ? this.bids : this.asks;
  }

  private restingOrders(): RestingOrder[] {
    const orders: RestingOrder[] = [];
    for (const side of [Side.Buy, Side.Sell] as const) {
      for (const level of this.levelsOf(side)) orders.push(...(level.orders as RestingOrder[]));
    }
    return orders;
  }

  private findOrder(orderId: number): RestingOrder | undefined {
    for (const side of [Side.Buy, Side.Sell] as const) {
      for (const level of this.levelsOf(side)) {
        const order = level.orders.find((candidate) => candidate.orderId === orderId);
        if (order !== undefined) return order as RestingOrder;
      }
    }
    return undefined;
  }

  private restingOrderCount(): number {
    let count = 0;
    for (const side of [Side.Buy, Side.Sell] as const) {
      for (const level of this.levelsOf(side)) count += level.orders.length;
    }
    return count;
  }

  /** Joins the back of its level (creating the level in sorted place) with a new arrival. */
  private addToBack(order: RestingOrder): void {
    order.arrival = ++this.arrivalCount;
    const levels = this.levelsOf(order.side);
    let level = levels.find((candidate) => candidate.priceTicks === order.priceTicks);
    if (level === undefined) {
      level = { priceTicks: order.priceTicks, orders: [] };
      const worseIndex = levels.findIndex((candidate) => isBetterPrice(order.side, order.priceTicks, candidate.priceTicks));
      levels.splice(worseIndex === -1 ? levels.length : worseIndex, 0, level);
    }
    level.orders.push(order);
  }

  private removeOrder(order: NaiveOrder): void {
    const levels = this.levelsOf(order.side);
    const levelIndex = levels.findIndex((level) => level.priceTicks === order.priceTicks);
    const level = levels[levelIndex];
    level.orders.splice(level.orders.indexOf(order), 1);
    if (level.orders.length === 0) levels.splice(levelIndex, 1);
  }

  private crossesOpposite(side: Side, priceTicks: number): boolean {
    const oppositeBest = this.levelsOf(opposite(side))[0];
    if (oppositeBest === undefined) return false;
    return side === Side.Buy ? priceTicks >= oppositeBest.priceTicks : priceTicks <= oppositeBest.priceTicks;
  }

  /** Best ask - 1 for a buy, best bid + 1 for a sell (only called when the opposite side rests). */
  private oneTickBehindOpposite(side: Side): number {
    const oppositeBest = this.levelsOf(opposite(side))[0];
    return side === Side.Buy ? oppositeBest.priceTicks - 1 : oppositeBest.priceTicks + 1;
  }

  private isPriceInRange(priceTicks: number): boolean {
    return Number.isInteger(priceTicks) && priceTicks >= 1 && priceTicks <= this.limits.priceTicksMax;
  }

  private isQtyInRange(qtyLots: number): boolean {
    return Number.isInteger(qtyLots) && qtyLots >= 1 && qtyLots <= this.limits.qtyLotsMax;
  }

  private isAccountInRange(accountId: number): boolean {
    return Number.isInteger(accountId) && accountId >= 0 && accountId <= this.limits.accountIdMax;
  }
}

// -----------------------------------------------------------------------------------------
// Pure helpers

/**
 * How GTD orders with the same expiry are ordered: by order id. (Arrival order across levels is
 * not part of a snapshot, so the book breaks ties by id to expire the same way after a restore.)
 */
const EXPIRY_TIES_BY: 'arrival' | 'orderId' = 'orderId';

function tieOrder(a: RestingOrder, b: RestingOrder): number {
  return EXPIRY_TIES_BY === 'arrival' ? a.arrival - b.arrival : a.orderId - b.orderId;
}

function newResult(orderId: number): NaiveResult {
  return {
    code: BookResultCode.Ok,
    applicableRejections: [],
    orderId,
    filledQtyLots: 0,
    restingQtyLots: 0,
    restingPriceTicks: 0,
    fills: [],
    done: [],
    reduced: [],
    levels: [],
  };
}

/** Known enumeration values, a positive safe-integer id, and a type/time-in-force/post-only combination that makes sense. */
function isWellFormed(spec: OrderSpec): boolean {
  const isOneOf = (value: number, values: object): boolean => (Object.values(values) as number[]).includes(value);
  if (!Number.isSafeInteger(spec.orderId) || spec.orderId <= 0) return false;
  if (!isOneOf(spec.side, Side) || !isOneOf(spec.type, OrderType) || !isOneOf(spec.timeInForce, TimeInForce)) return false;
  if (!isOneOf(spec.postOnly, PostOnly) || !isOneOf(spec.selfTradePrevention, SelfTradePrevention)) return false;
  const mayRest = spec.timeInForce === TimeInForce.GoodTillCancelled || spec.timeInForce === TimeInForce.GoodTillDate;
  if (spec.type === OrderType.Market && mayRest) return false; // a market order is IOC or FOK
  if (spec.postOnly !== PostOnly.None && (!mayRest || spec.type === OrderType.Market)) return false;
  return true;
}

function restingOrderOf(spec: OrderSpec): RestingOrder {
  return {
    orderId: spec.orderId,
    accountId: spec.accountId,
    side: spec.side,
    priceTicks: spec.priceTicks,
    qtyLots: spec.qtyLots,
    timeInForce: spec.timeInForce,
    expiresAtMs: spec.expiresAtMs,
    postOnly: spec.postOnly,
    selfTradePrevention: spec.selfTradePrevention,
    arrival: 0,
  };
}

function viewOf(order: RestingOrder): NaiveOrder {
  return {
    orderId: order.orderId,
    accountId: order.accountId,
    side: order.side,
    priceTicks: order.priceTicks,
    qtyLots: order.qtyLots,
    timeInForce: order.timeInForce,
    expiresAtMs: order.expiresAtMs,
    postOnly: order.postOnly,
    selfTradePrevention: order.selfTradePrevention,
  };
}

function opposite(side: Side): Side {
  return side === Side.Buy ? Side.Sell : Side.Buy;
}

/** A buy reaches asks at or below its limit; a sell reaches bids at or above it. */
function limitReaches(taker: NaiveOrder, makerPriceTicks: number): boolean {
  return taker.side === Side.Buy ? makerPriceTicks <= taker.priceTicks : makerPriceTicks >= taker.priceTicks;
}

function isBetterPrice(side: Side, priceTicks: number, thanPriceTicks: number): boolean {
  return side === Side.Buy ? priceTicks > thanPriceTicks : priceTicks < thanPriceTicks;
}

/** Account 0 is anonymous and never self-trades. */
function isSelfTrade(taker: NaiveOrder, maker: NaiveOrder): boolean {
  return taker.accountId !== ANONYMOUS_ACCOUNT && taker.accountId === maker.accountId;
}
