// engine/journal_codec.ts, the text of a journal batch. What the journal gives back on replay must be
// exactly what the sequencer applied live: every command decodes to the same fields and values as
// the object that was submitted (with undefined fields dropped, as JSON always did), every entry to
// its sequence and time. Bodies written in format 1 (before the compact format) still decode, and a
// malformed body is refused, never half-read.
//
// The generator: seeded batches of place_order (every type, side, time in force, every optional
// field present or absent, labels with any characters, odd extra keys and wrong types that must
// fall back to the object form), cancel_order, and other commands, at increasing times. The oracle:
// JSON.parse(JSON.stringify(command)). How to replay: SEED=<n> (printed).

import t from 'tap';
import fc from 'fast-check';
import { BatchFormatError, decodeBatch, encodeBatch, type JournalEntry } from '../../engine/index.js';
import type { Command, PlaceOrder } from '../../engine/commands.js';
import { commandText } from './_journal_files.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
t.comment(`SEED=${SEED}`);

const optionalField = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

const place: fc.Arbitrary<Command> = fc
  .record({
    kind: fc.constant('place_order' as const),
    accountId: fc.integer({ min: 1, max: 1_000_000 }),
    instrument: fc.constantFrom('H100_USDAI', 'B200_USDAI', 'H100_USDAI-30SEP26', 'A100_USDAI-28AUG26-2d5-C'),
    side: fc.constantFrom('buy' as const, 'sell' as const),
    type: fc.constantFrom('limit' as const, 'market' as const, 'stop_limit' as const, 'stop_market' as const, 'take_limit' as const, 'take_market' as const),
    amountLots: fc.integer({ min: 1, max: 100_000_000 }),
    priceTicks: optionalField(fc.integer({ min: 1, max: 10_000_000 })),
    timeInForce: fc.constantFrom('good_til_cancelled' as const, 'good_til_day' as const, 'fill_or_kill' as const, 'immediate_or_cancel' as const),
    postOnly: optionalField(fc.boolean()),
    rejectPostOnly: optionalField(fc.boolean()),
    reduceOnly: optionalField(fc.boolean()),
    label: optionalField(fc.string({ unit: 'binary', maxLength: 64 })),
    triggerPriceTicks: optionalField(fc.integer({ min: 1, max: 10_000_000 })),
    trigger: optionalField(fc.constantFrom('last_price' as const, 'mark_price' as const, 'index_price' as const)),
    selfTrade: optionalField(fc.constantFrom('cancel_taker' as const, 'cancel_maker' as const, 'cancel_both' as const, 'decrement_both' as const)),
  }, { requiredKeys: ['kind', 'accountId', 'instrument', 'side', 'type', 'amountLots', 'timeInForce'] })
  .map((command) => command as PlaceOrder);

/** Places the positional form must not take: an unknown key, a wrong type, a number JSON cannot carry. */
const oddPlace: fc.Arbitrary<Command> = fc.tuple(place, fc.constantFrom('extra', 'string amount', 'NaN price', 'unknown side', 'null label')).map(([command, oddity]) => {
  const odd = { ...command } as Record<string, unknown>;
  if (oddity === 'extra') odd.note = 'kept';
  if (oddity === 'string amount') odd.amountLots = String(odd.amountLots);
  if (oddity === 'NaN price') odd.priceTicks = Number.NaN;
  if (oddity === 'unknown side') odd.side = 'short';
  if (oddity === 'null label') odd.label = null;
  return odd as unknown as Command;
});

const cancel: fc.Arbitrary<Command> = fc.record({ kind: fc.constant('cancel_order' as const), accountId: fc.integer({ min: 1, max: 1_000_000 }), orderId: fc.maxSafeNat() });
const other: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('clock_tick' as const) }),
  fc.record({ kind: fc.constant('credit_deposit' as const), depositId: fc.string(), accountId: fc.nat(), currency: fc.constant('USDAI'), amountUnits: fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String) }),
  fc.record({ kind: fc.constant('cancel_by_label' as const), accountId: fc.nat(), label: fc.string(), instrument: optionalField(fc.constant('H100_USDAI')) }),
);

const batch = fc
  .tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 42 }), fc.array(fc.tuple(fc.oneof(place, place, cancel, oddPlace, other), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 40 }))
  .map(([firstSequence, firstTimeMs, rows]) => {
    let timeMs = firstTimeMs;
    return rows.map(([command, step], index): JournalEntry => ({ sequence: firstSequence + index, timeMs: (timeMs += step), command }));
  });

/** What JSON gave back before the compact format: the oracle for every field and value. */
function throughJson(entries: readonly JournalEntry[]): JournalEntry[] {
  return JSON.parse(JSON.stringify(entries)) as JournalEntry[];
}

t.test('a decoded batch is the batch that was encoded: sequences, times and every command field', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(batch, (entries) => {
      const decoded = decodeBatch(encodeBatch(entries));
      const expected = throughJson(entries);
      if (decoded.length !== expected.length) return false;
      for (let index = 0; index < expected.length; index++) {
        const [got, want] = [decoded[index], expected[index]];
        if (got.sequence !== want.sequence || got.timeMs !== want.timeMs || commandText(got.command) !== commandText(want.command)) return false;
      }
      checked += entries.length;
      return true;
    }),
    { seed: SEED, numRuns: 300 },
  );
  t.ok(checked > 1_000, `${checked} entries round-tripped`);
});

t.test('the compact form: a limit place and a cancel take a fraction of their format-1 size', async (t) => {
  const entries: JournalEntry[] = [
    { sequence: 41, timeMs: 1_790_000_000_000, command: { kind: 'place_order', accountId: 123, instrument: 'H100_USDAI', side: 'buy', type: 'limit', amountLots: 5, priceTicks: 10_250, timeInForce: 'good_til_cancelled' } },
    { sequence: 42, timeMs: 1_790_000_000_000, command: { kind: 'cancel_order', accountId: 123, orderId: 987_654 } },
  ];
  const compact = encodeBatch(entries);
  const format1 = JSON.stringify(entries.map((entry) => [entry.sequence, entry.timeMs, entry.command]));
  t.equal(compact, '[2,41,1790000000000,[0,1,123,"H100_USDAI",0,0,5,10250,0],[0,2,123,987654]]', 'the documented layout');
  t.ok(compact.length * 3 < format1.length, `${compact.length} bytes against ${format1.length}`);
  t.strictSame(decodeBatch(compact), entries, 'and back, key for key');
});

t.test('a place with an extra key or an odd value is journaled as the object, unchanged', async (t) => {
  const odd = { kind: 'place_order', accountId: 7, instrument: 'H100_USDAI', side: 'sell', type: 'limit', amountLots: 2, priceTicks: 9_000, timeInForce: 'good_til_cancelled', note: 'x' } as unknown as Command;
  const body = encodeBatch([{ sequence: 1, timeMs: 5, command: odd }]);
  t.equal(body, `[2,1,5,[0,0,${JSON.stringify(odd)}]]`);
  t.strictSame(decodeBatch(body)[0].command, odd);
});

t.test('format 1 bodies (written before the compact format) still decode', async (t) => {
  const entries: JournalEntry[] = [
    { sequence: 9, timeMs: 100, command: { kind: 'place_order', accountId: 1, instrument: 'H100_USDAI', side: 'buy', type: 'market', amountLots: 3, timeInForce: 'immediate_or_cancel' } },
    { sequence: 10, timeMs: 101, command: { kind: 'clock_tick' } },
  ];
  t.strictSame(decodeBatch(JSON.stringify(entries.map((entry) => [entry.sequence, entry.timeMs, entry.command]))), entries);
});

t.test('a malformed body is refused with BatchFormatError, whatever is wrong with it', async (t) => {
  const malformed: [string, string][] = [
    ['not JSON', '[2,1,5,[0,2,1,'],
    ['not a list', '{"a":1}'],
    ['no entries', '[2,1,5]'],
    ['a header that is not numbers', '[2,"1",5,[0,2,1,1]]'],
    ['an entry that is not a list', '[2,1,5,{"kind":"clock_tick"}]'],
    ['a time step that is not a number', '[2,1,5,[null,2,1,1]]'],
    ['an unknown tag', '[2,1,5,[0,9,1,1]]'],
    ['a cancel with a missing order id', '[2,1,5,[0,2,1]]'],
    ['a place with a side out of range', '[2,1,5,[0,1,1,"H100_USDAI",2,0,5,100,0]]'],
    ['a place with a string amount', '[2,1,5,[0,1,1,"H100_USDAI",0,0,"5",100,0]]'],
    ['a place with a non-boolean post-only', '[2,1,5,[0,1,1,"H100_USDAI",0,0,5,100,0,"yes"]]'],
    ['a place with a trailing null', '[2,1,5,[0,1,1,"H100_USDAI",0,0,5,100,0,true,null]]'],
    ['an object entry that is not a command', '[2,1,5,[0,0,{"no":"kind"}]]'],
    ['a format-1 entry of two fields', '[[1,5]]'],
  ];
  for (const [what, body] of malformed) t.throws(() => decodeBatch(body), BatchFormatError, what);
});
