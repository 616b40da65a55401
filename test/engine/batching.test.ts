// How the sequencer groups commands into journal batches (one SQLite transaction, one fsync each).
// A burst that arrives at once is shared out over the free pipeline slots, so the first part
// commits while the next is applied; a small burst stays one batch (a commit is not free); and no
// batch ever exceeds the cap. Whatever the grouping, every command is answered with its own
// sequence, in submission order.
//
// The generator: none (fixed bursts of clock ticks). The oracle: the journal's rows, read back.
// How to replay: deterministic.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, openEngine, type CommandResult } from '../../engine/index.js';
import { readJournalRows } from './_journal_files.js';
import { WORKLOAD_START_MS, loadExchangeConfig } from './_workload.js';

/** Submits `count` clock ticks in one turn; returns the batch sizes the journal got for them. */
async function burst(count: number, batchCommandsMax?: number): Promise<{ sizes: number[]; sequences: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'engine-batching-'));
  try {
    const journalPath = join(dir, 'journal.sqlite');
    const engine = await openEngine({ journalPath, clock: new ManualClock(WORKLOAD_START_MS), config: loadExchangeConfig(), batchCommandsMax, snapshotEveryCommands: 0 });
    let results: CommandResult[];
    try {
      results = await Promise.all(Array.from({ length: count }, () => engine.sequencer.submit({ kind: 'clock_tick' })));
    } finally {
      await engine.close();
    }
    const rows = await readJournalRows(journalPath, 1); // batch 1 is init_exchange
    return { sizes: rows.map((row) => row.last_sequence - row.first_sequence + 1), sequences: results.map((result) => result.sequence) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a burst of 250 is split over the two pipeline slots: 125 + 125', async (t) => {
  const { sizes, sequences } = await burst(250);
  t.same(sizes, [125, 125]);
  t.same(sequences, Array.from({ length: 250 }, (_, index) => index + 2), 'each answered with its own sequence, in order');
});

t.test('a burst below two minimum parts (127) stays one batch', async (t) => {
  t.same((await burst(127)).sizes, [127]);
});

t.test('at 128 the burst splits into two parts of 64', async (t) => {
  t.same((await burst(128)).sizes, [64, 64]);
});

t.test('a burst beyond the cap: cap-sized batches, the rest after a commit frees a slot', async (t) => {
  const { sizes, sequences } = await burst(1_000, 300);
  t.same(sizes.slice(0, 2), [300, 300], 'the first two are capped');
  t.equal(sizes.reduce((sum, size) => sum + size, 0), 1_000, 'every command is journaled once');
  t.ok(sizes.every((size) => size <= 300), `no batch over the cap: ${sizes.join(', ')}`);
  t.same(sequences, Array.from({ length: 1_000 }, (_, index) => index + 2), 'answered in submission order');
});

t.test('a backlog of 20,000 (the queue compacts as it drains): every command once, in order, no batch over the cap', async (t) => {
  const { sizes, sequences } = await burst(20_000, 300);
  t.equal(sizes.reduce((sum, size) => sum + size, 0), 20_000, 'every command is journaled once');
  t.ok(sizes.every((size) => size <= 300), `no batch over the cap (largest ${Math.max(...sizes)})`);
  t.ok(sequences.every((sequence, index) => sequence === index + 2), 'answered in submission order, each with its own sequence');
});
