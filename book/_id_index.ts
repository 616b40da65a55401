// Order id → slot, for the book. A Map<number, number> did this, but with orders resting and
// leaving by the hundred thousand a second its hash table was re-allocated every few thousand
// operations, and those tables were what survived young-generation collections most after the
// order records themselves (engine profile, bench/ENGINE.md). This is an open-addressing table in
// typed arrays: linear probing, deletion by backward shift (no tombstones), doubled when half
// full, never shrunk. It allocates nothing per operation.
//
// Keys are the book's order ids: positive safe integers. A lookup of anything else finds nothing.
// Iteration is in table order, which callers must not depend on.

const EMPTY = -1;
/** Small: an exchange lists thousands of books and most hold few orders (the table doubles as needed). */
const INITIAL_CAPACITY = 16;
const TWO_TO_32 = 4_294_967_296;

export class IdIndex {
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    const size = 1 << Math.ceil(Math.log2(Math.max(16, capacity)));
    this.keys = new Float64Array(size).fill(EMPTY);
    this.values = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value stored for `key`, or -1. */
  get(key: number): number {
    // Not only a shortcut: -1 is the mark of an empty place, so it must never be looked up.
    if (!(key > 0)) return -1;
    const keys = this.keys;
    for (let index = this.home(key); ; index = (index + 1) & this.mask) {
      const stored = keys[index];
      if (stored === key) return this.values[index];
      if (stored === EMPTY) return -1;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== -1;
  }

  /** `key` must be a positive safe integer (the book validates order ids before storing them). */
  set(key: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    for (let index = this.home(key); ; index = (index + 1) & this.mask) {
      const stored = keys[index];
      if (stored === key) {
        this.values[index] = value;
        return;
      }
      if (stored === EMPTY) {
        keys[index] = key;
        this.values[index] = value;
        this.count++;
        return;
      }
    }
  }

  delete(key: number): boolean {
    if (!(key > 0)) return false;
    const keys = this.keys;
    const mask = this.mask;
    let hole = this.home(key);
    for (;; hole = (hole + 1) & mask) {
      const stored = keys[hole];
      if (stored === key) break;
      if (stored === EMPTY) return false;
    }
    // Backward shift: pull later entries of the probe run into the hole while that keeps each of
    // them reachable from its home position.
    for (let next = (hole + 1) & mask; keys[next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.home(keys[next]);
      const fitsHole = hole <= next ? home <= hole || home > next : home <= hole && home > next;
      if (fitsHole) {
        keys[hole] = keys[next];
        this.values[hole] = this.values[next];
        hole = next;
      }
    }
    keys[hole] = EMPTY;
    this.count--;
    return true;
  }

  /** Calls `visit` with every stored value, in table order. */
  forEachValue(visit: (value: number) => void): void {
    const keys = this.keys;
    for (let index = 0; index < keys.length; index++) {
      if (keys[index] !== EMPTY) visit(this.values[index]);
    }
  }

  private home(key: number): number {
    const low = key >>> 0;
    const high = (key / TWO_TO_32) >>> 0;
    const mixed = Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1);
    return (mixed ^ (mixed >>> 16)) & this.mask;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2).fill(EMPTY);
    this.values = new Int32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    this.count = 0;
    for (let index = 0; index < oldKeys.length; index++) {
      if (oldKeys[index] !== EMPTY) this.set(oldKeys[index], oldValues[index]);
    }
  }
}
