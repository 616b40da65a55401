// An append is answered only once it is committed, also while a snapshot is being written
// (RELIABILITY.md test 4). The journal's INSERT is a prepared statement, and node-sqlite3 runs
// prepared statements on the connection directly, outside the Database's statement queue; a snapshot
// written as BEGIN … INSERT … DELETE … COMMIT on the same connection let an append slip in between
// and be answered inside a transaction that had not committed. That answer would be a lie if the
// process died before the COMMIT.
//
// The check: while large snapshots are written, batches are appended; the moment each append
// resolves, a second connection (which sees only committed data) must find its row.
//
// The generator: none (fixed sizes). How to replay: deterministic (timing decides how often an
// append lands in the window; the old code failed it in the first rounds).

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { SqliteJournal, type JournalEntry } from '../../engine/index.js';

const ROUNDS = 8;
const APPENDS_PER_ROUND = 40;
const SNAPSHOT_BYTES = 4 * 1024 * 1024;

t.test('every append that resolved during a snapshot write is visible to another connection at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snapshot-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'journal.sqlite');
  const journal = await SqliteJournal.open(path, { checkpointEveryBytes: 0 });
  const reader = await new Promise<sqlite3.Database>((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (error) => (error ? reject(error) : resolve(db)));
  });
  // One read at a time, each run to completion (`all`): a statement left open (as `get` leaves it
  // until its finalize) keeps the reader on an old snapshot, and would hide later commits.
  let reads: Promise<unknown> = Promise.resolve();
  const committedRows = (batch: number): Promise<number> => {
    const read = reads.then(
      () => new Promise<number>((resolve, reject) => reader.all('SELECT count(*) AS n FROM journal WHERE batch = ?', [batch], (error, rows) => (error ? reject(error) : resolve((rows as { n: number }[])[0].n)))),
    );
    reads = read.catch(() => undefined);
    return read;
  };
  try {
    await journal.load();
    let sequence = 0;
    const invisible: number[] = [];
    let checked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const snapshotSequence = sequence;
      const snapshot = journal.writeSnapshot({ sequence: snapshotSequence, batch: journal.batch, stateHash: 'x'.repeat(64), body: 's'.repeat(SNAPSHOT_BYTES + round) });
      const appends: Promise<void>[] = [];
      for (let index = 0; index < APPENDS_PER_ROUND; index++) {
        const entries: JournalEntry[] = [{ sequence: ++sequence, timeMs: 1_000 + sequence, command: { kind: 'clock_tick' } }];
        appends.push(
          journal.append(entries).then(async (batch) => {
            checked++;
            if ((await committedRows(batch)) !== 1) invisible.push(batch);
          }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all([snapshot, ...appends]);
    }
    t.equal(checked, ROUNDS * APPENDS_PER_ROUND, 'every append resolved');
    t.same(invisible, [], 'no append was answered before another connection could see it');
  } finally {
    await new Promise<void>((resolve) => reader.close(() => resolve()));
    await journal.close();
  }
});
