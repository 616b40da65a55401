import { OrderIndex } from './order_index.js';
import type { OrderBook } from '../book/index.js';
import type { AccountKindText, SelfTradeText } from './commands.js';
import type { ExchangeConfig } from './config.js';
import type { OrderView } from './events.js';
import type { Instrument } from './instruments.js';

// The whole state of the exchange: everything the state machine reads and writes. It is plain
// data (maps, arrays, records) so that a snapshot can serialize it canonically and a restore can
// rebuild it; the books are the only objects with behaviour, and they are rebuilt from orders.

export interface Balance {
  /** Free to trade or withdraw. */
  available: bigint;
  /** Held for open orders (Σ remaining lots × reservePerLot over the account's open orders). */
  reserved: bigint;
  /** Held as a provider's performance bond. */
  bonded: bigint;
}

export interface LabelMemory {
  orderId: number;
  /** The place command's payload, canonical: a retry must match it exactly. */
  fingerprint: string;
}

export interface Account {
  id: number;
  owner: string;
  kind: AccountKindText;
  balances: Map<string, Balance>;
  /** Open book orders and untriggered stop orders, in placement order. */
  openOrderIds: Set<number>;
  stopOrderCount: number;
  /** Recent labels (insertion order) for idempotent retries; bounded by limits. */
  labels: Map<string, LabelMemory>;
  /** Order-rate token bucket, in thousandths of an order, refilled by command time. */
  rateTokensMilli: number;
  rateUpdatedMs: number;
}

/**
 * An open (or untriggered) order: everything its view shows (events.ts OrderView) plus what only
 * the engine needs.
 */
export interface OrderRecord extends Omit<OrderView, 'stopOrderId'> {
  /** What rests on the book (or would, for an untriggered stop). */
  remainingLots: number;
  selfTrade: SelfTradeText;
  /** True once a stop order has triggered and entered the book. */
  triggered: boolean;
  /** The fee rates in force when the order was entered: they apply to all its fills, so its reserve always covers them. */
  makerBasisPoints: number;
  takerBasisPoints: number;
  /** What one remaining lot holds in `reserveCurrency`. */
  reservePerLotUnits: bigint;
  reserveCurrency: string;
  /** Command sequence of the last event emitted for this order (one event per order per command). */
  eventSequence: number;
}

export interface Withdrawal {
  withdrawalId: string;
  accountId: number;
  currency: string;
  amountUnits: bigint;
  address: string;
  state: 'requested' | 'completed' | 'failed';
}

export interface Capacity {
  capacityId: string;
  providerAccountId: number;
  sku: string;
  gpuHours: number;
  /** Hours not yet assigned to a redemption. */
  outstandingGpuHours: number;
  /** Hours whose redemptions were fulfilled. */
  deliveredGpuHours: number;
  bondUnits: bigint;
  bondOutstandingUnits: bigint;
}

export interface Redemption {
  redemptionId: string;
  accountId: number;
  sku: string;
  gpuHours: number;
  /** Which capacities deliver it, oldest capacity first. */
  allocations: { capacityId: string; gpuHours: number }[];
  state: 'pending' | 'fulfilled';
}

export interface ExchangeState {
  config: ExchangeConfig | null;
  sequence: number;
  timeMs: number;
  instruments: Map<string, Instrument>;
  books: Map<string, OrderBook>;
  /** Index = account id; slot 0 is unused (account 0 is the book's anonymous account). */
  accounts: (Account | null)[];
  accountIdByOwner: Map<string, number>;
  /** Open and untriggered orders by id. Closed orders leave (their history is projected). */
  orders: OrderIndex;
  /** Untriggered stop order ids per instrument, ascending. */
  stopOrderIds: Map<string, number[]>;
  nextOrderId: number;
  nextTradeId: number;
  lastPriceTicks: Map<string, number>;
  /** Tick direction of each instrument's last trade (see TradeView.tickDirection). */
  lastTickDirection: Map<string, number>;
  markPriceTicks: Map<string, number>;
  /** Index price per SKU, in that SKU's spot ticks. */
  indexPriceTicks: Map<string, number>;
  feePool: Map<string, bigint>;
  insuranceFund: Map<string, bigint>;
  /** Per currency: everything that ever came in (deposits, minted credits) and went out. */
  deposited: Map<string, bigint>;
  withdrawn: Map<string, bigint>;
  /** Requested withdrawals not yet completed or failed, per currency (left the accounts already). */
  withdrawalsInFlight: Map<string, bigint>;
  depositIds: Set<string>;
  transferIds: Set<string>;
  withdrawals: Map<string, Withdrawal>;
  capacities: Map<string, Capacity>;
  redemptions: Map<string, Redemption>;
  /** The earliest expiry among untriggered good-till-day stop orders (MAX_SAFE_INTEGER when none). */
  nextStopExpiryMs: number;
  /** Instruments holding good-till-date orders, with the earliest expiry among them. */
  gtdExpiryByInstrument: Map<string, number>;
  /** The earliest instrument expiry among listed ones: when the calendar must run next. */
  nextCalendarMs: number;
  /** Set when an invariant broke: the engine accepts no further commands. */
  haltedReason: string;
}

export function emptyState(): ExchangeState {
  return {
    config: null,
    sequence: 0,
    timeMs: 0,
    instruments: new Map(),
    books: new Map(),
    accounts: [null],
    accountIdByOwner: new Map(),
    orders: new OrderIndex(),
    stopOrderIds: new Map(),
    nextOrderId: 1,
    nextTradeId: 1,
    lastPriceTicks: new Map(),
    lastTickDirection: new Map(),
    markPriceTicks: new Map(),
    indexPriceTicks: new Map(),
    feePool: new Map(),
    insuranceFund: new Map(),
    deposited: new Map(),
    withdrawn: new Map(),
    withdrawalsInFlight: new Map(),
    depositIds: new Set(),
    transferIds: new Set(),
    withdrawals: new Map(),
    capacities: new Map(),
    redemptions: new Map(),
    gtdExpiryByInstrument: new Map(),
    nextStopExpiryMs: Number.MAX_SAFE_INTEGER,
    nextCalendarMs: Number.MAX_SAFE_INTEGER,
    haltedReason: '',
  };
}
