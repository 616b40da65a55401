import { parseScaled } from './decimal.js';
import { limits } from './limits.js';

// The exchange's parameters (config/exchange.json), checked and turned into exact integers once.
// The raw JSON is what gets journaled (the genesis command carries it), so replay derives the
// same parsed configuration from the same bytes.

export interface RawExchangeConfig {
  settlementCurrency: string;
  currencies: Record<string, { decimals: number; kind: 'settlement' | 'gpu_hours' }>;
  skus: Record<string, { referencePrice: string; strikeStep: string }>;
  spot: { tickSize: string; amountStep: string; minTradeAmount: string; maxPrice: string; maxAmount: string; marketProtectionPercent: number };
  futures: {
    tickSize: string; amountStep: string; minTradeAmount: string; maxPrice: string; maxAmount: string;
    monthsListed: number; expiryHourUtc: number; priceBandPercent: number;
  };
  options: {
    tickSize: string; tickSizeAboveThreshold: string; tickThreshold: string; amountStep: string; minTradeAmount: string;
    maxPrice: string; maxAmount: string; strikeRangePercent: number; expiriesListed: number;
  };
  derivativesTradingEnabled: boolean;
  fees: { makerBasisPoints: number; takerBasisPoints: number; settlementBasisPoints: number; insuranceSharePercent: number };
  accounts: { openOrdersMax: number; ordersPerSecond: number; orderBurst: number; stopOrdersMax: number };
  providers: { bondPercent: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Prices in the configuration are kept at this many decimals (strikes, reference prices). */
export const CONFIG_PRICE_SCALE = 6;

export interface ParsedSku {
  name: string;
  referencePriceScaled: bigint;
  strikeStepScaled: bigint;
}

export interface ExchangeConfig {
  raw: RawExchangeConfig;
  settlementCurrency: string;
  settlementDecimals: number;
  skus: ParsedSku[];
}

/** Checks the raw configuration and derives exact values; throws ConfigError naming the field. */
export function parseExchangeConfig(raw: RawExchangeConfig): ExchangeConfig {
  const settlement = raw.currencies?.[raw.settlementCurrency];
  need(settlement !== undefined && settlement.kind === 'settlement', 'settlementCurrency must name a currency of kind settlement');
  for (const [name, currency] of Object.entries(raw.currencies)) {
    need(/^[A-Z0-9]{2,10}$/.test(name), `currencies.${name}: name must be 2-10 capitals or digits`);
    need(Number.isInteger(currency.decimals) && currency.decimals >= 0 && currency.decimals <= 18, `currencies.${name}.decimals must be 0..18`);
  }
  const skus: ParsedSku[] = [];
  for (const [name, sku] of Object.entries(raw.skus)) {
    need(raw.currencies[name]?.kind === 'gpu_hours', `skus.${name}: needs a currency of kind gpu_hours with the same name`);
    skus.push({
      name,
      referencePriceScaled: positiveDecimal(sku.referencePrice, `skus.${name}.referencePrice`),
      strikeStepScaled: positiveDecimal(sku.strikeStep, `skus.${name}.strikeStep`),
    });
  }
  for (const kind of ['spot', 'futures', 'options'] as const) {
    const market = raw[kind];
    for (const field of ['tickSize', 'amountStep', 'minTradeAmount', 'maxPrice', 'maxAmount'] as const) {
      positiveDecimal(market[field], `${kind}.${field}`);
    }
  }
  percent(raw.spot.marketProtectionPercent, 'spot.marketProtectionPercent');
  percent(raw.futures.priceBandPercent, 'futures.priceBandPercent');
  percent(raw.options.strikeRangePercent, 'options.strikeRangePercent');
  percent(raw.fees.insuranceSharePercent, 'fees.insuranceSharePercent');
  percent(raw.providers.bondPercent, 'providers.bondPercent');
  for (const field of ['makerBasisPoints', 'takerBasisPoints', 'settlementBasisPoints'] as const) {
    need(Number.isInteger(raw.fees[field]) && raw.fees[field] >= 0 && raw.fees[field] <= 1000, `fees.${field} must be 0..1000`);
  }
  need(Number.isInteger(raw.futures.monthsListed) && raw.futures.monthsListed >= 1 && raw.futures.monthsListed <= 36, 'futures.monthsListed must be 1..36');
  need(Number.isInteger(raw.options.expiriesListed) && raw.options.expiriesListed >= 0 && raw.options.expiriesListed <= raw.futures.monthsListed, 'options.expiriesListed must be 0..futures.monthsListed');
  need(Number.isInteger(raw.futures.expiryHourUtc) && raw.futures.expiryHourUtc >= 0 && raw.futures.expiryHourUtc < 24, 'futures.expiryHourUtc must be 0..23');
  const accounts = raw.accounts;
  need(Number.isInteger(accounts.openOrdersMax) && accounts.openOrdersMax >= 1 && accounts.openOrdersMax <= limits.openOrdersPerAccountMax, `accounts.openOrdersMax must be 1..${limits.openOrdersPerAccountMax}`);
  need(Number.isInteger(accounts.stopOrdersMax) && accounts.stopOrdersMax >= 0 && accounts.stopOrdersMax <= accounts.openOrdersMax, 'accounts.stopOrdersMax must be 0..openOrdersMax');
  need(Number.isInteger(accounts.ordersPerSecond) && accounts.ordersPerSecond >= 1, 'accounts.ordersPerSecond must be a positive integer');
  need(Number.isInteger(accounts.orderBurst) && accounts.orderBurst >= 1, 'accounts.orderBurst must be a positive integer');
  need(typeof raw.derivativesTradingEnabled === 'boolean', 'derivativesTradingEnabled must be a boolean');
  return { raw, settlementCurrency: raw.settlementCurrency, settlementDecimals: settlement.decimals, skus };
}

function positiveDecimal(text: string, field: string): bigint {
  const value = parseScaled(text, CONFIG_PRICE_SCALE);
  need(value !== undefined && value > 0n, `${field} must be a positive decimal string with at most ${CONFIG_PRICE_SCALE} decimals`);
  return value;
}

function percent(value: number, field: string): void {
  need(Number.isInteger(value) && value >= 0 && value <= 100, `${field} must be an integer percent 0..100`);
}

function need(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ConfigError(message);
}
