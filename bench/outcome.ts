// The adapter-independent outcome of a replay, exactly as the `# expect` line of the shared format
// defines it: fill count and quantity, a hash of the fill tape, the final best prices, and the
// final book's count, quantity and hash. Any engine that replays a workload through an adapter can
// be checked with it, and the generator writes its own `# expect` line with the same code.

import type { EngineAdapter, FillListener } from './adapters/adapter.js';

/** The `# expect` fields, in the order the shared format prints them. */
export interface WorkloadExpect {
  ops: number;
  fills: number;
  fillQty: number;
  tapeHash: string;
  bestBid: number | null;
  bestAsk: number | null;
  resting: number;
  restingQty: number;
  bookHash: string;
}

export const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 16777619;

/** FNV-1a over one 32-bit word: `(hash XOR value) × prime mod 2^32`, kept as an int32. */
export function fnvFold(hash: number, value: number): number {
  return Math.imul(hash ^ value, FNV_PRIME);
}

export function formatHash(hash: number): string {
  return '0x' + (hash >>> 0).toString(16).padStart(8, '0');
}

/** Folds every fill of a replay; `onFill` is handed to the adapter inside the measured loop. */
export class FillTape {
  fillCount = 0;
  fillQtyLots = 0;
  hash = FNV_OFFSET_BASIS | 0;

  readonly onFill: FillListener = (makerOrderId, takerOrderId, priceTicks, qtyLots) => {
    this.fillCount++;
    this.fillQtyLots += qtyLots;
    let hash = fnvFold(this.hash, makerOrderId);
    hash = fnvFold(hash, takerOrderId);
    hash = fnvFold(hash, priceTicks);
    this.hash = fnvFold(hash, qtyLots);
  };

  /**
   * Starts a new tape with the same `onFill` function: a benchmark reuses one tape for every replay
   * so that code optimized for that exact closure stays valid (a new closure after a forced GC makes
   * V8 deoptimize whatever inlined the old one).
   */
  reset(): void {
    this.fillCount = 0;
    this.fillQtyLots = 0;
    this.hash = FNV_OFFSET_BASIS | 0;
  }
}

/** The outcome of a finished replay: the tape's totals plus the final book as the adapter sees it. */
export function outcomeOf<Book>(adapter: EngineAdapter<Book>, book: Book, tape: FillTape, opCount: number): WorkloadExpect {
  let resting = 0;
  let restingQty = 0;
  let bookHash = FNV_OFFSET_BASIS | 0;
  adapter.forEachResting(book, (side, orderId, priceTicks, qtyLots) => {
    resting++;
    restingQty += qtyLots;
    bookHash = fnvFold(fnvFold(fnvFold(fnvFold(bookHash, side), orderId), priceTicks), qtyLots);
  });
  return {
    ops: opCount,
    fills: tape.fillCount,
    fillQty: tape.fillQtyLots,
    tapeHash: formatHash(tape.hash),
    bestBid: adapter.bestBid(book),
    bestAsk: adapter.bestAsk(book),
    resting,
    restingQty,
    bookHash: formatHash(bookHash),
  };
}

const CHECKED_FIELDS = ['fills', 'fillQty', 'tapeHash', 'bestBid', 'bestAsk', 'resting', 'restingQty', 'bookHash'] as const;

/** Fields where `actual` differs from `expected`, as `field: actual != expected`; empty when it matches. */
export function outcomeMismatches(expected: WorkloadExpect, actual: WorkloadExpect): string[] {
  const mismatches: string[] = [];
  for (const field of CHECKED_FIELDS) {
    if (expected[field] !== actual[field]) mismatches.push(`${field}: ${String(actual[field])} != ${String(expected[field])}`);
  }
  return mismatches;
}
