import { chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import sqlite3 from 'sqlite3';
import type { Identity, Scope } from './auth_types.js';

// API keys in SQLite (WAL, synchronous = FULL), mirrored in memory so that authentication, which is
// synchronous on the request path, never waits for the database. Every write goes to the file
// first (a created key is usable only once it is durable); disabling is the one exception, it takes
// effect in memory before the write, because refusing a compromised key must not wait for an fsync.
//
// The same file holds the signatures that the replay cache must still remember after a restart:
// only those accepted with a timestamp ahead of the server's clock (see gateway/auth.ts, "restart
// rule"); everything else is refused after a restart by its timestamp alone.
//
// Secrets are stored in plain text because HMAC verification needs them (they cannot be hashed);
// the file is made owner-only (0600) on open, and no method here returns a secret except `lookup`,
// which only the authenticator calls.

export const SCOPES: readonly Scope[] = ['read', 'trade', 'wallet'];

/** What `listKeys` returns: everything but the secret. */
export interface KeyInfo {
  clientId: string;
  accountId: number;
  scopes: Scope[];
  createdMs: number;
  disabled: boolean;
}

/** One key as the authenticator sees it. `identity` is built once, so lookups allocate nothing. */
export interface KeyRecord {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accountId: number;
  readonly createdMs: number;
  readonly disabled: boolean;
  readonly identity: Identity;
}

/** A signature the replay cache must remember across a restart, until `expiresMs`. */
export interface RememberedSignature {
  clientId: string;
  signature: string;
  expiresMs: number;
}

export class KeyStoreError extends Error {
  override name = 'KeyStoreError';
  constructor(readonly reason: 'wrong_settings' | 'invalid_scope' | 'invalid_account' | 'invalid_client_id' | 'invalid_secret' | 'duplicate_client_id' | 'unknown_key') {
    super(`key store: ${reason}`);
  }
}

/** Url-safe and short; imported ids may be as short as the reference's `testkey`. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** 9 random bytes are 12 base64url characters: 72 bits, so a collision is a retry, not a risk. */
const CLIENT_ID_BYTES = 9;
const CLIENT_SECRET_BYTES = 32;
const CLIENT_SECRET_CHARS_MAX = 256;
const CREATE_ATTEMPTS_MAX = 4;

export class KeyStore {
  private readonly keys = new Map<string, KeyRecord>();
  private rememberedAtOpen: RememberedSignature[] = [];
  private readonly pendingWrites = new Set<Promise<void>>();
  private signatureWriteFailures = 0;

  private constructor(
    private readonly db: sqlite3.Database,
    readonly path: string,
  ) {}

  /** Opens (creating if needed), checks the settings on this very connection, loads every key. */
  static async open(path: string): Promise<KeyStore> {
    const db = await openDatabase(path);
    const store = new KeyStore(db, path);
    try {
      await store.configure();
      await store.loadKeys();
      await store.loadRememberedSignatures();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Read back rather than trusted: a reopened WAL database can read synchronous = NORMAL. */
  async settings(): Promise<{ journalMode: string; synchronous: number }> {
    const journalMode = (await this.get<{ journal_mode: string }>('PRAGMA journal_mode')).journal_mode;
    const synchronous = (await this.get<{ synchronous: number }>('PRAGMA synchronous')).synchronous;
    return { journalMode, synchronous };
  }

  /** A new key with a random id and a 32-byte random secret; the only time the secret is returned. */
  async createKey(options: { accountId: number; scopes: readonly Scope[]; nowMs: number }): Promise<{ clientId: string; clientSecret: string }> {
    for (let attempt = 0; attempt < CREATE_ATTEMPTS_MAX; attempt++) {
      const clientId = randomBytes(CLIENT_ID_BYTES).toString('base64url');
      const clientSecret = randomBytes(CLIENT_SECRET_BYTES).toString('base64url');
      try {
        await this.importKey({ clientId, clientSecret, accountId: options.accountId, scopes: options.scopes, nowMs: options.nowMs });
        return { clientId, clientSecret };
      } catch (error) {
        if (!(error instanceof KeyStoreError && error.reason === 'duplicate_client_id')) throw error;
      }
    }
    throw new KeyStoreError('duplicate_client_id');
  }

  /**
   * Stores a key whose id and secret were chosen elsewhere: fixtures (the reference's test vectors
   * use `testsecret`) and migrations. Production keys come from `createKey`.
   */
  async importKey(options: { clientId: string; clientSecret: string; accountId: number; scopes: readonly Scope[]; nowMs: number }): Promise<void> {
    const scopes = checkScopes(options.scopes);
    checkKeyFields(options);
    if (this.keys.has(options.clientId)) throw new KeyStoreError('duplicate_client_id');
    const insert = this.run('INSERT INTO api_keys (client_id, client_secret, account_id, scopes, created_ms, disabled) VALUES (?, ?, ?, ?, ?, 0)', [
      options.clientId,
      options.clientSecret,
      options.accountId,
      scopes.join(' '),
      options.nowMs,
    ]);
    // Two imports of one id can both pass the check above before either insert lands.
    await insert.catch((error: unknown) => {
      throw isConstraintError(error) ? new KeyStoreError('duplicate_client_id') : error;
    });
    this.keys.set(options.clientId, keyRecord({ ...options, scopes, disabled: false }));
  }

  /** The key stops authenticating at once (memory first), then durably. Unknown ids are an error. */
  async disableKey(clientId: string): Promise<void> {
    const record = this.keys.get(clientId);
    if (record === undefined) throw new KeyStoreError('unknown_key');
    this.keys.set(clientId, { ...record, disabled: true });
    await this.run('UPDATE api_keys SET disabled = 1 WHERE client_id = ?', [clientId]);
  }

  /** Keys (all, or one account's), oldest first, never with their secrets. */
  listKeys(accountId?: number): KeyInfo[] {
    const infos: KeyInfo[] = [];
    for (const record of this.keys.values()) {
      if (accountId !== undefined && record.accountId !== accountId) continue;
      infos.push({
        clientId: record.clientId,
        accountId: record.accountId,
        scopes: [...record.identity.scopes],
        createdMs: record.createdMs,
        disabled: record.disabled,
      });
    }
    return infos.sort((a, b) => a.createdMs - b.createdMs || (a.clientId < b.clientId ? -1 : 1));
  }

  /** Synchronous, for the request path. Includes disabled keys; the caller decides. */
  lookup(clientId: string): KeyRecord | undefined {
    return this.keys.get(clientId);
  }

  /** Signatures persisted by the previous process that may still be inside their window. */
  rememberedSignatures(): readonly RememberedSignature[] {
    return this.rememberedAtOpen;
  }

  /**
   * Persists one signature for the replay cache of the next process (fire and forget: the request
   * path cannot wait). Rows expired at `nowMs` are deleted in the same breath, so the table holds
   * at most a window's worth. A failed write is counted; the authenticator then fails closed.
   */
  rememberSignature(signature: RememberedSignature, nowMs: number): void {
    const write = this.run('INSERT OR IGNORE INTO remembered_signatures (client_id, signature, expires_ms) VALUES (?, ?, ?)', [
      signature.clientId,
      signature.signature,
      signature.expiresMs,
    ])
      .then(() => this.run('DELETE FROM remembered_signatures WHERE expires_ms < ?', [nowMs]))
      .catch(() => {
        this.signatureWriteFailures += 1;
      });
    this.pendingWrites.add(write);
    void write.finally(() => this.pendingWrites.delete(write));
  }

  /** Whether every signature handed to `rememberSignature` so far has been written. */
  signaturePersistenceHealthy(): boolean {
    return this.signatureWriteFailures === 0;
  }

  /** Waits for the signature writes in flight (tests, and a graceful shutdown). */
  async flush(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.all([...this.pendingWrites]);
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }

  private async configure(): Promise<void> {
    // Owner-only before any secret is written; SQLite gives the -wal and -shm files the same mode.
    chmodSync(this.path, 0o600);
    this.db.serialize();
    await this.exec('PRAGMA journal_mode = WAL');
    await this.exec('PRAGMA synchronous = FULL');
    await this.exec(
      `CREATE TABLE IF NOT EXISTS api_keys (
         client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, account_id INTEGER NOT NULL,
         scopes TEXT NOT NULL, created_ms INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
       CREATE TABLE IF NOT EXISTS remembered_signatures (
         client_id TEXT NOT NULL, signature TEXT NOT NULL, expires_ms INTEGER NOT NULL,
         PRIMARY KEY (client_id, signature));`,
    );
    const settings = await this.settings();
    if (settings.journalMode !== 'wal' || settings.synchronous !== 2) throw new KeyStoreError('wrong_settings');
  }

  private async loadKeys(): Promise<void> {
    const rows = await this.all<{ client_id: string; client_secret: string; account_id: number; scopes: string; created_ms: number; disabled: number }>(
      'SELECT client_id, client_secret, account_id, scopes, created_ms, disabled FROM api_keys',
    );
    for (const row of rows) {
      const scopes = checkScopes(row.scopes === '' ? [] : (row.scopes.split(' ') as Scope[]));
      this.keys.set(
        row.client_id,
        keyRecord({
          clientId: row.client_id,
          clientSecret: row.client_secret,
          accountId: row.account_id,
          scopes,
          nowMs: row.created_ms,
          disabled: row.disabled !== 0,
        }),
      );
    }
  }

  private async loadRememberedSignatures(): Promise<void> {
    const rows = await this.all<{ client_id: string; signature: string; expires_ms: number }>(
      'SELECT client_id, signature, expires_ms FROM remembered_signatures',
    );
    this.rememberedAtOpen = rows.map((row) => ({ clientId: row.client_id, signature: row.signature, expiresMs: row.expires_ms }));
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(error) : resolve())));
  }

  private run(sql: string, parameters: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => this.db.run(sql, parameters, (error: Error | null) => (error ? reject(error) : resolve())));
  }

  private get<T>(sql: string): Promise<T> {
    return new Promise((resolve, reject) => this.db.get(sql, (error, row) => (error ? reject(error) : resolve(row as T))));
  }

  private all<T>(sql: string): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
  }
}

function openDatabase(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (error) => (error ? reject(error) : resolve(db)));
  });
}

function isConstraintError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT';
}

/** Known scopes only, each once, in a canonical order (so the stored text is canonical too). */
function checkScopes(scopes: readonly Scope[]): Scope[] {
  for (const scope of scopes) if (!SCOPES.includes(scope)) throw new KeyStoreError('invalid_scope');
  return SCOPES.filter((scope) => scopes.includes(scope));
}

function checkKeyFields(options: { clientId: string; clientSecret: string; accountId: number }): void {
  if (!CLIENT_ID_PATTERN.test(options.clientId)) throw new KeyStoreError('invalid_client_id');
  if (options.clientSecret.length === 0 || options.clientSecret.length > CLIENT_SECRET_CHARS_MAX) throw new KeyStoreError('invalid_secret');
  if (!Number.isSafeInteger(options.accountId) || options.accountId < 0) throw new KeyStoreError('invalid_account');
}

function keyRecord(fields: { clientId: string; clientSecret: string; accountId: number; scopes: Scope[]; nowMs: number; disabled: boolean }): KeyRecord {
  const identity: Identity = Object.freeze({ accountId: fields.accountId, clientId: fields.clientId, scopes: new SealedScopeSet(fields.scopes) });
  return Object.freeze({
    clientId: fields.clientId,
    clientSecret: fields.clientSecret,
    accountId: fields.accountId,
    createdMs: fields.nowMs,
    disabled: fields.disabled,
    identity,
  });
}

/**
 * One Identity object is shared by every request of a key, so a stray `.add('trade')` anywhere
 * would grant a scope to all of them; ReadonlySet only stops that at compile time, this at run time.
 */
class SealedScopeSet extends Set<Scope> {
  private sealed = false;

  constructor(scopes: readonly Scope[]) {
    super(scopes); // Set's constructor calls add(), before `sealed` is initialised: allowed.
    this.sealed = true;
  }

  override add(scope: Scope): this {
    if (this.sealed) throw new TypeError('scopes are read-only');
    return super.add(scope);
  }

  override delete(scope: Scope): boolean {
    if (this.sealed) throw new TypeError('scopes are read-only');
    return super.delete(scope);
  }

  override clear(): void {
    if (this.sealed) throw new TypeError('scopes are read-only');
    super.clear();
  }
}
