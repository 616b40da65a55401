// Workloads in the shared `lobwl v1` text format (/work/shared/bench/README.md): parsing into
// compact typed arrays (done before any timing, so the measured loop reads only numbers), writing
// them back, and a seeded generator of new ones.
//
// Extension op, for the project's own amend workloads (the shared format has no modify):
//
//   E <id> <price> <qty>    amend resting order <id> to <price> and <qty>. A smaller qty at the
//                           same price keeps its place in the queue; anything else sends it to the
//                           back of its (new) level, and a new price that crosses matches first,
//                           like a GTC limit of the same side with the same id.
//
// Generated files that contain E lines say so in a header comment.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { WorkloadParams } from './adapters/adapter.js';
import { FillTape, outcomeOf, type WorkloadExpect } from './outcome.js';
import { ReferenceBook, referenceAdapter } from './reference_book.js';

export const OpKind = { Add: 0, Cross: 1, Market: 2, Cancel: 3, Amend: 4 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];
export const OP_KIND_NAMES = ['add', 'cross', 'market', 'cancel', 'amend'] as const;
const OP_LETTERS = ['A', 'X', 'M', 'C', 'E'] as const;

/** One workload as parallel typed arrays, one entry per operation (unused fields are 0). */
export interface Workload {
  opCount: number;
  kind: Uint8Array;
  orderId: Uint32Array;
  /** 0 = buy, 1 = sell (A, X, M). */
  side: Uint8Array;
  priceTicks: Uint32Array;
  qtyLots: Uint32Array;
  /** 0 = GTC, 1 = IOC (X; A is always GTC). */
  timeInForce: Uint8Array;
  params: WorkloadParams;
  expect: WorkloadExpect | null;
  /** Comment lines of the file other than params and expect, without their `# `. */
  comments: string[];
}

export function allocateWorkload(opCount: number, params: WorkloadParams): Workload {
  return {
    opCount,
    kind: new Uint8Array(opCount),
    orderId: new Uint32Array(opCount),
    side: new Uint8Array(opCount),
    priceTicks: new Uint32Array(opCount),
    qtyLots: new Uint32Array(opCount),
    timeInForce: new Uint8Array(opCount),
    params,
    expect: null,
    comments: [],
  };
}

/** How many operations of each kind (indexed by OpKind). */
export function countOpKinds(workload: Workload): number[] {
  const counts = [0, 0, 0, 0, 0];
  for (let index = 0; index < workload.opCount; index++) counts[workload.kind[index]]++;
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Parsing

export class WorkloadFormatError extends Error {
  override name = 'WorkloadFormatError';
}

/** Reads a workload file, gunzipping it when it is gzip (by its magic bytes, not its name). */
export function readWorkloadFile(path: string): Workload {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  return parseWorkload(bytes);
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const SPACE = 32;
const HASH_SIGN = 35;
const DIGIT_ZERO = 48;
const LETTER_CODES: Record<number, OpKind> = { 65: OpKind.Add, 88: OpKind.Cross, 77: OpKind.Market, 67: OpKind.Cancel, 69: OpKind.Amend };

/**
 * Parses the text of a workload. It works on bytes rather than strings because a million lines
 * split into strings would cost seconds and hundreds of megabytes.
 */
export function parseWorkload(input: Uint8Array | string): Workload {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const parser = new LineParser(bytes);
  const workload = allocateWorkload(countOpLines(bytes), { maxPrice: 0 });
  let opIndex = 0;
  let sawParams = false;
  while (parser.nextLine()) {
    if (parser.isBlank()) continue;
    if (bytes[parser.position] === HASH_SIGN) {
      sawParams = readMetadataLine(parser.restOfLine(), workload) || sawParams;
      continue;
    }
    readOpLine(parser, workload, opIndex++);
  }
  if (!sawParams) throw new WorkloadFormatError('no "# params" line');
  if (!(Number.isSafeInteger(workload.params.maxPrice) && workload.params.maxPrice >= 1)) {
    throw new WorkloadFormatError('params.maxPrice must be a positive integer');
  }
  checkPrices(workload);
  return workload;
}

function countOpLines(bytes: Uint8Array): number {
  let count = 0;
  let atLineStart = true;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (atLineStart && byte !== HASH_SIGN && byte !== NEWLINE && byte !== CARRIAGE_RETURN) count++;
    atLineStart = byte === NEWLINE;
  }
  return count;
}

/** Returns true for the params line. */
function readMetadataLine(line: string, workload: Workload): boolean {
  const text = line.replace(/^#\s?/, '');
  if (text.startsWith('params ')) {
    workload.params = JSON.parse(text.slice('params '.length)) as WorkloadParams;
    return true;
  }
  if (text.startsWith('expect ')) {
    workload.expect = JSON.parse(text.slice('expect '.length)) as WorkloadExpect;
    return false;
  }
  workload.comments.push(text);
  return false;
}

function readOpLine(parser: LineParser, workload: Workload, opIndex: number): void {
  const kind = LETTER_CODES[parser.letter()];
  if (kind === undefined) parser.fail('unknown operation');
  workload.kind[opIndex] = kind;
  workload.orderId[opIndex] = parser.integer();
  if (kind === OpKind.Cancel) {
    parser.endOfLine();
    return;
  }
  if (kind === OpKind.Amend) {
    workload.priceTicks[opIndex] = parser.integer();
    workload.qtyLots[opIndex] = parser.positiveInteger();
    parser.endOfLine();
    return;
  }
  const side = parser.letter();
  if (side !== 66 && side !== 83) parser.fail('side must be B or S');
  workload.side[opIndex] = side === 66 ? 0 : 1;
  if (kind !== OpKind.Market) workload.priceTicks[opIndex] = parser.integer();
  workload.qtyLots[opIndex] = parser.positiveInteger();
  if (kind === OpKind.Cross) {
    const timeInForce = parser.letter();
    if (timeInForce !== 71 && timeInForce !== 73) parser.fail('time in force must be G or I');
    workload.timeInForce[opIndex] = timeInForce === 71 ? 0 : 1;
  }
  parser.endOfLine();
}

function checkPrices(workload: Workload): void {
  const maxPrice = workload.params.maxPrice;
  for (let index = 0; index < workload.opCount; index++) {
    const kind = workload.kind[index];
    if (kind === OpKind.Market || kind === OpKind.Cancel) continue;
    const priceTicks = workload.priceTicks[index];
    if (priceTicks < 1 || priceTicks > maxPrice) {
      throw new WorkloadFormatError(`operation ${index + 1}: price ${priceTicks} outside 1..${maxPrice}`);
    }
  }
}

/** A cursor over the bytes of a workload, one line at a time. */
class LineParser {
  position = 0;
  private lineEnd = 0;
  private nextStart = 0;
  private lineNumber = 0;

  constructor(private readonly bytes: Uint8Array) {}

  nextLine(): boolean {
    const bytes = this.bytes;
    if (this.nextStart >= bytes.length) return false;
    this.position = this.nextStart;
    let end = bytes.indexOf(NEWLINE, this.position);
    if (end < 0) end = bytes.length;
    this.nextStart = end + 1;
    if (end > this.position && bytes[end - 1] === CARRIAGE_RETURN) end--;
    this.lineEnd = end;
    this.lineNumber++;
    return true;
  }

  isBlank(): boolean {
    return this.position === this.lineEnd;
  }

  restOfLine(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.position, this.lineEnd - this.position).toString('utf8');
  }

  /** One letter followed by a space or the end of the line. */
  letter(): number {
    const code = this.bytes[this.position++];
    this.skipSeparator();
    return code;
  }

  integer(): number {
    const bytes = this.bytes;
    const start = this.position;
    let value = 0;
    while (this.position < this.lineEnd) {
      const digit = bytes[this.position] - DIGIT_ZERO;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      this.position++;
    }
    if (this.position === start) this.fail('expected a number');
    if (value > 0xffffffff) this.fail('number above 2^32 - 1');
    this.skipSeparator();
    return value;
  }

  positiveInteger(): number {
    const value = this.integer();
    if (value === 0) this.fail('quantity must be at least 1');
    return value;
  }

  endOfLine(): void {
    if (this.position < this.lineEnd) this.fail('unexpected text at the end of the line');
  }

  fail(message: string): never {
    throw new WorkloadFormatError(`line ${this.lineNumber}: ${message}`);
  }

  private skipSeparator(): void {
    if (this.position < this.lineEnd) {
      if (this.bytes[this.position] !== SPACE) this.fail('expected a single space between fields');
      this.position++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The text of a workload: comments, params, one line per operation, expect (when known) last. */
export function formatWorkload(workload: Workload): string {
  const lines: string[] = workload.comments.map((comment) => `# ${comment}`);
  lines.push(`# params ${JSON.stringify(workload.params)}`);
  for (let index = 0; index < workload.opCount; index++) lines.push(formatOp(workload, index));
  if (workload.expect !== null) lines.push(`# expect ${JSON.stringify(workload.expect)}`);
  return lines.join('\n') + '\n';
}

function formatOp(workload: Workload, index: number): string {
  const kind = workload.kind[index] as OpKind;
  const letter = OP_LETTERS[kind];
  const orderId = workload.orderId[index];
  const side = workload.side[index] === 0 ? 'B' : 'S';
  switch (kind) {
    case OpKind.Add:
      return `${letter} ${orderId} ${side} ${workload.priceTicks[index]} ${workload.qtyLots[index]}`;
    case OpKind.Cross:
      return `${letter} ${orderId} ${side} ${workload.priceTicks[index]} ${workload.qtyLots[index]} ${workload.timeInForce[index] === 0 ? 'G' : 'I'}`;
    case OpKind.Market:
      return `${letter} ${orderId} ${side} ${workload.qtyLots[index]}`;
    case OpKind.Cancel:
      return `${letter} ${orderId}`;
    case OpKind.Amend:
      return `${letter} ${orderId} ${workload.priceTicks[index]} ${workload.qtyLots[index]}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Generating

/**
 * Knobs of the generator. Names and defaults follow the canonical file's `# params` (seed 42,
 * 1,000,000 ops), so a default workload has its shape; `pAmend` and the `amend*` shares are
 * this project's extension.
 */
export interface GeneratorOptions {
  seed: number;
  ops: number;
  /** The mid reverts toward this price. */
  anchorMid: number;
  maxPrice: number;
  /** Adds rest 0 … band-1 ticks behind the opposite best, at floor(band × u^bandSkew). */
  band: number;
  bandSkew: number;
  /** Cancels are pCancelAtTarget × resting / targetResting of the operations. */
  targetResting: number;
  pMarket: number;
  pCross: number;
  pCancelAtTarget: number;
  /** Share of operations that amend a resting order (0 for a plain `lobwl v1` file). */
  pAmend: number;
  /** Chance that a cross order is priced at the 1st … 5th opposite level. */
  crossLevelWeights: number[];
  /** A cross order's size is the sum of 1 … crossLotsMax lot draws. */
  crossLotsMax: number;
  marketLotsMax: number;
  /** Share of cross orders that are IOC (the rest are GTC). */
  crossIoc: number;
  /** One lot draw is 1 + floor(lotMax × u³). */
  lotMax: number;
  /** How far (ticks) the mid may drift before the side bias is at its strongest. */
  reversionTicks: number;
  /** Strongest side bias: a buy's chance is 0.5 × (1 - reversionBias × drift). */
  reversionBias: number;
  /** Amend kinds: reduce the quantity (keeps priority), re-price; the rest raise the quantity. */
  amendReduceShare: number;
  amendRepriceShare: number;
  /** A re-price moves 1 … amendRepriceTicksMax ticks, toward or away from the touch. */
  amendRepriceTicksMax: number;
}

export const DEFAULT_GENERATOR_OPTIONS: GeneratorOptions = {
  seed: 42,
  ops: 1_000_000,
  anchorMid: 10_000,
  maxPrice: 20_000,
  band: 50,
  bandSkew: 2,
  targetResting: 5_000,
  pMarket: 0.05,
  pCross: 0.1,
  pCancelAtTarget: 0.25,
  pAmend: 0,
  crossLevelWeights: [0.4, 0.25, 0.15, 0.12, 0.08],
  crossLotsMax: 6,
  marketLotsMax: 5,
  crossIoc: 0.5,
  lotMax: 99,
  reversionTicks: 250,
  reversionBias: 0.3,
  amendReduceShare: 0.5,
  amendRepriceShare: 0.3,
  amendRepriceTicksMax: 5,
};

/** Cancels never push adds below this share, however large the book grows. */
const ADD_SHARE_MIN = 0.05;

/**
 * A workload with `# params` and its own `# expect`. Every operation is played into a reference
 * book as it is generated: that decides what is resting (cancels and amends only ever name resting
 * orders) and where the opposite levels are, and yields the expected outcome.
 */
export function generateWorkload(overrides: Partial<GeneratorOptions> = {}): Workload {
  const options: GeneratorOptions = { ...DEFAULT_GENERATOR_OPTIONS, ...overrides };
  checkGeneratorOptions(options);
  const workload = allocateWorkload(options.ops, { format: 'lobwl-1', generator: 'gpu-hour-exchange/bench', ...options });
  workload.comments.push('lobwl v1: one op per line; see README.md. A=add(GTC, non-crossing when generated) X=crossing limit M=market C=cancel');
  if (options.pAmend > 0) {
    workload.comments.push('extension: E <id> <price> <qty> = amend resting <id>; smaller qty at the same price keeps its place, else back of the (new) level, crossing like a GTC limit');
  }
  const generator = new WorkloadGenerator(options, workload);
  for (let index = 0; index < options.ops; index++) generator.next(index);
  workload.expect = outcomeOf(referenceAdapter, generator.book, generator.tape, options.ops);
  checkPrices(workload);
  return workload;
}

function checkGeneratorOptions(options: GeneratorOptions): void {
  const check = (condition: boolean, message: string): void => {
    if (!condition) throw new RangeError(`generator: ${message}`);
  };
  check(Number.isSafeInteger(options.ops) && options.ops >= 0, 'ops must be a non-negative integer');
  check(Number.isSafeInteger(options.maxPrice) && options.maxPrice >= 2, 'maxPrice must be an integer >= 2');
  check(options.anchorMid >= 1 && options.anchorMid <= options.maxPrice, 'anchorMid must be within 1..maxPrice');
  check(options.band >= 1 && options.targetResting >= 1 && options.lotMax >= 1, 'band, targetResting and lotMax must be >= 1');
  check(options.pMarket + options.pCross + options.pAmend + ADD_SHARE_MIN <= 1, 'pMarket + pCross + pAmend leave no room for adds');
  check(options.crossLevelWeights.length >= 1, 'crossLevelWeights must not be empty');
}

class WorkloadGenerator {
  readonly book = new ReferenceBook();
  readonly tape = new FillTape();
  private readonly random: Xoshiro128;
  private nextOrderId = 1;

  constructor(
    private readonly options: GeneratorOptions,
    private readonly workload: Workload,
  ) {
    this.random = new Xoshiro128(options.seed);
  }

  next(index: number): void {
    const options = this.options;
    const resting = this.book.restingCount;
    const pCancel = Math.min(options.pCancelAtTarget * (resting / options.targetResting), 1 - options.pMarket - options.pCross - options.pAmend - ADD_SHARE_MIN);
    const draw = this.random.unit();
    if (draw < options.pMarket) {
      if (this.emitMarket(index)) return;
    } else if (draw < options.pMarket + options.pCross) {
      if (this.emitCross(index)) return;
    } else if (draw < options.pMarket + options.pCross + pCancel) {
      if (this.emitCancel(index)) return;
    } else if (draw < options.pMarket + options.pCross + pCancel + options.pAmend) {
      if (this.emitAmend(index)) return;
    }
    this.emitAdd(index);
  }

  /** A buy's chance: below one half when the mid is above the anchor, so that it drifts back. */
  private buyChance(): number {
    const { anchorMid, reversionTicks, reversionBias } = this.options;
    const bid = this.book.bestPriceTicks(0);
    const ask = this.book.bestPriceTicks(1);
    const mid = bid !== null && ask !== null ? (bid + ask) / 2 : (bid ?? ask ?? anchorMid);
    const drift = Math.max(-1, Math.min(1, (mid - anchorMid) / reversionTicks));
    return 0.5 * (1 - reversionBias * drift);
  }

  private drawSide(): number {
    return this.random.unit() < this.buyChance() ? 0 : 1;
  }

  private drawLots(): number {
    const unit = this.random.unit();
    return 1 + Math.floor(this.options.lotMax * unit * unit * unit);
  }

  private drawLotSum(drawsMax: number): number {
    const draws = 1 + Math.floor(this.random.unit() * drawsMax);
    let lots = 0;
    for (let draw = 0; draw < draws; draw++) lots += this.drawLots();
    return lots;
  }

  /** A passive limit behind the opposite best (or around the anchor when that side is empty). */
  private emitAdd(index: number): void {
    let side = this.drawSide();
    const distanceTicks = Math.floor(this.options.band * Math.pow(this.random.unit(), this.options.bandSkew));
    let priceTicks = this.passivePriceTicks(side, distanceTicks);
    if (priceTicks === null) {
      // Nothing on this side is passive inside the price range (the opposite best sits at its
      // edge): the other side always has room.
      side = 1 - side;
      priceTicks = this.passivePriceTicks(side, distanceTicks)!;
    }
    const orderId = this.nextOrderId++;
    const qtyLots = this.drawLots();
    this.record(index, OpKind.Add, orderId, side, priceTicks, qtyLots, 0);
    this.book.limit(orderId, side, priceTicks, qtyLots, 0, this.tape.onFill);
  }

  /** `distanceTicks` behind the opposite best, pulled back into 1..maxPrice; null when none is passive. */
  private passivePriceTicks(side: number, distanceTicks: number): number | null {
    const { anchorMid, maxPrice } = this.options;
    const opposite = this.book.bestPriceTicks(1 - side);
    if (opposite === null) {
      // No opposite side: rest around the anchor, or behind this side's own best.
      const ownBest = this.book.bestPriceTicks(side);
      const priceTicks = side === 0 ? Math.max(ownBest ?? 0, Math.round(anchorMid)) - distanceTicks : Math.min(ownBest ?? maxPrice, Math.round(anchorMid)) + distanceTicks;
      return Math.max(1, Math.min(maxPrice, priceTicks));
    }
    const priceTicks = side === 0 ? Math.max(1, opposite - 1 - distanceTicks) : Math.min(maxPrice, opposite + 1 + distanceTicks);
    return side === 0 ? (priceTicks < opposite ? priceTicks : null) : priceTicks > opposite ? priceTicks : null;
  }

  /** A limit priced at the k-th opposite level; false when that side is empty. */
  private emitCross(index: number): boolean {
    const side = this.drawSide();
    const levels = this.book.levelCount(1 - side);
    if (levels === 0) return false;
    const rank = Math.min(this.drawCrossRank(), levels);
    const priceTicks = this.book.levelPriceTicks(1 - side, rank)!;
    const qtyLots = this.drawLotSum(this.options.crossLotsMax);
    const timeInForce = this.random.unit() < this.options.crossIoc ? 1 : 0;
    const orderId = this.nextOrderId++;
    this.record(index, OpKind.Cross, orderId, side, priceTicks, qtyLots, timeInForce);
    this.book.limit(orderId, side, priceTicks, qtyLots, timeInForce, this.tape.onFill);
    return true;
  }

  private drawCrossRank(): number {
    const weights = this.options.crossLevelWeights;
    let total = 0;
    for (const weight of weights) total += weight;
    let draw = this.random.unit() * total;
    for (let rank = 1; rank <= weights.length; rank++) {
      draw -= weights[rank - 1];
      if (draw < 0) return rank;
    }
    return weights.length;
  }

  /** False when the opposite side is empty (a market order would do nothing). */
  private emitMarket(index: number): boolean {
    const side = this.drawSide();
    if (this.book.levelCount(1 - side) === 0) return false;
    const qtyLots = this.drawLotSum(this.options.marketLotsMax);
    const orderId = this.nextOrderId++;
    this.record(index, OpKind.Market, orderId, side, 0, qtyLots, 0);
    this.book.market(orderId, side, qtyLots, this.tape.onFill);
    return true;
  }

  /** Cancels a resting order picked uniformly; false when nothing rests. */
  private emitCancel(index: number): boolean {
    const resting = this.book.restingCount;
    if (resting === 0) return false;
    const order = this.book.restingOrderAt(Math.floor(this.random.unit() * resting));
    this.record(index, OpKind.Cancel, order.orderId, 0, 0, 0, 0);
    this.book.cancel(order.orderId);
    return true;
  }

  /** Amends a resting order picked uniformly: reduce, re-price or raise; false when nothing rests. */
  private emitAmend(index: number): boolean {
    const resting = this.book.restingCount;
    if (resting === 0) return false;
    const { orderId, priceTicks, qtyLots } = this.book.restingOrderAt(Math.floor(this.random.unit() * resting));
    const { amendReduceShare, amendRepriceShare, amendRepriceTicksMax, maxPrice } = this.options;
    const draw = this.random.unit();
    let newPriceTicks = priceTicks;
    let newQtyLots = qtyLots;
    if (draw < amendReduceShare && qtyLots > 1) {
      newQtyLots = 1 + Math.floor(this.random.unit() * (qtyLots - 1));
    } else if (draw < amendReduceShare + amendRepriceShare) {
      const moveTicks = 1 + Math.floor(this.random.unit() * amendRepriceTicksMax);
      const direction = this.random.unit() < 0.5 ? -1 : 1;
      newPriceTicks = Math.max(1, Math.min(maxPrice, priceTicks + direction * moveTicks));
      // Clamped onto its own price at the edge of the range: move the other way instead.
      if (newPriceTicks === priceTicks) newPriceTicks = priceTicks - direction;
      // A move toward the other side may cross; the E semantics say how it then matches.
    } else {
      newQtyLots = qtyLots + this.drawLots();
    }
    this.record(index, OpKind.Amend, orderId, 0, newPriceTicks, newQtyLots, 0);
    this.book.amend(orderId, newPriceTicks, newQtyLots, this.tape.onFill);
    return true;
  }

  private record(index: number, kind: OpKind, orderId: number, side: number, priceTicks: number, qtyLots: number, timeInForce: number): void {
    const workload = this.workload;
    workload.kind[index] = kind;
    workload.orderId[index] = orderId;
    workload.side[index] = side;
    workload.priceTicks[index] = priceTicks;
    workload.qtyLots[index] = qtyLots;
    workload.timeInForce[index] = timeInForce;
  }
}

/**
 * xoshiro128** (Blackman and Vigna), seeded through splitmix32 so that any integer seed gives a
 * well-mixed state. Our own, so that a seed gives the same workload on every Node version.
 */
export class Xoshiro128 {
  private state0: number;
  private state1: number;
  private state2: number;
  private state3: number;

  constructor(seed: number) {
    let mix = seed >>> 0;
    const splitmix = (): number => {
      mix = (mix + 0x9e3779b9) | 0;
      let value = mix;
      value = Math.imul(value ^ (value >>> 16), 0x85ebca6b);
      value = Math.imul(value ^ (value >>> 13), 0xc2b2ae35);
      return (value ^ (value >>> 16)) | 0;
    };
    this.state0 = splitmix();
    this.state1 = splitmix();
    this.state2 = splitmix();
    this.state3 = splitmix();
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.state1, 5), 7), 9);
    const shifted = this.state1 << 9;
    this.state2 ^= this.state0;
    this.state3 ^= this.state1;
    this.state1 ^= this.state2;
    this.state0 ^= this.state3;
    this.state2 ^= shifted;
    this.state3 = rotateLeft(this.state3, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  unit(): number {
    return this.nextUint32() / 4294967296;
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}
