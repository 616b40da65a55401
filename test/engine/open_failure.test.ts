// A start-up that fails leaves no database open behind it. openEngine opens the journal (two
// connections: the writer and the checkpointer) and then history; when history cannot be opened,
// the journal's connections used to stay open for the life of the process. The check is the
// process's own file descriptors (/proc/self/fd) that point at the journal file, before and after.
//
// The generator: none. How to replay: deterministic.

import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore, ManualClock, openEngine } from '../../engine/index.js';
import { WORKLOAD_START_MS, loadExchangeConfig } from './_workload.js';

/** Descriptors of this process open on `path` or its -wal / -shm files. */
function descriptorsOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) count++;
    } catch {
      // the descriptor closed while we looked
    }
  }
  return count;
}

t.test('history that cannot be opened: openEngine fails and closes the journal it opened', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-open-failure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journalPath = join(dir, 'journal.sqlite');
  const historyPath = join(dir, 'history-is-a-directory');
  mkdirSync(historyPath);
  await t.rejects(openEngine({ journalPath, historyPath, clock: new ManualClock(WORKLOAD_START_MS), config: loadExchangeConfig() }), 'the open fails');
  t.equal(descriptorsOn(journalPath), 0, 'no descriptor is left open on the journal');
});

t.test('a history file that is not a database: HistoryStore.open fails and closes it', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'history-open-failure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const historyPath = join(dir, 'history.sqlite');
  writeFileSync(historyPath, 'this is not a SQLite database, and it is longer than a header '.repeat(100));
  await t.rejects(HistoryStore.open(historyPath), 'the open fails');
  t.equal(descriptorsOn(historyPath), 0, 'no descriptor is left open on the file');
});
