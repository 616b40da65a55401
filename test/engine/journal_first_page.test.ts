// RELIABILITY.md test 7, on the one page that decides how SQLite reads everything else: the journal
// file's first page (the file header and the schema). A damaged byte there must never start the
// engine on a journal it misreads, never fail with an unnamed SQLite error ("no such column: body",
// "table meta already exists", "attempt to write a readonly database"), and never crash the process
// (a statement that failed to prepare used to emit an unhandled 'error'). Each case is refused as
// JournalCorruptError, or opens to exactly the journal that was written.
//
// The generator: a small journal of a few batches; every byte of its first 4,096 bytes flipped in
// turn (XOR with a seeded value 1..255). How to replay: SEED=<n> (printed).

import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalCorruptError, SqliteJournal, type JournalEntry } from '../../engine/index.js';
import sqlite3 from 'sqlite3';
import { Prng } from './_workload.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
t.comment(`SEED=${SEED}`);

const PAGE_BYTES = 4_096;

t.test('a flipped byte anywhere on the first page: refused by name, or the same journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-first-page-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cleanPath = join(dir, 'clean.sqlite');
  const written = await writeSmallJournal(cleanPath);
  const clean = readFileSync(cleanPath);
  t.ok(clean.length > PAGE_BYTES, 'the journal is checkpointed into its main file');

  const random = new Prng(SEED);
  const outcomes = new Map<string, number>();
  const wrong: string[] = [];
  for (let offset = 0; offset < PAGE_BYTES; offset++) {
    const path = join(dir, `flip-${offset % 2}.sqlite`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    const damaged = Buffer.from(clean);
    damaged[offset] ^= random.int(1, 255);
    writeFileSync(path, damaged);
    const outcome = await openAndLoad(path);
    outcomes.set(outcome.kind, (outcomes.get(outcome.kind) ?? 0) + 1);
    if (outcome.kind === 'unnamed') wrong.push(`offset ${offset}: ${outcome.detail}`);
    if (outcome.kind === 'opened' && (outcome.lastBatch !== written.lastBatch || outcome.lastSequence !== written.lastSequence)) {
      wrong.push(`offset ${offset}: opened at batch ${outcome.lastBatch}, sequence ${outcome.lastSequence}`);
    }
  }
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  t.same(wrong.slice(0, 10), [], 'no unnamed failure and no different journal');
  t.ok((outcomes.get('refused') ?? 0) > 0, 'some flips are refused (the page matters)');
  copyFileSync(cleanPath, join(dir, 'control.sqlite'));
  const control = await openAndLoad(join(dir, 'control.sqlite'));
  t.same(control, { kind: 'opened', lastBatch: written.lastBatch, lastSequence: written.lastSequence }, 'the undamaged file opens');
});

async function writeSmallJournal(path: string): Promise<{ lastBatch: number; lastSequence: number }> {
  const journal = await SqliteJournal.open(path, { checkpointEveryBytes: 0 });
  await journal.load();
  let sequence = 0;
  for (let batch = 0; batch < 5; batch++) {
    const entries: JournalEntry[] = [];
    for (let index = 0; index < 20; index++) {
      sequence++;
      entries.push({ sequence, timeMs: 1_000 + sequence, command: { kind: 'cancel_order', accountId: 1 + (sequence % 7), orderId: sequence } });
    }
    await journal.append(entries);
  }
  const written = { lastBatch: journal.batch, lastSequence: journal.sequence };
  await journal.close(); // checkpoints the WAL into the main file
  return written;
}

type Outcome = { kind: 'opened'; lastBatch: number; lastSequence: number } | { kind: 'refused'; reason: string } | { kind: 'unnamed'; detail: string };

async function openAndLoad(path: string): Promise<Outcome> {
  let journal: SqliteJournal | undefined;
  try {
    journal = await SqliteJournal.open(path, { checkpointEveryBytes: 0 });
    const contents = await journal.load();
    return { kind: 'opened', lastBatch: contents.lastBatch, lastSequence: contents.lastSequence };
  } catch (error) {
    if (error instanceof JournalCorruptError) return { kind: 'refused', reason: error.reason };
    return { kind: 'unnamed', detail: error instanceof Error ? error.message : String(error) };
  } finally {
    await journal?.close().catch(() => undefined);
  }
}

t.test('a first open that crashed halfway through creating the tables (older versions) opens as an empty journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-torn-schema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'torn.sqlite');
  // What the first version's open had committed after its first CREATE statement (one transaction each then).
  await new Promise<void>((resolve, reject) => {
    const db = new sqlite3.Database(path, (openError) => {
      if (openError) return reject(openError);
      db.exec('PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);', (error) => db.close(() => (error ? reject(error) : resolve())));
    });
  });
  t.same(await openAndLoad(path), { kind: 'opened', lastBatch: 0, lastSequence: 0 }, 'it opens, empty, and the rest of the schema is created');
  t.same(await openAndLoad(path), { kind: 'opened', lastBatch: 0, lastSequence: 0 }, 'and opens again with the whole schema');
});
