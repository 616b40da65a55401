import type { AccountKindText, OrderSideText, OrderTypeText, TimeInForceText, TriggerText } from './commands.js';
import type { InstrumentState } from './instruments.js';
import type { Rejection } from './result_codes.js';

// What applying a command produced (ARCHITECTURE.md data flow, step 4). The gateway turns events
// into JSON-RPC replies and subscription messages; projections turn them into history tables.
// Events are in memory only (the journal holds commands), so they may carry bigints.

export type OrderStateText = 'open' | 'filled' | 'cancelled' | 'rejected' | 'untriggered' | 'triggered';

/** An order as it stands after the change that produced the event. */
export interface OrderView {
  orderId: number;
  accountId: number;
  instrument: string;
  side: OrderSideText;
  type: OrderTypeText;
  timeInForce: TimeInForceText;
  state: OrderStateText;
  /** Why it left: filled, user_cancel, expired, self_trade, post_only_reject, fok_unfillable, immediate_remainder, instrument_expired … */
  cancelReason: string;
  /** Limit price, or the protection price of a market order. */
  priceTicks: number;
  amountLots: number;
  filledLots: number;
  /** Σ price × quantity of its fills, in ticks × lots (average price = this / filledLots). */
  filledNotionalTickLots: number;
  feeUnits: bigint;
  postOnly: boolean;
  rejectPostOnly: boolean;
  reduceOnly: boolean;
  /** Amended at least once (Deribit's `replaced`). */
  replaced: boolean;
  label: string;
  triggerPriceTicks: number;
  trigger: TriggerText | '';
  /** The stop order that this order came from, when triggered (0 otherwise). */
  stopOrderId: number;
  createdMs: number;
  updatedMs: number;
  expiresAtMs: number;
}

export interface TradeView {
  tradeId: number;
  /** Sequence number of the command that made it (trades of one command share it). */
  sequence: number;
  instrument: string;
  priceTicks: number;
  amountLots: number;
  /** The taker's side ("direction" on the wire). */
  takerSide: OrderSideText;
  makerOrderId: number;
  takerOrderId: number;
  makerAccountId: number;
  takerAccountId: number;
  makerFeeUnits: bigint;
  takerFeeUnits: bigint;
  makerOrderType: OrderTypeText;
  takerOrderType: OrderTypeText;
  /** Each order's label ('' for none) and post-only flag, which Deribit repeats on the user's trade. */
  makerLabel: string;
  takerLabel: string;
  makerPostOnly: boolean;
  takerPostOnly: boolean;
  /** What each order has left after this fill (0: the fill completed it). */
  makerRemainingLots: number;
  takerRemainingLots: number;
  /** Deribit's tick_direction: 0 plus, 1 zero-plus, 2 minus, 3 zero-minus (against the previous trade). */
  tickDirection: number;
  timeMs: number;
}

export type Event =
  | { kind: 'rejected'; rejection: Rejection; detail: string }
  | { kind: 'exchange_initialized' }
  | { kind: 'parameters_set' }
  | { kind: 'account_created'; accountId: number; owner: string; accountKind: AccountKindText }
  | { kind: 'instrument_listed'; instrument: string }
  | { kind: 'instrument_state'; instrument: string; state: InstrumentState }
  | { kind: 'order'; order: OrderView }
  /**
   * A place whose label and payload were seen before: nothing new was done. `order` is the original
   * while it is open; once closed, its final state is in the order history (by `orderId`).
   */
  | { kind: 'order_retry'; orderId: number; order: OrderView | null }
  | { kind: 'trade'; trade: TradeView }
  | { kind: 'balance'; accountId: number; currency: string; availableUnits: bigint; reservedUnits: bigint; bondedUnits: bigint }
  /** Price levels whose totals changed: flat [side(0 buy, 1 sell), priceTicks, qtyLots, orderCount, …]. */
  | { kind: 'book'; instrument: string; levels: number[] }
  | { kind: 'deposit_credited'; depositId: string; accountId: number; currency: string; amountUnits: bigint }
  | { kind: 'withdrawal'; withdrawalId: string; accountId: number; currency: string; amountUnits: bigint; state: 'requested' | 'completed' | 'failed' }
  | { kind: 'transfer'; transferId: string; fromAccountId: number; toAccountId: number; currency: string; amountUnits: bigint }
  | { kind: 'capacity_credited'; capacityId: string; providerAccountId: number; sku: string; gpuHours: number; bondUnits: bigint }
  | { kind: 'redemption'; redemptionId: string; accountId: number; sku: string; gpuHours: number; state: 'pending' | 'fulfilled' }
  | { kind: 'mark_price'; instrument: string; priceTicks: number }
  | { kind: 'index_price'; sku: string; priceTicks: number };

export type EventKind = Event['kind'];
