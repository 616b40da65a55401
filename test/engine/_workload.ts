// A seeded workload of engine commands, shared by the durability tests (RELIABILITY.md tests 4-8).
// In-process: `generateWorkload(seed, count)`. In a child process: the same call (it only needs the
// seed and the length), or, faster, `readWorkloadFile` on what the parent wrote with
// `writeWorkloadFile`. `submitWorkload` pushes it through a Sequencer with many commands in flight.
//
// What it makes: `init_exchange` is sequence 1 (openEngine journals it, so the workload leaves it
// out); workload command i is sequence i + 2, always. The workload opens with `set_parameters`
// (rate limits and open-order caps raised so that the mix is mostly accepted), about 200 accounts,
// USDAI and GPU-hour credit deposits and index prices, then a weighted mix over the four spot
// instruments: limit orders (GTC, good-till-day, IOC, FOK), post-only of both flavours, market
// orders, stop/take orders on last_price (and a few on index_price), amends, cancels, cancel-all,
// cancel-by-label, label retries, transfers, withdrawals (requested, completed, failed), more
// deposits, index prices and clock ticks, plus a few commands that must be rejected. Prices follow
// a random walk per instrument between 1,000 and 5,000 ticks; amounts are 1..50 lots.
//
// Time: each command carries its own time, from Date.UTC(2026, 10, 21, 12) on, a few ms apart, with
// jumps of hours now and then, so good-till-day orders expire at 08:00 UTC and the listing calendar
// expires and lists instruments. `WorkloadClock` hands the sequencer exactly these times (the time
// of the command about to get the next sequence number), so a live run through the Sequencer is
// stamped exactly like the generator's own run and its state hash is reproducible from the seed.
//
// How the generator knows order ids: it applies every command it makes to its own shadow state
// (applyCommand on emptyState, with the same sequence numbers and times as the engine will use)
// and reads the order ids from the events; cancels and amends name ids it saw accepted (plus a few
// stale or foreign ones). This keeps the workload a pure function of the seed, independent of how
// the live sequencer happens to batch, which is what lets a restarted child continue it exactly.
// The randomness is our own PRNG (xoshiro128**), never Math.random.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyCommand,
  emptyState,
  stateHash,
  type AmendOrder,
  type Clock,
  type Command,
  type CommandResult,
  type Event,
  type ExchangeState,
  type OrderView,
  type PlaceOrder,
  type RawExchangeConfig,
  type Sequencer,
} from '../../engine/index.js';

export const WORKLOAD_START_MS = Date.UTC(2026, 10, 21, 12);
export const INIT_SEQUENCE = 1;
export const ACCOUNTS = 200;
export const INSTRUMENTS = ['H100_USDAI', 'H200_USDAI', 'B200_USDAI', 'A100_USDAI'] as const;
export const SKUS = ['H100', 'H200', 'B200', 'A100'] as const;

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const USDAI_UNIT = 10n ** 18n;
const HOUR_UNIT = 10n ** 6n;
const PRICE_TICKS_MIN = 1_000;
const PRICE_TICKS_MAX = 5_000;
const LOTS_MAX = 50;
const HOUR_MS = 3_600_000;

/** What a runner needs of a workload: its commands (by index) and their times. */
export interface WorkloadSource {
  readonly count: number;
  readonly timesMs: readonly number[];
  commandAt(index: number): Command;
}

export interface Workload extends WorkloadSource {
  seed: number;
  /** Workload command i is journaled as sequence i + 2 (sequence 1 is init_exchange). */
  commands: Command[];
  timesMs: number[];
  /** The generator's shadow state after the last command (what a live run must end with). */
  finalState: ExchangeState;
  /** How often each kind of command was made, and how many were rejected (shadow run). */
  tally: Map<string, { made: number; rejected: number }>;
}

export function sequenceOfIndex(index: number): number {
  return index + 2;
}

export function indexOfSequence(sequence: number): number {
  return sequence - 2;
}

/** The exchange configuration of config/exchange.json, as journaled by init_exchange. */
export function loadExchangeConfig(): RawExchangeConfig {
  return JSON.parse(readFileSync(resolve(REPOSITORY_ROOT, 'config/exchange.json'), 'utf8')) as RawExchangeConfig;
}

/** `count` commands, a pure function of `seed` (and of config/exchange.json). */
export function generateWorkload(seed: number, count: number): Workload {
  const generator = new WorkloadGenerator(seed, loadExchangeConfig());
  while (generator.commands.length < count) generator.step();
  generator.commands.length = count;
  generator.timesMs.length = count;
  const commands = generator.commands;
  return { seed, count, commands, commandAt: (index) => commands[index], timesMs: generator.timesMs, finalState: generator.state, tally: generator.tally };
}

/**
 * A Clock for the Sequencer that returns the workload time of the command about to be applied
 * (sequence = state.sequence + 1). Until `attach` (openEngine's init_exchange) it returns the
 * workload's start time. Beyond the workload it keeps returning the last time.
 */
export class WorkloadClock implements Clock {
  private state: ExchangeState | undefined;

  constructor(private readonly timesMs: readonly number[]) {}

  attach(state: ExchangeState): void {
    this.state = state;
  }

  nowMs(): number {
    if (this.state === undefined) return WORKLOAD_START_MS;
    const index = indexOfSequence(this.state.sequence + 1);
    if (index < 0) return WORKLOAD_START_MS;
    return this.timesMs[Math.min(index, this.timesMs.length - 1)];
  }
}

/**
 * Submits workload commands `fromIndex`… to a sequencer, keeping up to `windowSize` of them in
 * flight, and calls `onResult` as each one resolves (that is its acknowledgement: after COMMIT).
 * Resolves once every submitted command is answered.
 */
export async function submitWorkload(
  sequencer: Sequencer,
  workload: WorkloadSource,
  fromIndex: number,
  windowSize: number,
  onResult: (index: number, result: CommandResult) => void,
): Promise<void> {
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const answered = (): void => {
    inFlight--;
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  for (let index = fromIndex; index < workload.count; index++) {
    while (inFlight >= windowSize) await new Promise<void>((resolve) => (wake = resolve));
    inFlight++;
    const submitted = index;
    void sequencer.submit(workload.commandAt(index)).then((result) => {
      onResult(submitted, result);
      answered();
    });
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
}

/**
 * Writes a workload for a child process: a first line {seed, count, timesMs}, then one command
 * per line, as JSON. A child reads it back in milliseconds instead of generating it again.
 */
export function writeWorkloadFile(workload: Workload, path: string): void {
  const lines = [JSON.stringify({ seed: workload.seed, count: workload.count, timesMs: workload.timesMs })];
  for (const command of workload.commands) lines.push(JSON.stringify(command));
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** A workload file, its commands parsed only when asked for. */
export function readWorkloadFile(path: string): WorkloadSource & { seed: number } {
  const bytes = readFileSync(path);
  const lineStarts: number[] = [0];
  for (let at = bytes.indexOf(10); at >= 0 && at < bytes.length - 1; at = bytes.indexOf(10, at + 1)) lineStarts.push(at + 1);
  const line = (number: number): string => bytes.toString('utf8', lineStarts[number], (lineStarts[number + 1] ?? bytes.length) - 1);
  const header = JSON.parse(line(0)) as { seed: number; count: number; timesMs: number[] };
  if (lineStarts.length !== header.count + 1) throw new Error(`${path}: ${lineStarts.length - 1} commands, the header says ${header.count}`);
  return { seed: header.seed, count: header.count, timesMs: header.timesMs, commandAt: (index) => JSON.parse(line(index + 1)) as Command };
}

/** The hash of a workload's shadow state, for oracles. */
export function workloadStateHash(workload: Workload): string {
  return stateHash(workload.finalState);
}

// ---------------------------------------------------------------------------------------------
// The PRNG: xoshiro128** seeded through splitmix32. Integers only, so it is exact everywhere.

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1), from 32 bits. */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

function rotl(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The generator

interface KnownOrder {
  orderId: number;
  accountId: number;
  instrument: string;
  type: string;
  state: string;
  filledLots: number;
  priceTicks: number;
  label: string;
}

type Maker = () => Command;

class WorkloadGenerator {
  readonly commands: Command[] = [];
  readonly timesMs: number[] = [];
  readonly state = emptyState();
  readonly tally = new Map<string, { made: number; rejected: number }>();
  private readonly random: Prng;
  private readonly setup: Command[];
  private readonly mix: { weight: number; name: string; make: Maker }[];
  private readonly mixWeightTotal: number;
  private timeMs = WORKLOAD_START_MS;
  private readonly accountIds: number[] = [];
  private readonly midTicks = new Map<string, number>([['H100_USDAI', 2_500], ['H200_USDAI', 3_250], ['B200_USDAI', 4_800], ['A100_USDAI', 1_150]]);
  private readonly openOrders: KnownOrder[] = [];
  private readonly openOrderIndex = new Map<number, number>();
  private readonly closedOrderIds: number[] = [];
  private readonly pendingWithdrawals: string[] = [];
  private readonly recentPlaces: PlaceOrder[] = [];
  private serial = 0;

  constructor(
    readonly seed: number,
    config: RawExchangeConfig,
  ) {
    this.random = new Prng(seed);
    applyCommand(this.state, { kind: 'init_exchange', config }, INIT_SEQUENCE, WORKLOAD_START_MS);
    this.setup = setupCommands(seed);
    this.mix = this.commandMix();
    this.mixWeightTotal = this.mix.reduce((sum, entry) => sum + entry.weight, 0);
  }

  /** Makes, applies (to the shadow) and records one command. */
  step(): void {
    const index = this.commands.length;
    const { name, command } = index < this.setup.length ? { name: 'setup', command: this.setup[index] } : this.pickFromMix();
    this.timeMs += this.timeStepMs(index);
    // Frozen, so an engine that wrote into a command it was given would throw (strict mode).
    deepFreeze(command);
    const events = applyCommand(this.state, command, sequenceOfIndex(index), this.timeMs);
    this.commands.push(command);
    this.timesMs.push(this.timeMs);
    this.learn(events);
    const counts = this.tally.get(name) ?? { made: 0, rejected: 0 };
    counts.made++;
    if (events.some((event) => event.kind === 'rejected')) counts.rejected++;
    this.tally.set(name, counts);
  }

  private pickFromMix(): { name: string; command: Command } {
    let roll = this.random.float() * this.mixWeightTotal;
    for (const entry of this.mix) {
      roll -= entry.weight;
      if (roll < 0) return { name: entry.name, command: entry.make() };
    }
    const last = this.mix[this.mix.length - 1];
    return { name: last.name, command: last.make() };
  }

  private timeStepMs(index: number): number {
    if (index < this.setup.length) return 1;
    if (this.random.chance(1 / 2_500)) return this.random.int(1, 14) * HOUR_MS + this.random.int(0, HOUR_MS);
    return this.random.int(0, 6);
  }

  private commandMix(): { weight: number; name: string; make: Maker }[] {
    return [
      { weight: 26, name: 'limit_gtc', make: () => this.limitOrder('good_til_cancelled') },
      { weight: 7, name: 'limit_gtd', make: () => this.limitOrder('good_til_day') },
      { weight: 6, name: 'limit_ioc', make: () => this.limitOrder('immediate_or_cancel', 15) },
      { weight: 4, name: 'limit_fok', make: () => this.limitOrder('fill_or_kill', 15) },
      { weight: 6, name: 'post_only', make: () => this.postOnlyOrder() },
      { weight: 5, name: 'market', make: () => this.marketOrder() },
      { weight: 5, name: 'stop', make: () => this.stopOrder() },
      { weight: 1, name: 'label_retry', make: () => this.labelRetry() },
      { weight: 8, name: 'amend', make: () => this.amend() },
      { weight: 16, name: 'cancel', make: () => this.cancel() },
      { weight: 1, name: 'cancel_stale', make: () => this.cancelStale() },
      { weight: 1.5, name: 'cancel_all', make: () => this.cancelAll() },
      { weight: 0.5, name: 'cancel_by_label', make: () => this.cancelByLabel() },
      { weight: 2, name: 'transfer', make: () => this.transfer() },
      { weight: 1.5, name: 'withdrawal', make: () => this.requestWithdrawal() },
      { weight: 1.5, name: 'withdrawal_end', make: () => this.endWithdrawal() },
      { weight: 1, name: 'deposit', make: () => this.deposit() },
      { weight: 1, name: 'index_price', make: () => this.indexPrice() },
      { weight: 1, name: 'clock_tick', make: () => ({ kind: 'clock_tick' }) },
      { weight: 0.5, name: 'invalid', make: () => this.invalidCommand() },
    ];
  }

  // -- orders

  private limitOrder(timeInForce: PlaceOrder['timeInForce'], crossTicks = 6): PlaceOrder {
    const instrument = this.walkInstrument();
    const side = this.random.chance(0.5) ? 'buy' : 'sell';
    const place: PlaceOrder = {
      kind: 'place_order', accountId: this.anyAccount(), instrument, side, type: 'limit',
      amountLots: this.lots(), priceTicks: this.priceNear(instrument, side, crossTicks), timeInForce,
    };
    if (this.random.chance(0.15)) place.label = this.newLabel();
    if (this.random.chance(0.05)) place.selfTrade = this.random.pick(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement_both'] as const);
    return this.remember(place);
  }

  private postOnlyOrder(): PlaceOrder {
    const place = this.limitOrder(this.random.chance(0.8) ? 'good_til_cancelled' : 'good_til_day');
    place.postOnly = true;
    place.rejectPostOnly = this.random.chance(0.5);
    return place;
  }

  private marketOrder(): PlaceOrder {
    const instrument = this.walkInstrument();
    return this.remember({
      kind: 'place_order', accountId: this.anyAccount(), instrument, side: this.random.chance(0.5) ? 'buy' : 'sell', type: 'market',
      amountLots: this.lots(), timeInForce: this.random.pick(['immediate_or_cancel', 'immediate_or_cancel', 'fill_or_kill', 'good_til_cancelled'] as const),
    });
  }

  private stopOrder(): PlaceOrder {
    const instrument = this.walkInstrument();
    const side = this.random.chance(0.5) ? 'buy' : 'sell';
    const type = this.random.pick(['stop_limit', 'stop_market', 'take_limit', 'take_market'] as const);
    const mid = this.midTicks.get(instrument)!;
    const place: PlaceOrder = {
      kind: 'place_order', accountId: this.anyAccount(), instrument, side, type, amountLots: this.lots(),
      timeInForce: type.endsWith('market') ? 'immediate_or_cancel' : 'good_til_cancelled',
      triggerPriceTicks: clampPrice(mid + this.random.int(-25, 25)),
      trigger: this.random.chance(0.9) ? 'last_price' : 'index_price',
    };
    if (type.endsWith('limit')) place.priceTicks = this.priceNear(instrument, side, 10);
    return this.remember(place);
  }

  /** The same place again (an idempotent retry), or the same label with another payload. */
  private labelRetry(): Command {
    const labelled = this.recentPlaces.filter((place) => place.label !== undefined);
    if (labelled.length === 0) return this.limitOrder('good_til_cancelled');
    const original = this.random.pick(labelled);
    if (this.random.chance(0.7)) return { ...original };
    return { ...original, amountLots: (original.amountLots % LOTS_MAX) + 1 };
  }

  private amend(): Command {
    const order = this.anyOpenOrder();
    if (order === undefined) return this.limitOrder('good_til_cancelled');
    const amend: AmendOrder = { kind: 'amend_order', accountId: order.accountId, orderId: order.orderId, amountLots: order.filledLots + this.random.int(1, LOTS_MAX) };
    if (order.type.endsWith('limit')) amend.priceTicks = clampPrice(order.priceTicks + this.random.int(-5, 5));
    if (order.state === 'untriggered' && this.random.chance(0.3)) amend.triggerPriceTicks = clampPrice(this.midTicks.get(order.instrument)! + this.random.int(-25, 25));
    return amend;
  }

  private cancel(): Command {
    const order = this.anyOpenOrder();
    if (order === undefined) return { kind: 'clock_tick' };
    return { kind: 'cancel_order', accountId: order.accountId, orderId: order.orderId };
  }

  /** A closed order, or someone else's open order: both must be rejected without effect. */
  private cancelStale(): Command {
    const order = this.anyOpenOrder();
    if (order !== undefined && this.random.chance(0.5)) return { kind: 'cancel_order', accountId: (order.accountId % ACCOUNTS) + 1, orderId: order.orderId };
    const orderId = this.closedOrderIds.length > 0 ? this.random.pick(this.closedOrderIds) : 999_999_999;
    return { kind: 'cancel_order', accountId: this.anyAccount(), orderId };
  }

  private cancelAll(): Command {
    const order = this.anyOpenOrder();
    const accountId = order?.accountId ?? this.anyAccount();
    const roll = this.random.int(0, 3);
    if (roll === 0) return { kind: 'cancel_all', accountId };
    if (roll === 1) return { kind: 'cancel_all', accountId, instrument: order?.instrument ?? INSTRUMENTS[0] };
    if (roll === 2) return { kind: 'cancel_all', accountId, currency: this.random.pick(SKUS), orderType: 'limit' };
    return { kind: 'cancel_all', accountId, orderType: 'trigger' };
  }

  private cancelByLabel(): Command {
    const labelled = this.openOrders.filter((order) => order.label !== '');
    if (labelled.length === 0) return { kind: 'clock_tick' };
    const order = this.random.pick(labelled);
    return { kind: 'cancel_by_label', accountId: order.accountId, label: order.label };
  }

  // -- money

  private transfer(): Command {
    const fromAccountId = this.anyAccount();
    const toAccountId = (fromAccountId % ACCOUNTS) + 1;
    const usd = this.random.chance(0.6);
    const currency = usd ? 'USDAI' : this.random.pick(SKUS);
    const amountUnits = (BigInt(this.random.int(1, 500)) * (usd ? USDAI_UNIT : HOUR_UNIT)).toString();
    return { kind: 'transfer', transferId: `t-${this.seed}-${this.serial++}`, fromAccountId, toAccountId, currency, amountUnits };
  }

  private requestWithdrawal(): Command {
    const usd = this.random.chance(0.7);
    const withdrawalId = `w-${this.seed}-${this.serial++}`;
    this.pendingWithdrawals.push(withdrawalId);
    return {
      kind: 'request_withdrawal', withdrawalId, accountId: this.anyAccount(), currency: usd ? 'USDAI' : this.random.pick(SKUS),
      amountUnits: (BigInt(this.random.int(1, 300)) * (usd ? USDAI_UNIT : HOUR_UNIT)).toString(), address: `0x${(this.serial * 7919).toString(16).padStart(40, '0')}`,
    };
  }

  private endWithdrawal(): Command {
    if (this.pendingWithdrawals.length === 0) return { kind: 'clock_tick' };
    const index = this.random.int(0, this.pendingWithdrawals.length - 1);
    const withdrawalId = this.pendingWithdrawals[index];
    // Now and then the same id again: already_applied.
    if (!this.random.chance(0.1)) this.pendingWithdrawals.splice(index, 1);
    return this.random.chance(0.7) ? { kind: 'complete_withdrawal', withdrawalId } : { kind: 'fail_withdrawal', withdrawalId };
  }

  private deposit(): Command {
    const usd = this.random.chance(0.6);
    // Now and then a deposit id seen before: already_applied.
    const depositId = this.random.chance(0.05) && this.serial > 0 ? `d-${this.seed}-${this.random.int(0, this.serial - 1)}` : `d-${this.seed}-${this.serial++}`;
    return {
      kind: 'credit_deposit', depositId, accountId: this.anyAccount(), currency: usd ? 'USDAI' : this.random.pick(SKUS),
      amountUnits: (BigInt(this.random.int(1, 10_000)) * (usd ? USDAI_UNIT : HOUR_UNIT)).toString(),
    };
  }

  private indexPrice(): Command {
    const index = this.random.int(0, SKUS.length - 1);
    return { kind: 'set_index_price', sku: SKUS[index], priceTicks: clampPrice(this.midTicks.get(INSTRUMENTS[index])! + this.random.int(-30, 30)) };
  }

  /** Commands the engine must reject: they still take a sequence number and must replay alike. */
  private invalidCommand(): Command {
    const roll = this.random.int(0, 4);
    if (roll === 0) return { kind: 'place_order', accountId: this.anyAccount(), instrument: 'NOPE_USDAI', side: 'buy', type: 'limit', amountLots: 1, priceTicks: 2_000, timeInForce: 'good_til_cancelled' };
    if (roll === 1) return { kind: 'place_order', accountId: this.anyAccount(), instrument: INSTRUMENTS[0], side: 'buy', type: 'limit', amountLots: 0, priceTicks: 2_000, timeInForce: 'good_til_cancelled' };
    if (roll === 2) return { kind: 'place_order', accountId: 9_999_999, instrument: INSTRUMENTS[1], side: 'sell', type: 'limit', amountLots: 1, priceTicks: 2_000, timeInForce: 'good_til_cancelled' };
    if (roll === 3) return { kind: 'transfer', transferId: `t-${this.seed}-${this.serial++}`, fromAccountId: 1, toAccountId: 2, currency: 'USDAI', amountUnits: '10000000000000000000000000000000' };
    return { kind: 'place_order', accountId: this.anyAccount(), instrument: INSTRUMENTS[2], side: 'buy', type: 'market', amountLots: 1, timeInForce: 'good_til_cancelled', postOnly: true };
  }

  // -- helpers

  private walkInstrument(): string {
    const instrument = this.random.pick(INSTRUMENTS);
    const mid = this.midTicks.get(instrument)!;
    this.midTicks.set(instrument, clampPrice(mid + this.random.int(-3, 3)));
    return instrument;
  }

  /** Buys mostly below the mid and sells above it; up to `crossTicks` through it. */
  private priceNear(instrument: string, side: 'buy' | 'sell', crossTicks: number): number {
    const mid = this.midTicks.get(instrument)!;
    const offset = this.random.int(-crossTicks, 40);
    return clampPrice(side === 'buy' ? mid - offset : mid + offset);
  }

  private lots(): number {
    return this.random.int(1, LOTS_MAX);
  }

  private anyAccount(): number {
    return this.accountIds.length === 0 ? 1 : this.random.pick(this.accountIds);
  }

  private anyOpenOrder(): KnownOrder | undefined {
    return this.openOrders.length === 0 ? undefined : this.openOrders[this.random.int(0, this.openOrders.length - 1)];
  }

  private newLabel(): string {
    return `L${this.serial++}`;
  }

  private remember(place: PlaceOrder): PlaceOrder {
    this.recentPlaces.push(place);
    if (this.recentPlaces.length > 64) this.recentPlaces.shift();
    return place;
  }

  /** Reads account and order ids from the events of the command just applied. */
  private learn(events: Event[]): void {
    for (const event of events) {
      if (event.kind === 'account_created') this.accountIds.push(event.accountId);
      else if (event.kind === 'order') this.learnOrder(event.order);
    }
  }

  private learnOrder(order: OrderView): void {
    const isOpen = order.state === 'open' || order.state === 'untriggered';
    const at = this.openOrderIndex.get(order.orderId);
    if (isOpen) {
      const known: KnownOrder = {
        orderId: order.orderId, accountId: order.accountId, instrument: order.instrument, type: order.type, state: order.state,
        filledLots: order.filledLots, priceTicks: order.priceTicks, label: order.label,
      };
      if (at === undefined) {
        this.openOrderIndex.set(order.orderId, this.openOrders.length);
        this.openOrders.push(known);
      } else this.openOrders[at] = known;
      return;
    }
    if (at === undefined) return;
    const last = this.openOrders.pop()!;
    if (last.orderId !== order.orderId) {
      this.openOrders[at] = last;
      this.openOrderIndex.set(last.orderId, at);
    }
    this.openOrderIndex.delete(order.orderId);
    if (this.closedOrderIds.length < 10_000) this.closedOrderIds.push(order.orderId);
  }
}

const REFERENCE_PRICE_TICKS = [2_500, 3_250, 4_800, 1_150];

/** Parameters, accounts, deposits and first index prices. */
function setupCommands(seed: number): Command[] {
  const commands: Command[] = [
    { kind: 'set_parameters', accounts: { ordersPerSecond: 1_000_000, orderBurst: 1_000_000, openOrdersMax: 10_000, stopOrdersMax: 2_000 } },
  ];
  for (let account = 1; account <= ACCOUNTS; account++) {
    commands.push({ kind: 'create_account', owner: `trader-${seed}-${account}`, accountKind: 'trader' });
  }
  // GPU-hour credits enter only as provider capacity (CONTRACTS.md): one provider, bonded in USDAI,
  // takes capacity for every trader's share and transfers it on.
  const providerId = ACCOUNTS + 1;
  commands.push({ kind: 'create_account', owner: `provider-${seed}`, accountKind: 'provider' });
  commands.push({ kind: 'credit_deposit', depositId: `seed-${seed}-provider-USDAI`, accountId: providerId, currency: 'USDAI', amountUnits: (1_000_000_000n * USDAI_UNIT).toString() });
  SKUS.forEach((sku, index) => {
    commands.push({ kind: 'credit_capacity', capacityId: `seed-${seed}-${sku}`, providerAccountId: providerId, sku, gpuHours: ACCOUNTS * 100_000, referencePriceTicks: REFERENCE_PRICE_TICKS[index] });
  });
  for (let account = 1; account <= ACCOUNTS; account++) {
    commands.push({ kind: 'credit_deposit', depositId: `seed-${seed}-${account}-USDAI`, accountId: account, currency: 'USDAI', amountUnits: (1_000_000n * USDAI_UNIT).toString() });
    for (const sku of SKUS) {
      commands.push({ kind: 'transfer', transferId: `seed-${seed}-${account}-${sku}`, fromAccountId: providerId, toAccountId: account, currency: sku, amountUnits: (100_000n * HOUR_UNIT).toString() });
    }
  }
  SKUS.forEach((sku, index) => commands.push({ kind: 'set_index_price', sku, priceTicks: REFERENCE_PRICE_TICKS[index] }));
  return commands;
}

function deepFreeze(value: object): void {
  Object.freeze(value);
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null) deepFreeze(inner);
}

function clampPrice(priceTicks: number): number {
  return Math.max(PRICE_TICKS_MIN, Math.min(PRICE_TICKS_MAX, priceTicks));
}
