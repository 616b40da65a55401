// The benchmark's workload tooling: the seeded generator, the `lobwl` parser and writer, the
// `# expect` computation, and both engine adapters.
//
// What it proves: a seed always gives the same file; the generator's own `# expect` line (computed
// by its independent reference book) is reproduced by replaying the written file through the
// project's book adapter and through the nodejs-order-book adapter, so generator, expect code and
// both adapters agree fill by fill (tapeHash) and on the final book (bookHash); generated files keep
// the format's promises (ids, prices, non-crossing adds, cancels of resting orders only); the parser
// reads back exactly what the writer wrote, gzip included, and rejects malformed lines.
// The canonical 1M-op file is replayed by the benchmark itself and by test/book/workload_replay.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import bookAdapter from '../../bench/adapters/book.js';
import peerAdapter from '../../bench/adapters/nodejs_order_book.js';
import type { EngineAdapter } from '../../bench/adapters/adapter.js';
import { FillTape, FNV_OFFSET_BASIS, fnvFold, formatHash, outcomeMismatches, outcomeOf } from '../../bench/outcome.js';
import { referenceAdapter } from '../../bench/reference_book.js';
import { replayChecked, replayRange } from '../../bench/replay.js';
import { countOpKinds, formatWorkload, generateWorkload, OpKind, parseWorkload, readWorkloadFile, WorkloadFormatError, type Workload } from '../../bench/workload.js';

const ENGINES = [bookAdapter, peerAdapter] as EngineAdapter<unknown>[];

/** Index of the first element where two arrays differ (or their lengths do), -1 when equal. */
function firstDifference(left: ArrayLike<number>, right: ArrayLike<number>): number {
  for (let index = 0; index < Math.max(left.length, right.length); index++) if (left[index] !== right[index]) return index;
  return -1;
}

t.test('fnv folds 32-bit words as the shared README defines', async (t) => {
  t.equal(formatHash(FNV_OFFSET_BASIS), '0x811c9dc5');
  // (0x811c9dc5 XOR 1) × 16777619 mod 2^32, worked out by hand with BigInt.
  const expected = Number(((0x811c9dc5n ^ 1n) * 16777619n) % 2n ** 32n);
  t.equal(fnvFold(FNV_OFFSET_BASIS, 1) >>> 0, expected);
  t.equal(formatHash(0x0000abcd), '0x0000abcd', 'hashes print as 8 hex digits');
});

t.test('the generator is deterministic for a seed', async (t) => {
  const first = formatWorkload(generateWorkload({ seed: 5, ops: 10_000 }));
  const again = formatWorkload(generateWorkload({ seed: 5, ops: 10_000 }));
  const other = formatWorkload(generateWorkload({ seed: 6, ops: 10_000 }));
  t.equal(first, again, 'same seed, same text');
  t.not(first, other, 'another seed, another workload');
});

t.test('a generated expect line matches replays through every adapter', async (t) => {
  const workloads: Array<[string, Workload]> = [
    ['default mix', parseWorkload(formatWorkload(generateWorkload({ seed: 21, ops: 30_000 })))],
    ['cancel-heavy, small book', parseWorkload(formatWorkload(generateWorkload({ seed: 22, ops: 20_000, pCancelAtTarget: 0.8, targetResting: 300, pCross: 0.04, pMarket: 0.01 })))],
    ['aggressive: deep crosses and big markets', parseWorkload(formatWorkload(generateWorkload({ seed: 23, ops: 20_000, pCross: 0.3, pMarket: 0.15, crossLevelWeights: [0.1, 0.1, 0.2, 0.3, 0.3], marketLotsMax: 20 })))],
    // The mid drifts into maxPrice here, so adds meet the edge of the price range (a sell add once
    // came out at maxPrice + 1); the amends only re-price or raise, which both engines agree on.
    [
      'prices pinned at the top of the range',
      parseWorkload(formatWorkload(generateWorkload({ seed: 100, ops: 20_000, maxPrice: 10_050, pAmend: 0.2, pCross: 0.25, pMarket: 0.12, targetResting: 2_430, lotMax: 161, amendReduceShare: 0, amendRepriceTicksMax: 25 }))),
    ],
  ];
  for (const [label, workload] of workloads) {
    t.ok(workload.expect !== null && workload.expect.fills > 1000, `${label}: has an expect line with fills`);
    for (const engine of [...ENGINES, referenceAdapter as EngineAdapter<unknown>]) {
      const replay = replayChecked(engine, workload);
      t.same(outcomeMismatches(workload.expect!, replay.outcome), [], `${label}: ${engine.name} reproduces every expect field`);
      t.equal(replay.missCount, 0, `${label}: ${engine.name} had every cancelled order resting`);
    }
  }
});

t.test('amend workloads (E lines) replay to their expect line', async (t) => {
  const mixed = parseWorkload(formatWorkload(generateWorkload({ seed: 31, ops: 25_000, pAmend: 0.15 })));
  t.ok(countOpKinds(mixed)[OpKind.Amend] > 3_000, 'about 15% amends');
  t.ok(mixed.comments.some((comment) => comment.startsWith('extension: E ')), 'the header documents the E extension');
  const ours = replayChecked(bookAdapter as EngineAdapter<unknown>, mixed);
  t.same(outcomeMismatches(mixed.expect!, ours.outcome), [], 'book: reduce in place, re-price and raise to the back, crossing re-prices match');
  t.equal(ours.missCount, 0);

  // nodejs-order-book re-queues every modified order, so it can only agree on amends that lose
  // priority in both semantics: re-prices (some crossing) and raises.
  const requeueOnly = parseWorkload(formatWorkload(generateWorkload({ seed: 32, ops: 25_000, pAmend: 0.15, amendReduceShare: 0, amendRepriceShare: 0.7, amendRepriceTicksMax: 8 })));
  for (const engine of ENGINES) {
    const replay = replayChecked(engine, requeueOnly);
    t.same(outcomeMismatches(requeueOnly.expect!, replay.outcome), [], `re-price/raise amends: ${engine.name} reproduces every expect field`);
  }
  const peerOnMixed = replayChecked(peerAdapter as EngineAdapter<unknown>, mixed);
  t.not(peerOnMixed.outcome.tapeHash, mixed.expect!.tapeHash, 'the peer differs where a reduction keeps its place (documented in the bench)');
});

t.test('generated files keep the promises of the format', async (t) => {
  const workload = generateWorkload({ seed: 41, ops: 30_000 });
  const maxPrice = workload.params.maxPrice;
  let lastNewId = 0;
  let orderedIds = true;
  let pricesInRange = true;
  for (let index = 0; index < workload.opCount; index++) {
    const kind = workload.kind[index];
    if (kind === OpKind.Add || kind === OpKind.Cross || kind === OpKind.Market) {
      orderedIds &&= workload.orderId[index] === lastNewId + 1;
      lastNewId = workload.orderId[index];
    }
    if (kind !== OpKind.Market && kind !== OpKind.Cancel) pricesInRange &&= workload.priceTicks[index] >= 1 && workload.priceTicks[index] <= maxPrice;
  }
  t.ok(orderedIds, 'ids of A, X and M are 1, 2, 3, ...');
  t.ok(pricesInRange, 'every price is within 1..maxPrice');

  // Replay through the book, watching which operation each fill belongs to.
  const book = bookAdapter.create(workload.params);
  const tape = new FillTape();
  let currentKind: number = OpKind.Add;
  let addsThatFilled = 0;
  let crossesWithoutFill = 0;
  let fillsOfOperation = 0;
  const onFill = (makerOrderId: number, takerOrderId: number, priceTicks: number, qtyLots: number): void => {
    fillsOfOperation++;
    if (currentKind === OpKind.Add) addsThatFilled++;
    tape.onFill(makerOrderId, takerOrderId, priceTicks, qtyLots);
  };
  let missCount = 0;
  for (let index = 0; index < workload.opCount; index++) {
    currentKind = workload.kind[index];
    fillsOfOperation = 0;
    missCount += replayRange(bookAdapter, book, workload, index, index + 1, onFill);
    if (currentKind === OpKind.Cross && fillsOfOperation === 0) crossesWithoutFill++;
  }
  t.equal(addsThatFilled, 0, 'A orders never cross');
  t.equal(crossesWithoutFill, 0, 'X orders always trade (priced at an opposite level)');
  t.equal(missCount, 0, 'C names a resting order every time');
  t.same(outcomeMismatches(workload.expect!, outcomeOf(bookAdapter, book, tape, workload.opCount)), []);

  const counts = countOpKinds(workload);
  const share = (kind: number): number => counts[kind] / workload.opCount;
  t.ok(Math.abs(share(OpKind.Cross) - 0.1) < 0.01 && Math.abs(share(OpKind.Market) - 0.05) < 0.01, 'cross and market shares as configured');
  t.ok(share(OpKind.Cancel) > 0.15 && share(OpKind.Cancel) < 0.35, `cancel share near the canonical 25% (${share(OpKind.Cancel).toFixed(3)})`);
});

t.test('the parser reads back what the writer wrote', async (t) => {
  const workload = generateWorkload({ seed: 51, ops: 5_000, pAmend: 0.1 });
  const text = formatWorkload(workload);
  const parsed = parseWorkload(text);
  t.equal(parsed.opCount, workload.opCount);
  for (const field of ['kind', 'orderId', 'side', 'priceTicks', 'qtyLots', 'timeInForce'] as const) {
    t.equal(firstDifference(parsed[field], workload[field]), -1, `${field} survives the round trip`);
  }
  t.same(parsed.params, workload.params);
  t.same(parsed.expect, workload.expect);
  t.equal(formatWorkload(parsed), text, 'write(parse(text)) is the same text');
  t.equal(firstDifference(parseWorkload(text.replace(/\n/g, '\r\n')).orderId, workload.orderId), -1, 'CRLF line ends are accepted');

  const directory = mkdtempSync(join(tmpdir(), 'lobwl-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const gzipPath = join(directory, 'workload.txt.gz');
  writeFileSync(gzipPath, gzipSync(text));
  t.equal(formatWorkload(readWorkloadFile(gzipPath)), text, 'gzip files are recognised by their content');
});

t.test('the parser understands every line of the shared format and rejects malformed ones', async (t) => {
  const header = '# lobwl v1: test\n# params {"maxPrice":200}\n';
  const parsed = parseWorkload(`${header}A 1 B 99 5\nA 2 S 101 7\nX 3 B 101 3 I\nX 4 S 99 2 G\nM 5 B 4\nC 1\nE 2 102 6\n# expect {"ops":7}\n`);
  t.same(Array.from(parsed.kind), [OpKind.Add, OpKind.Add, OpKind.Cross, OpKind.Cross, OpKind.Market, OpKind.Cancel, OpKind.Amend]);
  t.same(Array.from(parsed.side.subarray(0, 5)), [0, 1, 0, 1, 0]);
  t.same(Array.from(parsed.timeInForce.subarray(2, 4)), [1, 0]);
  t.same([parsed.priceTicks[6], parsed.qtyLots[6], parsed.qtyLots[4]], [102, 6, 4]);
  t.same(parsed.comments, ['lobwl v1: test']);

  const malformed: Array<[string, string]> = [
    ['Q 1 B 10 1', 'unknown operation'],
    ['A 1 Z 10 1', 'side'],
    ['A 1 B 10', 'expected a number'],
    ['A 1 B 10 0', 'at least 1'],
    ['A 1 B 10 1 extra', 'end of the line'],
    ['X 1 B 10 1 Q', 'time in force'],
    ['A 1  B 10 1', 'single space'],
    ['A 1 B 201 1', 'outside 1..200'],
  ];
  for (const [line, message] of malformed) {
    t.throws(() => parseWorkload(`${header}${line}\n`), { name: WorkloadFormatError.name, message: new RegExp(message.replace(/[.]/g, '\\.')) }, `rejects "${line}"`);
  }
  t.throws(() => parseWorkload('A 1 B 10 1\n'), { message: /params/ }, 'requires a params line');
});

t.test('both adapters report an empty book and market protection the same way', async (t) => {
  for (const engine of ENGINES) {
    const book = engine.create({ maxPrice: 1_000 });
    t.equal(engine.bestBid(book), null, `${engine.name}: no bid`);
    t.equal(engine.bestAsk(book), null, `${engine.name}: no ask`);
    const fills: number[][] = [];
    const onFill = (...fill: number[]): void => void fills.push(fill);
    engine.limit(book, 1, 1, 1_000, 5, 0, onFill);
    engine.limit(book, 2, 1, 999, 5, 0, onFill);
    engine.limit(book, 3, 0, 1, 4, 0, onFill);
    engine.market(book, 4, 0, 7, onFill);
    engine.market(book, 5, 1, 10, onFill);
    t.same(fills, [[2, 4, 999, 5], [1, 4, 1_000, 2], [3, 5, 1, 4]], `${engine.name}: markets reach the edges of the price range`);
    t.equal(engine.cancel(book, 1), true, `${engine.name}: cancels a resting order`);
    t.equal(engine.cancel(book, 1), false, `${engine.name}: a second cancel finds nothing`);
    t.equal(engine.bestAsk(book), null);
  }
});
