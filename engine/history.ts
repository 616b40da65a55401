import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import type { Event, OrderView, TradeView } from './events.js';

// Queryable history, projected from events into SQLite: every order in its final state (filled or
// cancelled) and every trade. Open orders live in the engine's state; closed ones only here.
//
// History is derived data, so it stays off the acknowledgement path: a separate file and
// connection, written right after each batch commits, allowed to lag. Each projection transaction
// also records `projected_sequence`; recovery replays from a snapshot no newer than that and
// projects the events of every command after it, so history is complete again after any crash.
//
// Durability: history is written at synchronous = OFF (no fsync at all), because it can always be
// rebuilt from the journal. Measured at the gateway's capacity, against NORMAL (whose checkpoint
// fsyncs shared the disk with the journal's commits): journal commit p99 5.6-6.7 → 3.8-4.2 ms and
// 40.6-48.1k → 45.1-51.6k orders/s (3 alternating pairs, together with one transaction per
// flush). OFF survives a crash of the process (the OS has every write), but an OS crash or power
// cut can leave the file torn, not just short. So a small state file beside it
// (`<history>.state`, written with fsync and rename) records the machine's boot id while the file
// is being written, and `clean` once close() has synced it. At open, a file left unclean under
// another boot id is deleted and history is rebuilt from the start of the journal (recovery
// projects every command after projected_sequence, here 0). Where the boot id cannot be read
// (not Linux), history stays at synchronous = NORMAL, as before.

export interface TradeQuery {
  instrument?: string;
  accountId?: number;
  orderId?: number;
  /** Instruments whose name starts with this (a currency's instruments), e.g. 'H100_'. */
  instrumentPrefix?: string;
  startTradeId?: number;
  endTradeId?: number;
  startTimeMs?: number;
  endTimeMs?: number;
  count: number;
  newestFirst: boolean;
}

export interface OrderQuery {
  accountId: number;
  instrument?: string;
  instrumentPrefix?: string;
  label?: string;
  count: number;
  offset: number;
}

/** Pending rows that trigger a write at once, and the longest a row waits otherwise. */
const FLUSH_ROWS = 4_096;
const FLUSH_DELAY_MS = 20;

export class HistoryStore {
  private projectedThrough = 0;
  /** Per table, an INSERT of each of INSERT_CHUNK_ROWS rows, prepared once (see writeRows). */
  private statements: { orders: Map<number, sqlite3.Statement>; trades: Map<number, sqlite3.Statement>; begin: sqlite3.Statement; projected: sqlite3.Statement; commit: sqlite3.Statement } | undefined;
  private writes: Promise<void> = Promise.resolve();
  /** The first failed write, if any: history then stops and the next start re-projects. */
  failure: Error | undefined;

  private constructor(
    private readonly db: sqlite3.Database,
    private readonly path: string,
    private readonly bootId: string | undefined,
    /** True when the file was discarded at open (torn by an OS crash or power cut) and starts empty. */
    readonly discarded: boolean,
  ) {}

  /** `bootId`: the machine's boot id (read from /proc when omitted; tests pass their own). */
  static async open(path: string, options: { bootId?: string } = {}): Promise<HistoryStore> {
    const bootId = options.bootId ?? currentBootId();
    const discarded = bootId !== undefined && discardIfTorn(path, bootId);
    // Before the first unsynced write: from here on, until close() says clean, the file may be torn.
    if (bootId !== undefined) writeStateFile(path, { bootId, clean: false });
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const opened = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (error) => (error ? reject(error) : resolve(opened)));
    });
    const store = new HistoryStore(db, path, bootId, discarded);
    try {
      await store.setUp();
    } catch (error) {
      await new Promise<void>((resolve) => db.close(() => resolve()));
      throw error;
    }
    return store;
  }

  /** Settings, schema, how far history reaches, and the prepared INSERTs. */
  private async setUp(): Promise<void> {
    const db = this.db;
    await this.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${this.bootId === undefined ? 'NORMAL' : 'OFF'};
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT OR IGNORE INTO meta (key, value) VALUES ('projected_sequence', '0');
      CREATE TABLE IF NOT EXISTS orders (
        order_id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, instrument TEXT NOT NULL, label TEXT NOT NULL,
        state TEXT NOT NULL, updated_ms INTEGER NOT NULL, view TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account_id, order_id);
      CREATE TABLE IF NOT EXISTS trades (
        trade_id INTEGER PRIMARY KEY, sequence INTEGER NOT NULL, instrument TEXT NOT NULL, time_ms INTEGER NOT NULL,
        maker_order_id INTEGER NOT NULL, taker_order_id INTEGER NOT NULL, maker_account_id INTEGER NOT NULL,
        taker_account_id INTEGER NOT NULL, view TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS trades_by_instrument ON trades (instrument, trade_id);
      CREATE INDEX IF NOT EXISTS trades_by_maker ON trades (maker_account_id, trade_id);
      CREATE INDEX IF NOT EXISTS trades_by_taker ON trades (taker_account_id, trade_id);
    `);
    const row = await this.get<{ value: string }>("SELECT value FROM meta WHERE key = 'projected_sequence'");
    this.projectedThrough = Number(row.value);
    this.statements = {
      orders: await prepareInserts(db, 'orders', ORDER_COLUMNS),
      trades: await prepareInserts(db, 'trades', TRADE_COLUMNS),
      begin: await prepare(db, 'BEGIN'),
      projected: await prepare(db, "UPDATE meta SET value = ? WHERE key = 'projected_sequence'"),
      commit: await prepare(db, 'COMMIT'),
    };
  }

  /** Everything with a sequence at or below this is in the history. */
  get projectedSequence(): number {
    return this.projectedThrough;
  }

  /**
   * Projects the events of consecutive commands (sequence, events), in one transaction. Commands at
   * or below `projectedSequence` are skipped, so projecting twice is harmless.
   */
  project(commands: readonly { sequence: number; events: readonly Event[] }[]): void {
    const fresh = commands.filter((command) => command.sequence > this.projectedThrough);
    if (fresh.length === 0 || this.failure !== undefined) return;
    for (const { events } of fresh) {
      for (const event of events) {
        if (event.kind === 'trade') this.pendingTradeRows.push(tradeRow(event.trade));
        else if (event.kind === 'order' && (event.order.state === 'filled' || event.order.state === 'cancelled')) this.pendingOrderRows.push(orderRow(event.order));
      }
    }
    this.projectedThrough = fresh[fresh.length - 1].sequence;
    // Group several commits into one history transaction: on a row count, or after a short delay.
    if (this.pendingOrderRows.length + this.pendingTradeRows.length >= FLUSH_ROWS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  private pendingOrderRows: unknown[][] = [];
  private pendingTradeRows: unknown[][] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  /** Writes what is pending (after earlier flushes): the rows, then how far they reach. */
  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const orderRows = this.pendingOrderRows;
    const tradeRows = this.pendingTradeRows;
    const lastSequence = this.projectedThrough;
    this.pendingOrderRows = [];
    this.pendingTradeRows = [];
    // One transaction per flush: the rows, then projected_sequence, so a crash keeps both or neither.
    // Every step is a prepared statement, each awaited before the next: node-sqlite3 runs prepared
    // statements straight on the connection, outside the Database's queue, so a BEGIN or COMMIT sent
    // through db.run could overtake or trail the rows. One transaction instead of one per chunk
    // also writes each index's last page to the WAL once per flush instead of once per chunk.
    const statements = this.statements!;
    const written = this.writes
      .then(() => runStatement(statements.begin, []))
      .then(() => writeRows(statements.orders, orderRows))
      .then(() => writeRows(statements.trades, tradeRows))
      .then(() => runStatement(statements.projected, [String(lastSequence)]))
      .then(() => runStatement(statements.commit, []));
    written.catch((error: Error) => {
      this.failure ??= error;
    });
    this.writes = this.writes.then(() => written).catch(() => undefined);
  }

  /** Resolves once everything projected so far is written. */
  whenWritten(): Promise<void> {
    if (this.flushTimer !== undefined) this.flush();
    return this.writes;
  }

  async order(orderId: number): Promise<OrderView | undefined> {
    const row = await this.get<{ view: string } | undefined>('SELECT view FROM orders WHERE order_id = ?', [orderId]);
    return row === undefined ? undefined : decodeOrder(row.view);
  }

  async orders(query: OrderQuery): Promise<OrderView[]> {
    const where = ['account_id = ?'];
    const parameters: unknown[] = [query.accountId];
    if (query.instrument !== undefined) { where.push('instrument = ?'); parameters.push(query.instrument); }
    if (query.instrumentPrefix !== undefined) { where.push('instrument >= ? AND instrument < ?'); parameters.push(query.instrumentPrefix, `${query.instrumentPrefix}\uffff`); }
    if (query.label !== undefined) { where.push('label = ?'); parameters.push(query.label); }
    parameters.push(query.count, query.offset);
    const rows = await this.all<{ view: string }>(`SELECT view FROM orders WHERE ${where.join(' AND ')} ORDER BY order_id DESC LIMIT ? OFFSET ?`, parameters);
    return rows.map((row) => decodeOrder(row.view));
  }

  async trades(query: TradeQuery): Promise<TradeView[]> {
    const where: string[] = [];
    const parameters: unknown[] = [];
    if (query.instrument !== undefined) { where.push('instrument = ?'); parameters.push(query.instrument); }
    if (query.instrumentPrefix !== undefined) { where.push('instrument >= ? AND instrument < ?'); parameters.push(query.instrumentPrefix, `${query.instrumentPrefix}\uffff`); }
    if (query.accountId !== undefined) { where.push('(maker_account_id = ? OR taker_account_id = ?)'); parameters.push(query.accountId, query.accountId); }
    if (query.orderId !== undefined) { where.push('(maker_order_id = ? OR taker_order_id = ?)'); parameters.push(query.orderId, query.orderId); }
    if (query.startTradeId !== undefined) { where.push('trade_id >= ?'); parameters.push(query.startTradeId); }
    if (query.endTradeId !== undefined) { where.push('trade_id <= ?'); parameters.push(query.endTradeId); }
    if (query.startTimeMs !== undefined) { where.push('time_ms >= ?'); parameters.push(query.startTimeMs); }
    if (query.endTimeMs !== undefined) { where.push('time_ms <= ?'); parameters.push(query.endTimeMs); }
    parameters.push(query.count);
    const sql = `SELECT view FROM trades ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY trade_id ${query.newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
    const rows = await this.all<{ view: string }>(sql, parameters);
    return rows.map((row) => decodeTrade(row.view));
  }

  /** Writes what is pending, syncs the file (a full checkpoint at synchronous = FULL), closes, and records it clean. */
  async close(): Promise<void> {
    await this.whenWritten();
    const statements = this.statements;
    if (statements !== undefined) {
      for (const statement of [...statements.orders.values(), ...statements.trades.values(), statements.begin, statements.projected, statements.commit]) statement.finalize();
    }
    let synced = false;
    try {
      await this.exec('PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);');
      synced = true;
    } catch {
      // A failed write can leave its transaction open, which the checkpoint refuses. The file then
      // stays marked unclean (closing rolls the transaction back), as after a crash.
    }
    await new Promise<void>((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
    if (synced && this.bootId !== undefined) writeStateFile(this.path, { bootId: this.bootId, clean: true });
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(error) : resolve())));
  }

  private get<T>(sql: string, parameters: unknown[] = []): Promise<T> {
    return new Promise((resolve, reject) => this.db.get(sql, parameters, (error, row) => (error ? reject(error) : resolve(row as T))));
  }

  private all<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, parameters, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
  }
}

// ---------------------------------------------------------------------------------------------
// The state file: was the history file synced when it was last closed, and under which boot?

interface HistoryFileState {
  bootId: string;
  clean: boolean;
}

/** The kernel's id for this boot (a new one after every restart of the machine); Linux only. */
function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function stateFileOf(path: string): string {
  return `${path}.state`;
}

/**
 * Deletes the history file (and its WAL and shared memory) if its state file says it was being
 * written, unsynced, when a different boot ended: an OS crash or power cut may have torn it.
 * A missing state file means the file predates synchronous = OFF (or never existed): kept.
 */
function discardIfTorn(path: string, bootId: string): boolean {
  let state: HistoryFileState;
  try {
    state = JSON.parse(readFileSync(stateFileOf(path), 'utf8')) as HistoryFileState;
  } catch {
    return false;
  }
  if (state.clean || state.bootId === bootId || !existsSync(path)) return false;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
  return true;
}

/** Replaces the state file durably: written and synced under a temporary name, renamed, directory synced. */
function writeStateFile(path: string, state: HistoryFileState): void {
  const target = stateFileOf(path);
  const temporary = `${target}.tmp`;
  writeFileSync(temporary, JSON.stringify(state));
  syncPath(temporary);
  renameSync(temporary, target);
  syncPath(dirname(target));
}

function syncPath(path: string): void {
  const descriptor = openSync(path, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

const ORDER_COLUMNS = 7;
const TRADE_COLUMNS = 9;

/**
 * Rows per INSERT: a flush's rows are written largest chunk first (700 rows: 2 × 256, 2 × 64,
 * 3 × 16, 3 × 4), each chunk one multi-row `INSERT … VALUES (…), (…)` with every value bound, so
 * each statement is prepared once and a flush is a handful of runs. One run per row cost the event
 * loop ~3 µs per order (session 2); one JSON parameter per flush unpacked with json_each (sessions
 * 2-3) cost SQLite's thread ~11 µs per order row against ~6 µs bound (session 4, measured in
 * isolation: 12.8-13.4 against 7.4-9.2 µs of process CPU per row), which at the gateway's capacity
 * was the largest single cost outside the JS thread. Binding costs the event loop ~1 µs more a row.
 */
const INSERT_CHUNK_ROWS = [256, 64, 16, 4, 1];

// With a callback, so a damaged history file fails the open instead of emitting an unhandled 'error'.
function prepare(db: sqlite3.Database, sql: string): Promise<sqlite3.Statement> {
  return new Promise((resolve, reject) => {
    const statement = db.prepare(sql, (error: Error | null) => (error ? reject(error) : resolve(statement)));
  });
}

function runStatement(statement: sqlite3.Statement, parameters: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => statement.run(parameters, (error: Error | null) => (error ? reject(error) : resolve())));
}

function prepareInserts(db: sqlite3.Database, table: string, columns: number): Promise<Map<number, sqlite3.Statement>> {
  const row = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
  return Promise.all(
    INSERT_CHUNK_ROWS.map(async (rows) => [rows, await prepare(db, `INSERT OR REPLACE INTO ${table} VALUES ${Array.from({ length: rows }, () => row).join(', ')}`)] as const),
  ).then((entries) => new Map(entries));
}

/** Writes `rows` with the chunk statements, one chunk after another (inside the flush's transaction). */
async function writeRows(statements: Map<number, sqlite3.Statement>, rows: unknown[][]): Promise<void> {
  let start = 0;
  for (const size of INSERT_CHUNK_ROWS) {
    const statement = statements.get(size)!;
    for (; rows.length - start >= size; start += size) await runStatement(statement, rows.slice(start, start + size).flat());
  }
}

// A view is stored as a JSON array of its fields in a fixed order, led by the format number:
// [1, orderId, accountId, …]. The keyed object it replaced (before session 4, and still read) was
// ~2.5× the bytes, and the bytes are most of what history costs SQLite (insert, WAL, checkpoints).
// A field added to a view goes at the end of its list: older rows then read it as undefined.
const VIEW_FORMAT = 1;
const ORDER_VIEW_FIELDS = [
  'orderId', 'accountId', 'instrument', 'side', 'type', 'timeInForce', 'state', 'cancelReason', 'priceTicks', 'amountLots',
  'filledLots', 'filledNotionalTickLots', 'feeUnits', 'postOnly', 'rejectPostOnly', 'reduceOnly', 'replaced', 'label',
  'triggerPriceTicks', 'trigger', 'stopOrderId', 'createdMs', 'updatedMs', 'expiresAtMs',
] as const satisfies readonly (keyof OrderView)[];
const TRADE_VIEW_FIELDS = [
  'tradeId', 'sequence', 'instrument', 'priceTicks', 'amountLots', 'takerSide', 'makerOrderId', 'takerOrderId', 'makerAccountId',
  'takerAccountId', 'makerFeeUnits', 'takerFeeUnits', 'makerOrderType', 'takerOrderType', 'makerRemainingLots',
  'takerRemainingLots', 'tickDirection', 'timeMs', 'makerLabel', 'takerLabel', 'makerPostOnly', 'takerPostOnly',
] as const satisfies readonly (keyof TradeView)[];
/** Compile-time: every field of each view is in its list (a new field must be added, at the end). */
type EveryField<View, Listed> = Exclude<keyof View, Listed> extends never ? true : never;
const ordersListed: EveryField<OrderView, (typeof ORDER_VIEW_FIELDS)[number]> = true;
const tradesListed: EveryField<TradeView, (typeof TRADE_VIEW_FIELDS)[number]> = true;
void ordersListed;
void tradesListed;
/** Fields held as bigint, stored as decimal strings. */
const BIGINT_FIELDS = new Set<string>(['feeUnits', 'makerFeeUnits', 'takerFeeUnits']);

function encodeView(view: object, fields: readonly string[]): string {
  const values: unknown[] = [VIEW_FORMAT];
  for (const field of fields) {
    const value = (view as Record<string, unknown>)[field];
    values.push(typeof value === 'bigint' ? value.toString() : value);
  }
  return JSON.stringify(values);
}

function decodeView(text: string, fields: readonly string[]): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  const view: Record<string, unknown> = {};
  if (Array.isArray(parsed)) {
    for (let index = 0; index < fields.length; index++) view[fields[index]] = parsed[index + 1];
  } else {
    Object.assign(view, parsed);
  }
  for (const field of BIGINT_FIELDS) if (typeof view[field] === 'string') view[field] = BigInt(view[field] as string);
  return view;
}

function orderRow(order: OrderView): unknown[] {
  return [order.orderId, order.accountId, order.instrument, order.label, order.state, order.updatedMs, encodeView(order, ORDER_VIEW_FIELDS)];
}

function tradeRow(trade: TradeView): unknown[] {
  return [trade.tradeId, trade.sequence, trade.instrument, trade.timeMs, trade.makerOrderId, trade.takerOrderId, trade.makerAccountId, trade.takerAccountId, encodeView(trade, TRADE_VIEW_FIELDS)];
}

function decodeOrder(text: string): OrderView {
  return decodeView(text, ORDER_VIEW_FIELDS) as unknown as OrderView;
}

function decodeTrade(text: string): TradeView {
  return decodeView(text, TRADE_VIEW_FIELDS) as unknown as TradeView;
}
