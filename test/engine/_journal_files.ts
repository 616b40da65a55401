// Raw access to journal files for the durability tests: reading rows past SqliteJournal (so a test
// can see every entry, including those a snapshot covers), copying a journal with or without its
// WAL, checkpointing a copy, editing rows, and replaying entries from scratch. Everything here
// opens its own sqlite3 connection and closes it before returning.

import { copyFileSync, existsSync, rmSync } from 'node:fs';
import sqlite3 from 'sqlite3';
import { applyCommand, decodeBatch, emptyState, type ExchangeState, type JournalEntry } from '../../engine/index.js';

export interface JournalRow {
  batch: number;
  first_sequence: number;
  last_sequence: number;
  body: string;
  hash: string;
}

export interface SnapshotRow {
  sequence: number;
  batch: number;
  state_hash: string;
}

/** Runs `work` on a fresh connection to `path` and closes it (even when `work` throws). */
export async function withDatabase<T>(path: string, work: (db: RawDatabase) => Promise<T>): Promise<T> {
  const db = await RawDatabase.open(path);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

export class RawDatabase {
  private constructor(readonly db: sqlite3.Database) {}

  static open(path: string): Promise<RawDatabase> {
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (error) => (error ? reject(error) : resolve(new RawDatabase(db))));
    });
  }

  all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
  }

  run(sql: string, params: unknown[] = []): Promise<void> {
    return new Promise((resolve, reject) => this.db.run(sql, params, (error) => (error ? reject(error) : resolve())));
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(error) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }
}

/** Every journal row, in batch order, optionally only those after `afterBatch`. */
export function readJournalRows(path: string, afterBatch = 0): Promise<JournalRow[]> {
  return withDatabase(path, (db) =>
    db.all<JournalRow>('SELECT batch, first_sequence, last_sequence, body, hash FROM journal WHERE batch > ? ORDER BY batch', [afterBatch]),
  );
}

export function readSnapshotRows(path: string): Promise<SnapshotRow[]> {
  return withDatabase(path, (db) => db.all<SnapshotRow>('SELECT sequence, batch, state_hash FROM snapshots ORDER BY sequence'));
}

/** The entries of rows, in order, decoded as the engine decodes them (either body format). */
export function entriesOfRows(rows: readonly JournalRow[]): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const row of rows) entries.push(...decodeBatch(row.body));
  return entries;
}

/**
 * A command as canonical JSON (keys sorted at every level), so a command is compared by what it
 * says: the journal's compact format gives a place or cancel back with its keys in one fixed order.
 */
export function commandText(command: unknown): string {
  return JSON.stringify(command, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** The text a command is journaled as (entries are compared by it). */
export function commandTextsOfRows(rows: readonly JournalRow[]): Map<number, { timeMs: number; text: string }> {
  const texts = new Map<number, { timeMs: number; text: string }>();
  for (const entry of entriesOfRows(rows)) texts.set(entry.sequence, { timeMs: entry.timeMs, text: commandText(entry.command) });
  return texts;
}

/** Applies entries, in order, to `state` (a fresh empty state by default): replay from scratch. */
export function replayEntries(entries: readonly JournalEntry[], state: ExchangeState = emptyState()): ExchangeState {
  for (const entry of entries) applyCommand(state, entry.command, entry.sequence, entry.timeMs);
  return state;
}

/** Copies a journal file; with `wal`, its -wal file too (never -shm: the opener rebuilds it). */
export function copyJournal(from: string, to: string, options: { wal: boolean }): void {
  removeJournal(to);
  copyFileSync(from, to);
  if (options.wal && existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
}

export function removeJournal(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

/** Moves everything in the WAL into the main file and empties the WAL, on its own connection. */
export function checkpoint(path: string): Promise<void> {
  return withDatabase(path, (db) => db.exec('PRAGMA wal_checkpoint(TRUNCATE)'));
}
