import type { OrderRecord } from './state.js';

// The open orders by id. A Map did this job, but orders come and go by the hundred thousand a
// second and a Map's hash table is re-allocated every few thousand insertions and deletions (a
// quarter of what survived a scavenge in the state machine, copied at every scavenge). Order ids
// are handed out densely and in increasing order, so they are kept in fixed chunks of slots
// instead, the chunks in an array by chunk number: a chunk is allocated once per CHUNK_SLOTS ids
// and dropped when its last order closes, and the array's empty head is cut off now and then.
//
// Iteration is in ascending order id. That is the order the Map iterated in, since orders were
// only ever inserted when placed (with the next id) or restored in that order, so snapshots and
// state hashes are unchanged.

const CHUNK_SLOTS = 256;
/** Empty chunk places at the head of the array that are cut off at once (amortizes the splice). */
const HEAD_TRIM_MIN = 64;

interface Chunk {
  slots: (OrderRecord | undefined)[];
  count: number;
}

export class OrderIndex {
  /** chunks[i] holds ids from (firstChunk + i) × CHUNK_SLOTS on; undefined when none is open. */
  private chunks: (Chunk | undefined)[] = [];
  private firstChunk = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(orderId: number): OrderRecord | undefined {
    const chunk = this.chunks[Math.floor(orderId / CHUNK_SLOTS) - this.firstChunk];
    return chunk === undefined ? undefined : chunk.slots[orderId % CHUNK_SLOTS];
  }

  has(orderId: number): boolean {
    return this.get(orderId) !== undefined;
  }

  set(orderId: number, order: OrderRecord): this {
    const chunkNumber = Math.floor(orderId / CHUNK_SLOTS);
    if (this.count === 0) {
      this.chunks = [];
      this.firstChunk = chunkNumber;
    } else if (chunkNumber < this.firstChunk) {
      // Only a restore in an unusual order gets here: grow the array at its head.
      this.chunks = [...new Array<Chunk | undefined>(this.firstChunk - chunkNumber).fill(undefined), ...this.chunks];
      this.firstChunk = chunkNumber;
    }
    const position = chunkNumber - this.firstChunk;
    while (this.chunks.length <= position) this.chunks.push(undefined);
    let chunk = this.chunks[position];
    if (chunk === undefined) {
      chunk = { slots: new Array<OrderRecord | undefined>(CHUNK_SLOTS).fill(undefined), count: 0 };
      this.chunks[position] = chunk;
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
    const position = Math.floor(orderId / CHUNK_SLOTS) - this.firstChunk;
    const chunk = this.chunks[position];
    const slot = orderId % CHUNK_SLOTS;
    if (chunk === undefined || chunk.slots[slot] === undefined) return false;
    chunk.slots[slot] = undefined;
    chunk.count--;
    this.count--;
    if (chunk.count === 0) {
      this.chunks[position] = undefined;
      if (this.chunks[0] === undefined) this.trimHead();
    }
    return true;
  }

  *values(): IterableIterator<OrderRecord> {
    for (const chunk of this.chunks) {
      if (chunk === undefined) continue;
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

  /** Cuts off the empty places at the head once there are enough of them (or all are empty). */
  private trimHead(): void {
    let empty = 0;
    while (empty < this.chunks.length && this.chunks[empty] === undefined) empty++;
    if (empty === this.chunks.length) {
      this.chunks = [];
      return;
    }
    if (empty < HEAD_TRIM_MIN) return;
    this.chunks.splice(0, empty);
    this.firstChunk += empty;
  }
}
