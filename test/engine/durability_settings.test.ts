// The journal's durability settings are what we think they are (RELIABILITY.md test 9).
//
// What it proves: every connection the engine writes the journal through runs with
// journal_mode = wal, synchronous = 2 (FULL), foreign_keys = 1 and schema version '1', and not only
// on the connection that created the file: §3 measured that a reopened WAL database reads
// synchronous = 1 (NORMAL) unless it is set again, which a kill -9 test cannot notice. So the
// test writes, closes and reopens (three times, through SqliteJournal and through openEngine) and
// reads the settings back on the reopened connection. It also records what a plain connection to
// the same file reads without the engine's settings (with node-sqlite3 6.0.1's bundled SQLite that
// is 2; §3's 1 was better-sqlite3's build, compiled with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1), which is
// why the value is asserted on the engine's own reopened connections and not taken for granted.
//
// The generator: none (fixed commands). The oracle: the exact values. How to replay: deterministic.

import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalCorruptError, ManualClock, SqliteJournal, entriesOf, openEngine } from '../../engine/index.js';
import { withDatabase } from './_journal_files.js';
import { WORKLOAD_START_MS, loadExchangeConfig } from './_workload.js';

const EXPECTED = { journalMode: 'wal', synchronous: 2, foreignKeys: 1, schemaVersion: '1' };

t.test('settings hold on every reopened connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'journal.db');

  for (let cycle = 1; cycle <= 3; cycle++) {
    const journal = await SqliteJournal.open(path);
    try {
      t.same(await journal.settings(), EXPECTED, `cycle ${cycle}: settings right after open`);
      const contents = await journal.load();
      t.equal(contents.lastBatch, cycle - 1, `cycle ${cycle}: the batches written before are all there`);
      const sequence = contents.lastSequence + 1;
      await journal.append([{ sequence, timeMs: WORKLOAD_START_MS + sequence, command: cycle === 1 ? { kind: 'init_exchange', config: loadExchangeConfig() } : { kind: 'clock_tick' } }]);
      t.same(await journal.settings(), EXPECTED, `cycle ${cycle}: settings after a write`);
    } finally {
      await journal.close();
    }
  }

  const engine = await openEngine({ journalPath: path, clock: new ManualClock(WORKLOAD_START_MS + 10), config: loadExchangeConfig() });
  try {
    t.same(await engine.journal.settings(), EXPECTED, 'openEngine on the reopened file: the same settings');
    const result = await engine.sequencer.submit({ kind: 'clock_tick' });
    t.equal(result.sequence, 4, 'and it keeps writing the same chain');
    t.same(await engine.journal.settings(), EXPECTED, 'settings after a write through the sequencer');
  } finally {
    await engine.close();
  }

  const reopened = await SqliteJournal.open(path);
  try {
    t.same(await reopened.settings(), EXPECTED, 'settings after the engine closed and the file was reopened');
    t.equal((await reopened.load()).lastSequence, 4, 'all four commands are in the journal');
  } finally {
    await reopened.close();
  }

  const plain = await withDatabase(path, async (db) => {
    const [mode] = await db.all<{ journal_mode: string }>('PRAGMA journal_mode');
    const [synchronous] = await db.all<{ synchronous: number }>('PRAGMA synchronous');
    return { journalMode: mode.journal_mode, synchronous: synchronous.synchronous };
  });
  t.equal(plain.journalMode, 'wal', 'WAL mode is stored in the file');
  t.comment(`a plain connection (no engine settings) reads synchronous = ${plain.synchronous}; the setting is per connection and per build, so the engine sets it on every open`);
});

t.test('a journal whose settings or schema are wrong is refused by name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'journal.db');
  const journal = await SqliteJournal.open(path);
  await journal.close();
  await withDatabase(path, (db) => db.run("UPDATE meta SET value = '2' WHERE key = 'schema_version'"));
  const error = await SqliteJournal.open(path).then(
    async (opened) => {
      await opened.close();
      return undefined;
    },
    (caught: unknown) => caught,
  );
  t.ok(error instanceof JournalCorruptError && error.reason === 'wrong_schema', `schema version 2 is refused with wrong_schema (${String(error)})`);
});

t.test('checkpoints run on a second connection, never inside a batch commit, and lose nothing', async (t) => {
  // Why: SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so that
  // batch's ack waited for a copy of the WAL and an fsync of the main file (commit p99 8-10 ms
  // against 0.9 ms without, journal.ts). The writer must have it off, and the background
  // checkpoints must still restart the WAL (or it grows without end) and keep the journal whole.
  const dir = mkdtempSync(join(tmpdir(), 'engine-checkpoint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'journal.db');
  const checkpointEveryBytes = 64 * 1024;
  const journal = await SqliteJournal.open(path, { checkpointEveryBytes });
  const batches = 400;
  const perBatch = 40;
  let sequence = 0;
  const appendBatch = () => {
    const entries = Array.from({ length: perBatch }, () => {
      sequence++;
      return { sequence, timeMs: WORKLOAD_START_MS + sequence, command: { kind: 'create_account' as const, owner: `owner-${sequence}-${'x'.repeat(150)}`, accountKind: 'trader' as const } };
    });
    return journal.append(entries);
  };
  let walPeakBytes = 0;
  let framesInWal = -1;
  try {
    t.equal(await journal.autocheckpointPages(), 0, "the writer's automatic checkpoint is off");
    for (let batch = 0; batch < batches; batch++) {
      await appendBatch();
      walPeakBytes = Math.max(walPeakBytes, walSize(path));
    }
    // Once the writer pauses, the running checkpoint finishes; the next commit starts the WAL over.
    await journal.checkpointsSettled();
    await appendBatch();
    // (That batch may have started a checkpoint of its own; a second checkpointer would be busy.)
    await journal.checkpointsSettled();
    framesInWal = await withDatabase(path, async (db) => (await db.all<{ log: number }>('PRAGMA wal_checkpoint(PASSIVE)'))[0].log);
  } finally {
    await journal.close();
  }
  t.comment(`${batches + 1} batches; WAL file peak ${(walPeakBytes / 1e6).toFixed(2)} MB with a checkpoint every ${checkpointEveryBytes / 1024} KiB`);
  t.ok(framesInWal >= 0 && framesInWal <= 20, `after the last batch the WAL holds only that batch (${framesInWal} frames): it was checkpointed and restarted, not left to grow`);
  const reopened = await SqliteJournal.open(path);
  try {
    const contents = await reopened.load();
    t.equal(contents.lastSequence, (batches + 1) * perBatch, 'every appended command is in the reopened journal');
    let loaded = 0;
    for await (const entries of entriesOf(reopened, contents)) loaded += entries.length;
    t.equal(loaded, (batches + 1) * perBatch, 'and loads, in order, with the chain verified');
  } finally {
    await reopened.close();
  }
});

t.test('small batches keep the WAL near the checkpoint threshold: what counts is what SQLite writes, a page a commit', async (t) => {
  // Why: a batch of a few commands is a row of ~60-300 bytes, but its commit writes at least one
  // whole 4 KiB page to the WAL. Counting the rows' bytes let the WAL grow 10-70× past the
  // threshold at moderate load (96 MB of WAL for 6.3 MB of rows, no checkpoint yet), and a WAL
  // that keeps growing makes every commit's fsync extend the file (slower, and it drags other
  // files' writes into ext4's journal commit with it).
  const dir = mkdtempSync(join(tmpdir(), 'engine-walsize-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'journal.db');
  const checkpointEveryBytes = 1024 * 1024;
  const journal = await SqliteJournal.open(path, { checkpointEveryBytes });
  const batches = 3_000;
  let walPeakBytes = 0;
  try {
    for (let sequence = 1; sequence <= batches; sequence++) {
      await journal.append([{ sequence, timeMs: WORKLOAD_START_MS + sequence, command: { kind: 'create_account', owner: `o${sequence}`, accountKind: 'trader' } }]);
      walPeakBytes = Math.max(walPeakBytes, walSize(path));
      // Let a checkpoint that started finish before the next append, so what is measured is when
      // checkpoints start, not how fast they run on a busy machine (the WAL keeps growing while one runs).
      await journal.checkpointsSettled();
    }
  } finally {
    await journal.close();
  }
  t.comment(`${batches} one-command batches; WAL file peak ${(walPeakBytes / 1024).toFixed(0)} KiB with a checkpoint every ${checkpointEveryBytes / 1024} KiB of WAL`);
  t.ok(walPeakBytes > 0, 'the WAL was written');
  // The rows' own bytes (~135 KB) never reach the threshold, so counting those, no checkpoint would
  // start and the WAL would hold a page per commit: 12 MB.
  t.ok(walPeakBytes <= 3 * checkpointEveryBytes, `the WAL file stays within 3 MiB (peak ${walPeakBytes} bytes; ${batches} commits of a page each would be ${batches * 4120})`);
});

t.test('with checkpointEveryBytes 0 the journal leaves checkpoints to SQLite (the setting is honoured)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-checkpoint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journal = await SqliteJournal.open(join(dir, 'journal.db'), { checkpointEveryBytes: 0 });
  try {
    t.equal(await journal.autocheckpointPages(), 1000, "SQLite's default threshold (1000 pages) is left in place");
  } finally {
    await journal.close();
  }
});

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
