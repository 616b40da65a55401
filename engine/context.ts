import type { Event, OrderView } from './events.js';
import type { Rejection } from './result_codes.js';
import type { Account, ExchangeState, OrderRecord } from './state.js';

// One command's application: the state, the command's sequence and time, and what it produced.
// Balances and orders touched during the command are noted and reported once each at the end, in
// the order they were first touched, so a maker filled twice in a sweep yields one order event.

export class ApplyContext {
  /** This command's events; a new array each command, since the caller keeps it. */
  events: Event[] = [];
  // The bookkeeping arrays are reused from command to command with a count of what is current
  // (entries past the count are stale): emptying them with `length = 0` cost more than new arrays.
  private readonly touchedAccounts: Account[] = [];
  private readonly touchedCurrencies: string[] = [];
  private touchedBalanceCount = 0;
  private readonly touchedOrders: OrderRecord[] = [];
  private touchedOrderCount = 0;
  private readonly movedInstruments: string[] = [];
  /** How many instruments' last or mark price moved in this command (for stop triggers). */
  movedInstrumentCount = 0;
  rejected = false;
  /** Replay that nobody listens to: finish() leaves out the order and balance events (state is the same). */
  quiet = false;

  // Set by begin() before each command; there is no context outside one.
  state!: ExchangeState;
  sequence = 0;
  timeMs = 0;

  /**
   * Readies the context for the next command. One context serves every command (applyCommand
   * never nests), which was a sixth of what the state machine allocated per command.
   */
  begin(state: ExchangeState, sequence: number, timeMs: number, quiet: boolean): this {
    this.quiet = quiet;
    this.state = state;
    this.sequence = sequence;
    this.timeMs = timeMs;
    this.events = [];
    this.touchedBalanceCount = 0;
    this.touchedOrderCount = 0;
    this.movedInstrumentCount = 0;
    this.rejected = false;
    return this;
  }

  reject(rejection: Rejection, detail: string): Event[] {
    this.rejected = true;
    this.events.push({ kind: 'rejected', rejection, detail });
    return this.events;
  }

  touchBalance(account: Account, currency: string): void {
    const count = this.touchedBalanceCount;
    for (let index = 0; index < count; index++) {
      if (this.touchedAccounts[index] === account && this.touchedCurrencies[index] === currency) return;
    }
    this.touchedAccounts[count] = account;
    this.touchedCurrencies[count] = currency;
    this.touchedBalanceCount = count + 1;
  }

  touchOrder(order: OrderRecord): void {
    order.updatedMs = this.timeMs;
    if (order.eventSequence === this.sequence) return;
    order.eventSequence = this.sequence;
    this.touchedOrders[this.touchedOrderCount++] = order;
  }

  priceMoved(instrument: string): void {
    for (let index = 0; index < this.movedInstrumentCount; index++) {
      if (this.movedInstruments[index] === instrument) return;
    }
    this.movedInstruments[this.movedInstrumentCount++] = instrument;
  }

  /** The index-th instrument whose price moved (index < movedInstrumentCount). */
  movedInstrument(index: number): string {
    return this.movedInstruments[index];
  }

  /** Appends the order and balance events of everything touched (unless quiet), and returns all events. */
  finish(): Event[] {
    if (this.quiet) return this.events;
    for (let index = 0; index < this.touchedOrderCount; index++) this.events.push({ kind: 'order', order: orderView(this.touchedOrders[index]) });
    for (let index = 0; index < this.touchedBalanceCount; index++) {
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
