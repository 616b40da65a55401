// A corrupt or truncated journal is detected, never silently accepted (RELIABILITY.md test 8).
//
// What it proves: the engine refuses to start on a journal it cannot prove. Every change to
// committed rows (a flipped body byte, a changed hash, a deleted middle row, a duplicated row, two
// rows' bodies or whole rows swapped, a byte of a row's text flipped in the file) is refused by
// SqliteJournal.open / recoverState with JournalCorruptError and the right reason. A byte flipped
// anywhere in the database file is refused by name, or, where it hit nothing the engine relies on
// (free pages, a snapshot, which is then skipped for the journal), starts with exactly the original
// state. A WAL truncated anywhere (a crash's torn tail) starts on a verified prefix: its rows are
// the original's first k batches and its state hash equals an offline replay of those k batches.
// Zero starts with a wrong state hash, and nothing fails with an unnamed error.
//
// The generator: one live run of the seeded workload (test/engine/_workload.ts, 8,000 commands)
// through openEngine with 64-command batches (~126 journal rows) and a snapshot every 2,000
// commands. A second connection holds a read transaction open from the start, so no checkpoint
// can restart the WAL and the WAL holds every committed frame; the database and its WAL are
// copied while the engine is still open. A checkpointed copy of that is the base for the row edits
// (plain SQL on a copy) and the file byte flips. 215 mutations (30 body flips, 20 hash changes, 20
// deletions, 25 duplications, 25 swaps, 5 damaged snapshots, 30 flips anywhere in the file, 25
// flips of row text found in the file, 35 WAL truncations), their targets drawn from the seed;
// about 30 s on 2 cores.
//
// The oracle: for refusals, the error's class, `reason` and the batch it names; for starts, the
// recovered journal's last batch and its hash against the original rows (a prefix is the
// original's first k rows), and the recovered state hash against a replay from scratch of the
// original's first k batches (k = all unless the WAL was truncated).
//
// How to replay: the run prints SEED=<n>; ENGINE_CORRUPTION_SEED=<n> npx tap test/engine/journal_corruption.test.ts.
// ENGINE_CORRUPTION_SCALE=<n> multiplies the number of mutations of each kind.
//
// Found while writing it (the second subtest; fixed by engine/wal_scan.ts): a byte flipped
// inside the WAL's committed frames makes SQLite treat that frame as the end of the log and drop
// it and every later frame, silently, and the hash chain cannot see a tail that is missing. The
// journal now scans the -wal file before SQLite opens it: a bad frame followed by further valid
// frames of the same generation is damage and refuses to start (damaged_wal). Damage to the last
// committed transaction alone still looks like a torn write and drops that transaction.

import t from 'tap';
import { randomInt } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalCorruptError, SqliteJournal, emptyState, openEngine, recoverState, stateHash, type JournalCorruption } from '../../engine/index.js';
import { RawDatabase, checkpoint, copyJournal, entriesOfRows, readJournalRows, removeJournal, replayEntries, withDatabase, type JournalRow } from './_journal_files.js';
import { Prng, WorkloadClock, generateWorkload, loadExchangeConfig, submitWorkload } from './_workload.js';
import { readIntegerEnv } from '../_env.js';

const COMMANDS = 8_000;
const BATCH_COMMANDS = 64;
const SNAPSHOT_EVERY = 2_000;
const IN_FLIGHT = 1_000;

const seed = readIntegerEnv('ENGINE_CORRUPTION_SEED', 1) ?? randomInt(1, 2 ** 31);
const scale = readIntegerEnv('ENGINE_CORRUPTION_SCALE', 1) ?? 1;
t.comment(`SEED=${seed} scale=${scale}`);
t.comment(`replay: ENGINE_CORRUPTION_SEED=${seed} npx tap --reporter=tap test/engine/journal_corruption.test.ts`);

type Outcome =
  | { kind: 'refused'; reason: JournalCorruption; message: string }
  | { kind: 'failed'; message: string }
  | { kind: 'started'; hash: string; lastBatch: number; lastBatchHash: string | undefined; damagedSnapshots: number[] };

interface Fixture {
  dir: string;
  /** The run's database and WAL as copied while it was open (the WAL holds every commit). */
  walBasePath: string;
  /** The same, checkpointed: everything in the main file, no WAL. */
  cleanPath: string;
  rows: JournalRow[];
  fullHash: string;
  newestSnapshotSequence: number;
}

const dir = mkdtempSync(join(tmpdir(), 'engine-corruption-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fixtureBuilt: Promise<Fixture> | undefined;
/** One live run serves every subtest. */
function sharedFixture(): Promise<Fixture> {
  fixtureBuilt ??= buildFixture(dir);
  return fixtureBuilt;
}

t.test('every mutation of a journal is refused by name, or starts on a verified prefix', async (t) => {
  const startedMs = performance.now();
  const fixture = await sharedFixture();
  const random = new Prng(seed);
  const lastBatch = fixture.rows.length;
  t.comment(`fixture: ${lastBatch} journal rows, WAL ${statSync(`${fixture.walBasePath}-wal`).size} bytes, database ${statSync(fixture.cleanPath).size} bytes, built in ${Math.round(performance.now() - startedMs)} ms`);
  t.equal((await startOn(fixture.cleanPath)).kind, 'started', 'the unmutated checkpointed copy starts');
  const walCopyPath = join(dir, 'wal-copy.db');
  copyJournal(fixture.walBasePath, walCopyPath, { wal: true });
  t.same(await startOn(walCopyPath, { keepWal: true }), await startOn(fixture.cleanPath), 'the unmutated copy with its WAL starts alike');

  const oracle = new PrefixOracle(fixture.rows);
  let mutations = 0;
  const runKind = async (name: string, count: number, mutate: (path: string, index: number) => Promise<void>, judge: (outcome: Outcome, index: number) => string | undefined) => {
    const wrong: string[] = [];
    for (let index = 0; index < count * scale; index++) {
      const path = join(dir, 'case.db');
      copyJournal(fixture.cleanPath, path, { wal: false });
      await mutate(path, index);
      const verdict = judge(await startOn(path), index);
      if (verdict !== undefined) wrong.push(verdict);
      mutations++;
    }
    t.same(wrong, [], `${name}: ${count * scale} mutations`);
  };
  const pickBatch = (from: number, to: number): number => random.int(from, to);

  // A byte of a row's body changed, its hash kept.
  const flipped: number[] = [];
  await runKind('a body byte flipped → hash_mismatch', 30, async (path, index) => {
    const batch = (flipped[index] = pickBatch(1, lastBatch));
    const body = fixture.rows[batch - 1].body;
    const at = random.int(0, body.length - 1);
    await editRows(path, 'UPDATE journal SET body = ? WHERE batch = ?', [body.slice(0, at) + otherCharacter(body.charCodeAt(at), random) + body.slice(at + 1), batch]);
  }, (outcome, index) => expectRefused(outcome, 'hash_mismatch', `batch ${flipped[index]}`, `batch ${flipped[index]}`));

  const rehashed: number[] = [];
  await runKind('a hash changed → hash_mismatch', 20, async (path, index) => {
    const batch = (rehashed[index] = pickBatch(1, lastBatch));
    const hash = fixture.rows[batch - 1].hash;
    const at = random.int(0, hash.length - 1);
    const digit = ((parseInt(hash[at], 16) + random.int(1, 15)) % 16).toString(16);
    await editRows(path, 'UPDATE journal SET hash = ? WHERE batch = ?', [hash.slice(0, at) + digit + hash.slice(at + 1), batch]);
  }, (outcome, index) => expectRefused(outcome, 'hash_mismatch', `batch ${rehashed[index]}`, `batch ${rehashed[index]}`));

  const deleted: number[] = [];
  await runKind('a middle row deleted → batch_gap', 20, async (path, index) => {
    const batch = (deleted[index] = pickBatch(1, lastBatch - 1));
    await editRows(path, 'DELETE FROM journal WHERE batch = ?', [batch]);
  }, (outcome, index) => expectRefused(outcome, 'batch_gap', `batch ${deleted[index] + 1} follows ${deleted[index] - 1}`, `deleted batch ${deleted[index]}`));

  const duplicated: number[] = [];
  await runKind('a row duplicated at the end → sequence_gap', 15, async (path, index) => {
    const batch = (duplicated[index] = pickBatch(1, lastBatch));
    await editRows(path, 'INSERT INTO journal (batch, first_sequence, last_sequence, body, hash) SELECT ?, first_sequence, last_sequence, body, hash FROM journal WHERE batch = ?', [lastBatch + 1, batch]);
  }, (outcome, index) => expectRefused(outcome, 'sequence_gap', `batch ${lastBatch + 1} holds`, `copy of batch ${duplicated[index]}`));

  const renumbered: number[] = [];
  await runKind('a row duplicated at the end with its sequences renumbered → hash_mismatch', 10, async (path, index) => {
    const batch = (renumbered[index] = pickBatch(1, lastBatch));
    const row = fixture.rows[batch - 1];
    const first = fixture.rows[lastBatch - 1].last_sequence + 1;
    await editRows(path, 'INSERT INTO journal (batch, first_sequence, last_sequence, body, hash) VALUES (?, ?, ?, ?, ?)', [lastBatch + 1, first, first + row.last_sequence - row.first_sequence, row.body, row.hash]);
  }, (outcome, index) => expectRefused(outcome, 'hash_mismatch', `batch ${lastBatch + 1}`, `renumbered copy of batch ${renumbered[index]}`));

  const swappedBodies: [number, number][] = [];
  await runKind('two rows\' bodies swapped → hash_mismatch', 15, async (path, index) => {
    const pair = (swappedBodies[index] = twoBatches(random, lastBatch));
    await swapColumns(path, pair, ['body']);
  }, (outcome, index) => expectRefused(outcome, 'hash_mismatch', `batch ${swappedBodies[index][0]}`, `bodies of ${swappedBodies[index].join(' and ')}`));

  const swappedRows: [number, number][] = [];
  await runKind('two whole rows swapped (batch numbers kept) → sequence_gap', 10, async (path, index) => {
    const pair = (swappedRows[index] = twoBatches(random, lastBatch));
    await swapColumns(path, pair, ['first_sequence', 'last_sequence', 'body', 'hash']);
  }, (outcome, index) => expectRefused(outcome, 'sequence_gap', `batch ${swappedRows[index][0]} holds`, `rows ${swappedRows[index].join(' and ')}`));

  await runKind('the newest snapshot\'s body damaged → starts on the journal, same state', 5, async (path) => {
    await withDatabase(path, async (db) => {
      const [row] = await db.all<{ body: string }>('SELECT body FROM snapshots WHERE sequence = ?', [fixture.newestSnapshotSequence]);
      const at = random.int(0, row.body.length - 1);
      await db.run('UPDATE snapshots SET body = ? WHERE sequence = ?', [row.body.slice(0, at) + otherCharacter(row.body.charCodeAt(at), random) + row.body.slice(at + 1), fixture.newestSnapshotSequence]);
    });
  }, (outcome) => {
    if (outcome.kind !== 'started') return `refused: ${describe(outcome)}`;
    if (outcome.hash !== fixture.fullHash || outcome.lastBatch !== lastBatch) return `started on a different state (batch ${outcome.lastBatch})`;
    return outcome.damagedSnapshots.includes(fixture.newestSnapshotSequence) ? undefined : 'the damaged snapshot was not reported';
  });

  // Bytes of the database file: anywhere (header, b-tree pages, free pages, snapshots) …
  const fileBytes = readFileSync(fixture.cleanPath);
  const flipOffsets: number[] = [];
  const flipKinds = new Map<string, number>();
  await runKind('a random byte of the database file flipped → refused by name, or the same state', 30, async (path, index) => {
    const offset = (flipOffsets[index] = index < 5 ? random.int(0, 4_095) : random.int(0, fileBytes.length - 1));
    flipByte(path, offset, random.int(1, 255));
  }, (outcome, index) => {
    flipKinds.set(describeKind(outcome), (flipKinds.get(describeKind(outcome)) ?? 0) + 1);
    if (outcome.kind === 'refused') return undefined;
    if (outcome.kind === 'failed') return `offset ${flipOffsets[index]}: failed without a named error: ${outcome.message}`;
    if (outcome.hash === fixture.fullHash && outcome.lastBatch === lastBatch) return undefined;
    return `offset ${flipOffsets[index]}: STARTED on batch ${outcome.lastBatch} of ${lastBatch} with hash ${outcome.hash.slice(0, 12)} (original ${fixture.fullHash.slice(0, 12)})`;
  });
  t.comment(`file flips anywhere: ${[...flipKinds].map(([kind, count]) => `${count} ${kind}`).join(', ')} (a flip in free space or in a snapshot leaves the state as it was)`);
  // … and bytes of committed rows as they lie in the file (a body's or a hash's text, found by search).
  const targets: string[] = [];
  await runKind('a byte of a committed row flipped in the file → refused by name', 25, async (path, index) => {
    const { offset, what } = rowTextOffset(fileBytes, fixture.rows, random, index % 5 < 3 ? 'body' : 'hash');
    targets[index] = what;
    flipByte(path, offset, random.int(1, 255));
  }, (outcome, index) => (outcome.kind === 'refused' ? undefined : `${targets[index]}: ${describe(outcome)}`));

  // The WAL, truncated at random offsets (a torn tail): a verified prefix, never an error.
  const walBytes = readFileSync(`${fixture.walBasePath}-wal`);
  const truncations: { offset: number; outcome: Outcome }[] = [];
  for (let index = 0; index < 35 * scale; index++) {
    const offset = index === 0 ? walBytes.length : index === 1 ? 0 : random.int(0, walBytes.length - 1);
    const path = join(dir, 'case.db');
    removeJournal(path);
    copyFileSync(fixture.walBasePath, path);
    writeFileSync(`${path}-wal`, walBytes.subarray(0, offset));
    truncations.push({ offset, outcome: await startOn(path, { keepWal: true }) });
    mutations++;
  }
  const truncationWrong = truncations.map(({ offset, outcome }) => judgePrefix(outcome, fixture, oracle, `WAL cut at ${offset}`)).filter((text) => text !== undefined);
  t.same(truncationWrong, [], `the WAL truncated at ${truncations.length} offsets: each start is a verified prefix with the replayed hash`);
  const kept = truncations.map(({ offset, outcome }) => ({ offset, batch: outcome.kind === 'started' ? outcome.lastBatch : -1 })).sort((a, b) => a.offset - b.offset);
  t.ok(kept.every((entry, index) => index === 0 || entry.batch >= kept[index - 1].batch), 'a longer WAL never keeps fewer batches');
  t.equal(kept[kept.length - 1].batch, lastBatch, 'the whole WAL keeps every batch');
  t.comment(`WAL truncations kept ${[...new Set(kept.map((entry) => entry.batch))].length} distinct prefixes, from batch ${kept[0].batch} to ${kept[kept.length - 1].batch}`);
  await oracle.settle();
  t.same(oracle.wrong, [], 'every prefix start hashes like an offline replay of that prefix');

  t.comment(`${mutations} mutations in ${Math.round((performance.now() - startedMs) / 1000)} s`);
  t.ok(mutations >= 100, 'at least 100 mutations');
});

t.test('a byte flipped inside committed WAL frames is refused, not silently dropped', async (t) => {
  const fixture = await sharedFixture();
  const walBytes = readFileSync(`${fixture.walBasePath}-wal`);
  const random = new Prng(seed ^ 0x68e31da4);
  const silent: string[] = [];
  const tally = new Map<string, number>();
  // The oracle reads only frame boundaries and commit marks (not checksums): a flip in a frame
  // before the WAL's last commit frame is damage with committed frames after it, which must be
  // refused. A flip in the last committed transaction is indistinguishable from a torn write at
  // the tail, so losing that one transaction is allowed (and reported).
  const walLayout = walFrames(walBytes);
  let tailLosses = 0;
  for (let index = 0; index < 20 * scale; index++) {
    const offset = random.int(32, walBytes.length - 1);
    const path = join(dir, 'case.db');
    removeJournal(path);
    copyFileSync(fixture.walBasePath, path);
    const damaged = Buffer.from(walBytes);
    damaged[offset] ^= random.int(1, 255);
    writeFileSync(`${path}-wal`, damaged);
    const outcome = await startOn(path, { keepWal: true });
    const frame = Math.floor((offset - 32) / walLayout.frameBytes);
    const beforeLastCommit = frame < walLayout.lastCommitFrame;
    if (outcome.kind === 'started' && outcome.lastBatch < fixture.rows.length) {
      if (beforeLastCommit) silent.push(`WAL byte ${offset} (frame ${frame} of ${walLayout.frames}, last commit ${walLayout.lastCommitFrame}): started on batch ${outcome.lastBatch} of ${fixture.rows.length}`);
      else tailLosses++;
    } else {
      tally.set(describeKind(outcome), (tally.get(describeKind(outcome)) ?? 0) + 1);
    }
  }
  t.comment(`WAL byte flips: ${silent.length} silently lost committed batches; ${tailLosses} lost only the last transaction (a torn tail, by design); ${[...tally].map(([kind, count]) => `${count} ${kind}`).join(', ')}`);
  for (const text of silent.slice(0, 5)) t.comment(text);
  t.same(silent, [], 'damage with committed frames after it is refused, never a silent shorter start');
});

/** Frame size, frame count and the index of the last commit frame of an undamaged WAL. */
function walFrames(bytes: Buffer): { frameBytes: number; frames: number; lastCommitFrame: number } {
  const frameBytes = 24 + bytes.readUInt32BE(8);
  let lastCommitFrame = -1;
  let frames = 0;
  for (let offset = 32; offset + frameBytes <= bytes.length; offset += frameBytes, frames++) {
    if (bytes.readUInt32BE(offset + 4) !== 0) lastCommitFrame = frames;
  }
  return { frameBytes, frames, lastCommitFrame };
}

// ---------------------------------------------------------------------------------------------
// The fixture

async function buildFixture(dir: string): Promise<Fixture> {
  const journalPath = join(dir, 'run.db');
  const walBasePath = join(dir, 'wal-base.db');
  const cleanPath = join(dir, 'clean.db');
  const workload = generateWorkload(seed, COMMANDS);
  const clock = new WorkloadClock(workload.timesMs);
  const opened = await openEngine({ journalPath, clock, config: loadExchangeConfig(), batchCommandsMax: BATCH_COMMANDS, snapshotEveryCommands: SNAPSHOT_EVERY });
  clock.attach(opened.state);
  // A reader from the start: checkpoints cannot restart the WAL, so it keeps every frame.
  const pin = await RawDatabase.open(journalPath);
  await pin.exec('BEGIN');
  await pin.all('SELECT count(*) FROM journal');
  try {
    await submitWorkload(opened.sequencer, workload, 0, IN_FLIGHT, () => undefined);
    await opened.sequencer.whenIdle();
    if (opened.state.haltedReason !== '') throw new Error(`the engine halted: ${opened.state.haltedReason}`);
    copyJournal(journalPath, walBasePath, { wal: true });
  } finally {
    await pin.exec('COMMIT');
    await pin.close();
    await opened.close();
  }
  copyJournal(walBasePath, cleanPath, { wal: true });
  await checkpoint(cleanPath);
  removeJournal(journalPath);
  const rows = await readJournalRows(cleanPath);
  const [newest] = await withDatabase(cleanPath, (db) => db.all<{ sequence: number }>('SELECT sequence FROM snapshots ORDER BY sequence DESC LIMIT 1'));
  return { dir, walBasePath, cleanPath, rows, fullHash: stateHash(replayEntries(entriesOfRows(rows))), newestSnapshotSequence: newest.sequence };
}

// ---------------------------------------------------------------------------------------------
// Starting on a journal

/** Opens the journal and recovers its state the way openEngine does; never throws. */
async function startOn(path: string, options: { keepWal: boolean } = { keepWal: false }): Promise<Outcome> {
  if (!options.keepWal) rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  let journal: SqliteJournal | undefined;
  try {
    journal = await SqliteJournal.open(path);
    const { recovery } = await recoverState(journal);
    const lastBatch = journal.batch;
    const [row] = await withDatabase(path, (db) => db.all<{ hash: string }>('SELECT hash FROM journal WHERE batch = ?', [lastBatch]));
    return { kind: 'started', hash: recovery.stateHash, lastBatch, lastBatchHash: row?.hash, damagedSnapshots: recovery.damagedSnapshots };
  } catch (error) {
    if (error instanceof JournalCorruptError) return { kind: 'refused', reason: error.reason, message: error.message };
    return { kind: 'failed', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  } finally {
    await journal?.close().catch(() => undefined);
  }
}

function expectRefused(outcome: Outcome, reason: JournalCorruption, detail: string, what: string): string | undefined {
  if (outcome.kind === 'refused' && outcome.reason === reason) {
    const text = outcome.message.slice(outcome.message.indexOf('): ') + 3);
    if (text === detail || text.startsWith(`${detail} `)) return undefined;
  }
  return `${what}: expected ${reason} (${detail}), got ${describe(outcome)}`;
}

/** A start must be the original's first k batches, with the state of a replay of exactly those. */
function judgePrefix(outcome: Outcome, fixture: Fixture, oracle: PrefixOracle, what: string): string | undefined {
  if (outcome.kind !== 'started') return `${what}: ${describe(outcome)}`;
  const expectedHash = outcome.lastBatch === 0 ? undefined : fixture.rows[outcome.lastBatch - 1]?.hash;
  if (outcome.lastBatch > fixture.rows.length || outcome.lastBatchHash !== expectedHash) return `${what}: batch ${outcome.lastBatch} is not the original's`;
  oracle.expect(outcome.lastBatch, outcome.hash, what);
  return undefined;
}

function describeKind(outcome: Outcome): string {
  return outcome.kind === 'refused' ? `refused (${outcome.reason})` : outcome.kind === 'failed' ? 'failed' : 'started with every batch';
}

function describe(outcome: Outcome): string {
  if (outcome.kind === 'started') return `started on batch ${outcome.lastBatch} (hash ${outcome.hash.slice(0, 12)})`;
  if (outcome.kind === 'refused') return `refused: ${outcome.message}`;
  return `failed: ${outcome.message}`;
}

/** State hashes after the original's first k batches, replayed from scratch, checked in one pass. */
class PrefixOracle {
  readonly wrong: string[] = [];
  private readonly expected = new Map<number, { hash: string; what: string }[]>();

  constructor(private readonly rows: JournalRow[]) {}

  expect(batches: number, hash: string, what: string): void {
    const list = this.expected.get(batches) ?? [];
    list.push({ hash, what });
    this.expected.set(batches, list);
  }

  async settle(): Promise<void> {
    const state = emptyState();
    this.check(0, stateHash(state));
    for (let batch = 1; batch <= this.rows.length; batch++) {
      replayEntries(entriesOfRows([this.rows[batch - 1]]), state);
      if (this.expected.has(batch)) this.check(batch, stateHash(state));
    }
  }

  private check(batch: number, hash: string): void {
    for (const expected of this.expected.get(batch) ?? []) {
      if (expected.hash !== hash) this.wrong.push(`${expected.what}: started on batch ${batch} with hash ${expected.hash.slice(0, 12)}, a replay gives ${hash.slice(0, 12)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations

function editRows(path: string, sql: string, params: unknown[]): Promise<void> {
  return withDatabase(path, (db) => db.run(sql, params));
}

async function swapColumns(path: string, [a, b]: [number, number], columns: string[]): Promise<void> {
  await withDatabase(path, async (db) => {
    const [rowA] = await db.all<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM journal WHERE batch = ?`, [a]);
    const [rowB] = await db.all<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM journal WHERE batch = ?`, [b]);
    const assignments = columns.map((column) => `${column} = ?`).join(', ');
    await db.exec('BEGIN');
    await db.run(`UPDATE journal SET ${assignments} WHERE batch = ?`, [...columns.map((column) => rowB[column]), a]);
    await db.run(`UPDATE journal SET ${assignments} WHERE batch = ?`, [...columns.map((column) => rowA[column]), b]);
    await db.exec('COMMIT');
  });
}

/** Two different batches, the smaller first. */
function twoBatches(random: Prng, lastBatch: number): [number, number] {
  const a = random.int(1, lastBatch);
  let b = random.int(1, lastBatch - 1);
  if (b >= a) b++;
  return a < b ? [a, b] : [b, a];
}

function otherCharacter(code: number, random: Prng): string {
  let replacement = code;
  while (replacement === code) replacement = random.int(32, 126);
  return String.fromCharCode(replacement);
}

/** The file offset of a random byte of one row's body or hash text (searching for a 24-byte piece of it). */
function rowTextOffset(fileBytes: Buffer, rows: JournalRow[], random: Prng, column: 'body' | 'hash'): { offset: number; what: string } {
  for (;;) {
    const batch = random.int(1, rows.length);
    const text = rows[batch - 1][column];
    const start = random.int(0, text.length - 24);
    const found = fileBytes.indexOf(Buffer.from(text.slice(start, start + 24), 'latin1'));
    if (found < 0 || fileBytes.indexOf(Buffer.from(text.slice(start, start + 24), 'latin1'), found + 1) >= 0) continue;
    const within = random.int(0, 23);
    return { offset: found + within, what: `batch ${batch} ${column} byte ${start + within}` };
  }
}

function flipByte(path: string, offset: number, mask: number): void {
  const bytes = readFileSync(path);
  bytes[offset] ^= mask;
  writeFileSync(path, bytes);
}
