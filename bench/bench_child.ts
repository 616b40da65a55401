// One benchmark run: one engine, one workload, in a process of its own (the parent starts a fresh
// child per run, so no run inherits another's JIT state, heap or garbage). In order:
//
// 1. Parse the workload file into typed arrays (not timed).
// 2. Measure the timer's own cost (two back-to-back reads).
// 3. Warm up: replay the first `warmupOps` operations into one separate book instance, then the
//    first half as many into a second one. The measured books never see them, and both stay alive
//    until the run ends: once the last instance of an engine's classes is collected, V8 drops their
//    hidden classes and deoptimizes every function optimized for them ("weak objects"), so a fresh
//    book after a forced GC would start cold again (measured: the first 50k operations of our book
//    ran 5-8x slower). The second instance takes the one-time deoptimizations V8 makes when a
//    class meets its second instance ("code dependencies") out of the measurement. For the same
//    reason one FillTape, and so one `onFill` closure, serves every replay of the run.
// 4. Force a GC and sample memory: the baseline (workload parsed, engine loaded, warm-up books
//    alive, no measured book).
// 5. Throughput: replay every operation into a fresh book, timing only the replay (in chunks; the
//    rate over the second half is reported too, since a fresh book's first tens of thousands of
//    operations also pay for V8 re-optimizing its code for the new instance). Memory is
//    sampled between chunks of 65,536 operations (about 16 samples per million, each a few µs) and
//    right after; the peak minus the baseline is the peak. A forced GC with the book still alive
//    then gives the retained size. The outcome is checked against `# expect`.
// 6. Latency: replay every operation into another fresh book with a timer read around each one,
//    into a preallocated Float64Array; percentiles per operation kind. Checked against `# expect`.

import { performance } from 'node:perf_hooks';
import type { EngineAdapter } from './adapters/adapter.js';
import { FillTape, outcomeMismatches, outcomeOf, type WorkloadExpect } from './outcome.js';
import { assertAdapterCanReplay, replayRange, replayTimed } from './replay.js';
import { percentileOfSorted } from './statistics.js';
import { OP_KIND_NAMES, readWorkloadFile, type Workload } from './workload.js';

export interface ChildTask {
  engine: string;
  workloadName: string;
  workloadPath: string;
  warmupOps: number;
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface MemorySummary {
  baselineRssMB: number;
  baselineHeapUsedMB: number;
  /** Highest sample during or right after the throughput replay, minus the baseline. */
  peakRssDeltaMB: number;
  peakHeapUsedDeltaMB: number;
  /** heapUsed after the replay and a forced GC (book still alive), minus the baseline. */
  retainedHeapUsedDeltaMB: number;
  gcAvailable: boolean;
}

export interface ChildResult {
  engine: string;
  engineVersion: string;
  workloadName: string;
  opCount: number;
  parseMs: number;
  warmupOps: number;
  replayMs: number;
  opsPerSec: number;
  /** Rate over the second half of the same replay: the book is built up and the code settled. */
  secondHalfOpsPerSec: number;
  timerOverheadUs: { p50: number; mean: number };
  latency: Record<string, LatencySummary>;
  memory: MemorySummary;
  /** Throughput replay's outcome equals `# expect` (false when the file has none). */
  match: boolean;
  latencyReplayMatch: boolean;
  mismatches: string[];
  missCount: number;
}

const ENGINE_MODULES: Record<string, () => Promise<{ default: EngineAdapter<unknown> }>> = {
  book: () => import('./adapters/book.js') as Promise<{ default: EngineAdapter<unknown> }>,
  'nodejs-order-book': () => import('./adapters/nodejs_order_book.js') as Promise<{ default: EngineAdapter<unknown> }>,
};

export const ENGINE_NAMES = Object.keys(ENGINE_MODULES);

export async function loadEngine(name: string): Promise<EngineAdapter<unknown>> {
  const load = ENGINE_MODULES[name];
  if (load === undefined) throw new Error(`unknown engine ${name}; known: ${ENGINE_NAMES.join(', ')}`);
  return (await load()).default;
}

const MEMORY_SAMPLE_OPS = 1 << 16;
const TIMER_OVERHEAD_SAMPLES = 200_000;
const BYTES_PER_MB = 1024 * 1024;

export async function runChild(task: ChildTask): Promise<ChildResult> {
  const parseStartMs = performance.now();
  const workload = readWorkloadFile(task.workloadPath);
  const parseMs = performance.now() - parseStartMs;
  const adapter = await loadEngine(task.engine);
  assertAdapterCanReplay(adapter, workload);
  const latencyUs = new Float64Array(workload.opCount);
  const timerOverheadUs = measureTimerOverhead();

  const tape = new FillTape();
  const warmupOps = Math.min(task.warmupOps, workload.opCount);
  warmupBooksKeptAlive = warmUp(adapter, workload, warmupOps, tape);

  collectGarbage();
  const baseline = process.memoryUsage();
  const throughput = measureThroughput(adapter, workload, tape, baseline);

  const latencyReplay = measureLatency(adapter, workload, tape, latencyUs);
  const expected = workload.expect;
  const mismatches = expected === null ? ['no # expect line'] : outcomeMismatches(expected, throughput.outcome);
  if (throughput.missCount > 0) mismatches.push(`${throughput.missCount} cancels/amends of orders the engine did not have`);
  const latencyMismatches = expected === null ? [] : outcomeMismatches(expected, latencyReplay.outcome);
  if (latencyReplay.missCount > 0) latencyMismatches.push(`${latencyReplay.missCount} cancels/amends of orders the engine did not have`);
  return {
    engine: adapter.name,
    engineVersion: adapter.version,
    workloadName: task.workloadName,
    opCount: workload.opCount,
    parseMs,
    warmupOps,
    replayMs: throughput.replayMs,
    opsPerSec: workload.opCount / (throughput.replayMs / 1000),
    secondHalfOpsPerSec: throughput.secondHalfOpsPerSec,
    timerOverheadUs,
    latency: summarizeLatency(workload, latencyUs),
    memory: throughput.memory,
    match: mismatches.length === 0,
    latencyReplayMatch: expected !== null && latencyMismatches.length === 0,
    mismatches: [...mismatches, ...latencyMismatches.map((mismatch) => `latency replay: ${mismatch}`)],
    missCount: throughput.missCount,
  };
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
}

function warmUp(adapter: EngineAdapter<unknown>, workload: Workload, warmupOps: number, tape: FillTape): unknown[] {
  const books = [adapter.create(workload.params), adapter.create(workload.params)];
  replayRange(adapter, books[0], workload, 0, warmupOps, tape.onFill);
  replayRange(adapter, books[1], workload, 0, warmupOps >> 1, tape.onFill);
  return books;
}

/** The warm-up books, reachable from module scope until the process exits (see step 3 above). */
export let warmupBooksKeptAlive: unknown[] = [];

interface ThroughputReplay {
  replayMs: number;
  secondHalfOpsPerSec: number;
  outcome: WorkloadExpect;
  missCount: number;
  memory: MemorySummary;
}

function measureThroughput(adapter: EngineAdapter<unknown>, workload: Workload, tape: FillTape, baseline: NodeJS.MemoryUsage): ThroughputReplay {
  const book = adapter.create(workload.params);
  tape.reset();
  const peak = { rss: baseline.rss, heapUsed: baseline.heapUsed };
  const secondHalfIndex = workload.opCount >> 1;
  let missCount = 0;
  let replayMs = 0;
  let secondHalfMs = 0;
  let firstIndex = 0;
  while (firstIndex < workload.opCount) {
    // Chunks also break at the half, so that the second half can be reported on its own.
    const limitIndex = firstIndex < secondHalfIndex ? secondHalfIndex : workload.opCount;
    const endIndex = Math.min(limitIndex, firstIndex + MEMORY_SAMPLE_OPS);
    // Only the replay is timed: the memory sample between chunks stays outside the clock.
    const startMs = performance.now();
    missCount += replayRange(adapter, book, workload, firstIndex, endIndex, tape.onFill);
    const chunkMs = performance.now() - startMs;
    replayMs += chunkMs;
    if (firstIndex >= secondHalfIndex) secondHalfMs += chunkMs;
    samplePeak(peak);
    firstIndex = endIndex;
  }
  const outcome = outcomeOf(adapter, book, tape, workload.opCount);
  collectGarbage();
  const retained = process.memoryUsage();
  const memory: MemorySummary = {
    baselineRssMB: baseline.rss / BYTES_PER_MB,
    baselineHeapUsedMB: baseline.heapUsed / BYTES_PER_MB,
    peakRssDeltaMB: (peak.rss - baseline.rss) / BYTES_PER_MB,
    peakHeapUsedDeltaMB: (peak.heapUsed - baseline.heapUsed) / BYTES_PER_MB,
    retainedHeapUsedDeltaMB: (retained.heapUsed - baseline.heapUsed) / BYTES_PER_MB,
    gcAvailable: typeof (globalThis as { gc?: unknown }).gc === 'function',
  };
  const secondHalfOpsPerSec = (workload.opCount - secondHalfIndex) / (secondHalfMs / 1000);
  return { replayMs, secondHalfOpsPerSec, outcome, missCount, memory };
}

function samplePeak(peak: { rss: number; heapUsed: number }): void {
  const usage = process.memoryUsage();
  if (usage.rss > peak.rss) peak.rss = usage.rss;
  if (usage.heapUsed > peak.heapUsed) peak.heapUsed = usage.heapUsed;
}

function measureLatency(adapter: EngineAdapter<unknown>, workload: Workload, tape: FillTape, latencyUs: Float64Array): { outcome: WorkloadExpect; missCount: number } {
  collectGarbage();
  const book = adapter.create(workload.params);
  tape.reset();
  const missCount = replayTimed(adapter, book, workload, tape.onFill, latencyUs);
  return { outcome: outcomeOf(adapter, book, tape, workload.opCount), missCount };
}

/** Cost of one timer read pair, which every per-operation latency includes (nothing is subtracted). */
function measureTimerOverhead(): { p50: number; mean: number } {
  const samples = new Float64Array(TIMER_OVERHEAD_SAMPLES);
  let totalUs = 0;
  for (let index = 0; index < samples.length; index++) {
    const startMs = performance.now();
    const durationUs = (performance.now() - startMs) * 1000;
    samples[index] = durationUs;
    totalUs += durationUs;
  }
  samples.sort();
  return { p50: percentileOfSorted(samples, 0.5), mean: totalUs / samples.length };
}

/** Percentiles over all operations (`all`) and per operation kind present in the workload. */
function summarizeLatency(workload: Workload, latencyUs: Float64Array): Record<string, LatencySummary> {
  const summary: Record<string, LatencySummary> = { all: summarize(latencyUs.slice()) };
  for (let kind = 0; kind < OP_KIND_NAMES.length; kind++) {
    const ofKind = latencyOfKind(workload, latencyUs, kind);
    if (ofKind.length > 0) summary[OP_KIND_NAMES[kind]] = summarize(ofKind);
  }
  return summary;
}

function latencyOfKind(workload: Workload, latencyUs: Float64Array, kind: number): Float64Array {
  let count = 0;
  for (let index = 0; index < workload.opCount; index++) if (workload.kind[index] === kind) count++;
  const ofKind = new Float64Array(count);
  let position = 0;
  for (let index = 0; index < workload.opCount; index++) if (workload.kind[index] === kind) ofKind[position++] = latencyUs[index];
  return ofKind;
}

function summarize(values: Float64Array): LatencySummary {
  values.sort();
  return {
    count: values.length,
    p50Us: percentileOfSorted(values, 0.5),
    p99Us: percentileOfSorted(values, 0.99),
    p999Us: percentileOfSorted(values, 0.999),
    maxUs: values.length === 0 ? NaN : values[values.length - 1],
  };
}
