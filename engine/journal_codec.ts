import type { CancelOrder, Command, PlaceOrder } from './commands.js';

// The text of one journal batch (the `body` column), and back.
//
// Format 2, written since session 3: a JSON array
//
//   [2, firstSequence, firstTimeMs, entry, entry, …]
//
// where sequences run on one by one from firstSequence, and each entry starts with its time as a
// difference from the entry before (the first from firstTimeMs, so usually 0):
//
//   [dt, 1, accountId, instrument, side, type, amountLots, priceTicks, timeInForce, …optional]   place_order
//   [dt, 2, accountId, orderId]                                                                 cancel_order
//   [dt, 0, command]                                                                            any other command
//
// side, type and timeInForce are indices into the tables below; priceTicks is null when absent;
// the optional tail (postOnly, rejectPostOnly, reduceOnly, label, triggerPriceTicks, trigger,
// selfTrade) is null where absent, with trailing nulls left out. A place or cancel is written in the
// positional form only when it round-trips exactly (known keys, expected types, finite numbers);
// anything else is written as the object. The two hot commands shrink from ~170 and ~60 bytes of
// JSON to ~35 and ~15, which makes encoding, hashing, writing, reading and decoding a batch several
// times cheaper (bench/ENGINE.md).
//
// Format 1 (sessions 1 and 2) is an array of [sequence, timeMs, command] and is still read, so a
// journal written before keeps loading; a batch body says which format it is by its first element.

export interface JournalEntry {
  sequence: number;
  timeMs: number;
  command: Command;
}

export class BatchFormatError extends Error {
  override name = 'BatchFormatError';
}

export const BATCH_FORMAT = 2;

const SIDES = ['buy', 'sell'] as const;
const TYPES = ['limit', 'market', 'stop_limit', 'stop_market', 'take_limit', 'take_market'] as const;
const TIMES_IN_FORCE = ['good_til_cancelled', 'good_til_day', 'fill_or_kill', 'immediate_or_cancel'] as const;
const PLACE_KEYS = new Set(['kind', 'accountId', 'instrument', 'side', 'type', 'amountLots', 'priceTicks', 'timeInForce', 'postOnly', 'rejectPostOnly', 'reduceOnly', 'label', 'triggerPriceTicks', 'trigger', 'selfTrade']);
const CANCEL_KEYS = new Set(['kind', 'accountId', 'orderId']);
const TAG_OBJECT = 0;
const TAG_PLACE = 1;
const TAG_CANCEL = 2;

/** The body text of a batch: entries with consecutive sequences, in order. */
export function encodeBatch(entries: readonly JournalEntry[]): string {
  const first = entries[0];
  const rows = new Array<unknown>(entries.length + 3);
  rows[0] = BATCH_FORMAT;
  rows[1] = first.sequence;
  rows[2] = first.timeMs;
  let previousTimeMs = first.timeMs;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    const dt = entry.timeMs - previousTimeMs;
    previousTimeMs = entry.timeMs;
    rows[index + 3] = encodeEntry(dt, entry.command);
  }
  return JSON.stringify(rows);
}

/** The entries of a body in either format; throws BatchFormatError on anything malformed. */
export function decodeBatch(body: string): JournalEntry[] {
  let rows: unknown;
  try {
    rows = JSON.parse(body);
  } catch {
    throw new BatchFormatError('the body is not JSON');
  }
  if (!Array.isArray(rows)) throw new BatchFormatError('the body is not a list');
  if (rows[0] === BATCH_FORMAT) return decodeFormat2(rows);
  return decodeFormat1(rows);
}

function encodeEntry(dt: number, command: Command): unknown[] {
  if (command.kind === 'place_order') {
    const place = encodePlace(dt, command);
    if (place !== undefined) return place;
  } else if (command.kind === 'cancel_order' && isPositionalCancel(command)) {
    return [dt, TAG_CANCEL, command.accountId, command.orderId];
  }
  return [dt, TAG_OBJECT, command];
}

function encodePlace(dt: number, command: PlaceOrder): unknown[] | undefined {
  const side = SIDES.indexOf(command.side);
  const type = TYPES.indexOf(command.type);
  const timeInForce = TIMES_IN_FORCE.indexOf(command.timeInForce);
  if (side < 0 || type < 0 || timeInForce < 0) return undefined;
  if (!isFiniteNumber(command.accountId) || typeof command.instrument !== 'string' || !isFiniteNumber(command.amountLots)) return undefined;
  if (!optional(command.priceTicks, isFiniteNumber) || !optional(command.triggerPriceTicks, isFiniteNumber)) return undefined;
  if (!optional(command.postOnly, isBoolean) || !optional(command.rejectPostOnly, isBoolean) || !optional(command.reduceOnly, isBoolean)) return undefined;
  if (!optional(command.label, isString) || !optional(command.trigger, isString) || !optional(command.selfTrade, isString)) return undefined;
  for (const key in command) if (!PLACE_KEYS.has(key)) return undefined;
  const row: unknown[] = [dt, TAG_PLACE, command.accountId, command.instrument, side, type, command.amountLots, command.priceTicks ?? null, timeInForce];
  if (command.postOnly === undefined && command.rejectPostOnly === undefined && command.reduceOnly === undefined && command.label === undefined && command.triggerPriceTicks === undefined && command.trigger === undefined && command.selfTrade === undefined) return row;
  const tail = [command.postOnly, command.rejectPostOnly, command.reduceOnly, command.label, command.triggerPriceTicks, command.trigger, command.selfTrade];
  let tailLength = tail.length;
  while (tailLength > 0 && tail[tailLength - 1] === undefined) tailLength--;
  for (let index = 0; index < tailLength; index++) row.push(tail[index] ?? null);
  return row;
}

function isPositionalCancel(command: CancelOrder): boolean {
  if (!isFiniteNumber(command.accountId) || !isFiniteNumber(command.orderId)) return false;
  for (const key in command) if (!CANCEL_KEYS.has(key)) return false;
  return true;
}

function decodeFormat2(rows: unknown[]): JournalEntry[] {
  const firstSequence = rows[1];
  let timeMs = rows[2];
  if (!isFiniteNumber(firstSequence) || !isFiniteNumber(timeMs) || rows.length < 4) throw new BatchFormatError('malformed batch header');
  const entries = new Array<JournalEntry>(rows.length - 3);
  for (let index = 3; index < rows.length; index++) {
    const row = rows[index];
    if (!Array.isArray(row) || !isFiniteNumber(row[0])) throw new BatchFormatError(`entry ${index - 2} is malformed`);
    timeMs += row[0];
    entries[index - 3] = { sequence: firstSequence + index - 3, timeMs, command: decodeCommand(row, index - 2) };
  }
  return entries;
}

function decodeCommand(row: unknown[], position: number): Command {
  switch (row[1]) {
    case TAG_PLACE:
      return decodePlace(row, position);
    case TAG_CANCEL:
      if (row.length !== 4 || !isFiniteNumber(row[2]) || !isFiniteNumber(row[3])) throw new BatchFormatError(`entry ${position}: malformed cancel`);
      return { kind: 'cancel_order', accountId: row[2], orderId: row[3] };
    case TAG_OBJECT:
      if (row.length !== 3 || !isCommandObject(row[2])) throw new BatchFormatError(`entry ${position}: malformed command`);
      return row[2] as Command;
    default:
      throw new BatchFormatError(`entry ${position}: unknown command tag`);
  }
}

function decodePlace(row: unknown[], position: number): PlaceOrder {
  const [, , accountId, instrument, side, type, amountLots, priceTicks, timeInForce] = row;
  if (row.length < 9 || row.length > 16 || !isFiniteNumber(accountId) || typeof instrument !== 'string' || !isFiniteNumber(amountLots) || (priceTicks !== null && !isFiniteNumber(priceTicks))) {
    throw new BatchFormatError(`entry ${position}: malformed place`);
  }
  const sideText = SIDES[side as number];
  const typeText = TYPES[type as number];
  const timeInForceText = TIMES_IN_FORCE[timeInForce as number];
  if (sideText === undefined || typeText === undefined || timeInForceText === undefined) throw new BatchFormatError(`entry ${position}: malformed place`);
  const command: PlaceOrder = { kind: 'place_order', accountId, instrument, side: sideText, type: typeText, amountLots, timeInForce: timeInForceText };
  if (priceTicks !== null) command.priceTicks = priceTicks;
  if (row.length > 9) decodePlaceTail(command, row, position);
  return command;
}

function decodePlaceTail(command: PlaceOrder, row: unknown[], position: number): void {
  const [postOnly, rejectPostOnly, reduceOnly, label, triggerPriceTicks, trigger, selfTrade] = row.slice(9);
  const valid =
    nullOr(postOnly, isBoolean) && nullOr(rejectPostOnly, isBoolean) && nullOr(reduceOnly, isBoolean) && nullOr(label, isString) &&
    nullOr(triggerPriceTicks, isFiniteNumber) && nullOr(trigger, isString) && nullOr(selfTrade, isString) && row[row.length - 1] !== null;
  if (!valid) throw new BatchFormatError(`entry ${position}: malformed place`);
  if (postOnly != null) command.postOnly = postOnly as boolean;
  if (rejectPostOnly != null) command.rejectPostOnly = rejectPostOnly as boolean;
  if (reduceOnly != null) command.reduceOnly = reduceOnly as boolean;
  if (label != null) command.label = label as string;
  if (triggerPriceTicks != null) command.triggerPriceTicks = triggerPriceTicks as number;
  if (trigger != null) command.trigger = trigger as PlaceOrder['trigger'];
  if (selfTrade != null) command.selfTrade = selfTrade as PlaceOrder['selfTrade'];
}

function decodeFormat1(rows: unknown[]): JournalEntry[] {
  return rows.map((row, index) => {
    if (!Array.isArray(row) || row.length !== 3 || !isFiniteNumber(row[0]) || !isFiniteNumber(row[1]) || !isCommandObject(row[2])) {
      throw new BatchFormatError(`entry ${index + 1} is malformed`);
    }
    return { sequence: row[0], timeMs: row[1], command: row[2] as Command };
  });
}

function isCommandObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { kind?: unknown }).kind === 'string';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function optional(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

function nullOr(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === null || value === undefined || check(value);
}
