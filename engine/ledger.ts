import { assert, fail } from './assert.js';
import type { ApplyContext } from './context.js';
import type { Account, Balance, ExchangeState } from './state.js';

// Every movement of money goes through these functions, so that each one keeps the books
// balanced: a movement debits one bucket and credits another by the same amount, and nothing
// here ever lets a bucket go negative (that is an assertion, not a rejection: callers check
// funds first and reject with not_enough_funds).
//
// Vocabulary: *reserve/release* move between available and reserved; *credit/debit* change
// available; *bond/unbond* move between available and bonded.

export function balanceOf(account: Account, currency: string): Balance {
  let balance = account.balances.get(currency);
  if (balance === undefined) {
    balance = { available: 0n, reserved: 0n, bonded: 0n };
    account.balances.set(currency, balance);
  }
  return balance;
}

export function availableOf(account: Account, currency: string): bigint {
  return account.balances.get(currency)?.available ?? 0n;
}

export function reserve(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.available >= units)) fail(`reserve of ${units} ${currency} exceeds account ${account.id}'s available ${balance.available}`);
  balance.available -= units;
  balance.reserved += units;
  ctx.touchBalance(account, currency);
}

export function release(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.reserved >= units)) fail(`release of ${units} ${currency} exceeds account ${account.id}'s reserved ${balance.reserved}`);
  balance.reserved -= units;
  balance.available += units;
  ctx.touchBalance(account, currency);
}

/** Takes units out of reserved for good (spent on a fill); the caller credits them elsewhere. */
export function spendReserved(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.reserved >= units)) fail(`spend of ${units} ${currency} exceeds account ${account.id}'s reserved ${balance.reserved}`);
  balance.reserved -= units;
  ctx.touchBalance(account, currency);
}

export function credit(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  if (units < 0n) fail(`negative credit ${units}`);
  balanceOf(account, currency).available += units;
  ctx.touchBalance(account, currency);
}

export function debit(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.available >= units)) fail(`debit of ${units} ${currency} exceeds account ${account.id}'s available ${balance.available}`);
  balance.available -= units;
  ctx.touchBalance(account, currency);
}

export function bond(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.available >= units)) fail(`bond of ${units} exceeds available`);
  balance.available -= units;
  balance.bonded += units;
  ctx.touchBalance(account, currency);
}

export function unbond(ctx: ApplyContext, account: Account, currency: string, units: bigint): void {
  const balance = balanceOf(account, currency);
  if (!(units >= 0n && balance.bonded >= units)) fail(`unbond of ${units} exceeds bonded`);
  balance.bonded -= units;
  balance.available += units;
  ctx.touchBalance(account, currency);
}

export function addTo(map: Map<string, bigint>, currency: string, units: bigint): void {
  map.set(currency, (map.get(currency) ?? 0n) + units);
}

/**
 * The conservation law, per currency: Σ accounts (available + reserved + bonded) + fee pool +
 * insurance fund + withdrawals in flight = deposited − withdrawn. Also: no bucket is negative, and
 * each account's reserved equals what its open orders hold. Throws InvariantViolation. Tests call
 * it after every command; the engine calls it after replay and before each snapshot.
 */
export function checkConservation(state: ExchangeState): void {
  const held = new Map<string, bigint>();
  const reservedByOrders = new Map<string, bigint>();
  for (const order of state.orders.values()) {
    const key = `${order.accountId}:${order.reserveCurrency}`;
    reservedByOrders.set(key, (reservedByOrders.get(key) ?? 0n) + BigInt(order.remainingLots) * order.reservePerLotUnits);
  }
  for (const account of state.accounts) {
    if (account === null) continue;
    for (const [currency, balance] of account.balances) {
      if (!(balance.available >= 0n && balance.reserved >= 0n && balance.bonded >= 0n)) fail(`account ${account.id} has a negative ${currency} balance`);
      const expectedReserved = reservedByOrders.get(`${account.id}:${currency}`) ?? 0n;
      if (!(balance.reserved === expectedReserved)) fail(`account ${account.id} reserves ${balance.reserved} ${currency} but its open orders hold ${expectedReserved}`);
      addTo(held, currency, balance.available + balance.reserved + balance.bonded);
    }
  }
  for (const pool of [state.feePool, state.insuranceFund, state.withdrawalsInFlight]) {
    for (const [currency, units] of pool) {
      if (!(units >= 0n)) fail(`a pool holds negative ${currency}`);
      addTo(held, currency, units);
    }
  }
  const currencies = new Set([...held.keys(), ...state.deposited.keys(), ...state.withdrawn.keys()]);
  for (const currency of currencies) {
    const net = (state.deposited.get(currency) ?? 0n) - (state.withdrawn.get(currency) ?? 0n);
    const total = held.get(currency) ?? 0n;
    assert(total === net, `${currency} is not conserved: held ${total}, deposited − withdrawn ${net}`);
  }
}
