// The benchmark workload replayed through the real book and the reference model, side by side.
//
// What it proves: on a long, realistic stream (the canonical `lobwl v1` workload of
// /work/shared/bench/README.md: passive adds, orders crossing up to five levels, market orders and
// cancels, about 5,000 resting orders over about 120 levels) the fast book makes exactly the fills
// the obviously-correct model makes, in the same order, and ends with the same book. This reaches
// depths and queue lengths that the short random sequences of model.property.test.ts do not.
//
// The generator: the first 50,000 operations of ../shared/bench/lobwl-1m-s42.txt.gz, relative to
// the repository root (gunzipped in memory; lines are scanned only up to the 50,000th operation).
// When that file is absent (a fresh clone without ../shared) the test replays instead a workload
// of the same format made by a seeded generator in this file; a smaller generated workload is
// always replayed as well, so the generator itself stays tested.
//
// The oracle: after every operation, the book's whole report (code, fills with maker id, price,
// quantity and maker remainder, done orders, changed levels) equals the model's, the book is not
// crossed and the fills add up; every 1,000 operations `validateInternalState()` passes (it is
// linear in the book's size); every 10,000 operations and at the end, the full book (levels, FIFO
// queues, every field) equals the model's, and at the end `stateHash()` equals the hash computed from
// the model's book in the documented canonical order. Every operation must also be accepted:
// the format promises that a cancel always names a resting order.
//
// How to replay: it is deterministic; the generated workload uses the fixed seeds below.

import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  BookResultCode,
  OrderBook,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  ANONYMOUS_ACCOUNT,
  type BookLimits,
  type BookReport,
  type OrderSpec,
} from '../../book/index.js';
import { seededRandom } from '../_env.js';
import { NaiveBook, type NaiveResult } from '../model/naive_book.js';
import { expectBookMatchesModel, expectCallInvariants, expectReportMatchesModel, expectStructureInvariants } from './_book_vs_model.js';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CANONICAL_WORKLOAD_PATH = resolve(REPOSITORY_ROOT, '../shared/bench/lobwl-1m-s42.txt.gz');
const OPERATIONS_MAX = 50_000;
const STRUCTURE_CHECK_EVERY = 1_000;
const FULL_BOOK_CHECK_EVERY = 10_000;
const GENERATED_SEED = 42;
const GENERATED_SMALL_SEED = 7;
const GENERATED_SMALL_OPERATIONS = 5_000;
const GENERATED_RESTING_TARGET = 500;

t.test('the first 50,000 operations of the canonical workload fill exactly as the model does', (t) => {
  if (existsSync(CANONICAL_WORKLOAD_PATH)) {
    const text = gunzipSync(readFileSync(CANONICAL_WORKLOAD_PATH)).toString('latin1');
    const workload = parseWorkload(text, OPERATIONS_MAX);
    t.equal(workload.operations.length, OPERATIONS_MAX, `${CANONICAL_WORKLOAD_PATH}: ${OPERATIONS_MAX} operations read`);
    replayAndCompare(t, workload);
  } else {
    t.comment(`${CANONICAL_WORKLOAD_PATH} is absent: replaying a generated workload (seed ${GENERATED_SEED}) instead`);
    replayAndCompare(t, parseWorkload(generateWorkload(GENERATED_SEED, OPERATIONS_MAX), OPERATIONS_MAX));
  }
  t.end();
});

t.test('a generated workload of the same format fills exactly as the model does', (t) => {
  const text = generateWorkload(GENERATED_SMALL_SEED, GENERATED_SMALL_OPERATIONS);
  replayAndCompare(t, parseWorkload(text, GENERATED_SMALL_OPERATIONS));
  t.end();
});

// -----------------------------------------------------------------------------------------
// Replaying

type Operation =
  | { kind: 'limit'; orderId: number; side: Side; priceTicks: number; qtyLots: number; timeInForce: TimeInForce }
  | { kind: 'market'; orderId: number; side: Side; qtyLots: number }
  | { kind: 'cancel'; orderId: number };

/** The few assertions a replay needs, from whichever tap test runs it. */
interface Checks {
  comment(message: string): void;
  fail(message: string): boolean;
  ok(value: unknown, message: string): boolean;
  equal(found: unknown, wanted: unknown, message: string): boolean;
  doesNotThrow(fn: () => void, message: string): boolean | Error;
}

interface Workload {
  maxPriceTicks: number;
  operations: Operation[];
}

function replayAndCompare(t: Checks, workload: Workload): void {
  const limits: BookLimits = { priceTicksMax: workload.maxPriceTicks, qtyLotsMax: 1_000_000, ordersMax: 1_000_000, accountIdMax: 0 };
  const book = new OrderBook(limits);
  const model = new NaiveBook(limits);
  let fillCount = 0;
  let refusedCount = 0;
  const startedMs = Date.now();
  for (let index = 0; index < workload.operations.length; index++) {
    const operation = workload.operations[index];
    const expected = callModel(model, operation, limits);
    const report = callBook(book, operation, limits);
    try {
      expectReportMatchesModel(report, expected);
      expectCallInvariants(book, report);
      if ((index + 1) % STRUCTURE_CHECK_EVERY === 0) expectStructureInvariants(book);
      if ((index + 1) % FULL_BOOK_CHECK_EVERY === 0) expectBookMatchesModel(book, model);
    } catch (error) {
      t.fail(`operation ${index + 1} (${JSON.stringify(operation)}): ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    fillCount += expected.fills.length;
    if (report.code !== BookResultCode.Ok) refusedCount++;
  }
  t.comment(`${workload.operations.length} operations, ${fillCount} fills, ${model.orders().length} resting at the end, in ${Date.now() - startedMs} ms`);
  t.equal(refusedCount, 0, 'every operation is accepted (every cancel names a resting order)');
  t.doesNotThrow(() => expectStructureInvariants(book), "the book's structural invariants hold at the end");
  t.doesNotThrow(() => expectBookMatchesModel(book, model), 'the final book equals the model: every level, every queue, every field');
  t.equal(book.stateHash(), model.stateHash(), "stateHash() equals the hash of the model's book in canonical order");
  t.ok(fillCount > 0, 'the workload trades');
}

/** The format's orders as the book's: account 0 (no self-trade checks), GTC or IOC limits, IOC market orders. */
function specOf(operation: Exclude<Operation, { kind: 'cancel' }>, limits: BookLimits): OrderSpec {
  const isMarket = operation.kind === 'market';
  return {
    orderId: operation.orderId,
    accountId: ANONYMOUS_ACCOUNT,
    side: operation.side,
    type: isMarket ? OrderType.Market : OrderType.Limit,
    // A market order "fills what is available": its protection price is the far end of the range.
    priceTicks: isMarket ? (operation.side === Side.Buy ? limits.priceTicksMax : 1) : operation.priceTicks,
    qtyLots: operation.qtyLots,
    timeInForce: isMarket ? TimeInForce.ImmediateOrCancel : operation.timeInForce,
    expiresAtMs: 0,
    postOnly: PostOnly.None,
    selfTradePrevention: SelfTradePrevention.CancelTaker,
  };
}

function callModel(model: NaiveBook, operation: Operation, limits: BookLimits): NaiveResult {
  return operation.kind === 'cancel' ? model.cancel(operation.orderId) : model.place(specOf(operation, limits));
}

function callBook(book: OrderBook, operation: Operation, limits: BookLimits): BookReport {
  return operation.kind === 'cancel' ? book.cancel(operation.orderId) : book.place(specOf(operation, limits));
}

// -----------------------------------------------------------------------------------------
// Reading the format (bench/README.md): one operation per line, `#` lines are metadata

function parseWorkload(text: string, operationsMax: number): Workload {
  const operations: Operation[] = [];
  let maxPriceTicks = 0;
  let lineStart = 0;
  while (lineStart < text.length && operations.length < operationsMax) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd).trim();
    lineStart = lineEnd + 1;
    if (line.startsWith('# params ')) maxPriceTicks = (JSON.parse(line.slice('# params '.length)) as { maxPrice: number }).maxPrice;
    if (line === '' || line.startsWith('#')) continue;
    operations.push(parseOperation(line));
  }
  if (!(maxPriceTicks >= 1)) throw new Error('the workload has no "# params" line with maxPrice');
  return { maxPriceTicks, operations };
}

function parseOperation(line: string): Operation {
  const fields = line.split(' ');
  const number = (index: number): number => {
    const value = Number(fields[index]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bad number in workload line '${line}'`);
    return value;
  };
  const side = (): Side => (fields[2] === 'B' ? Side.Buy : Side.Sell);
  switch (fields[0]) {
    case 'A':
      return { kind: 'limit', orderId: number(1), side: side(), priceTicks: number(3), qtyLots: number(4), timeInForce: TimeInForce.GoodTillCancelled };
    case 'X': {
      const timeInForce = fields[5] === 'G' ? TimeInForce.GoodTillCancelled : TimeInForce.ImmediateOrCancel;
      return { kind: 'limit', orderId: number(1), side: side(), priceTicks: number(3), qtyLots: number(4), timeInForce };
    }
    case 'M':
      return { kind: 'market', orderId: number(1), side: side(), qtyLots: number(3) };
    case 'C':
      return { kind: 'cancel', orderId: number(1) };
    default:
      throw new Error(`unknown workload line '${line}'`);
  }
}

// -----------------------------------------------------------------------------------------
// A workload of the same format from a seeded generator, for when the canonical file is absent

/**
 * Passive adds a few ticks behind a slowly wandering mid, limit orders priced through it (GTC or
 * IOC), market orders, and cancels of orders that rest at that point. The generator tracks what
 * rests with a reference model of its own, so every cancel names a resting order.
 */
function generateWorkload(seed: number, operationCount: number): string {
  const random = seededRandom(seed);
  const maxPriceTicks = 20_000;
  let midTicks = 10_000;
  const tracker = new NaiveBook({ priceTicksMax: maxPriceTicks, qtyLotsMax: 1_000_000, ordersMax: 1_000_000, accountIdMax: 0 });
  const lines = [`# lobwl v1: generated in test/book/workload_replay.test.ts, seed ${seed}`, `# params ${JSON.stringify({ maxPrice: maxPriceTicks, anchorMid: midTicks })}`];
  for (let orderId = 1; lines.length - 2 < operationCount; ) {
    midTicks += Math.floor(random() * 3) - 1;
    const side = random() < 0.5 ? 'B' : 'S';
    const sign = side === 'B' ? -1 : 1;
    const qtyLots = 1 + Math.floor(20 * random() ** 3);
    const resting = tracker.orders();
    // Cancels grow with the book, which keeps it near GENERATED_RESTING_TARGET orders, as in the canonical file.
    const cancelShare = 0.25 * Math.min(2, resting.length / GENERATED_RESTING_TARGET);
    const kindDraw = random() < cancelShare && resting.length > 0 ? -1 : random();
    let line: string;
    if (kindDraw < 0) {
      line = `C ${resting[Math.floor(random() * resting.length)].orderId}`;
    } else if (kindDraw < 0.07) {
      line = `M ${orderId++} ${side} ${qtyLots * 3}`;
    } else if (kindDraw < 0.21) {
      const priceTicks = midTicks - sign * (1 + Math.floor(random() * 5));
      line = `X ${orderId++} ${side} ${priceTicks} ${qtyLots * 2} ${random() < 0.5 ? 'G' : 'I'}`;
    } else {
      const priceTicks = midTicks + sign * (1 + Math.floor(20 * random() ** 2));
      line = `A ${orderId++} ${side} ${priceTicks} ${qtyLots}`;
    }
    lines.push(line);
    const operation = parseOperation(line);
    callModel(tracker, operation, tracker.limits);
  }
  return lines.join('\n') + '\n';
}

