// The exchange as the engine's end-to-end tests see it: the deterministic state machine driven
// command by command, the way the sequencer drives it in production, with every law that must hold
// after any command checked after every command.
//
// `Exchange` wraps `applyCommand(state, command, sequence, timeMs)` on `emptyState()`. It starts
// with `init_exchange` (the shipped config/exchange.json), then each `run(command)` takes the next
// sequence number and a time 1 ms later (or the time set with `at`), applies the command and checks:
//   - the engine's own `checkConservation` (per currency: deposited − withdrawn = Σ accounts +
//     fee pool + insurance fund + withdrawals in flight; nothing negative; each account's reserved
//     equals what its open orders hold);
//   - the same conservation law again, from totals this harness keeps itself out of the events it
//     saw (deposits credited, capacity minted, redemptions burned, withdrawals requested,
//     completed and failed), so the law is not checked only against the engine's own counters;
//   - that every open order holds what the rules say, computed here from its price and remaining
//     lots (a buy: notional per lot at its price + the larger fee rounded up; a sell: the lots in
//     base units), not from the `reservePerLotUnits` the engine recorded;
//   - that no trade is between two orders of one account, and no book is crossed.
// A violation throws, naming the command, so a test fails at the first command that breaks a law.
//
// Money helpers compute the rules by hand: USDAI has 18 decimals and GPU-hour credits 6; on spot
// H100_USDAI a tick is 0.001 USDai and a lot one GPU-hour, so one tick × one lot is 10^15 USDAI
// base units and one lot is 10^6 credit units; the taker pays 3 bp rounded up, the maker 0, and
// 10% of every fee goes to the insurance fund.
//
// `lean: true` lists no options (config `options.expiriesListed` 0) and changes nothing else:
// initialising the shipped config lists ~2,800 instruments and takes ~0.35 s, which a file of
// fifty spot cases cannot afford; tests about listing and derivatives use the full config.

import { readFileSync } from 'node:fs';
import type { TAP } from 'tap';
import { Side } from '../../book/index.js';
import {
  applyCommand,
  checkConservation,
  emptyState,
  restoreState,
  serializeState,
  stateHash,
  type Balance,
  type Command,
  type Event,
  type ExchangeState,
  type OrderRecord,
  type OrderView,
  type PlaceOrder,
  type RawExchangeConfig,
  type Rejection,
  type TradeView,
} from '../../engine/index.js';

/** A tap (sub)test, the type of the argument tap passes to a test callback. */
export type EngineTest = Parameters<Parameters<TAP['test']>[0]>[0];

// ---------------------------------------------------------------------------------------------
// Units and money, by hand from CONTRACTS.md and config/exchange.json

export const SPOT = 'H100_USDAI';
export const SPOT_A100 = 'A100_USDAI';
export const USDAI = 'USDAI';
export const H100 = 'H100';
export const A100 = 'A100';

export const USDAI_DECIMALS = 18;
export const CREDIT_DECIMALS = 6;
/** 0.001 USDai (one tick) × 1 GPU-hour (one lot), in USDAI base units: 10^-3 × 10^18. */
export const QUOTE_UNITS_PER_TICK_LOT = 10n ** 15n;
/** One GPU-hour in credit base units. */
export const CREDIT_UNITS_PER_LOT = 10n ** 6n;
export const TAKER_BASIS_POINTS = 3n;
export const MAKER_BASIS_POINTS = 0n;
export const INSURANCE_SHARE_PERCENT = 10n;
export const BOND_PERCENT = 20n;

/** A USDai amount written as a decimal ("2.5") in base units, exactly. */
export function usdai(text: string): bigint {
  return scaledUnits(text, USDAI_DECIMALS);
}

/** GPU-hours in credit base units. */
export function credits(hours: number): bigint {
  return BigInt(hours) * CREDIT_UNITS_PER_LOT;
}

/** What `lots` lots at `priceTicks` cost, in USDAI base units. */
export function notional(priceTicks: number, lots: number): bigint {
  return QUOTE_UNITS_PER_TICK_LOT * BigInt(priceTicks) * BigInt(lots);
}

/** A fee of `basisPoints` on `notionalUnits`, rounded up to a whole base unit. */
export function feeRoundedUp(notionalUnits: bigint, basisPoints: bigint): bigint {
  return (notionalUnits * basisPoints + 9_999n) / 10_000n;
}

export function takerFee(notionalUnits: bigint): bigint {
  return feeRoundedUp(notionalUnits, TAKER_BASIS_POINTS);
}

/** What one lot of a limit buy at `priceTicks` holds: notional + the larger fee (taker), rounded up. */
export function buyHoldPerLot(priceTicks: number, basisPointsMax: bigint = TAKER_BASIS_POINTS, unitsPerTickLot: bigint = QUOTE_UNITS_PER_TICK_LOT): bigint {
  const perLot = unitsPerTickLot * BigInt(priceTicks);
  return perLot + feeRoundedUp(perLot, basisPointsMax);
}

/** One spot tick (0.001) × one lot (1 GPU-hour) in base units of a quote currency with `decimals`. */
export function quoteUnitsPerTickLot(decimals: number): bigint {
  if (decimals < 3) throw new Error('a 0.001 tick needs at least 3 decimals');
  return 10n ** BigInt(decimals - 3);
}

/** The insurance fund's share of a fee (the fee pool keeps the rest). */
export function insuranceShare(feeUnits: bigint): bigint {
  return (feeUnits * INSURANCE_SHARE_PERCENT) / 100n;
}

function scaledUnits(text: string, decimals: number): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null || (match[2] ?? '').length > decimals) throw new Error(`not an amount: ${text}`);
  return BigInt(match[1] + (match[2] ?? '').padEnd(decimals, '0'));
}

// ---------------------------------------------------------------------------------------------
// Time

export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;
/** Monday 1 June 2026, 06:00 UTC: two hours before the daily 08:00 UTC settlement. */
export const START_MS = Date.UTC(2026, 5, 1, 6, 0, 0);

export function utc(year: number, month: number, day: number, hour = 0, minute = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute, 0);
}

// ---------------------------------------------------------------------------------------------
// Configuration

export function shippedConfig(): RawExchangeConfig {
  return JSON.parse(readFileSync(new URL('../../config/exchange.json', import.meta.url), 'utf8')) as RawExchangeConfig;
}

export function leanConfig(): RawExchangeConfig {
  const config = shippedConfig();
  config.options.expiriesListed = 0;
  return config;
}

// ---------------------------------------------------------------------------------------------
// One command's outcome

export class Outcome {
  constructor(
    readonly command: Command,
    readonly events: Event[],
    /** The order id this command issued (a place issues at most one), if any. */
    readonly issuedOrderId: number | undefined,
  ) {}

  get rejection(): Rejection | undefined {
    const rejected = this.events.find((event) => event.kind === 'rejected');
    return rejected?.kind === 'rejected' ? rejected.rejection : undefined;
  }

  get trades(): TradeView[] {
    return this.events.flatMap((event) => (event.kind === 'trade' ? [event.trade] : []));
  }

  get orders(): OrderView[] {
    return this.events.flatMap((event) => (event.kind === 'order' ? [event.order] : []));
  }

  /** The order event of `orderId` in this outcome (each order is reported at most once). */
  order(orderId: number): OrderView | undefined {
    return this.orders.find((order) => order.orderId === orderId);
  }

  /** The id of the order a place created, or the original order a retry named. */
  get orderId(): number {
    const retry = this.events.find((event) => event.kind === 'order_retry');
    if (retry?.kind === 'order_retry') return retry.orderId;
    if (this.issuedOrderId === undefined) throw new Error(`${this.command.kind} issued no order: ${describeEvents(this.events)}`);
    return this.issuedOrderId;
  }

  kinds(): string[] {
    return this.events.map((event) => event.kind);
  }

  of<K extends Event['kind']>(kind: K): Extract<Event, { kind: K }>[] {
    return this.events.filter((event): event is Extract<Event, { kind: K }> => event.kind === kind);
  }
}

export function describeEvents(events: Event[]): string {
  return JSON.stringify(events, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

// ---------------------------------------------------------------------------------------------
// The exchange

export interface ExchangeOptions {
  /** Raw configuration for init_exchange; default the shipped config/exchange.json. */
  config?: RawExchangeConfig;
  /** The shipped config without options (see the top of this file). */
  lean?: boolean;
  startMs?: number;
  /** Check every open order's hold against the fee rule (off when a test changes fees). */
  checkHolds?: boolean;
}

export type PlaceFields = Partial<Omit<PlaceOrder, 'kind' | 'accountId'>>;

export class Exchange {
  readonly state: ExchangeState = emptyState();
  readonly lean: boolean;
  sequence = 0;
  timeMs: number;
  checkHolds: boolean;
  /** Every trade so far, in order. */
  readonly trades: TradeView[] = [];
  /** Net external flow per currency as the events told it: in − out. */
  private readonly externalNet = new Map<string, bigint>();
  private readonly inFlight = new Map<string, bigint>();
  private nextTimeMs: number | undefined;
  private idCounter = 0;
  private capacityProvider = 0;

  constructor(options: ExchangeOptions = {}) {
    this.lean = options.lean === true;
    this.timeMs = options.startMs ?? START_MS;
    this.checkHolds = options.checkHolds ?? true;
    const config = options.config ?? (this.lean ? leanConfig() : shippedConfig());
    this.at(this.timeMs);
    const outcome = this.run({ kind: 'init_exchange', config });
    if (outcome.rejection) throw new Error(`init_exchange rejected: ${describeEvents(outcome.events)}`);
  }

  /** The next command runs at `timeMs` (then time goes on 1 ms per command). */
  at(timeMs: number): this {
    if (timeMs < this.timeMs) throw new Error(`time would run backwards: ${timeMs} < ${this.timeMs}`);
    this.nextTimeMs = timeMs;
    return this;
  }

  /** Applies one command at the next sequence number and checks every law afterwards. */
  run(command: Command): Outcome {
    const timeMs = this.nextTimeMs ?? this.timeMs + 1;
    this.nextTimeMs = undefined;
    this.sequence += 1;
    this.timeMs = timeMs;
    const nextOrderIdBefore = this.state.nextOrderId;
    const events = applyCommand(this.state, command, this.sequence, timeMs);
    const issuedOrderId = this.state.nextOrderId > nextOrderIdBefore ? nextOrderIdBefore : undefined;
    if (this.state.nextOrderId > nextOrderIdBefore + 1) throw new Error(`one command issued ${this.state.nextOrderId - nextOrderIdBefore} order ids`);
    const outcome = new Outcome(command, events, issuedOrderId);
    this.observe(outcome);
    try {
      checkConservation(this.state);
      checkLaws(this);
    } catch (error) {
      throw new Error(`after command ${this.sequence} (${JSON.stringify(command).slice(0, 300)}): ${(error as Error).message}`, { cause: error });
    }
    return outcome;
  }

  /** A clock_tick at `timeMs` (default: 1 ms later): lets time act with no other command. */
  tick(timeMs?: number): Outcome {
    if (timeMs !== undefined) this.at(timeMs);
    return this.run({ kind: 'clock_tick' });
  }

  // -- accounts and money ---------------------------------------------------------------------

  account(owner: string, accountKind: 'trader' | 'provider' = 'trader'): number {
    const outcome = this.run({ kind: 'create_account', owner, accountKind });
    const created = outcome.of('account_created')[0];
    if (created === undefined) throw new Error(`create_account ${owner} failed: ${describeEvents(outcome.events)}`);
    return created.accountId;
  }

  /** A trader with 1,000 USDai and 100 H100 credits, the stake every test trader starts with. */
  trader(owner: string): number {
    const accountId = this.account(owner);
    this.deposit(accountId, USDAI, usdai('1000'));
    this.giveCredits(accountId, H100, 100);
    return accountId;
  }

  /** Credits a deposit of `units` (a fresh deposit id each time). */
  deposit(accountId: number, currency: string, units: bigint): Outcome {
    const outcome = this.run({ kind: 'credit_deposit', depositId: this.freshId('deposit'), accountId, currency, amountUnits: units.toString() });
    if (outcome.rejection) throw new Error(`deposit failed: ${describeEvents(outcome.events)}`);
    return outcome;
  }

  /**
   * Gives an account GPU-hour credits the way CONTRACTS.md says credits enter: a provider of this
   * harness is credited with capacity (bonded in USDAI) and transfers the credits on.
   */
  giveCredits(accountId: number, sku: string, hours: number): void {
    if (this.capacityProvider === 0) {
      this.capacityProvider = this.account('harness-capacity-provider', 'provider');
      this.deposit(this.capacityProvider, USDAI, usdai('100000000'));
    }
    const capacity = this.run({
      kind: 'credit_capacity', capacityId: this.freshId('capacity'), providerAccountId: this.capacityProvider, sku, gpuHours: hours, referencePriceTicks: 2_500,
    });
    if (capacity.rejection) throw new Error(`credit_capacity failed: ${describeEvents(capacity.events)}`);
    const moved = this.run({
      kind: 'transfer', transferId: this.freshId('transfer'), fromAccountId: this.capacityProvider, toAccountId: accountId, currency: sku, amountUnits: credits(hours).toString(),
    });
    if (moved.rejection) throw new Error(`credit transfer failed: ${describeEvents(moved.events)}`);
  }

  freshId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}-${this.idCounter}`;
  }

  balance(accountId: number, currency: string): Balance {
    const balance = this.state.accounts[accountId]?.balances.get(currency);
    return { available: balance?.available ?? 0n, reserved: balance?.reserved ?? 0n, bonded: balance?.bonded ?? 0n };
  }

  available(accountId: number, currency: string): bigint {
    return this.balance(accountId, currency).available;
  }

  reserved(accountId: number, currency: string): bigint {
    return this.balance(accountId, currency).reserved;
  }

  feePool(currency: string = USDAI): bigint {
    return this.state.feePool.get(currency) ?? 0n;
  }

  insuranceFund(currency: string = USDAI): bigint {
    return this.state.insuranceFund.get(currency) ?? 0n;
  }

  // -- orders ----------------------------------------------------------------------------------

  /** Places an order; defaults: spot H100_USDAI, limit, good_til_cancelled. */
  place(accountId: number, side: 'buy' | 'sell', amountLots: number, priceTicks: number | undefined, fields: PlaceFields = {}): Outcome {
    const command: PlaceOrder = {
      kind: 'place_order',
      accountId,
      instrument: SPOT,
      side,
      type: priceTicks === undefined ? 'market' : 'limit',
      amountLots,
      timeInForce: 'good_til_cancelled',
      ...(priceTicks === undefined ? {} : { priceTicks }),
      ...fields,
    };
    return this.run(command);
  }

  buy(accountId: number, amountLots: number, priceTicks: number, fields: PlaceFields = {}): Outcome {
    return this.place(accountId, 'buy', amountLots, priceTicks, fields);
  }

  sell(accountId: number, amountLots: number, priceTicks: number, fields: PlaceFields = {}): Outcome {
    return this.place(accountId, 'sell', amountLots, priceTicks, fields);
  }

  /** An order that must be accepted; returns its id. */
  rest(accountId: number, side: 'buy' | 'sell', amountLots: number, priceTicks: number | undefined, fields: PlaceFields = {}): number {
    const outcome = this.place(accountId, side, amountLots, priceTicks, fields);
    if (outcome.rejection) throw new Error(`place rejected: ${describeEvents(outcome.events)}`);
    return outcome.orderId;
  }

  cancel(accountId: number, orderId: number): Outcome {
    return this.run({ kind: 'cancel_order', accountId, orderId });
  }

  /** Deribit `edit`: the new total amount (filled lots included) and, optionally, a new price. */
  amend(accountId: number, orderId: number, amountLots: number, priceTicks?: number, fields: { triggerPriceTicks?: number } = {}): Outcome {
    return this.run({ kind: 'amend_order', accountId, orderId, amountLots, ...(priceTicks === undefined ? {} : { priceTicks }), ...fields });
  }

  /** The engine's record of an open or untriggered order (closed orders leave the state). */
  order(orderId: number): OrderRecord | undefined {
    return this.state.orders.get(orderId);
  }

  openOrderIds(accountId: number): number[] {
    return [...(this.state.accounts[accountId]?.openOrderIds ?? [])];
  }

  /**
   * The book as text, best level first, each level's orders oldest first:
   * `{ bids: ['2500: #3 x4, #7 x1'], asks: [...] }`.
   */
  book(instrument: string = SPOT): { bids: string[]; asks: string[] } {
    const book = this.state.books.get(instrument);
    if (book === undefined) throw new Error(`no book ${instrument}`);
    const side = (which: Side): string[] =>
      book.topLevels(which, 1_000).map((level) => `${level.priceTicks}: ${book.levelOrders(which, level.priceTicks).map((order) => `#${order.orderId} x${order.qtyLots}`).join(', ')}`);
    return { bids: side(Side.Buy), asks: side(Side.Sell) };
  }

  // -- bookkeeping of external flows (for the independent conservation check) ---------------

  private observe(outcome: Outcome): void {
    for (const event of outcome.events) {
      switch (event.kind) {
        case 'trade':
          this.trades.push(event.trade);
          if (event.trade.makerAccountId === event.trade.takerAccountId) {
            throw new Error(`self-trade: trade ${event.trade.tradeId} between orders ${event.trade.makerOrderId} and ${event.trade.takerOrderId} of account ${event.trade.takerAccountId}`);
          }
          break;
        case 'deposit_credited':
          addTo(this.externalNet, event.currency, event.amountUnits);
          break;
        case 'capacity_credited':
          addTo(this.externalNet, event.sku, credits(event.gpuHours));
          break;
        case 'redemption':
          if (event.state === 'pending') addTo(this.externalNet, event.sku, -credits(event.gpuHours));
          break;
        case 'withdrawal':
          if (event.state === 'requested') addTo(this.inFlight, event.currency, event.amountUnits);
          else addTo(this.inFlight, event.currency, -event.amountUnits);
          if (event.state === 'completed') addTo(this.externalNet, event.currency, -event.amountUnits);
          break;
        default:
          break;
      }
    }
  }

  /** Σ accounts + fee pool + insurance + in flight must equal the net external flow, per currency. */
  checkExternalConservation(): void {
    const held = new Map<string, bigint>();
    for (const account of this.state.accounts) {
      if (account === null) continue;
      for (const [currency, balance] of account.balances) addTo(held, currency, balance.available + balance.reserved + balance.bonded);
    }
    for (const pool of [this.state.feePool, this.state.insuranceFund, this.inFlight]) {
      for (const [currency, units] of pool) addTo(held, currency, units);
    }
    for (const currency of new Set([...held.keys(), ...this.externalNet.keys()])) {
      const expected = this.externalNet.get(currency) ?? 0n;
      const actual = held.get(currency) ?? 0n;
      if (expected !== actual) throw new Error(`${currency}: accounts and pools hold ${actual}, but the events brought in net ${expected}`);
    }
    for (const [currency, units] of this.inFlight) {
      if ((this.state.withdrawalsInFlight.get(currency) ?? 0n) !== units) throw new Error(`${currency}: withdrawals in flight ${this.state.withdrawalsInFlight.get(currency)}, events say ${units}`);
    }
  }
}

function addTo(map: Map<string, bigint>, key: string, units: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + units);
}

/** The laws this harness checks after every command, besides the engine's checkConservation. */
function checkLaws(exchange: Exchange): void {
  const state = exchange.state;
  if (state.config === null) return;
  exchange.checkExternalConservation();
  const fees = state.config.raw.fees;
  const basisPointsMax = BigInt(Math.max(fees.makerBasisPoints, fees.takerBasisPoints));
  const unitsPerTickLot = quoteUnitsPerTickLot(state.config.raw.currencies[state.config.raw.settlementCurrency].decimals);
  for (const order of state.orders.values()) {
    if (order.remainingLots <= 0) throw new Error(`open order ${order.orderId} has ${order.remainingLots} lots left`);
    // ≤, not =: self-trade decrement_both takes lots off an order without filling them (see the
    // discrepancy case in spot_trading.test.ts).
    if (order.filledLots + order.remainingLots > order.amountLots) throw new Error(`order ${order.orderId}: filled ${order.filledLots} + remaining ${order.remainingLots} > amount ${order.amountLots}`);
    if (!exchange.checkHolds) continue;
    const expected = order.side === 'sell' ? credits(order.remainingLots) : BigInt(order.remainingLots) * buyHoldPerLot(order.priceTicks, basisPointsMax, unitsPerTickLot);
    const held = BigInt(order.remainingLots) * order.reservePerLotUnits;
    // A re-priced post-only buy keeps the hold of the limit it was sent with (a known discrepancy,
    // pinned by its own failing test in spot_trading.test.ts); here it must at least cover its price.
    const repriced = order.postOnly && !order.rejectPostOnly && order.side === 'buy';
    if (repriced ? held < expected : held !== expected) throw new Error(`order ${order.orderId} (${order.side} ${order.remainingLots} @ ${order.priceTicks}) holds ${held}, the rule says ${expected}`);
  }
  for (const [name, book] of state.books) {
    const bid = book.bestBid();
    const ask = book.bestAsk();
    if (bid > 0 && ask > 0 && bid >= ask) throw new Error(`${name} is crossed: bid ${bid} ≥ ask ${ask}`);
  }
}

// ---------------------------------------------------------------------------------------------
// "Nothing changed"

/**
 * Everything a command may change, serialized canonically, except the sequence number and time:
 * accounts (balances, open orders, labels, rate bucket), open and untriggered orders, each book
 * (its hash and resting orders), prices, pools, ledger totals, ids seen, withdrawals, capacities,
 * redemptions, expiry bookkeeping and any instrument not trading.
 */
export function ledgerDigest(state: ExchangeState): string {
  const books: unknown[] = [];
  for (const [name, book] of state.books) {
    if (book.restingOrderCount === 0) continue;
    const resting: number[][] = [];
    book.forEachResting((side, orderId, priceTicks, qtyLots, accountId) => resting.push([side, orderId, priceTicks, qtyLots, accountId]));
    books.push([name, book.stateHash(), resting]);
  }
  const digest = {
    accounts: state.accounts.slice(1).map((account) => ({
      id: account!.id,
      balances: [...account!.balances],
      openOrderIds: [...account!.openOrderIds],
      stopOrderCount: account!.stopOrderCount,
      labels: [...account!.labels],
      rate: [account!.rateTokensMilli, account!.rateUpdatedMs],
    })),
    orders: [...state.orders.values()],
    books,
    stopOrderIds: [...state.stopOrderIds],
    next: [state.nextOrderId, state.nextTradeId],
    prices: [[...state.lastPriceTicks], [...state.lastTickDirection], [...state.markPriceTicks], [...state.indexPriceTicks]],
    pools: [[...state.feePool], [...state.insuranceFund], [...state.deposited], [...state.withdrawn], [...state.withdrawalsInFlight]],
    ids: [[...state.depositIds], [...state.transferIds]],
    withdrawals: [...state.withdrawals.values()],
    capacities: [...state.capacities.values()],
    redemptions: [...state.redemptions.values()],
    expiry: [[...state.gtdExpiryByInstrument], state.nextCalendarMs],
    instruments: [state.instruments.size, [...state.instruments.values()].filter((instrument) => instrument.state !== 'trading').map((instrument) => [instrument.name, instrument.state])],
    halted: state.haltedReason,
    config: state.config?.raw ?? null,
  };
  return JSON.stringify(digest, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

/**
 * Runs a command that the rules say must be rejected with `rejection`, and checks that it was
 * rejected with exactly that, that the rejection is its only event, and that nothing changed: the
 * ledger digest is the same, and (lean exchanges) the whole state hashes the same as a twin copy
 * of the state that received a clock_tick at the same sequence number and time instead.
 */
export function expectRejected(t: EngineTest, exchange: Exchange, command: Command, rejection: Rejection, message?: string): Outcome {
  const before = ledgerDigest(exchange.state);
  const twin = exchange.lean ? restoreState(serializeState(exchange.state)) : undefined;
  const outcome = exchange.run(command);
  const what = message ?? `${command.kind} is rejected ${rejection.reason}`;
  t.match(outcome.rejection, { code: rejection.code, message: rejection.message, reason: rejection.reason }, what);
  t.same(outcome.kinds(), ['rejected'], `${what}: the rejection is the only event`);
  t.equal(ledgerDigest(exchange.state), before, `${what}: accounts, orders and books are unchanged`);
  if (twin !== undefined) {
    applyCommand(twin, { kind: 'clock_tick' }, exchange.sequence, exchange.timeMs);
    t.equal(stateHash(exchange.state), stateHash(twin), `${what}: the state hashes like a twin that got a clock_tick instead`);
  }
  return outcome;
}

/** A lean exchange with two funded traders, the cast of most spot cases. */
export function twoTraders(options: ExchangeOptions = {}): { exchange: Exchange; alice: number; bob: number } {
  const exchange = new Exchange({ lean: true, ...options });
  const alice = exchange.trader('alice');
  const bob = exchange.trader('bob');
  return { exchange, alice, bob };
}
