// The vocabulary of one instrument's order book. Prices are integer ticks and quantities
// integer lots, held in JavaScript numbers that the book keeps to safe integers. Enumerations
// are plain numeric constants (not TypeScript enums) so that every tool strips them the same way
// and the hot path compares small integers.

export const Side = { Buy: 0, Sell: 1 } as const;
export type Side = (typeof Side)[keyof typeof Side];

export const OrderType = { Limit: 0, Market: 1 } as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

export const TimeInForce = {
  GoodTillCancelled: 0,
  /** Rests until `expiresAtMs`; the book expires it when `expireOrders(nowMs)` passes that time. */
  GoodTillDate: 1,
  ImmediateOrCancel: 2,
  /** All or nothing, decided before any fill: either the whole quantity fills now or nothing changes. */
  FillOrKill: 3,
} as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];

/** Deribit's two post-only flavours: `reject_post_only: true` rejects, `false` re-prices. */
export const PostOnly = {
  None: 0,
  /** Would cross: the order is rejected and nothing rests. */
  Reject: 1,
  /** Would cross: re-priced one tick behind the best opposite price, then rests. */
  Reprice: 2,
} as const;
export type PostOnly = (typeof PostOnly)[keyof typeof PostOnly];

/** What happens when a taker meets a resting order of its own account. The taker's mode decides. */
export const SelfTradePrevention = {
  CancelTaker: 0,
  CancelMaker: 1,
  CancelBoth: 2,
  /** The smaller of the two is cancelled and the larger reduced by it (both when equal). */
  DecrementBoth: 3,
} as const;
export type SelfTradePrevention = (typeof SelfTradePrevention)[keyof typeof SelfTradePrevention];

/** Why an order left the book (or never entered it). */
export const DoneReason = {
  Filled: 1,
  Cancelled: 2,
  Expired: 3,
  SelfTradePrevented: 4,
  PostOnlyRejected: 5,
  FillOrKillUnfillable: 6,
  /** The unfilled rest of an immediate-or-cancel or market order. */
  ImmediateRemainderCancelled: 7,
} as const;
export type DoneReason = (typeof DoneReason)[keyof typeof DoneReason];

/**
 * Expected rejections of a book call, as values. Codes follow the engine's module grouping
 * (book: -3000 …). Nothing changes in the book when a call returns a code other than `Ok`.
 */
export const BookResultCode = {
  Ok: 0,
  UnknownOrder: -3002,
  DuplicateOrderId: -3003,
  PriceOutOfRange: -3004,
  QuantityOutOfRange: -3005,
  BookFull: -3006,
  ExpiryNotInFuture: -3007,
  InvalidOrder: -3008,
  AccountOutOfRange: -3009,
  /** An amend of a reject-flavour post-only order to a price that would cross; the order is unchanged. */
  PostOnlyWouldCross: -3010,
} as const;
export type BookResultCode = (typeof BookResultCode)[keyof typeof BookResultCode];

/**
 * Account 0 is anonymous: self-trade prevention never applies to it (workload replays, which have
 * no accounts). The engine's real accounts are numbered from 1.
 */
export const ANONYMOUS_ACCOUNT = 0;

/** Returned by `bestBid()` / `bestAsk()` when that side is empty (prices are always >= 1). */
export const NO_PRICE = -1;

export interface BookLimits {
  /** Prices are 1 … priceTicksMax. */
  priceTicksMax: number;
  /** Quantities are 1 … qtyLotsMax. priceTicksMax × qtyLotsMax must stay below 2^53. */
  qtyLotsMax: number;
  /** Resting orders at most; a place beyond it is rejected with `BookFull`. */
  ordersMax: number;
  /** Account ids are 0 … accountIdMax (the engine's dense account index). */
  accountIdMax: number;
}

/**
 * One order to place. Callers on a hot path reuse one object and overwrite its fields: the book
 * copies what it keeps and never holds on to the object.
 */
export interface OrderSpec {
  /** Unique among all orders the book has seen rest; a positive safe integer. */
  orderId: number;
  accountId: number;
  side: Side;
  type: OrderType;
  /** Limit price; for a market order, the protection price it never trades through. */
  priceTicks: number;
  qtyLots: number;
  timeInForce: TimeInForce;
  /** Only for GoodTillDate: the order expires once the book is told a time >= this. */
  expiresAtMs: number;
  postOnly: PostOnly;
  selfTradePrevention: SelfTradePrevention;
}

/**
 * A fresh spec with every field set (an anonymous GTC limit buy of nothing), for callers that keep
 * one and overwrite it per call: created whole, it keeps one shape, so the book's code that reads
 * specs stays monomorphic.
 */
export function blankOrderSpec(): OrderSpec {
  return {
    orderId: 0,
    accountId: ANONYMOUS_ACCOUNT,
    side: Side.Buy,
    type: OrderType.Limit,
    priceTicks: 0,
    qtyLots: 0,
    timeInForce: TimeInForce.GoodTillCancelled,
    expiresAtMs: 0,
    postOnly: PostOnly.None,
    selfTradePrevention: SelfTradePrevention.CancelTaker,
  };
}

export interface LevelView {
  priceTicks: number;
  qtyLots: number;
  orderCount: number;
}

export interface RestingOrderView {
  orderId: number;
  accountId: number;
  side: Side;
  priceTicks: number;
  qtyLots: number;
  timeInForce: TimeInForce;
  expiresAtMs: number;
  postOnly: PostOnly;
  selfTradePrevention: SelfTradePrevention;
}
