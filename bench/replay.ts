// Replaying a parsed workload into an engine through its adapter: the loop the benchmark measures,
// the same loop with a timer around every operation, and a checked replay for tests.

import { performance } from 'node:perf_hooks';
import type { EngineAdapter, FillListener } from './adapters/adapter.js';
import { FillTape, outcomeOf, type WorkloadExpect } from './outcome.js';
import { OpKind, type Workload } from './workload.js';

export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** Refuses, before anything is timed, a workload with amends for an engine that cannot amend. */
export function assertAdapterCanReplay(adapter: EngineAdapter<unknown>, workload: Workload): void {
  if (adapter.amend !== undefined) return;
  for (let index = 0; index < workload.opCount; index++) {
    if (workload.kind[index] === OpKind.Amend) throw new ReplayError(`${adapter.name} has no amend, and operation ${index + 1} is one`);
  }
}

/**
 * Replays operations [firstIndex, endIndex) into `book`. Returns how many cancels or amends named
 * an order the engine did not have resting (0 for a correct engine; the file guarantees it).
 */
export function replayRange<Book>(adapter: EngineAdapter<Book>, book: Book, workload: Workload, firstIndex: number, endIndex: number, onFill: FillListener): number {
  let missCount = 0;
  for (let index = firstIndex; index < endIndex; index++) {
    if (!replayOperation(adapter, book, workload, index, onFill)) missCount++;
  }
  return missCount;
}

/**
 * The same replay with a high-resolution timer read before and after each operation; the duration
 * of operation i (µs, timer overhead included, nothing subtracted) goes to `latencyUs[i]`.
 */
export function replayTimed<Book>(adapter: EngineAdapter<Book>, book: Book, workload: Workload, onFill: FillListener, latencyUs: Float64Array): number {
  let missCount = 0;
  for (let index = 0; index < workload.opCount; index++) {
    const startMs = performance.now();
    if (!replayOperation(adapter, book, workload, index, onFill)) missCount++;
    latencyUs[index] = (performance.now() - startMs) * 1000;
  }
  return missCount;
}

/** One operation into the engine; false when a cancel or amend named an order not resting. */
function replayOperation<Book>(adapter: EngineAdapter<Book>, book: Book, workload: Workload, index: number, onFill: FillListener): boolean {
  const { kind, orderId, side, priceTicks, qtyLots, timeInForce } = workload;
  switch (kind[index]) {
    case OpKind.Add:
      adapter.limit(book, orderId[index], side[index], priceTicks[index], qtyLots[index], 0, onFill);
      return true;
    case OpKind.Cross:
      adapter.limit(book, orderId[index], side[index], priceTicks[index], qtyLots[index], timeInForce[index], onFill);
      return true;
    case OpKind.Market:
      adapter.market(book, orderId[index], side[index], qtyLots[index], onFill);
      return true;
    case OpKind.Cancel:
      return adapter.cancel(book, orderId[index]);
    default:
      return adapter.amend!(book, orderId[index], priceTicks[index], qtyLots[index], onFill);
  }
}

export interface CheckedReplay {
  outcome: WorkloadExpect;
  missCount: number;
}

/** A whole replay into a fresh book, and its outcome in the `# expect` shape. */
export function replayChecked<Book>(adapter: EngineAdapter<Book>, workload: Workload): CheckedReplay {
  assertAdapterCanReplay(adapter as EngineAdapter<unknown>, workload);
  const book = adapter.create(workload.params);
  const tape = new FillTape();
  const missCount = replayRange(adapter, book, workload, 0, workload.opCount, tape.onFill);
  return { outcome: outcomeOf(adapter, book, tape, workload.opCount), missCount };
}
