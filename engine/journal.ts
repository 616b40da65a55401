import sqlite3 from 'sqlite3';
import { hash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { scanWal } from './wal_scan.js';
import { BatchFormatError, decodeBatch, encodeBatch, type JournalEntry } from './journal_codec.js';
import { faultPoint } from './fault_points.js';

// The journal: every accepted command, in sequence, in a SQLite file (WAL, synchronous = FULL).
// One row holds one batch (the commands the sequencer applied together), so one fsync commits a
// whole group; each row is hash-chained to the one before:
//
//   hash = sha256(previous hash ‖ batch ‖ first sequence ‖ last sequence ‖ body)
//
// so a changed, deleted, duplicated or reordered row is found when the journal is opened, and the
// engine refuses to start on it (JournalCorruptError, with a reason). A tail lost to a crash is not
// corruption: SQLite's own WAL checksums drop an incomplete transaction, leaving a verified prefix;
// damage in the middle of the WAL (which SQLite would also drop, silently) is caught by wal_scan.ts.
// Snapshots of the whole state live in the same file, each tied to the batch it follows.
//
// Checkpoints (copying the WAL into the main file) never run on the writer's connection: SQLite's
// automatic checkpoint would run inside the COMMIT of whichever batch crossed the threshold, adding
// its copy and an fsync of the main file to that batch's ack (measured here: commit p99 8-10 ms
// against 0.9 ms without). A second connection, on its own thread of the pool, checkpoints each
// time about `checkpointEveryBytes` more have been written to the WAL: PASSIVE rounds first, which
// never block the writer, then a short RESTART (see `checkpoint`), after which the WAL is written
// over from its start. So the WAL file stays about that size, and once it has reached it, a
// commit's fsync no longer extends the file: 0.24 ms a commit instead of 0.37 with small batches,
// and ext4 then has no metadata to commit, so other files' writes (history) no longer ride along.

export type { JournalEntry } from './journal_codec.js';

export interface StoredSnapshot {
  sequence: number;
  batch: number;
  stateHash: string;
  body: string;
}

export type JournalCorruption = 'hash_mismatch' | 'batch_gap' | 'sequence_gap' | 'unreadable_row' | 'unreadable_file' | 'damaged_wal' | 'wrong_settings' | 'wrong_schema';

export class JournalCorruptError extends Error {
  override name = 'JournalCorruptError';
  constructor(
    readonly reason: JournalCorruption,
    detail: string,
  ) {
    super(`journal corrupt (${reason}): ${detail}`);
  }
}

const SCHEMA_VERSION = '1';
/** The tables, created together in one transaction in a new file (so their root pages are fixed). */
const SCHEMA_SQL = `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS journal (
         batch INTEGER PRIMARY KEY, first_sequence INTEGER NOT NULL, last_sequence INTEGER NOT NULL,
         body TEXT NOT NULL, hash TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS snapshots (
         sequence INTEGER PRIMARY KEY, batch INTEGER NOT NULL, state_hash TEXT NOT NULL, body TEXT NOT NULL);`;
/** sqlite_master in creation order. */
const SCHEMA_ROWS_QUERY = 'SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid';

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  rootpage: number;
  sql: string | null;
}

let expectedSchema: Promise<SchemaRow[]> | undefined;

/** sqlite_master as SQLite writes it for SCHEMA_SQL in a new file (made once, in memory). */
function expectedSchemaRows(): Promise<SchemaRow[]> {
  expectedSchema ??= new Promise<SchemaRow[]>((resolve, reject) => {
    const db = new sqlite3.Database(':memory:', (openError) => {
      if (openError) return reject(openError);
      db.exec(SCHEMA_SQL, (execError) => {
        if (execError) return db.close(() => reject(execError));
        db.all(SCHEMA_ROWS_QUERY, (queryError, rows) => db.close(() => (queryError ? reject(queryError) : resolve(rows as SchemaRow[]))));
      });
    });
  });
  return expectedSchema;
}
const GENESIS_HASH = '0'.repeat(64);
/** Snapshots kept in the file: the newest few, so a damaged one still leaves a fallback. */
const SNAPSHOTS_KEPT = 2;
/** Journal rows read per query when loading (about 40 MB of text at 500 commands a row). */
const LOAD_PAGE_ROWS = 256;
/** WAL bytes written (as estimated by `walBytesOfRow`) between background checkpoints: the WAL file stays about this size. */
const CHECKPOINT_EVERY_BYTES_DEFAULT = 16 * 1024 * 1024;
/** Each page SQLite writes to the WAL is a frame: the page and a 24-byte frame header. */
const WAL_FRAME_HEADER_BYTES = 24;
/** WAL frames (pages) left uncopied below which the final, writer-blocking RESTART step runs. */
const CHECKPOINT_RESTART_FRAMES_MAX = 64;
const CHECKPOINT_PASSIVE_ROUNDS_MAX = 8;
/** How long a commit waits while a RESTART checkpoint holds the write lock, before it fails. */
const WRITER_BUSY_TIMEOUT_MS = 10_000;

export interface JournalOptions {
  /** WAL bytes written between background checkpoints; 0 leaves checkpoints to SQLite (on the writer). */
  checkpointEveryBytes?: number;
}

export interface JournalContents {
  /**
   * The first batch after the snapshot (1 when there is none). `entriesOf` reads the batches from
   * there a page at a time and decodes them one by one, so recovery holds neither the journal's
   * text nor its decoded commands in memory (850 MB for a 166 MB journal when it held both).
   */
  firstBatch: number;
  /** How many commands the batches from `firstBatch` on hold. */
  entryCount: number;
  snapshot: StoredSnapshot | undefined;
  /** Snapshots skipped because their body did not match their hash. */
  damagedSnapshots: number[];
  lastSequence: number;
  lastBatch: number;
}

export class SqliteJournal {
  private insertBatch: sqlite3.Statement | undefined;
  private lastHash = GENESIS_HASH;
  private lastBatch = 0;
  private lastSequence = 0;
  private failure: Error | undefined;
  /** The connection that runs background checkpoints (undefined when SQLite's own are used). */
  private checkpointer: sqlite3.Database | undefined;
  private checkpointRunning: Promise<void> | undefined;
  private walBytesSinceCheckpoint = 0;
  private readonly checkpointEveryBytes: number;
  /** Read from the file at open (4096 unless the file says otherwise). */
  private pageSize = 4096;

  private constructor(
    private readonly db: sqlite3.Database,
    readonly path: string,
    options: JournalOptions,
  ) {
    this.checkpointEveryBytes = options.checkpointEveryBytes ?? CHECKPOINT_EVERY_BYTES_DEFAULT;
  }

  /** Opens (creating if needed) and checks the settings on this very connection. */
  static async open(path: string, options: JournalOptions = {}): Promise<SqliteJournal> {
    refuseDamagedHeader(path);
    refuseDamagedWal(path);
    const db = await openDatabase(path);
    const journal = new SqliteJournal(db, path, options);
    try {
      await journal.configure();
      if (journal.checkpointEveryBytes > 0) await journal.openCheckpointer();
    } catch (error) {
      await journal.close();
      throw error;
    }
    return journal;
  }

  /** Turns SQLite's automatic checkpoint off on the writer and opens the checkpointing connection. */
  private async openCheckpointer(): Promise<void> {
    await this.exec(`PRAGMA wal_autocheckpoint = 0; PRAGMA busy_timeout = ${WRITER_BUSY_TIMEOUT_MS}`);
    const checkpointer = await openDatabase(this.path, sqlite3.OPEN_READWRITE);
    this.checkpointer = checkpointer;
    // A checkpoint must make the main file durable before the WAL is reused.
    await new Promise<void>((resolve, reject) => checkpointer.exec('PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000', (error) => (error ? reject(error) : resolve())));
  }

  /** Resolves when no background checkpoint is running. */
  async checkpointsSettled(): Promise<void> {
    while (this.checkpointRunning !== undefined) await this.checkpointRunning;
  }

  /** Starts the background checkpoint once enough has been written to the WAL since the last one. */
  private noteAppended(rowBytes: number): void {
    this.walBytesSinceCheckpoint += walBytesOfRow(rowBytes, this.pageSize);
    if (this.checkpointer === undefined || this.checkpointRunning !== undefined || this.walBytesSinceCheckpoint < this.checkpointEveryBytes) return;
    this.walBytesSinceCheckpoint = 0;
    // A failed checkpoint loses nothing (the WAL still holds every frame); the next one retries.
    this.checkpointRunning = this.checkpoint(this.checkpointer).catch(() => undefined).then(() => {
      this.checkpointRunning = undefined;
    });
  }

  /**
   * PASSIVE rounds copy the WAL into the main file while the writer goes on, until what is left
   * is small; then one RESTART copies the rest and makes the next commit start the WAL over. Only
   * that last step holds the writer back (a few hundred KiB and one fsync). PASSIVE alone would
   * never finish under steady load, since frames arrive while it copies, and the WAL would grow.
   */
  private async checkpoint(checkpointer: sqlite3.Database): Promise<void> {
    const run = (mode: 'PASSIVE' | 'RESTART') =>
      new Promise<{ log: number; checkpointed: number }>((resolve, reject) =>
        checkpointer.get(`PRAGMA wal_checkpoint(${mode})`, (error, row) => (error ? reject(error) : resolve(row as { log: number; checkpointed: number }))),
      );
    for (let round = 0; round < CHECKPOINT_PASSIVE_ROUNDS_MAX; round++) {
      const { log, checkpointed } = await run('PASSIVE');
      if (log - checkpointed <= CHECKPOINT_RESTART_FRAMES_MAX) break;
    }
    await run('RESTART');
  }

  /**
   * The schema is created only in a new file. An existing file's schema must be, row for row, the
   * one SQLite makes from SCHEMA_SQL (names, column definitions, root pages). Otherwise SQLite read a
   * damaged first page, and what it would do with it is silent: a flipped byte in a table's name made
   * the CREATE below start a new, empty journal, and one in "INTEGER PRIMARY KEY" made every batch
   * number read as NULL, so the journal looked empty. Either way the engine would have started on
   * nothing.
   */
  private async refuseDamagedSchema(): Promise<void> {
    const found = await this.allRows<SchemaRow>(SCHEMA_ROWS_QUERY);
    const pages = (await this.get<{ page_count: number }>('PRAGMA page_count')).page_count;
    if (found.length === 0 && pages <= 1) return;
    const expected = await expectedSchemaRows();
    // A first open that crashed while creating the tables (before session 3 each was its own
    // transaction) leaves a prefix of them and no other pages; a prefix with more pages than its
    // tables' roots means rows went missing from the schema (say, a damaged cell count).
    const tornCreation = found.length < expected.length && pages <= 1 + found.length;
    const problem = expected.slice(0, found.length).find((row, index) => JSON.stringify(row) !== JSON.stringify(found[index]));
    if (problem !== undefined || (found.length !== expected.length && !tornCreation)) {
      const row = problem ?? found[found.length - 1];
      throw new JournalCorruptError('unreadable_file', `the schema in the file (${pages} pages) is not the journal's: ${row?.type ?? 'entry'} ${row?.name ?? ''} differs`);
    }
  }

  /** The settings every open must have; read back, because a reopened WAL file can read NORMAL. */
  async settings(): Promise<{ journalMode: string; synchronous: number; foreignKeys: number; schemaVersion: string | undefined }> {
    const journalMode = (await this.get<{ journal_mode: string }>('PRAGMA journal_mode')).journal_mode;
    const synchronous = (await this.get<{ synchronous: number }>('PRAGMA synchronous')).synchronous;
    const foreignKeys = (await this.get<{ foreign_keys: number }>('PRAGMA foreign_keys')).foreign_keys;
    const row = await this.get<{ value: string } | undefined>("SELECT value FROM meta WHERE key = 'schema_version'");
    return { journalMode, synchronous, foreignKeys, schemaVersion: row?.value };
  }

  /** The writer connection's automatic checkpoint threshold in pages (0: off, checkpoints run in the background). */
  async autocheckpointPages(): Promise<number> {
    return (await this.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint')).wal_autocheckpoint;
  }

  private async configure(): Promise<void> {
    await this.exec('PRAGMA journal_mode = WAL');
    await this.exec('PRAGMA synchronous = FULL');
    await this.exec('PRAGMA foreign_keys = ON');
    await this.refuseDamagedSchema();
    // One transaction, so a crash cannot leave half a schema (nothing else uses the connection yet).
    await this.exec(`BEGIN IMMEDIATE;
       ${SCHEMA_SQL}
       INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}');
       COMMIT;`);
    const settings = await this.settings();
    if (settings.journalMode !== 'wal' || settings.synchronous !== 2 || settings.foreignKeys !== 1) {
      throw new JournalCorruptError('wrong_settings', `journal_mode=${settings.journalMode} synchronous=${settings.synchronous} foreign_keys=${settings.foreignKeys}`);
    }
    if (settings.schemaVersion !== SCHEMA_VERSION) throw new JournalCorruptError('wrong_schema', `schema version ${settings.schemaVersion}`);
    this.pageSize = (await this.get<{ page_size: number }>('PRAGMA page_size')).page_size;
    // With a callback: a statement that fails to prepare (a damaged schema) would otherwise emit an unhandled 'error'.
    this.insertBatch = await new Promise<sqlite3.Statement>((resolve, reject) => {
      const statement = this.db.prepare('INSERT INTO journal (batch, first_sequence, last_sequence, body, hash) VALUES (?, ?, ?, ?, ?)', (error: Error | null) => (error ? reject(unreadable(error)) : resolve(statement)));
    });
  }

  /**
   * Reads and verifies the whole chain, then picks the newest snapshot (at or below
   * `maxSnapshotSequence`) whose body matches its hash and whose batch is in the chain; returns the
   * entries after it. Throws JournalCorruptError.
   */
  async load(maxSnapshotSequence = Number.MAX_SAFE_INTEGER): Promise<JournalContents> {
    let previousHash = GENESIS_HASH;
    let previousBatch = 0;
    let previousSequence = 0;
    const batchLastSequence = new Map<number, number>();
    // A page at a time, bodies dropped once hashed: the whole chain is checked without holding it.
    for await (const rows of this.pages(0, true)) {
      for (const row of rows) {
        if (row.batch !== previousBatch + 1) throw new JournalCorruptError('batch_gap', `batch ${row.batch} follows ${previousBatch}`);
        if (row.first_sequence !== previousSequence + 1 || row.last_sequence < row.first_sequence) {
          throw new JournalCorruptError('sequence_gap', `batch ${row.batch} holds ${row.first_sequence}..${row.last_sequence} after ${previousSequence}`);
        }
        if (typeof row.body !== 'string' || batchHash(previousHash, row.batch, row.first_sequence, row.last_sequence, row.body) !== row.hash) {
          throw new JournalCorruptError('hash_mismatch', `batch ${row.batch}`);
        }
        previousHash = row.hash;
        previousBatch = row.batch;
        previousSequence = row.last_sequence;
        batchLastSequence.set(row.batch, row.last_sequence);
      }
    }
    this.lastHash = previousHash;
    this.lastBatch = previousBatch;
    this.lastSequence = previousSequence;
    const { snapshot, damaged } = await this.newestValidSnapshot(batchLastSequence, maxSnapshotSequence);
    const entryCount = previousSequence - (snapshot?.sequence ?? 0);
    return { firstBatch: (snapshot?.batch ?? 0) + 1, entryCount, snapshot, damagedSnapshots: damaged, lastSequence: previousSequence, lastBatch: previousBatch };
  }

  /**
   * The rows after `afterBatch`, in order, a page at a time (the chain was verified by `load`; the
   * file does not change while the engine recovers). `withHash` also reads the hash column.
   */
  async *pages(afterBatch: number, withHash = false): AsyncGenerator<{ batch: number; first_sequence: number; last_sequence: number; body: string; hash: string }[]> {
    const columns = withHash ? 'batch, first_sequence, last_sequence, body, hash' : 'batch, first_sequence, last_sequence, body';
    for (let last = afterBatch; ; ) {
      const rows = await this.allRows<{ batch: number; first_sequence: number; last_sequence: number; body: string; hash: string }>(
        `SELECT ${columns} FROM journal WHERE batch > ? ORDER BY batch LIMIT ${LOAD_PAGE_ROWS}`,
        [last],
      );
      if (rows.length === 0) return;
      yield rows;
      last = rows[rows.length - 1].batch;
    }
  }

  /** Appends one batch as one transaction; resolves after COMMIT (fsync'd at synchronous = FULL). */
  append(entries: readonly JournalEntry[]): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const batch = ++this.lastBatch;
    const firstSequence = entries[0].sequence;
    const lastSequence = entries[entries.length - 1].sequence;
    if (firstSequence !== this.lastSequence + 1) return Promise.reject(new Error(`batch starts at ${firstSequence}, journal is at ${this.lastSequence}`));
    const body = encodeBatch(entries);
    const hash = batchHash(this.lastHash, batch, firstSequence, lastSequence, body);
    this.lastHash = hash;
    this.lastSequence = lastSequence;
    faultPoint('journal.before_commit');
    return new Promise((resolve, reject) => {
      // A batch is one row, so one autocommit INSERT is the whole transaction: a single round trip
      // to SQLite's thread, committed (and fsync'd at synchronous = FULL) before its callback.
      this.insertBatch!.run([batch, firstSequence, lastSequence, body, hash], (error: Error | null) => {
        if (error) {
          // After a failed write the chain in memory is ahead of the file: refuse everything after.
          this.failure = error;
          reject(error);
          return;
        }
        faultPoint('journal.after_commit');
        this.noteAppended(body.length);
        resolve(batch);
      });
    });
  }

  /**
   * Stores a snapshot taken right after `batch`; keeps the newest few. Two statements, each its own
   * autocommit transaction, never BEGIN … COMMIT: the journal's INSERT is a prepared statement, and
   * node-sqlite3 runs those straight on the connection, outside the Database's queue, so an append
   * could land inside an open transaction and be answered before that transaction committed. The
   * single BEGIN IMMEDIATE … COMMIT snapshot write before session 3 had that window. A crash
   * between the two statements leaves one snapshot more, which the next write removes.
   */
  async writeSnapshot(snapshot: StoredSnapshot): Promise<void> {
    await this.run('INSERT OR REPLACE INTO snapshots (sequence, batch, state_hash, body) VALUES (?, ?, ?, ?)', [snapshot.sequence, snapshot.batch, snapshot.stateHash, snapshot.body]);
    await this.run(`DELETE FROM snapshots WHERE sequence NOT IN (SELECT sequence FROM snapshots ORDER BY sequence DESC LIMIT ${SNAPSHOTS_KEPT})`);
    this.noteAppended(snapshot.body.length);
  }

  /** One statement on the writer; resolves with the number of rows it changed. */
  private run(sql: string, parameters: unknown[] = []): Promise<number> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, parameters, function (this: sqlite3.RunResult, error: Error | null) {
        if (error) reject(unreadable(error));
        else resolve(this.changes);
      }),
    );
  }

  get sequence(): number {
    return this.lastSequence;
  }

  get batch(): number {
    return this.lastBatch;
  }

  /** Closes both connections; the writer's close checkpoints what is left. */
  async close(): Promise<void> {
    await this.checkpointRunning;
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    if (checkpointer !== undefined) await new Promise<void>((resolve, reject) => checkpointer.close((error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve, reject) => {
      const closeDatabase = () => this.db.close((error) => (error ? reject(error) : resolve()));
      if (this.insertBatch === undefined) return closeDatabase();
      this.insertBatch.finalize(closeDatabase);
    });
  }

  private async newestValidSnapshot(batchLastSequence: Map<number, number>, maxSequence: number): Promise<{ snapshot: StoredSnapshot | undefined; damaged: number[] }> {
    const rows = (await this.allRows<{ sequence: number; batch: number; state_hash: string; body: string }>(
      'SELECT sequence, batch, state_hash, body FROM snapshots ORDER BY sequence DESC',
    )).filter((row) => row.sequence <= maxSequence);
    const damaged: number[] = [];
    for (const row of rows) {
      const sound = batchLastSequence.get(row.batch) === row.sequence && typeof row.body === 'string' && sha256(row.body) === row.state_hash;
      if (sound) return { snapshot: { sequence: row.sequence, batch: row.batch, stateHash: row.state_hash, body: row.body }, damaged };
      damaged.push(row.sequence);
    }
    return { snapshot: undefined, damaged };
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(unreadable(error)) : resolve())));
  }

  private get<T>(sql: string): Promise<T> {
    return new Promise((resolve, reject) => this.db.get(sql, (error, row) => (error ? reject(unreadable(error)) : resolve(row as T))));
  }

  private allRows<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, parameters, (error, rows) => (error ? reject(unreadable(error)) : resolve(rows as T[]))));
  }
}

export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * What appending a row of `rowBytes` writes to the WAL, estimated: SQLite writes whole pages, one
 * frame each (page + header): the table's last leaf, the row's overflow pages, and page 1 whenever
 * the file grew. Measured with this journal's rows: 1.1 frames a commit for one command (~60
 * bytes), 3.2 for 125 commands, 6 for 400; the estimate is 2, 3 and 5. Counting the row's own bytes
 * instead (before session 4) let the WAL grow 10-70× past the threshold when batches are small, as
 * they are at moderate load: about 1 GB between checkpoints at 10,000 orders/s (commits of ~5
 * commands), every commit's fsync growing the file.
 */
function walBytesOfRow(rowBytes: number, pageSize: number): number {
  return (Math.ceil(rowBytes / pageSize) + 1) * (pageSize + WAL_FRAME_HEADER_BYTES);
}

function batchHash(previousHash: string, batch: number, firstSequence: number, lastSequence: number, body: string): string {
  return hash('sha256', `${previousHash}\n${batch}\n${firstSequence}\n${lastSequence}\n${body}`, 'hex');
}

/**
 * The entries after the loaded snapshot, one batch (an array) at a time, read from the file a page
 * at a time and checked to follow each other.
 */
export async function* entriesOf(journal: SqliteJournal, contents: Pick<JournalContents, 'firstBatch' | 'snapshot'>): AsyncGenerator<JournalEntry[]> {
  let expected = (contents.snapshot?.sequence ?? 0) + 1;
  for await (const rows of journal.pages(contents.firstBatch - 1)) {
    for (const row of rows) {
      const entries = decodeRow(row.batch, row.body);
      for (const entry of entries) {
        if (entry.sequence !== expected) throw new JournalCorruptError('sequence_gap', `entry ${entry.sequence} where ${expected} belongs`);
        expected++;
      }
      if (expected !== row.last_sequence + 1) throw new JournalCorruptError('sequence_gap', `batch ${row.batch} ends at ${expected - 1}, its row says ${row.last_sequence}`);
      yield entries;
    }
  }
}

/** A row's entries; a malformed body (which the hash chain says was written so) is corruption all the same. */
function decodeRow(batch: number, body: string): JournalEntry[] {
  try {
    return decodeBatch(body);
  } catch (error) {
    if (error instanceof BatchFormatError) throw new JournalCorruptError('unreadable_row', `batch ${batch}: ${error.message}`);
    throw error;
  }
}

/**
 * SQLite would silently drop committed transactions after a damaged frame (see wal_scan.ts), so the
 * log is checked before SQLite sees it: damage in the middle, or a damaged header, refuses to start.
 */
function refuseDamagedWal(path: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(`${path}-wal`);
  } catch {
    return;
  }
  const scan = scanWal(bytes);
  if (scan.badHeader) throw new JournalCorruptError('damaged_wal', 'the WAL header is damaged');
  if (scan.validFrameAfterBad) throw new JournalCorruptError('damaged_wal', `WAL frame ${scan.firstBadFrame} is damaged and valid frames follow it`);
}

/**
 * The file header's read and write format versions (bytes 18 and 19) are 1 or 2 in any file SQLite
 * wrote; any other value makes SQLite open the file read-only (or not at all), which would surface
 * as a write failure after start-up instead of a refusal to start.
 */
function refuseDamagedHeader(path: string): void {
  const header = Buffer.alloc(100);
  let length: number;
  try {
    const fd = openSync(path, 'r');
    try {
      length = readSync(fd, header, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return;
  }
  if (length < 100) return;
  const versionsKnown = [1, 2].includes(header[18]) && [1, 2].includes(header[19]);
  if (!versionsKnown) throw new JournalCorruptError('unreadable_file', `the file header's format versions are ${header[18]} and ${header[19]}`);
}

function openDatabase(path: string, mode = sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (error) => (error ? reject(unreadable(error)) : resolve(db)));
  });
}

/**
 * SQLite's word that the file is damaged. SQLITE_ERROR belongs here too: the engine's own statements
 * are fixed, so they fail that way only when the schema SQLite read from the file is garbled (a
 * flipped byte on the first page reads as "no such column: body" or "table meta already exists").
 * I/O, permission and lock errors stay what they are.
 */
function unreadable(error: Error): Error {
  return /SQLITE_CORRUPT|SQLITE_NOTADB|SQLITE_ERROR|SQLITE_SCHEMA|SQLITE_MISMATCH|SQLITE_RANGE|SQLITE_FORMAT|malformed/i.test(error.message) ? new JournalCorruptError('unreadable_file', error.message) : error;
}
