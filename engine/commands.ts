import type { RawExchangeConfig } from './config.js';

// Every state change is a command (ARCHITECTURE.md data flow, step 1). Commands are plain,
// JSON-safe objects: they are journaled exactly as submitted and replayed from the journal, so
// money travels as decimal strings of base units and prices/quantities as integer ticks/lots.
// The sequencer adds the sequence number and time; nothing else about a command is implicit.

export type OrderSideText = 'buy' | 'sell';
export type OrderTypeText = 'limit' | 'market' | 'stop_limit' | 'stop_market' | 'take_limit' | 'take_market';
export type TimeInForceText = 'good_til_cancelled' | 'good_til_day' | 'fill_or_kill' | 'immediate_or_cancel';
export type TriggerText = 'last_price' | 'mark_price' | 'index_price';
export type SelfTradeText = 'cancel_taker' | 'cancel_maker' | 'cancel_both' | 'decrement_both';
export type InstrumentKindText = 'spot' | 'future' | 'option';
export type AccountKindText = 'trader' | 'provider';

export interface InitExchange {
  kind: 'init_exchange';
  config: RawExchangeConfig;
}

export interface CreateAccount {
  kind: 'create_account';
  /** The operator's reference for the account, unique (e.g. an e-mail or a customer number). */
  owner: string;
  accountKind: AccountKindText;
}

export interface SetParameters {
  kind: 'set_parameters';
  fees?: Partial<RawExchangeConfig['fees']>;
  accounts?: Partial<RawExchangeConfig['accounts']>;
  derivativesTradingEnabled?: boolean;
}

export interface PlaceOrder {
  kind: 'place_order';
  accountId: number;
  instrument: string;
  side: OrderSideText;
  type: OrderTypeText;
  amountLots: number;
  /** Limit price; absent for market and stop-market orders. */
  priceTicks?: number;
  timeInForce: TimeInForceText;
  /** Deribit `post_only`; with `rejectPostOnly` false a crossing price is moved behind the spread. */
  postOnly?: boolean;
  rejectPostOnly?: boolean;
  reduceOnly?: boolean;
  /** Deribit `label`: the client's order id, unique among the account's open orders. */
  label?: string;
  triggerPriceTicks?: number;
  trigger?: TriggerText;
  selfTrade?: SelfTradeText;
}

export interface AmendOrder {
  kind: 'amend_order';
  accountId: number;
  /** Either the order id or the label names the order. */
  orderId?: number;
  label?: string;
  instrument?: string;
  amountLots: number;
  priceTicks?: number;
  triggerPriceTicks?: number;
}

export interface CancelOrder {
  kind: 'cancel_order';
  accountId: number;
  orderId: number;
}

export interface CancelByLabel {
  kind: 'cancel_by_label';
  accountId: number;
  label: string;
  instrument?: string;
}

export interface CancelAll {
  kind: 'cancel_all';
  accountId: number;
  instrument?: string;
  currency?: string;
  instrumentKind?: InstrumentKindText;
  /** `all` (default), `limit` (book orders only) or `trigger` (untriggered stop orders only). */
  orderType?: 'all' | 'limit' | 'trigger';
}

export interface CreditDeposit {
  kind: 'credit_deposit';
  /** Idempotency key: a deposit id is credited at most once (e.g. chainId:txHash:logIndex). */
  depositId: string;
  accountId: number;
  currency: string;
  amountUnits: string;
}

export interface RequestWithdrawal {
  kind: 'request_withdrawal';
  withdrawalId: string;
  accountId: number;
  currency: string;
  amountUnits: string;
  address: string;
}

export interface CompleteWithdrawal {
  kind: 'complete_withdrawal';
  withdrawalId: string;
}

export interface FailWithdrawal {
  kind: 'fail_withdrawal';
  withdrawalId: string;
}

export interface Transfer {
  kind: 'transfer';
  transferId: string;
  fromAccountId: number;
  toAccountId: number;
  currency: string;
  amountUnits: string;
}

export interface CreditCapacity {
  kind: 'credit_capacity';
  capacityId: string;
  providerAccountId: number;
  sku: string;
  gpuHours: number;
  /** Price (spot ticks) at which the performance bond is valued. */
  referencePriceTicks: number;
}

export interface RedeemCredits {
  kind: 'redeem_credits';
  redemptionId: string;
  accountId: number;
  sku: string;
  gpuHours: number;
}

export interface FulfilRedemption {
  kind: 'fulfil_redemption';
  redemptionId: string;
}

export interface SetInstrumentState {
  kind: 'set_instrument_state';
  instrument: string;
  state: 'halted' | 'trading';
}

/** Mark and index prices are supplied by commands until the engine computes them. */
export interface SetMarkPrice {
  kind: 'set_mark_price';
  instrument: string;
  priceTicks: number;
}

export interface SetIndexPrice {
  kind: 'set_index_price';
  sku: string;
  /** In the SKU's spot ticks. */
  priceTicks: number;
}

/** Lets time-driven behaviour (expiry, listing) happen when no other command arrives. */
export interface ClockTick {
  kind: 'clock_tick';
}

export type Command =
  | InitExchange
  | CreateAccount
  | SetParameters
  | PlaceOrder
  | AmendOrder
  | CancelOrder
  | CancelByLabel
  | CancelAll
  | CreditDeposit
  | RequestWithdrawal
  | CompleteWithdrawal
  | FailWithdrawal
  | Transfer
  | CreditCapacity
  | RedeemCredits
  | FulfilRedemption
  | SetInstrumentState
  | SetMarkPrice
  | SetIndexPrice
  | ClockTick;

export type CommandKind = Command['kind'];
