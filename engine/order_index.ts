import { fail } from './assert.js';
import type { OrderRecord } from './state.js';

// The open orders by id. A Map did this job, but orders come and go by the hundred thousand a
// second and a Map's hash table is re-allocated every few thousand insertions and deletions (a
// quarter of what survived a scavenge in the state machine, copied at every scavenge). Order ids
// are handed out densely and in increasing order, so they are kept in fixed chunks of slots
// instead: a chunk is allocated once per CHUNK_SLOTS ids and dropped when its last order closes.
//
// Iteration is in ascending order id, which is the order the Map iterated in (orders were only
// ever inserted when placed, with the next id, or restored in that order), so snapshots and state
// hashes are unchanged.

const CHUNK_SLOTS = 256;

interface Chunk {
  slots: (OrderRecord | undefined)[];
  count: number;
}

export class OrderIndex {
  /** Chunk number → chunk; insertion order is ascending, since ids only grow. */
  private readonly chunks = new Map<number, Chunk>();
  private count = 0;
  /** The highest chunk number ever allocated: a new chunk may not go below it. */
  private topChunk = -1;

  get size(): number {
    return this.count;
  }

  get(orderId: number): OrderRecord | undefined {
    const chunk = this.chunks.get(Math.floor(orderId / CHUNK_SLOTS));
    return chunk === undefined ? undefined : chunk.slots[orderId % CHUNK_SLOTS];
  }

  has(orderId: number): boolean {
    return this.get(orderId) !== undefined;
  }

  /** Stores an order; a new id must be above every id stored before (ids are handed out in order). */
  set(orderId: number, order: OrderRecord): this {
    const chunkNumber = Math.floor(orderId / CHUNK_SLOTS);
    let chunk = this.chunks.get(chunkNumber);
    if (chunk === undefined) {
      if (chunkNumber < this.topChunk) fail(`order ${orderId} is below the orders held (ids must be stored in increasing order)`);
      this.topChunk = chunkNumber;
      chunk = { slots: new Array<OrderRecord | undefined>(CHUNK_SLOTS).fill(undefined), count: 0 };
      this.chunks.set(chunkNumber, chunk);
    }
    const slot = orderId % CHUNK_SLOTS;
    if (chunk.slots[slot] === undefined) {
      chunk.count++;
      this.count++;
    }
    chunk.slots[slot] = order;
    return this;
  }

  delete(orderId: number): boolean {
    const chunkNumber = Math.floor(orderId / CHUNK_SLOTS);
    const chunk = this.chunks.get(chunkNumber);
    const slot = orderId % CHUNK_SLOTS;
    if (chunk === undefined || chunk.slots[slot] === undefined) return false;
    chunk.slots[slot] = undefined;
    chunk.count--;
    this.count--;
    if (chunk.count === 0) this.chunks.delete(chunkNumber);
    return true;
  }

  *values(): IterableIterator<OrderRecord> {
    for (const chunk of this.chunks.values()) {
      for (let slot = 0; slot < CHUNK_SLOTS; slot++) {
        const order = chunk.slots[slot];
        if (order !== undefined) yield order;
      }
    }
  }

  *keys(): IterableIterator<number> {
    for (const order of this.values()) yield order.orderId;
  }

  *[Symbol.iterator](): IterableIterator<[number, OrderRecord]> {
    for (const order of this.values()) yield [order.orderId, order];
  }
}
