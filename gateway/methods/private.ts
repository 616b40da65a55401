import { Type, type Static } from '@sinclair/typebox';
import type { AmendOrder, CancelAll, CommandResult, Instrument, OrderView, PlaceOrder, TradeView } from '../../engine/index.js';
import { accountSummaryObject, orderObject, userTradeObject } from '../format.js';
import { gatewayLimits } from '../limits.js';
import { RpcError, WireError } from '../rpc.js';
import { amountToLots, priceToTicks } from '../wire_numbers.js';
import {
  BooleanLike,
  COST_MATCHING,
  COST_READ,
  Count,
  CurrencyName,
  Decimal,
  InstrumentName,
  IntegerLike,
  Kind,
  OneOf,
  Label,
  OrderId,
  instrumentOf,
  integerOf,
  optionalInteger,
  isTrue,
  matchesCurrency,
  matchesKind,
  method,
  submitOrThrow,
  type CallContext,
  type GatewayServices,
  type MethodSpec,
} from './registry.js';

// Private methods: order entry (buy, sell, edit, cancel…), the account's orders and trades, and its
// balances. Every order command goes through the sequencer and is answered only after its batch
// committed. Reads come from the committed read model (open orders, balances) or from history
// (closed orders, trades).

const OrderType = OneOf(['limit', 'market', 'stop_limit', 'stop_market', 'take_limit', 'take_market']);
const TimeInForce = OneOf(['good_til_cancelled', 'good_til_day', 'fill_or_kill', 'immediate_or_cancel']);
const Trigger = OneOf(['index_price', 'mark_price', 'last_price']);

const OrderParams = Type.Object({
  instrument_name: InstrumentName,
  amount: Type.Optional(Decimal),
  contracts: Type.Optional(Decimal),
  type: Type.Optional(OrderType),
  label: Type.Optional(Label),
  price: Type.Optional(Decimal),
  time_in_force: Type.Optional(TimeInForce),
  max_show: Type.Optional(Decimal),
  post_only: Type.Optional(BooleanLike),
  reject_post_only: Type.Optional(BooleanLike),
  reduce_only: Type.Optional(BooleanLike),
  trigger_price: Type.Optional(Decimal),
  trigger: Type.Optional(Trigger),
  self_trade_prevention: Type.Optional(OneOf(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement_both'])),
  mmp: Type.Optional(BooleanLike),
  access_token: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

const EditParams = Type.Object({
  order_id: OrderId,
  amount: Type.Optional(Decimal),
  contracts: Type.Optional(Decimal),
  price: Type.Optional(Decimal),
  trigger_price: Type.Optional(Decimal),
  post_only: Type.Optional(BooleanLike),
  reject_post_only: Type.Optional(BooleanLike),
  reduce_only: Type.Optional(BooleanLike),
  access_token: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

const Token = { access_token: Type.Optional(Type.String({ maxLength: 200 })) };
const OpenOrderType = Type.Optional(OneOf(['all', 'limit', 'trigger_all', 'stop_all', 'stop_limit', 'stop_market', 'take_all', 'take_limit', 'take_market', 'market']));

export function privateMethods(services: GatewayServices): MethodSpec[] {
  const settlement = () => ({ currency: services.state.config!.settlementCurrency, decimals: services.state.config!.settlementDecimals });
  const formatOrder = (order: OrderView) => orderObject(order, instrumentOf(services, order.instrument), settlement().decimals);
  const formatTrade = (trade: TradeView, accountId: number) => userTradeObject(trade, accountId, instrumentOf(services, trade.instrument), settlement().currency, settlement().decimals);
  const accountOf = (context: CallContext) => context.identity!.accountId;

  const placeHandler = (side: 'buy' | 'sell') => async (context: CallContext, params: Static<typeof OrderParams>) => {
    const instrument = instrumentOf(services, params.instrument_name);
    const command = placeCommand(accountOf(context), side, instrument, params);
    const result = await submitOrThrow(services, command);
    return orderReply(services, result, accountOf(context), formatOrder, formatTrade);
  };

  const cancelAllCommand = async (context: CallContext, filters: Omit<CancelAll, 'kind' | 'accountId'>) => {
    const result = await submitOrThrow(services, { kind: 'cancel_all', accountId: accountOf(context), ...filters });
    return cancelledCount(result, accountOf(context));
  };

  const openOrders = (context: CallContext, keep: (order: OrderView) => boolean, type: string | undefined) =>
    services.accounts.openOrdersOf(accountOf(context)).filter((order) => keep(order) && matchesOpenOrderType(order, type)).map(formatOrder);

  const orderState = async (context: CallContext, orderId: number) => {
    const open = services.accounts.openOrder(orderId);
    if (open !== undefined && open.accountId === accountOf(context)) return formatOrder(open);
    const closed = await closedOrder(services, orderId);
    if (closed === undefined || closed.accountId !== accountOf(context)) throw orderNotFound();
    return formatOrder(closed);
  };

  /** Trade ids double as Deribit's trade_seq here, so start_seq/end_seq and start_id/end_id bound the same field (inclusive). */
  const userTrades = async (context: CallContext, query: { instrument?: string; instrumentPrefix?: string; startTradeId?: number; endTradeId?: number; startTimeMs?: number; endTimeMs?: number; count: number | string | undefined; sorting?: string }) => {
    const count = boundedCount(query.count);
    const trades = await historyTrades(services, { accountId: accountOf(context), instrument: query.instrument, instrumentPrefix: query.instrumentPrefix, startTradeId: query.startTradeId, endTradeId: query.endTradeId, startTimeMs: query.startTimeMs, endTimeMs: query.endTimeMs, count: count + 1, newestFirst: query.sorting !== 'asc' });
    return { trades: trades.slice(0, count).map((trade) => formatTrade(trade, accountOf(context))), has_more: trades.length > count };
  };

  const currencyPrefixes = (currency: string) => {
    const code = currency.toUpperCase();
    if (code === services.state.config!.settlementCurrency || code === 'ANY') return undefined;
    return `${code}_`;
  };

  return [
    method({ name: 'private/buy', pipelined: true, params: OrderParams, scope: 'trade', cost: COST_MATCHING, handler: placeHandler('buy') }),
    method({ name: 'private/sell', pipelined: true, params: OrderParams, scope: 'trade', cost: COST_MATCHING, handler: placeHandler('sell') }),
    method({
      name: 'private/edit', pipelined: true,
      params: EditParams,
      scope: 'trade',
      cost: COST_MATCHING,
      handler: async (context, params) => {
        const orderId = Number(params.order_id);
        const current = services.accounts.openOrder(orderId);
        if (current === undefined || current.accountId !== accountOf(context)) throw (await closedOrder(services, orderId))?.accountId === accountOf(context) ? alreadyClosed() : orderNotFound();
        const command = amendCommand(accountOf(context), instrumentOf(services, current.instrument), current, params);
        const result = await submitOrThrow(services, { ...command, orderId });
        return orderReply(services, result, accountOf(context), formatOrder, formatTrade, orderId);
      },
    }),
    method({
      name: 'private/edit_by_label', pipelined: true,
      params: Type.Object({ label: Label, instrument_name: InstrumentName, amount: Type.Optional(Decimal), contracts: Type.Optional(Decimal), price: Type.Optional(Decimal), trigger_price: Type.Optional(Decimal), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: async (context, params) => {
        const current = services.accounts.openOrdersOf(accountOf(context)).find((order) => order.label === params.label && order.instrument === params.instrument_name);
        if (current === undefined) throw orderNotFound();
        const command = amendCommand(accountOf(context), instrumentOf(services, current.instrument), current, params);
        const result = await submitOrThrow(services, { ...command, orderId: current.orderId });
        return orderReply(services, result, accountOf(context), formatOrder, formatTrade, current.orderId);
      },
    }),
    method({
      name: 'private/cancel', pipelined: true,
      params: Type.Object({ order_id: OrderId, ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: async (context, params) => {
        const orderId = Number(params.order_id);
        const result = await submitOrThrow(services, { kind: 'cancel_order', accountId: accountOf(context), orderId });
        const order = lastOrderEvent(result, orderId);
        if (order === undefined) throw orderNotFound();
        return formatOrder(order);
      },
    }),
    method({
      name: 'private/cancel_by_label', pipelined: true,
      params: Type.Object({ label: Label, currency: Type.Optional(CurrencyName), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: async (context, params) => {
        const result = await submitOrThrow(services, { kind: 'cancel_by_label', accountId: accountOf(context), label: params.label });
        return cancelledCount(result, accountOf(context));
      },
    }),
    method({
      name: 'private/cancel_all', pipelined: true,
      params: Type.Object({ detailed: Type.Optional(BooleanLike), freeze_quotes: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: (context) => cancelAllCommand(context, {}),
    }),
    method({
      name: 'private/cancel_all_by_currency', pipelined: true,
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind), type: Type.Optional(OneOf(['all', 'limit', 'trigger_all', 'stop', 'take', 'trailing_stop'])), detailed: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: (context, params) => cancelAllCommand(context, { currency: params.currency.toUpperCase(), ...kindFilter(params.kind), orderType: orderTypeFilter(params.type) }),
    }),
    method({
      name: 'private/cancel_all_by_instrument', pipelined: true,
      params: Type.Object({ instrument_name: InstrumentName, type: Type.Optional(OneOf(['all', 'limit', 'trigger_all', 'stop', 'take', 'trailing_stop'])), detailed: Type.Optional(BooleanLike), include_combos: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: (context, params) => {
        instrumentOf(services, params.instrument_name);
        return cancelAllCommand(context, { instrument: params.instrument_name, orderType: orderTypeFilter(params.type) });
      },
    }),
    method({
      name: 'private/cancel_all_by_kind_or_type', pipelined: true,
      params: Type.Object({ currency: Type.Union([CurrencyName, Type.Array(CurrencyName, { maxItems: 20 })]), kind: Type.Optional(Kind), type: Type.Optional(OneOf(['all', 'limit', 'trigger_all', 'stop', 'take', 'trailing_stop'])), detailed: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      cost: COST_MATCHING,
      handler: async (context, params) => {
        const currencies = Array.isArray(params.currency) ? params.currency : [params.currency];
        let count = 0;
        for (const currency of currencies) {
          count += await cancelAllCommand(context, { ...(currency.toLowerCase() === 'any' ? {} : { currency: currency.toUpperCase() }), ...kindFilter(params.kind), orderType: orderTypeFilter(params.type) });
        }
        return count;
      },
    }),
    method({
      name: 'private/get_open_orders',
      params: Type.Object({ kind: Type.Optional(Kind), type: OpenOrderType, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => openOrders(context, (order) => matchesKind(instrumentOf(services, order.instrument), params.kind), params.type),
    }),
    method({
      name: 'private/get_open_orders_by_currency',
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind), type: OpenOrderType, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => openOrders(context, (order) => {
        const instrument = instrumentOf(services, order.instrument);
        return matchesCurrency(instrument, params.currency) && matchesKind(instrument, params.kind);
      }, params.type),
    }),
    method({
      name: 'private/get_open_orders_by_instrument',
      params: Type.Object({ instrument_name: InstrumentName, type: OpenOrderType, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => openOrders(context, (order) => order.instrument === params.instrument_name, params.type),
    }),
    method({
      name: 'private/get_open_orders_by_label',
      params: Type.Object({ currency: CurrencyName, label: Label, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => openOrders(context, (order) => order.label === params.label && matchesCurrency(instrumentOf(services, order.instrument), params.currency), 'all'),
    }),
    method({
      name: 'private/get_order_state',
      params: Type.Object({ order_id: OrderId, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => orderState(context, Number(params.order_id)),
    }),
    method({
      name: 'private/get_order_state_by_label',
      params: Type.Object({ currency: CurrencyName, label: Label, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: async (context, params) => {
        const open = services.accounts.openOrdersOf(accountOf(context)).filter((order) => order.label === params.label).map(formatOrder);
        const closed = services.history === undefined ? [] : await services.history.orders({ accountId: accountOf(context), label: params.label, count: gatewayLimits.queryCountMax, offset: 0 });
        return [...open, ...closed.map(formatOrder)];
      },
    }),
    method({
      name: 'private/get_order_history_by_currency',
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind), count: Type.Optional(Count), offset: Type.Optional(IntegerLike), include_old: Type.Optional(BooleanLike), include_unfilled: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: async (context, params) => {
        const orders = await historyOrders(services, { accountId: accountOf(context), instrumentPrefix: currencyPrefixes(params.currency), count: boundedCount(params.count, 20), offset: integerOf(params.offset, 0) });
        return orders.filter((order) => (isTrue(params.include_unfilled) || order.filledLots > 0) && matchesKind(instrumentOf(services, order.instrument), params.kind)).map(formatOrder);
      },
    }),
    method({
      name: 'private/get_order_history_by_instrument',
      params: Type.Object({ instrument_name: InstrumentName, count: Type.Optional(Count), offset: Type.Optional(IntegerLike), include_old: Type.Optional(BooleanLike), include_unfilled: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: async (context, params) => {
        const orders = await historyOrders(services, { accountId: accountOf(context), instrument: params.instrument_name, count: boundedCount(params.count, 20), offset: integerOf(params.offset, 0) });
        return orders.filter((order) => isTrue(params.include_unfilled) || order.filledLots > 0).map(formatOrder);
      },
    }),
    method({
      name: 'private/get_user_trades_by_currency',
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind), start_id: Type.Optional(IntegerLike), end_id: Type.Optional(IntegerLike), count: Type.Optional(Count), include_old: Type.Optional(BooleanLike), sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])), subaccount_id: Type.Optional(IntegerLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => userTrades(context, { instrumentPrefix: currencyPrefixes(params.currency), startTradeId: optionalInteger(params.start_id), endTradeId: optionalInteger(params.end_id), count: params.count, sorting: params.sorting }),
    }),
    method({
      name: 'private/get_user_trades_by_currency_and_time',
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind), start_timestamp: IntegerLike, end_timestamp: Type.Optional(IntegerLike), count: Type.Optional(Count), include_old: Type.Optional(BooleanLike), sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => userTrades(context, { instrumentPrefix: currencyPrefixes(params.currency), startTimeMs: Number(params.start_timestamp), endTimeMs: integerOf(params.end_timestamp, context.nowMs), count: params.count, sorting: params.sorting }),
    }),
    method({
      name: 'private/get_user_trades_by_instrument',
      params: Type.Object({ instrument_name: InstrumentName, start_seq: Type.Optional(IntegerLike), end_seq: Type.Optional(IntegerLike), count: Type.Optional(Count), include_old: Type.Optional(BooleanLike), sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => userTrades(context, { instrument: params.instrument_name, startTradeId: optionalInteger(params.start_seq), endTradeId: optionalInteger(params.end_seq), count: params.count, sorting: params.sorting }),
    }),
    method({
      name: 'private/get_user_trades_by_instrument_and_time',
      params: Type.Object({ instrument_name: InstrumentName, start_timestamp: IntegerLike, end_timestamp: Type.Optional(IntegerLike), count: Type.Optional(Count), include_old: Type.Optional(BooleanLike), sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => userTrades(context, { instrument: params.instrument_name, startTimeMs: Number(params.start_timestamp), endTimeMs: integerOf(params.end_timestamp, context.nowMs), count: params.count, sorting: params.sorting }),
    }),
    method({
      name: 'private/get_user_trades_by_order',
      params: Type.Object({ order_id: OrderId, sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])), historical: Type.Optional(BooleanLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: async (context, params) => {
        const trades = await historyTrades(services, { orderId: Number(params.order_id), accountId: accountOf(context), count: gatewayLimits.queryCountMax, newestFirst: params.sorting === 'desc' });
        return trades.map((trade) => formatTrade(trade, accountOf(context)));
      },
    }),
    method({
      name: 'private/get_account_summary',
      params: Type.Object({ currency: CurrencyName, extended: Type.Optional(BooleanLike), subaccount_id: Type.Optional(IntegerLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context, params) => {
        const code = params.currency.toUpperCase();
        const currency = services.state.config!.raw.currencies[code];
        if (currency === undefined || !Object.hasOwn(services.state.config!.raw.currencies, code)) throw WireError.invalidParams('currency', 'unknown currency');
        const summary = accountSummaryObject(accountOf(context), services.accounts.owner(accountOf(context)), code, services.accounts.balance(accountOf(context), code), currency.decimals);
        if (isTrue(params.extended)) summary.fees = feeSchedule(services);
        return summary;
      },
    }),
    method({
      name: 'private/get_account_summaries',
      params: Type.Object({ extended: Type.Optional(BooleanLike), subaccount_id: Type.Optional(IntegerLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (context) => {
        const accountId = accountOf(context);
        const owner = services.accounts.owner(accountId);
        const summaries = Object.entries(services.state.config!.raw.currencies).map(([code, currency]) => accountSummaryObject(accountId, owner, code, services.accounts.balance(accountId, code), currency.decimals));
        return { id: accountId, username: owner, email: '', system_name: owner, type: 'main', summaries };
      },
    }),
    method({
      name: 'private/get_positions',
      params: Type.Object({ currency: Type.Optional(CurrencyName), kind: Type.Optional(Kind), subaccount_id: Type.Optional(IntegerLike), ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      // Spot holds no positions; futures and options positions arrive with margin.
      handler: () => [],
    }),
    method({
      name: 'private/get_position',
      params: Type.Object({ instrument_name: InstrumentName, ...Token }, { additionalProperties: false }),
      scope: 'read',
      cost: COST_READ,
      handler: (_context, params) => {
        const instrument = instrumentOf(services, params.instrument_name);
        return {
          instrument_name: instrument.name, kind: instrument.kind, direction: 'zero', size: 0, size_currency: 0, average_price: 0,
          mark_price: 0, index_price: 0, settlement_price: 0, floating_profit_loss: 0, realized_profit_loss: 0, total_profit_loss: 0,
          initial_margin: 0, maintenance_margin: 0, open_orders_margin: 0, leverage: 0, estimated_liquidation_price: null, delta: 0,
          realized_funding: 0, interest_value: 0,
        };
      },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Commands from params

function placeCommand(accountId: number, side: 'buy' | 'sell', instrument: Instrument, params: Static<typeof OrderParams>): PlaceOrder {
  const type = params.type ?? 'limit';
  const amountLots = lotsParam(params.amount ?? params.contracts, instrument, params.amount === undefined ? 'contracts' : 'amount');
  const command: PlaceOrder = {
    kind: 'place_order',
    accountId,
    instrument: instrument.name,
    side,
    type,
    amountLots,
    timeInForce: params.time_in_force ?? 'good_til_cancelled',
  };
  const needsPrice = type === 'limit' || type === 'stop_limit' || type === 'take_limit';
  if (needsPrice) {
    if (params.price === undefined) throw WireError.invalidParams('price', 'required for this order type');
    command.priceTicks = ticksParam(params.price, instrument, 'price');
  }
  if (params.trigger_price !== undefined) command.triggerPriceTicks = ticksParam(params.trigger_price, instrument, 'trigger_price');
  if (params.trigger !== undefined) command.trigger = params.trigger;
  if (type !== 'limit' && type !== 'market' && command.trigger === undefined) command.trigger = 'last_price';
  if (isTrue(params.post_only)) {
    command.postOnly = true;
    // Deribit: reject_post_only defaults to false (re-price behind the spread).
    command.rejectPostOnly = isTrue(params.reject_post_only);
  }
  if (isTrue(params.reduce_only)) command.reduceOnly = true;
  if (params.label !== undefined && params.label !== '') command.label = params.label;
  if (params.self_trade_prevention !== undefined) command.selfTrade = params.self_trade_prevention;
  if (isTrue(params.mmp)) throw WireError.invalidParams('mmp', 'market maker protection is not offered yet');
  if (params.max_show !== undefined && lotsParam(params.max_show, instrument, 'max_show') !== amountLots) throw WireError.invalidParams('max_show', 'iceberg orders are not offered yet');
  return command;
}

function amendCommand(accountId: number, instrument: Instrument, current: OrderView, params: { amount?: string | number; contracts?: string | number; price?: string | number; trigger_price?: string | number }): AmendOrder {
  const amount = params.amount ?? params.contracts;
  const command: AmendOrder = {
    kind: 'amend_order',
    accountId,
    amountLots: amount === undefined ? current.amountLots : lotsParam(amount, instrument, params.amount === undefined ? 'contracts' : 'amount'),
  };
  if (params.price !== undefined) command.priceTicks = ticksParam(params.price, instrument, 'price');
  if (params.trigger_price !== undefined) command.triggerPriceTicks = ticksParam(params.trigger_price, instrument, 'trigger_price');
  return command;
}

function lotsParam(value: string | number | undefined, instrument: Instrument, name: string): number {
  if (value === undefined) throw WireError.invalidParams(name, 'required');
  const converted = amountToLots(value, instrument);
  if (!converted.ok) throw WireError.invalidParams(name, converted.why);
  return converted.value;
}

function ticksParam(value: string | number, instrument: Instrument, name: string): number {
  const converted = priceToTicks(value, instrument);
  if (!converted.ok) throw WireError.invalidParams(name, converted.why);
  return converted.value;
}

function kindFilter(kind: string | undefined): { instrumentKind?: 'spot' | 'future' | 'option' } {
  return kind === 'spot' || kind === 'future' || kind === 'option' ? { instrumentKind: kind } : {};
}

function orderTypeFilter(type: string | undefined): 'all' | 'limit' | 'trigger' {
  if (type === 'limit') return 'limit';
  if (type === 'trigger_all' || type === 'stop' || type === 'take') return 'trigger';
  return 'all';
}

function matchesOpenOrderType(order: OrderView, type: string | undefined): boolean {
  if (type === undefined || type === 'all') return true;
  const untriggered = order.state === 'untriggered';
  if (type === 'limit') return order.type === 'limit' || (!untriggered && order.type.endsWith('limit'));
  if (type === 'trigger_all') return untriggered;
  if (type === 'stop_all') return untriggered && order.type.startsWith('stop');
  if (type === 'take_all') return untriggered && order.type.startsWith('take');
  return order.type === type;
}

// ---------------------------------------------------------------------------------------------
// Replies

interface OrderReply {
  order: Record<string, unknown>;
  trades: Record<string, unknown>[];
}

/**
 * Deribit's {order, trades} for the order a command acted on. Synchronous unless the command was a
 * retry (answered from history): a promise per order reply costs microtask turns for nothing.
 */
function orderReply(
  services: GatewayServices,
  result: CommandResult,
  accountId: number,
  formatOrder: (order: OrderView) => Record<string, unknown>,
  formatTrade: (trade: TradeView, accountId: number) => Record<string, unknown>,
  orderId?: number,
): OrderReply | Promise<OrderReply> {
  const retry = result.events.find((event) => event.kind === 'order_retry');
  if (retry?.kind === 'order_retry') return retryReply(services, retry, accountId, formatOrder, formatTrade);
  const id = orderId ?? ownOrderIds(result, accountId)[0];
  const order = id === undefined ? undefined : lastOrderEvent(result, id);
  if (order === undefined) throw WireError.internal();
  const trades = result.events.flatMap((event) => (event.kind === 'trade' && (event.trade.takerOrderId === order.orderId || event.trade.makerOrderId === order.orderId) ? [formatTrade(event.trade, accountId)] : []));
  return { order: formatOrder(order), trades };
}

/** A retried order entry: the original order as it is now, and its trades, from history. */
async function retryReply(
  services: GatewayServices,
  retry: { orderId: number; order: OrderView | null },
  accountId: number,
  formatOrder: (order: OrderView) => Record<string, unknown>,
  formatTrade: (trade: TradeView, accountId: number) => Record<string, unknown>,
): Promise<OrderReply> {
  const order = retry.order ?? (await closedOrder(services, retry.orderId));
  if (order === undefined) throw orderNotFound();
  const trades = await historyTrades(services, { orderId: order.orderId, accountId, count: gatewayLimits.queryCountMax, newestFirst: false });
  return { order: formatOrder(order), trades: trades.map((trade) => formatTrade(trade, accountId)) };
}

function ownOrderIds(result: CommandResult, accountId: number): number[] {
  const ids: number[] = [];
  for (const event of result.events) if (event.kind === 'order' && event.order.accountId === accountId && !ids.includes(event.order.orderId)) ids.push(event.order.orderId);
  // The order a place created is the newest id of the account in this command.
  return ids.sort((a, b) => b - a);
}

function lastOrderEvent(result: CommandResult, orderId: number): OrderView | undefined {
  let found: OrderView | undefined;
  for (const event of result.events) if (event.kind === 'order' && event.order.orderId === orderId) found = event.order;
  return found;
}

function cancelledCount(result: CommandResult, accountId: number): number {
  return result.events.filter((event) => event.kind === 'order' && event.order.accountId === accountId && event.order.state === 'cancelled').length;
}

async function closedOrder(services: GatewayServices, orderId: number): Promise<OrderView | undefined> {
  if (services.history === undefined) return undefined;
  await services.history.whenWritten();
  return services.history.order(orderId);
}

async function historyOrders(services: GatewayServices, query: Parameters<NonNullable<GatewayServices['history']>['orders']>[0]): Promise<OrderView[]> {
  if (services.history === undefined) return [];
  await services.history.whenWritten();
  return services.history.orders(query);
}

async function historyTrades(services: GatewayServices, query: Parameters<NonNullable<GatewayServices['history']>['trades']>[0]): Promise<TradeView[]> {
  if (services.history === undefined) return [];
  await services.history.whenWritten();
  return services.history.trades(query);
}

function feeSchedule(services: GatewayServices): Record<string, unknown>[] {
  const fees = services.state.config!.raw.fees;
  return ['spot', 'future', 'option'].map((kind) => ({ instrument_type: kind, fee_type: 'relative', maker_fee: fees.makerBasisPoints / 10_000, taker_fee: fees.takerBasisPoints / 10_000 }));
}

function boundedCount(count: number | string | undefined, fallback = 10): number {
  return Math.min(Math.max(integerOf(count, fallback), 1), gatewayLimits.queryCountMax);
}

function orderNotFound(): RpcError {
  return new RpcError(10004, 'order_not_found', { reason: 'order_not_found' });
}

function alreadyClosed(): RpcError {
  return new RpcError(10010, 'already_closed', { reason: 'already_closed' });
}
