// FNV-1a with a 64-bit state, folding 32-bit words (not bytes), computed on two 32-bit halves so
// that it needs no BigInt. Used for canonical state hashes, where 32 bits would collide too easily.
//
// The FNV-64 prime is 2^40 + 0x1b3, so h × prime = h × 0x1b3 + (h << 40), all mod 2^64.

const PRIME_LOW = 0x1b3;
const TWO_TO_32 = 4294967296;

export class Fnv64 {
  private high = 0xcbf29ce4;
  private low = 0x84222325;

  /** Folds one unsigned 32-bit word. */
  word(value: number): void {
    const low = (this.low ^ value) >>> 0;
    const lowProduct = low * PRIME_LOW; // < 2^41: exact in a double
    const carry = Math.floor(lowProduct / TWO_TO_32);
    this.high = (Math.imul(this.high, PRIME_LOW) + carry + (low << 8)) >>> 0;
    this.low = lowProduct >>> 0;
  }

  /** Folds a non-negative safe integer as two words, low then high. */
  number(value: number): void {
    this.word(value >>> 0);
    this.word(Math.floor(value / TWO_TO_32) >>> 0);
  }

  /** Folds a string as its UTF-16 code units, preceded by its length. */
  text(value: string): void {
    this.word(value.length);
    for (let index = 0; index < value.length; index++) this.word(value.charCodeAt(index));
  }

  hex(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}
