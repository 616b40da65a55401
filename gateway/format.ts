import { type Balance, type ExchangeConfig, type Instrument, type OrderView, type TradeView } from '../engine/index.js';
import { lotsToAmount, scaledToNumber, ticksToPrice, unitsToAmount } from './wire_numbers.js';

// Engine views → Deribit v2 objects, field by field as reference/deribit-v2-api.md §4–§6 gives
// them (bold fields are what CCXT reads). Ids go out as strings; prices and amounts as JSON numbers
// whose text is the exact decimal.

const CONFIG_SCALE = 6;
const AVERAGE_EXTRA_DECIMALS = 6;

export function instrumentObject(instrument: Instrument, config: ExchangeConfig, instrumentId: number): Record<string, unknown> {
  const fees = config.raw.fees;
  const common: Record<string, unknown> = {
    kind: instrument.kind,
    instrument_name: instrument.name,
    instrument_id: instrumentId,
    base_currency: instrument.baseCurrency,
    quote_currency: instrument.quoteCurrency,
    counter_currency: instrument.quoteCurrency,
    price_index: `${instrument.sku.toLowerCase()}_${instrument.quoteCurrency.toLowerCase()}`,
    tick_size: decimalNumber(instrument.tickScaled),
    tick_size_steps: instrument.coarseTickMultiple > 1
      ? [{ above_price: ticksToPrice(instrument.coarseTickAboveTicks, instrument), tick_size: decimalNumber(instrument.tickScaled * BigInt(instrument.coarseTickMultiple)) }]
      : [],
    min_trade_amount: lotsToAmount(instrument.minTradeLots, instrument),
    contract_size: 1,
    maker_commission: fees.makerBasisPoints / 10_000,
    taker_commission: fees.takerBasisPoints / 10_000,
    is_active: instrument.state === 'trading',
    state: instrument.state === 'trading' ? 'open' : instrument.state === 'halted' ? 'halted' : instrument.state === 'expired' ? 'closed' : 'settled',
    creation_timestamp: instrument.creationMs,
    expiration_timestamp: instrument.expirationMs,
  };
  if (instrument.kind === 'spot') return common;
  common.settlement_currency = instrument.settlementCurrency;
  common.settlement_period = 'month';
  common.instrument_type = 'linear';
  if (instrument.kind === 'future') {
    common.future_type = 'linear';
    common.max_leverage = 1;
    return common;
  }
  common.option_type = instrument.optionType;
  common.strike = decimalNumber(instrument.strikeScaled);
  common.underlying = instrument.underlying;
  return common;
}

export function currencyObject(currency: string, decimals: number, kind: string): Record<string, unknown> {
  return {
    currency,
    currency_long: kind === 'settlement' ? 'USDai stablecoin' : `${currency} GPU-hour credit`,
    withdrawal_fee: 0,
    min_withdrawal_fee: 0,
    min_confirmations: 1,
    fee_precision: Math.min(decimals, 8),
    decimals,
    coin_type: kind === 'settlement' ? 'ERC20' : 'GPU_HOURS',
    withdrawal_priorities: [],
    apr: 0,
    in_cross_collateral_pool: kind === 'settlement',
  };
}

const MARKET_TYPES = new Set(['market', 'stop_market', 'take_market']);
const CANCEL_REASONS: Record<string, string> = { user_cancel: 'user_request', expired: 'good_til_day_expired', immediate_remainder: 'immediate_or_cancel' };

export function orderObject(order: OrderView, instrument: Instrument, settlementDecimals: number): Record<string, unknown> {
  const amount = lotsToAmount(order.amountLots, instrument);
  const filled = lotsToAmount(order.filledLots, instrument);
  const object: Record<string, unknown> = {
    order_id: String(order.orderId),
    instrument_name: order.instrument,
    direction: order.side,
    amount,
    contracts: amount,
    filled_amount: filled,
    price: MARKET_TYPES.has(order.type) ? 'market_price' : ticksToPrice(order.priceTicks, instrument),
    average_price: averagePrice(order, instrument),
    order_type: order.type,
    order_state: order.state,
    time_in_force: order.timeInForce,
    post_only: order.postOnly,
    reject_post_only: order.rejectPostOnly,
    reduce_only: order.reduceOnly,
    label: order.label,
    max_show: amount,
    is_liquidation: false,
    api: true,
    web: false,
    replaced: order.replaced,
    mmp: false,
    risk_reducing: false,
    creation_timestamp: order.createdMs,
    last_update_timestamp: order.updatedMs,
    commission: unitsToAmount(order.feeUnits, settlementDecimals),
    profit_loss: 0,
  };
  if (order.state === 'cancelled') object.cancel_reason = CANCEL_REASONS[order.cancelReason] ?? order.cancelReason;
  if (order.trigger !== '') {
    const triggerPrice = ticksToPrice(order.triggerPriceTicks, instrument);
    object.trigger_price = triggerPrice;
    object.stop_price = triggerPrice;
    object.trigger = order.trigger;
    object.triggered = order.stopOrderId !== 0;
  }
  if (order.expiresAtMs > 0) object.valid_until = order.expiresAtMs;
  return object;
}

/** Σ price × qty / Σ qty, exact to 12 decimals (then the shortest number with that value). */
function averagePrice(order: OrderView, instrument: Instrument): number {
  if (order.filledLots === 0) return 0;
  const averageScaled = (BigInt(order.filledNotionalTickLots) * instrument.tickScaled * 10n ** BigInt(AVERAGE_EXTRA_DECIMALS)) / BigInt(order.filledLots);
  return scaledToNumber(averageScaled, CONFIG_SCALE + AVERAGE_EXTRA_DECIMALS);
}

/**
 * A trade as its taker's or maker's own (user trade): liquidity, fee, order and its state are theirs.
 * It is the public trade object with the user's direction, and the user's fields added to that same
 * object (not spread into a new one: one per fill of every taker's reply, and the spread copied each
 * field twice). So the public trade's keys come first, as Deribit sends them.
 */
export function userTradeObject(trade: TradeView, accountId: number, instrument: Instrument, settlementCurrency: string, settlementDecimals: number, order?: OrderView): Record<string, unknown> {
  const isMaker = trade.makerAccountId === accountId && (order === undefined || order.orderId === trade.makerOrderId);
  const object = tradeObject(trade, instrument, isMaker ? (trade.takerSide === 'buy' ? 'sell' : 'buy') : trade.takerSide);
  object.order_id = String(isMaker ? trade.makerOrderId : trade.takerOrderId);
  object.order_type = isMaker ? trade.makerOrderType : trade.takerOrderType;
  // The order's state just after this fill, as Deribit reports it on the trade.
  object.state = (isMaker ? trade.makerRemainingLots : trade.takerRemainingLots) === 0 ? 'filled' : 'open';
  object.self_trade = false;
  object.reduce_only = false;
  // From the trade (older history rows lack the fields: no label, not post-only).
  object.post_only = (isMaker ? trade.makerPostOnly : trade.takerPostOnly) ?? false;
  object.liquidity = isMaker ? 'M' : 'T';
  object.fee = unitsToAmount(isMaker ? trade.makerFeeUnits : trade.takerFeeUnits, settlementDecimals);
  object.fee_currency = settlementCurrency;
  object.matching_id = null;
  object.label = (isMaker ? trade.makerLabel : trade.takerLabel) ?? '';
  object.profit_loss = 0;
  object.api = true;
  return object;
}

export function publicTradeObject(trade: TradeView, instrument: Instrument): Record<string, unknown> {
  return tradeObject(trade, instrument, trade.takerSide);
}

/** The public fields of a trade, with `direction` as the reader sees it (the taker's, or the user's). */
function tradeObject(trade: TradeView, instrument: Instrument, direction: string): Record<string, unknown> {
  const amount = lotsToAmount(trade.amountLots, instrument);
  const price = ticksToPrice(trade.priceTicks, instrument);
  return {
    trade_id: String(trade.tradeId),
    trade_seq: trade.tradeId,
    timestamp: trade.timeMs,
    tick_direction: trade.tickDirection,
    instrument_name: trade.instrument,
    direction,
    price,
    amount,
    contracts: amount,
    mark_price: price,
    index_price: price,
  };
}

/** An account summary for one currency; margin fields are zero until derivatives trade. */
export function accountSummaryObject(accountId: number, owner: string, currency: string, balance: Balance | undefined, decimals: number): Record<string, unknown> {
  const available = balance?.available ?? 0n;
  const reserved = balance?.reserved ?? 0n;
  const bonded = balance?.bonded ?? 0n;
  const total = unitsToAmount(available + reserved + bonded, decimals);
  return {
    currency,
    balance: total,
    equity: total,
    available_funds: unitsToAmount(available, decimals),
    available_withdrawal_funds: unitsToAmount(available, decimals),
    margin_balance: total,
    initial_margin: 0,
    maintenance_margin: 0,
    projected_initial_margin: 0,
    projected_maintenance_margin: 0,
    total_pl: 0,
    session_upl: 0,
    session_rpl: 0,
    futures_pl: 0,
    options_pl: 0,
    options_value: 0,
    delta_total: 0,
    fee_balance: 0,
    spot_reserve: unitsToAmount(reserved, decimals),
    additional_reserve: unitsToAmount(bonded, decimals),
    portfolio_margining_enabled: false,
    cross_collateral_enabled: false,
    margin_model: 'segregated_sm',
    id: accountId,
    username: owner,
  };
}

function decimalNumber(scaled: bigint): number {
  return scaledToNumber(scaled, CONFIG_SCALE);
}
