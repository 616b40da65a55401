import type {
  CompleteWithdrawal,
  CreditCapacity,
  CreditDeposit,
  FailWithdrawal,
  FulfilRedemption,
  RedeemCredits,
  RequestWithdrawal,
  Transfer,
} from './commands.js';
import type { ApplyContext } from './context.js';
import { divideRoundingUp } from './decimal.js';
import { spotName } from './instruments.js';
import { addTo, availableOf, bond, credit, debit, unbond } from './ledger.js';
import { Reject } from './result_codes.js';
import type { Capacity } from './state.js';

// Money in and out of the ledger, and between accounts. Deposits and withdrawals are of the
// settlement currency only (USDai, on chain). Each command carries its own id, and an
// id is applied at most once (a second time is rejected as already_applied), so a settlement
// service that retries after a crash can never credit or pay twice.
//
// GPU-hour credits enter when a provider is credited with capacity (minted, counted as deposited,
// against a USDai performance bond) and leave when a holder redeems them for compute (burned,
// counted as withdrawn); the bond is released as the provider fulfils redemptions.

const ID_LENGTH_MAX = 128;
const UNITS_PATTERN = /^[1-9][0-9]{0,39}$/;

export function creditDeposit(ctx: ApplyContext, command: CreditDeposit): void {
  const state = ctx.state;
  const account = state.accounts[command.accountId];
  const units = parseUnits(command.amountUnits);
  if (!validId(command.depositId) || units === undefined) return void ctx.reject(Reject.invalidArguments, 'deposit id or amount');
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  if (!isCurrency(ctx, command.currency)) return void ctx.reject(Reject.unknownCurrency, command.currency);
  if (!isSettlementCurrency(ctx, command.currency)) return void ctx.reject(Reject.notDepositable, `${command.currency} credits enter as provider capacity`);
  if (state.depositIds.has(command.depositId)) return void ctx.reject(Reject.alreadyApplied, `deposit ${command.depositId}`);
  state.depositIds.add(command.depositId);
  credit(ctx, account, command.currency, units);
  addTo(state.deposited, command.currency, units);
  ctx.events.push({ kind: 'deposit_credited', depositId: command.depositId, accountId: account.id, currency: command.currency, amountUnits: units });
}

/** Debits the account at once (funds leave `available` in this step, before anything is sent). */
export function requestWithdrawal(ctx: ApplyContext, command: RequestWithdrawal): void {
  const state = ctx.state;
  const account = state.accounts[command.accountId];
  const units = parseUnits(command.amountUnits);
  if (!validId(command.withdrawalId) || units === undefined || typeof command.address !== 'string' || command.address.length > ID_LENGTH_MAX) {
    return void ctx.reject(Reject.invalidArguments, 'withdrawal id, amount or address');
  }
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  if (!isCurrency(ctx, command.currency)) return void ctx.reject(Reject.unknownCurrency, command.currency);
  if (!isSettlementCurrency(ctx, command.currency)) return void ctx.reject(Reject.notDepositable, `${command.currency} credits leave as redemptions`);
  if (state.withdrawals.has(command.withdrawalId)) return void ctx.reject(Reject.alreadyApplied, `withdrawal ${command.withdrawalId}`);
  if (availableOf(account, command.currency) < units) return void ctx.reject(Reject.notEnoughFunds, `withdrawal of ${units} ${command.currency}`);
  debit(ctx, account, command.currency, units);
  addTo(state.withdrawalsInFlight, command.currency, units);
  state.withdrawals.set(command.withdrawalId, {
    withdrawalId: command.withdrawalId, accountId: account.id, currency: command.currency, amountUnits: units, address: command.address, state: 'requested',
  });
  ctx.events.push({ kind: 'withdrawal', withdrawalId: command.withdrawalId, accountId: account.id, currency: command.currency, amountUnits: units, state: 'requested' });
}

export function completeWithdrawal(ctx: ApplyContext, command: CompleteWithdrawal): void {
  const withdrawal = ctx.state.withdrawals.get(command.withdrawalId);
  if (!withdrawal) return void ctx.reject(Reject.withdrawalNotFound, command.withdrawalId);
  if (withdrawal.state !== 'requested') return void ctx.reject(Reject.alreadyApplied, `withdrawal ${command.withdrawalId} is ${withdrawal.state}`);
  withdrawal.state = 'completed';
  addTo(ctx.state.withdrawalsInFlight, withdrawal.currency, -withdrawal.amountUnits);
  addTo(ctx.state.withdrawn, withdrawal.currency, withdrawal.amountUnits);
  ctx.events.push({ kind: 'withdrawal', ...withdrawalFields(withdrawal), state: 'completed' });
}

/** The payment did not happen: the amount goes back to the account, once. */
export function failWithdrawal(ctx: ApplyContext, command: FailWithdrawal): void {
  const withdrawal = ctx.state.withdrawals.get(command.withdrawalId);
  if (!withdrawal) return void ctx.reject(Reject.withdrawalNotFound, command.withdrawalId);
  if (withdrawal.state !== 'requested') return void ctx.reject(Reject.alreadyApplied, `withdrawal ${command.withdrawalId} is ${withdrawal.state}`);
  withdrawal.state = 'failed';
  addTo(ctx.state.withdrawalsInFlight, withdrawal.currency, -withdrawal.amountUnits);
  credit(ctx, ctx.state.accounts[withdrawal.accountId]!, withdrawal.currency, withdrawal.amountUnits);
  ctx.events.push({ kind: 'withdrawal', ...withdrawalFields(withdrawal), state: 'failed' });
}

export function transfer(ctx: ApplyContext, command: Transfer): void {
  const state = ctx.state;
  const from = state.accounts[command.fromAccountId];
  const to = state.accounts[command.toAccountId];
  const units = parseUnits(command.amountUnits);
  if (!validId(command.transferId) || units === undefined) return void ctx.reject(Reject.invalidArguments, 'transfer id or amount');
  if (!from || !to) return void ctx.reject(Reject.accountNotFound, 'transfer account');
  if (from === to) return void ctx.reject(Reject.invalidArguments, 'transfer to the same account');
  if (!isCurrency(ctx, command.currency)) return void ctx.reject(Reject.unknownCurrency, command.currency);
  if (state.transferIds.has(command.transferId)) return void ctx.reject(Reject.alreadyApplied, `transfer ${command.transferId}`);
  if (availableOf(from, command.currency) < units) return void ctx.reject(Reject.notEnoughFunds, `transfer of ${units} ${command.currency}`);
  state.transferIds.add(command.transferId);
  debit(ctx, from, command.currency, units);
  credit(ctx, to, command.currency, units);
  ctx.events.push({ kind: 'transfer', transferId: command.transferId, fromAccountId: from.id, toAccountId: to.id, currency: command.currency, amountUnits: units });
}

/** Mints GPU-hour credits to a provider against a bond of `bondPercent` of their notional. */
export function creditCapacity(ctx: ApplyContext, command: CreditCapacity): void {
  const state = ctx.state;
  const config = state.config!;
  const provider = state.accounts[command.providerAccountId];
  const spot = state.instruments.get(spotName(command.sku, config.settlementCurrency));
  if (!validId(command.capacityId) || !Number.isSafeInteger(command.gpuHours) || command.gpuHours < 1 || !Number.isSafeInteger(command.referencePriceTicks) || command.referencePriceTicks < 1) {
    return void ctx.reject(Reject.invalidArguments, 'capacity id, hours or reference price');
  }
  if (!provider) return void ctx.reject(Reject.accountNotFound, `account ${command.providerAccountId}`);
  if (provider.kind !== 'provider') return void ctx.reject(Reject.invalidArguments, `account ${provider.id} is not a provider`);
  if (!spot) return void ctx.reject(Reject.unknownCurrency, command.sku);
  if (command.gpuHours % spot.minTradeLots !== 0 || command.referencePriceTicks > spot.priceTicksMax) return void ctx.reject(Reject.invalidArguments, 'hours or price outside the spot market');
  if (state.capacities.has(command.capacityId)) return void ctx.reject(Reject.alreadyApplied, `capacity ${command.capacityId}`);
  const notionalUnits = spot.quoteUnitsPerTickLot * BigInt(command.referencePriceTicks) * BigInt(command.gpuHours);
  const bondUnits = divideRoundingUp(notionalUnits * BigInt(config.raw.providers.bondPercent), 100n);
  if (availableOf(provider, config.settlementCurrency) < bondUnits) return void ctx.reject(Reject.notEnoughFunds, `bond of ${bondUnits} ${config.settlementCurrency}`);
  bond(ctx, provider, config.settlementCurrency, bondUnits);
  const creditUnits = spot.baseUnitsPerLot * BigInt(command.gpuHours);
  credit(ctx, provider, command.sku, creditUnits);
  addTo(state.deposited, command.sku, creditUnits);
  state.capacities.set(command.capacityId, {
    capacityId: command.capacityId, providerAccountId: provider.id, sku: command.sku, gpuHours: command.gpuHours,
    outstandingGpuHours: command.gpuHours, deliveredGpuHours: 0, bondUnits, bondOutstandingUnits: bondUnits,
  });
  ctx.events.push({ kind: 'capacity_credited', capacityId: command.capacityId, providerAccountId: provider.id, sku: command.sku, gpuHours: command.gpuHours, bondUnits });
}

/** Burns a holder's credits and assigns the compute to providers, oldest capacity first. */
export function redeemCredits(ctx: ApplyContext, command: RedeemCredits): void {
  const state = ctx.state;
  const account = state.accounts[command.accountId];
  const spot = state.instruments.get(spotName(command.sku, state.config!.settlementCurrency));
  if (!validId(command.redemptionId) || !Number.isSafeInteger(command.gpuHours) || command.gpuHours < 1) return void ctx.reject(Reject.invalidArguments, 'redemption id or hours');
  if (!account) return void ctx.reject(Reject.accountNotFound, `account ${command.accountId}`);
  if (!spot) return void ctx.reject(Reject.unknownCurrency, command.sku);
  if (state.redemptions.has(command.redemptionId)) return void ctx.reject(Reject.alreadyApplied, `redemption ${command.redemptionId}`);
  const burnUnits = spot.baseUnitsPerLot * BigInt(command.gpuHours);
  if (availableOf(account, command.sku) < burnUnits) return void ctx.reject(Reject.notEnoughFunds, `redeeming ${command.gpuHours} ${command.sku} hours`);
  const allocations = allocateToCapacities([...state.capacities.values()], command.sku, command.gpuHours);
  // Credits only exist against capacity, so outstanding capacity always covers what is held.
  if (allocations === undefined) return void ctx.reject(Reject.invalidState, 'not enough outstanding capacity');
  debit(ctx, account, command.sku, burnUnits);
  addTo(state.withdrawn, command.sku, burnUnits);
  for (const allocation of allocations) state.capacities.get(allocation.capacityId)!.outstandingGpuHours -= allocation.gpuHours;
  state.redemptions.set(command.redemptionId, { redemptionId: command.redemptionId, accountId: account.id, sku: command.sku, gpuHours: command.gpuHours, allocations, state: 'pending' });
  ctx.events.push({ kind: 'redemption', redemptionId: command.redemptionId, accountId: account.id, sku: command.sku, gpuHours: command.gpuHours, state: 'pending' });
}

/** The providers delivered: each allocation releases its share of the capacity's bond. */
export function fulfilRedemption(ctx: ApplyContext, command: FulfilRedemption): void {
  const state = ctx.state;
  const redemption = state.redemptions.get(command.redemptionId);
  if (!redemption) return void ctx.reject(Reject.redemptionNotFound, command.redemptionId);
  if (redemption.state !== 'pending') return void ctx.reject(Reject.alreadyApplied, `redemption ${command.redemptionId} is ${redemption.state}`);
  redemption.state = 'fulfilled';
  for (const allocation of redemption.allocations) {
    const capacity = state.capacities.get(allocation.capacityId)!;
    const releaseUnits = bondShare(capacity, allocation.gpuHours);
    capacity.bondOutstandingUnits -= releaseUnits;
    unbond(ctx, state.accounts[capacity.providerAccountId]!, state.config!.settlementCurrency, releaseUnits);
  }
  ctx.events.push({ kind: 'redemption', redemptionId: redemption.redemptionId, accountId: redemption.accountId, sku: redemption.sku, gpuHours: redemption.gpuHours, state: 'fulfilled' });
}

function allocateToCapacities(capacities: Capacity[], sku: string, gpuHours: number): { capacityId: string; gpuHours: number }[] | undefined {
  const allocations: { capacityId: string; gpuHours: number }[] = [];
  let left = gpuHours;
  for (const capacity of capacities) {
    if (left === 0) break;
    if (capacity.sku !== sku || capacity.outstandingGpuHours === 0) continue;
    const hours = Math.min(left, capacity.outstandingGpuHours);
    allocations.push({ capacityId: capacity.capacityId, gpuHours: hours });
    left -= hours;
  }
  return left === 0 ? allocations : undefined;
}

/**
 * The bond released when `gpuHours` more are delivered: cumulative releases are always
 * floor(bond × delivered / hours), so rounding never strands a unit and full delivery releases all.
 */
function bondShare(capacity: Capacity, gpuHours: number): bigint {
  capacity.deliveredGpuHours += gpuHours;
  const releasedSoFar = capacity.bondUnits - capacity.bondOutstandingUnits;
  return (capacity.bondUnits * BigInt(capacity.deliveredGpuHours)) / BigInt(capacity.gpuHours) - releasedSoFar;
}

function withdrawalFields(withdrawal: { withdrawalId: string; accountId: number; currency: string; amountUnits: bigint }) {
  return { withdrawalId: withdrawal.withdrawalId, accountId: withdrawal.accountId, currency: withdrawal.currency, amountUnits: withdrawal.amountUnits };
}

function parseUnits(text: string): bigint | undefined {
  return typeof text === 'string' && UNITS_PATTERN.test(text) ? BigInt(text) : undefined;
}

function validId(id: string): boolean {
  return typeof id === 'string' && id.length >= 1 && id.length <= ID_LENGTH_MAX;
}

/** Only the settlement currency moves on and off chain; GPU-hour credits are minted and burned. */
function isSettlementCurrency(ctx: ApplyContext, currency: string): boolean {
  return ctx.state.config!.raw.currencies[currency]?.kind === 'settlement';
}

function isCurrency(ctx: ApplyContext, currency: string): boolean {
  return typeof currency === 'string' && Object.hasOwn(ctx.state.config!.raw.currencies, currency);
}
