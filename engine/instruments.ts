import { assert } from './assert.js';
import {
  civilFromDays,
  daysFromCivil,
  deribitDateCode,
  lastDayOfMonth,
  lastFridayBeforeMonth,
  MS_PER_DAY,
  MS_PER_HOUR,
  nextMonth,
} from './calendar.js';
import { CONFIG_PRICE_SCALE, type ExchangeConfig, type ParsedSku } from './config.js';
import { formatScaled, parseScaled } from './decimal.js';
import { limits } from './limits.js';

// The instrument catalogue of CONTRACTS.md: names, units and the listing calendar. Everything here
// is a pure function of the configuration and a time, so listing and expiry replay identically.
//
// Units. A book price is an integer number of ticks; a book quantity an integer number of lots
// (one lot = the amount step, in GPU-hours). Money is bigint base units of the currency.
// `quoteUnitsPerTickLot` converts ticks × lots into settlement-currency base units exactly.

export type InstrumentKind = 'spot' | 'future' | 'option';
export type InstrumentState = 'trading' | 'halted' | 'expired' | 'settled';
export type OptionType = 'call' | 'put';

/** Deribit returns this expiry for instruments that never expire (spot). */
export const PERPETUAL_EXPIRATION_MS = 32_503_708_800_000;
const SCALE_FACTOR = 10n ** BigInt(CONFIG_PRICE_SCALE);

export interface Instrument {
  name: string;
  kind: InstrumentKind;
  sku: string;
  baseCurrency: string;
  quoteCurrency: string;
  settlementCurrency: string;
  /** Tick size and lot size at CONFIG_PRICE_SCALE decimals (USDai per GPU-hour; GPU-hours). */
  tickScaled: bigint;
  lotScaled: bigint;
  /** Above this price (ticks), prices must be a multiple of `coarseTickMultiple` ticks (options). */
  coarseTickAboveTicks: number;
  coarseTickMultiple: number;
  minTradeLots: number;
  priceTicksMax: number;
  qtyLotsMax: number;
  /** Settlement-currency base units of one tick × one lot. */
  quoteUnitsPerTickLot: bigint;
  /** Base-currency units of one lot (spot only; 0n for derivatives). */
  baseUnitsPerLot: bigint;
  creationMs: number;
  expirationMs: number;
  strikeScaled: bigint;
  optionType: OptionType | null;
  underlying: string | null;
  state: InstrumentState;
}

export function spotName(sku: string, settlementCurrency: string): string {
  return `${sku}_${settlementCurrency}`;
}

/** The spot pair of every SKU. */
export function spotInstruments(config: ExchangeConfig, nowMs: number): Instrument[] {
  const spot = config.raw.spot;
  return config.skus.map((sku) => {
    const baseDecimals = config.raw.currencies[sku.name].decimals;
    const lotScaled = scaled(spot.amountStep);
    const baseUnitsPerLot = (lotScaled * 10n ** BigInt(baseDecimals)) / SCALE_FACTOR;
    assert(baseUnitsPerLot * SCALE_FACTOR === lotScaled * 10n ** BigInt(baseDecimals), `spot lot of ${sku.name} is not a whole number of base units`);
    return {
      ...marketUnits(config, spot.tickSize, spot.amountStep, spot.minTradeAmount, spot.maxPrice, spot.maxAmount),
      name: spotName(sku.name, config.settlementCurrency),
      kind: 'spot',
      sku: sku.name,
      baseCurrency: sku.name,
      quoteCurrency: config.settlementCurrency,
      settlementCurrency: config.settlementCurrency,
      baseUnitsPerLot,
      creationMs: nowMs,
      expirationMs: PERPETUAL_EXPIRATION_MS,
      strikeScaled: 0n,
      optionType: null,
      underlying: null,
      state: 'trading',
    };
  });
}

/** A delivery month of one SKU's futures, as the calendar sees it. */
export interface DeliveryMonth {
  year: number;
  month: number;
  futureName: string;
  /** Final settlement: expiryHourUtc on the last day of the month. */
  futureExpirationMs: number;
  /** Options on it expire at expiryHourUtc on the last Friday before the month begins. */
  optionExpirationMs: number;
  optionDateCode: string;
}

/** The delivery months that should be listed at `nowMs`: the next `monthsListed` not yet expired. */
export function deliveryMonthsDue(config: ExchangeConfig, sku: string, nowMs: number): DeliveryMonth[] {
  const { monthsListed, expiryHourUtc } = config.raw.futures;
  const today = civilFromDays(Math.floor(nowMs / MS_PER_DAY));
  let cursor = { year: today.year, month: today.month };
  const months: DeliveryMonth[] = [];
  while (months.length < monthsListed) {
    const month = deliveryMonth(config, sku, cursor.year, cursor.month, expiryHourUtc);
    if (month.futureExpirationMs > nowMs) months.push(month);
    cursor = nextMonth(cursor.year, cursor.month);
  }
  return months;
}

function deliveryMonth(config: ExchangeConfig, sku: string, year: number, month: number, expiryHourUtc: number): DeliveryMonth {
  const lastDay = lastDayOfMonth(year, month);
  const settlementDays = daysFromCivil({ year, month, day: lastDay });
  const optionDays = lastFridayBeforeMonth(year, month);
  return {
    year,
    month,
    futureName: `${spotName(sku, config.settlementCurrency)}-${deribitDateCode({ year, month, day: lastDay })}`,
    futureExpirationMs: settlementDays * MS_PER_DAY + expiryHourUtc * MS_PER_HOUR,
    optionExpirationMs: optionDays * MS_PER_DAY + expiryHourUtc * MS_PER_HOUR,
    optionDateCode: deribitDateCode(civilFromDays(optionDays)),
  };
}

export function makeFuture(config: ExchangeConfig, sku: ParsedSku, delivery: DeliveryMonth, nowMs: number): Instrument {
  const futures = config.raw.futures;
  return {
    ...marketUnits(config, futures.tickSize, futures.amountStep, futures.minTradeAmount, futures.maxPrice, futures.maxAmount),
    ...derivativeOf(config, sku, nowMs),
    name: delivery.futureName,
    kind: 'future',
    expirationMs: delivery.futureExpirationMs,
    strikeScaled: 0n,
    optionType: null,
    underlying: null,
  };
}

/** What every future and option of a SKU shares: currencies (settled in USDAI), listing time, state. */
function derivativeOf(config: ExchangeConfig, sku: ParsedSku, nowMs: number) {
  return {
    sku: sku.name,
    baseCurrency: sku.name,
    quoteCurrency: config.settlementCurrency,
    settlementCurrency: config.settlementCurrency,
    baseUnitsPerLot: 0n,
    creationMs: nowMs,
    state: 'trading' as const,
  };
}

/**
 * Calls and puts on one delivery month's future, strikes every `strikeStep` within ±strikeRange%
 * of the reference price (the futures mark will replace it once the engine computes marks).
 */
export function makeOptions(config: ExchangeConfig, sku: ParsedSku, delivery: DeliveryMonth, nowMs: number): Instrument[] {
  const options = config.raw.options;
  const units = marketUnits(config, options.tickSize, options.amountStep, options.minTradeAmount, options.maxPrice, options.maxAmount);
  const coarseTickMultiple = Number(scaled(options.tickSizeAboveThreshold) / units.tickScaled);
  assert(BigInt(coarseTickMultiple) * units.tickScaled === scaled(options.tickSizeAboveThreshold), 'options.tickSizeAboveThreshold must be a multiple of tickSize');
  const instruments: Instrument[] = [];
  for (const strikeScaled of strikeLadder(sku, options.strikeRangePercent)) {
    for (const optionType of ['call', 'put'] as const) {
      instruments.push({
        ...units,
        coarseTickAboveTicks: Number(scaled(options.tickThreshold) / units.tickScaled),
        coarseTickMultiple,
        ...derivativeOf(config, sku, nowMs),
        name: `${delivery.futureName.split('-')[0]}-${delivery.optionDateCode}-${strikeCode(strikeScaled)}-${optionType === 'call' ? 'C' : 'P'}`,
        kind: 'option',
        expirationMs: delivery.optionExpirationMs,
        strikeScaled,
        optionType,
        underlying: delivery.futureName,
      });
    }
  }
  return instruments;
}

/** Strikes from reference × (1 − range) up to reference × (1 + range), on multiples of the step. */
export function strikeLadder(sku: ParsedSku, rangePercent: number): bigint[] {
  const step = sku.strikeStepScaled;
  const low = (sku.referencePriceScaled * BigInt(100 - rangePercent) + 99n) / 100n;
  const high = (sku.referencePriceScaled * BigInt(100 + rangePercent)) / 100n;
  const strikes: bigint[] = [];
  for (let strike = ((low + step - 1n) / step) * step; strike <= high; strike += step) strikes.push(strike);
  return strikes;
}

/** Deribit's strike text: the decimal point written as `d` (2.5 → 2d5, 2.475 → 2d475, 3 → 3). */
export function strikeCode(strikeScaled: bigint): string {
  return formatScaled(strikeScaled, CONFIG_PRICE_SCALE).replace('.', 'd');
}

/** Every instrument that should be listed at `nowMs` and is not in `listed` yet, in a fixed order. */
export function instrumentsToList(config: ExchangeConfig, listed: ReadonlySet<string>, nowMs: number): Instrument[] {
  const fresh: Instrument[] = [];
  for (const sku of config.skus) {
    const months = deliveryMonthsDue(config, sku.name, nowMs);
    months.forEach((delivery, index) => {
      if (!listed.has(delivery.futureName)) fresh.push(makeFuture(config, sku, delivery, nowMs));
      if (index >= config.raw.options.expiriesListed || delivery.optionExpirationMs <= nowMs) return;
      for (const option of makeOptions(config, sku, delivery, nowMs)) {
        if (!listed.has(option.name)) fresh.push(option);
      }
    });
  }
  return fresh;
}

/** Tick, lot and bounds shared by every instrument of one market kind. */
function marketUnits(config: ExchangeConfig, tickSize: string, amountStep: string, minTradeAmount: string, maxPrice: string, maxAmount: string) {
  const tickScaled = scaled(tickSize);
  const lotScaled = scaled(amountStep);
  const minTradeLots = wholeMultiple(scaled(minTradeAmount), lotScaled, 'minTradeAmount / amountStep');
  const priceTicksMax = wholeMultiple(scaled(maxPrice), tickScaled, 'maxPrice / tickSize');
  const qtyLotsMax = wholeMultiple(scaled(maxAmount), lotScaled, 'maxAmount / amountStep');
  assert(priceTicksMax <= limits.priceTicksMax && qtyLotsMax <= limits.qtyLotsMax, 'instrument bounds exceed the engine limits');
  const settlementScale = 10n ** BigInt(config.settlementDecimals);
  const numerator = tickScaled * lotScaled * settlementScale;
  const quoteUnitsPerTickLot = numerator / (SCALE_FACTOR * SCALE_FACTOR);
  assert(quoteUnitsPerTickLot * SCALE_FACTOR * SCALE_FACTOR === numerator && quoteUnitsPerTickLot > 0n, 'tick × lot must be a whole number of settlement units');
  return { tickScaled, lotScaled, minTradeLots, priceTicksMax, qtyLotsMax, quoteUnitsPerTickLot, coarseTickAboveTicks: 0, coarseTickMultiple: 1 };
}

function wholeMultiple(value: bigint, unit: bigint, what: string): number {
  assert(value % unit === 0n && value / unit >= 1n, `${what} must be a whole number`);
  return Number(value / unit);
}

function scaled(text: string): bigint {
  const value = parseScaled(text, CONFIG_PRICE_SCALE);
  assert(value !== undefined, `not a decimal: ${text}`);
  return value;
}
