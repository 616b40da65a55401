import type { Event, OrderView } from './events.js';
import type { Rejection } from './result_codes.js';
import type { Account, ExchangeState, OrderRecord } from './state.js';

// One command's application: the state, the command's sequence and time, and what it produced.
// Balances and orders touched during the command are noted and reported once each at the end, in
// the order they were first touched, so a maker filled twice in a sweep yields one order event.

export class ApplyContext {
  /** This command's events; a new array each command, since the caller keeps it. */
  events: Event[] = [];
  private readonly touchedAccounts: Account[] = [];
  private readonly touchedCurrencies: string[] = [];
  private readonly touchedOrders: OrderRecord[] = [];
  /** Instruments whose last or mark price moved in this command (for stop triggers). */
  readonly movedInstruments: string[] = [];
  rejected = false;

  constructor(
    public state: ExchangeState,
    public sequence: number,
    public timeMs: number,
  ) {}

  /**
   * Readies the context for the next command. One context serves every command (applyCommand
   * never nests): its bookkeeping arrays are emptied, not reallocated, which was a sixth of what
   * the state machine allocated per command.
   */
  begin(state: ExchangeState, sequence: number, timeMs: number): this {
    this.state = state;
    this.sequence = sequence;
    this.timeMs = timeMs;
    this.events = [];
    this.touchedAccounts.length = 0;
    this.touchedCurrencies.length = 0;
    this.touchedOrders.length = 0;
    this.movedInstruments.length = 0;
    this.rejected = false;
    return this;
  }

  reject(rejection: Rejection, detail: string): Event[] {
    this.rejected = true;
    this.events.push({ kind: 'rejected', rejection, detail });
    return this.events;
  }

  touchBalance(account: Account, currency: string): void {
    const accounts = this.touchedAccounts;
    for (let index = 0; index < accounts.length; index++) {
      if (accounts[index] === account && this.touchedCurrencies[index] === currency) return;
    }
    accounts.push(account);
    this.touchedCurrencies.push(currency);
  }

  touchOrder(order: OrderRecord): void {
    order.updatedMs = this.timeMs;
    if (order.eventSequence === this.sequence) return;
    order.eventSequence = this.sequence;
    this.touchedOrders.push(order);
  }

  priceMoved(instrument: string): void {
    if (!this.movedInstruments.includes(instrument)) this.movedInstruments.push(instrument);
  }

  /** Appends the order and balance events of everything touched, and returns all events. */
  finish(): Event[] {
    for (const order of this.touchedOrders) this.events.push({ kind: 'order', order: orderView(order) });
    for (let index = 0; index < this.touchedAccounts.length; index++) {
      const account = this.touchedAccounts[index];
      const currency = this.touchedCurrencies[index];
      const balance = account.balances.get(currency)!;
      this.events.push({
        kind: 'balance',
        accountId: account.id,
        currency,
        availableUnits: balance.available,
        reservedUnits: balance.reserved,
        bondedUnits: balance.bonded,
      });
    }
    return this.events;
  }
}

export function orderView(order: OrderRecord): OrderView {
  return {
    orderId: order.orderId,
    accountId: order.accountId,
    instrument: order.instrument,
    side: order.side,
    type: order.type,
    timeInForce: order.timeInForce,
    state: order.state,
    cancelReason: order.cancelReason,
    priceTicks: order.priceTicks,
    amountLots: order.amountLots,
    filledLots: order.filledLots,
    filledNotionalTickLots: order.filledNotionalTickLots,
    feeUnits: order.feeUnits,
    postOnly: order.postOnly,
    rejectPostOnly: order.rejectPostOnly,
    reduceOnly: order.reduceOnly,
    replaced: order.replaced,
    label: order.label,
    triggerPriceTicks: order.triggerPriceTicks,
    trigger: order.trigger,
    stopOrderId: order.triggered ? order.orderId : 0,
    createdMs: order.createdMs,
    updatedMs: order.updatedMs,
    expiresAtMs: order.expiresAtMs,
  };
}
