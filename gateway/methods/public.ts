import { Type } from '@sinclair/typebox';
import type { Instrument, TradeView } from '../../engine/index.js';
import { currencyObject, instrumentObject, publicTradeObject } from '../format.js';
import { gatewayLimits } from '../limits.js';
import { MINUTE_MS } from '../market_data.js';
import { WireError } from '../rpc.js';
import { tickerObject } from '../subscriptions.js';
import { lotsToAmount, ticksToPrice } from '../wire_numbers.js';
import {
  BooleanLike,
  COST_READ,
  Count,
  CurrencyName,
  InstrumentName,
  IntegerLike,
  Kind,
  OneOf,
  instrumentOf,
  integerOf,
  optionalInteger,
  isTrue,
  matchesCurrency,
  matchesKind,
  method,
  type GatewayServices,
  type MethodSpec,
} from './registry.js';

// Public methods (reference §5 and §9): time, status, the catalogue, market data, and the
// WebSocket session methods (hello, heartbeat, subscribe). `auth` lives with the session methods.

export const API_VERSION = '1.2.26';
const RESOLUTIONS: Record<string, number> = { '1': 1, '3': 3, '5': 5, '10': 10, '15': 15, '30': 30, '60': 60, '120': 120, '180': 180, '360': 360, '720': 720, '1D': 1440 };
const ORDER_BOOK_DEPTH_MAX = 10_000;

export function publicMethods(services: GatewayServices): MethodSpec[] {
  const config = () => services.state.config!;
  const instrumentIds = new Map<string, number>();
  const instrumentId = (name: string) => {
    let id = instrumentIds.get(name);
    if (id === undefined) instrumentIds.set(name, (id = instrumentIds.size + 1));
    return id;
  };
  const tradesOf = (instrument: Instrument, trades: TradeView[]) => trades.map((trade) => publicTradeObject(trade, instrument));

  return [
    method({ name: 'public/get_time', params: Type.Object({}, { additionalProperties: false }), cost: COST_READ, handler: (context) => context.nowMs }),
    method({
      name: 'public/test',
      params: Type.Object({ expected_result: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (_context, params) => {
        if (params.expected_result === 'exception') throw WireError.internal();
        return { version: API_VERSION };
      },
    }),
    method({
      name: 'public/status',
      params: Type.Object({}, { additionalProperties: false }),
      cost: COST_READ,
      handler: () => ({ locked: services.state.haltedReason === '' && !services.closing() ? 'false' : 'true', locked_indices: [] }),
    }),
    method({
      name: 'public/hello',
      params: Type.Object({ client_name: Type.String({ maxLength: 100 }), client_version: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: () => ({ version: API_VERSION }),
    }),
    method({
      name: 'public/get_currencies',
      params: Type.Object({}, { additionalProperties: false }),
      cost: COST_READ,
      handler: () => Object.entries(config().raw.currencies).map(([code, currency]) => currencyObject(code, currency.decimals, currency.kind)),
    }),
    method({
      name: 'public/get_instruments',
      params: Type.Object({ currency: Type.Optional(CurrencyName), kind: Type.Optional(Kind), expired: Type.Optional(BooleanLike) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (_context, params) => {
        const expired = isTrue(params.expired);
        const selected: Record<string, unknown>[] = [];
        for (const instrument of services.state.instruments.values()) {
          const isLive = instrument.state === 'trading' || instrument.state === 'halted';
          if (isLive === expired || !matchesCurrency(instrument, params.currency) || !matchesKind(instrument, params.kind)) continue;
          selected.push(instrumentObject(instrument, config(), instrumentId(instrument.name)));
        }
        return selected;
      },
    }),
    method({
      name: 'public/get_instrument',
      params: Type.Object({ instrument_name: InstrumentName }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (_context, params) => instrumentObject(instrumentOf(services, params.instrument_name), config(), instrumentId(params.instrument_name)),
    }),
    method({
      name: 'public/get_contract_size',
      params: Type.Object({ instrument_name: InstrumentName }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (_context, params) => {
        instrumentOf(services, params.instrument_name);
        return { contract_size: 1 };
      },
    }),
    method({
      name: 'public/get_index_price',
      params: Type.Object({ index_name: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9_]+$' }) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => {
        const spot = [...services.state.instruments.values()].find((instrument) => instrument.kind === 'spot' && instrument.name.toLowerCase() === params.index_name);
        if (spot === undefined) throw WireError.notFound('index');
        const ticker = tickerObject(services.state, services.market, spot, context.nowMs);
        return { index_price: ticker.index_price, estimated_delivery_price: ticker.index_price };
      },
    }),
    method({
      name: 'public/ticker',
      params: Type.Object({ instrument_name: InstrumentName }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => tickerObject(services.state, services.market, instrumentOf(services, params.instrument_name), context.nowMs),
    }),
    method({
      name: 'public/get_order_book',
      params: Type.Object({ instrument_name: InstrumentName, depth: Type.Optional(IntegerLike) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => {
        const instrument = instrumentOf(services, params.instrument_name);
        const depth = Math.min(Math.max(integerOf(params.depth, 20), 1), ORDER_BOOK_DEPTH_MAX);
        const book = services.market.book(instrument.name);
        const side = (index: 0 | 1) => book.top(index, depth).map(([price, qty]) => [ticksToPrice(price, instrument), lotsToAmount(qty, instrument)]);
        const ticker = tickerObject(services.state, services.market, instrument, context.nowMs);
        return { ...ticker, timestamp: book.timestampMs || context.nowMs, change_id: book.changeId, bids: side(0), asks: side(1) };
      },
    }),
    method({
      name: 'public/get_book_summary_by_currency',
      params: Type.Object({ currency: CurrencyName, kind: Type.Optional(Kind) }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => {
        const summaries: Record<string, unknown>[] = [];
        for (const instrument of services.state.instruments.values()) {
          if (instrument.state !== 'trading' && instrument.state !== 'halted') continue;
          if (!matchesCurrency(instrument, params.currency) || !matchesKind(instrument, params.kind)) continue;
          summaries.push(bookSummary(services, instrument, context.nowMs));
        }
        return summaries;
      },
    }),
    method({
      name: 'public/get_book_summary_by_instrument',
      params: Type.Object({ instrument_name: InstrumentName }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => [bookSummary(services, instrumentOf(services, params.instrument_name), context.nowMs)],
    }),
    method({
      name: 'public/get_last_trades_by_instrument',
      params: Type.Object({
        instrument_name: InstrumentName,
        start_seq: Type.Optional(IntegerLike),
        end_seq: Type.Optional(IntegerLike),
        start_id: Type.Optional(IntegerLike),
        end_id: Type.Optional(IntegerLike),
        count: Type.Optional(Count),
        include_old: Type.Optional(BooleanLike),
        sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])),
      }, { additionalProperties: false }),
      cost: COST_READ,
      handler: async (_context, params) => {
        const instrument = instrumentOf(services, params.instrument_name);
        const count = boundedCount(params.count);
        const trades = await lastTrades(services, instrument.name, {
          startTradeId: optionalInteger(params.start_seq ?? params.start_id),
          endTradeId: optionalInteger(params.end_seq ?? params.end_id),
          count: count + 1,
          newestFirst: params.sorting !== 'asc',
        });
        return { trades: tradesOf(instrument, trades.slice(0, count)), has_more: trades.length > count };
      },
    }),
    method({
      name: 'public/get_last_trades_by_instrument_and_time',
      params: Type.Object({
        instrument_name: InstrumentName,
        start_timestamp: IntegerLike,
        end_timestamp: Type.Optional(IntegerLike),
        count: Type.Optional(Count),
        include_old: Type.Optional(BooleanLike),
        sorting: Type.Optional(OneOf(['asc', 'desc', 'default'])),
      }, { additionalProperties: false }),
      cost: COST_READ,
      handler: async (context, params) => {
        const instrument = instrumentOf(services, params.instrument_name);
        const count = boundedCount(params.count);
        const trades = await lastTrades(services, instrument.name, {
          startTimeMs: Number(params.start_timestamp),
          endTimeMs: integerOf(params.end_timestamp, context.nowMs),
          count: count + 1,
          newestFirst: params.sorting !== 'asc',
        });
        return { trades: tradesOf(instrument, trades.slice(0, count)), has_more: trades.length > count };
      },
    }),
    method({
      name: 'public/get_tradingview_chart_data',
      params: Type.Object({
        instrument_name: InstrumentName,
        start_timestamp: IntegerLike,
        end_timestamp: IntegerLike,
        resolution: OneOf(Object.keys(RESOLUTIONS)),
      }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (_context, params) => {
        const instrument = instrumentOf(services, params.instrument_name);
        const candles = services.market.tape(instrument.name).candlesBetween(Number(params.start_timestamp), Number(params.end_timestamp), RESOLUTIONS[params.resolution]);
        const price = (ticks: number) => ticksToPrice(ticks, instrument);
        return {
          status: candles.length === 0 ? 'no_data' : 'ok',
          ticks: candles.map((candle) => candle.startMs),
          open: candles.map((candle) => price(candle.openTicks)),
          high: candles.map((candle) => price(candle.highTicks)),
          low: candles.map((candle) => price(candle.lowTicks)),
          close: candles.map((candle) => price(candle.closeTicks)),
          volume: candles.map((candle) => lotsToAmount(candle.volumeLots, instrument)),
          cost: candles.map((candle) => (candle.costTickLots * Number(instrument.tickScaled * instrument.lotScaled)) / 1e12),
        };
      },
    }),
  ];
}

function bookSummary(services: GatewayServices, instrument: Instrument, nowMs: number): Record<string, unknown> {
  const ticker = tickerObject(services.state, services.market, instrument, nowMs);
  const stats = ticker.stats as Record<string, number | null>;
  const bid = ticker.best_bid_price as number | null;
  const ask = ticker.best_ask_price as number | null;
  return {
    instrument_name: instrument.name,
    base_currency: instrument.baseCurrency,
    quote_currency: instrument.quoteCurrency,
    creation_timestamp: nowMs,
    volume: stats.volume,
    volume_usd: stats.volume_usd,
    volume_notional: stats.volume_notional,
    high: stats.high,
    low: stats.low,
    last: ticker.last_price,
    bid_price: bid,
    ask_price: ask,
    mid_price: bid !== null && ask !== null ? (bid + ask) / 2 : null,
    mark_price: ticker.mark_price,
    open_interest: 0,
    estimated_delivery_price: ticker.estimated_delivery_price,
    price_change: stats.price_change,
  };
}

/** Recent trades from memory when they reach back far enough, else from history. */
async function lastTrades(
  services: GatewayServices,
  instrument: string,
  query: { startTradeId?: number; endTradeId?: number; startTimeMs?: number; endTimeMs?: number; count: number; newestFirst: boolean },
): Promise<TradeView[]> {
  if (services.history !== undefined) {
    await services.history.whenWritten();
    return services.history.trades({ instrument, ...query });
  }
  const recent = services.market.tape(instrument).recent.filter((trade) =>
    (query.startTradeId === undefined || trade.tradeId >= query.startTradeId) &&
    (query.endTradeId === undefined || trade.tradeId <= query.endTradeId) &&
    (query.startTimeMs === undefined || trade.timeMs >= query.startTimeMs) &&
    (query.endTimeMs === undefined || trade.timeMs <= query.endTimeMs));
  if (query.newestFirst) recent.reverse();
  return recent.slice(0, query.count);
}

function boundedCount(count: number | string | undefined): number {
  return Math.min(Math.max(integerOf(count, 10), 1), gatewayLimits.queryCountMax);
}

export { MINUTE_MS };
