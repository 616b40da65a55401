import http from 'node:http';
import ccxt, { Precise } from 'ccxt';
import { ccxtConfig, type TestAccount, type TestExchange } from './_server.js';

// Shared pieces of the CCXT end-to-end tests (ccxt_rest.test.ts, ccxt_pro.test.ts): unmodified
// CCXT clients pointed at a test exchange (reference §1), exact decimal arithmetic for expected
// values (CCXT's own Precise, so no float rounding enters an oracle), the Deribit error code of a
// CCXT exception, timeouts that turn a missing WebSocket message into a failure, and a seeded PRNG.

export type RestClient = InstanceType<typeof ccxt.deribit>;
export type ProClient = InstanceType<typeof ccxt.pro.deribit>;

export const SPOT = 'H100/USDAI';
export const SPOT_ID = 'H100_USDAI';
/** A second spot market, to tell "this symbol" from "every symbol" apart. */
export const OTHER_SPOT = 'H200/USDAI';
/** The taker fee as config/exchange.json sets it: 3 bp of notional (the maker pays nothing). */
export const TAKER_FEE_RATE = '0.0003';

/** A REST client with markets loaded. */
export async function restClient(server: TestExchange, account: TestAccount): Promise<RestClient> {
  const client = new ccxt.deribit(ccxtConfig(server, account));
  await client.loadMarkets();
  return client;
}

/** A WebSocket client; `httpAgent` is what lets CCXT open a ws:// URL (reference §1, §8 #1). */
export async function proClient(server: TestExchange, account: TestAccount): Promise<ProClient> {
  const client = new ccxt.pro.deribit(ccxtConfig(server, account, { httpAgent: new http.Agent() }));
  await client.loadMarkets();
  return client;
}

// ---------------------------------------------------------------------------------------------
// Exact decimals (CCXT numbers are compared with Number(exact decimal text))

export function sum(...values: (string | number)[]): string {
  return values.reduce<string>((total, value) => exact(Precise.stringAdd(total, String(value))), '0');
}

export function minus(a: string | number, b: string | number): string {
  return exact(Precise.stringSub(String(a), String(b)));
}

export function times(a: string | number, b: string | number): string {
  return exact(Precise.stringMul(String(a), String(b)));
}

export function takerFee(notional: string | number): string {
  return times(notional, TAKER_FEE_RATE);
}

/** What an open limit buy holds: its notional plus the taker fee, the larger of the two (engine/matching.ts). */
export function buyHold(amount: string | number, price: string | number): string {
  const notional = times(amount, price);
  return sum(notional, takerFee(notional));
}

function exact(value: string | undefined): string {
  if (value === undefined) throw new Error('Precise returned undefined');
  return value;
}

export function num(decimal: string): number {
  return Number(decimal);
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The rejection of `promise` (a fulfilled promise is a test failure, reported by the caller). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** The Deribit `error.code` CCXT put in its message ("deribit " + the raw response body). */
export function wireCodeOf(error: Error | undefined): number | undefined {
  const match = /"error":\{"code":(-?\d+)/.exec(error?.message ?? '');
  return match === null ? undefined : Number(match[1]);
}

// ---------------------------------------------------------------------------------------------
// Time

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `watch` now and again after every resolution until `done` holds for what it returned, all
 * within `ms`. Call it before the action whose messages it waits for: the first watch (which
 * sends the subscribe) is then already pending when the action happens.
 */
export function watchUntil<T>(watch: () => Promise<T>, done: (value: T) => boolean, ms: number, what: string): Promise<T> {
  const deadlineMs = Date.now() + ms;
  const loop = async (): Promise<T> => {
    for (;;) {
      const value = await withTimeout(watch(), Math.max(deadlineMs - Date.now(), 1), what);
      if (done(value)) return value;
    }
  };
  return loop();
}

/** Polls `read` until `done` holds or `ms` pass; returns the last value read either way. */
export async function pollUntil<T>(read: () => Promise<T> | T, done: (value: T) => boolean, ms: number): Promise<T> {
  const deadlineMs = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadlineMs) return value;
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Books and randomness

/** `[price, amount]` pairs of one side of a CCXT order book (CCXT may add an order count). */
export function levelsOf(side: readonly (readonly unknown[])[]): [number, number][] {
  return side.map((level) => [Number(level[0]), Number(level[1])]);
}

export { seededRandom } from '../_env.js';
