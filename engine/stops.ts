import { assert, fail } from './assert.js';
import type { OrderTypeText } from './commands.js';
import type { ApplyContext } from './context.js';
import { limits } from './limits.js';
import { closeOrder, submitToBook } from './matching.js';
import type { ExchangeState, OrderRecord } from './state.js';

// Stop and take-profit orders wait in the engine, outside the book, holding their reserve from
// the moment they are placed. After every command the engine looks at the instruments whose
// trigger prices moved; the orders that trigger enter the book in order-id order (the order they
// were placed), and a trigger that trades may move the price again and trigger more, up to
// `triggerCascadeMax` per command.
//
//   stop_*: buy when price >= trigger, sell when price <= trigger (breakout / stop-loss)
//   take_*: buy when price <= trigger, sell when price >= trigger (take-profit)

export function isStopType(type: OrderTypeText): boolean {
  return type !== 'limit' && type !== 'market';
}

export function addStopOrder(ctx: ApplyContext, order: OrderRecord): void {
  const state = ctx.state;
  let ids = state.stopOrderIds.get(order.instrument);
  if (ids === undefined) {
    ids = [];
    state.stopOrderIds.set(order.instrument, ids);
  }
  if (!(ids.length === 0 || ids[ids.length - 1] < order.orderId)) fail('stop order ids must grow');
  ids.push(order.orderId);
  state.accounts[order.accountId]!.stopOrderCount++;
  if (order.expiresAtMs > 0 && order.expiresAtMs < state.nextStopExpiryMs) state.nextStopExpiryMs = order.expiresAtMs;
  ctx.touchOrder(order);
  // It may already be past its trigger: evaluate at the end of this command.
  ctx.priceMoved(order.instrument);
}

export function removeStopOrder(state: ExchangeState, order: OrderRecord): void {
  const ids = state.stopOrderIds.get(order.instrument)!;
  const index = ids.indexOf(order.orderId);
  if (index < 0) fail(`stop order ${order.orderId} is not listed`);
  ids.splice(index, 1);
  if (ids.length === 0) state.stopOrderIds.delete(order.instrument);
  state.accounts[order.accountId]!.stopOrderCount--;
}

/** Triggers every stop order whose condition holds, instrument by instrument, cascades included. */
export function triggerStops(ctx: ApplyContext): void {
  const state = ctx.state;
  let budget = limits.triggerCascadeMax;
  // The list grows while we walk it when triggered orders trade other instruments' prices.
  for (let index = 0; index < ctx.movedInstrumentCount; index++) {
    const instrument = ctx.movedInstrument(index);
    for (;;) {
      const due = dueStopOrders(state, instrument);
      if (due.length === 0) break;
      for (const order of due) {
        assert(budget-- > 0, `more than ${limits.triggerCascadeMax} stop orders triggered by one command`);
        activate(ctx, order);
      }
    }
  }
}

const NONE_DUE: readonly OrderRecord[] = Object.freeze([]);

function dueStopOrders(state: ExchangeState, instrumentName: string): readonly OrderRecord[] {
  const ids = state.stopOrderIds.get(instrumentName);
  if (ids === undefined) return NONE_DUE;
  const instrument = state.instruments.get(instrumentName)!;
  const due: OrderRecord[] = [];
  for (const orderId of ids) {
    const order = state.orders.get(orderId)!;
    const priceTicks =
      order.trigger === 'last_price' ? state.lastPriceTicks.get(instrumentName)
      : order.trigger === 'mark_price' ? state.markPriceTicks.get(instrumentName)
      : state.indexPriceTicks.get(instrument.sku);
    if (priceTicks !== undefined && isTriggered(order, priceTicks)) due.push(order);
  }
  return due;
}

function isTriggered(order: OrderRecord, priceTicks: number): boolean {
  const isStop = order.type === 'stop_limit' || order.type === 'stop_market';
  const buy = order.side === 'buy';
  return isStop === buy ? priceTicks >= order.triggerPriceTicks : priceTicks <= order.triggerPriceTicks;
}

/**
 * Good-till-day stop orders that have not triggered by their expiry leave (Expired), in order-id
 * order per instrument; runs when time passes the earliest such expiry.
 */
export function expireStopOrders(ctx: ApplyContext): void {
  const state = ctx.state;
  let nextExpiryMs = Number.MAX_SAFE_INTEGER;
  for (const name of [...state.stopOrderIds.keys()].sort()) {
    for (const orderId of [...state.stopOrderIds.get(name)!]) {
      const order = state.orders.get(orderId)!;
      if (order.expiresAtMs === 0) continue;
      if (order.expiresAtMs <= ctx.timeMs) {
        removeStopOrder(state, order);
        closeOrder(ctx, order, 'expired');
      } else if (order.expiresAtMs < nextExpiryMs) {
        nextExpiryMs = order.expiresAtMs;
      }
    }
  }
  state.nextStopExpiryMs = nextExpiryMs;
}

/** A triggered order keeps its id and reserve and enters the book as a limit or market order. */
function activate(ctx: ApplyContext, order: OrderRecord): void {
  const state = ctx.state;
  removeStopOrder(state, order);
  order.triggered = true;
  order.state = 'open';
  const instrument = state.instruments.get(order.instrument)!;
  if (instrument.state !== 'trading') {
    closeOrder(ctx, order, 'book_closed');
    return;
  }
  // Time acts before triggers in every command, so an expired stop is gone before it can trigger.
  if (!(order.expiresAtMs === 0 || order.expiresAtMs > ctx.timeMs)) fail(`stop order ${order.orderId} triggered after its expiry`);
  submitToBook(ctx, instrument, order);
}
