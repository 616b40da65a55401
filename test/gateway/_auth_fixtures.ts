// Fixtures for the authentication tests: a key store in a temp dir with the reference's test key,
// independent signing (plain node:crypto, written from reference/deribit-v2-api.md §3 rather than
// from gateway/auth.ts, so the two can disagree), and a way to capture what a call threw.

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authenticator, type AuthenticatorOptions } from '../../gateway/auth.js';
import { AuthError, type HttpRequestToVerify } from '../../gateway/auth_types.js';
import { KeyStore } from '../../gateway/key_store.js';

/** The reference's pinned clock for its test vectors. */
export const NOW_MS = 1_700_000_000_000;
export const WINDOW_MS = 60_000;
/** Well before every timestamp the tests use, so the restart rule stays out of the way unless tested. */
export const START_MS = NOW_MS - 10 * WINDOW_MS;
export const ACCESS_TTL_MS = 3_600_000;
export const TEST_KEY = { clientId: 'testkey', clientSecret: 'testsecret' } as const;

export interface Fixture {
  dir: string;
  path: string;
  keys: KeyStore;
  auth: Authenticator;
  /** A created key with only the read scope. */
  reader: { clientId: string; clientSecret: string };
  /** Closes and reopens the key store and builds a new authenticator on it (a restart). */
  restart(options: { processStartMs: number }): Promise<void>;
}

interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** `testkey` (read + trade, account 1) and a read-only key (account 2); removed at teardown. */
export async function openFixture(t: TeardownHost, options: Partial<AuthenticatorOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-auth-'));
  const path = join(dir, 'keys.sqlite');
  const keys = await KeyStore.open(path);
  await keys.importKey({ ...TEST_KEY, accountId: 1, scopes: ['read', 'trade'], nowMs: NOW_MS - 1 });
  const reader = await keys.createKey({ accountId: 2, scopes: ['read'], nowMs: NOW_MS });
  const fixture: Fixture = {
    dir,
    path,
    keys,
    auth: newAuthenticator(keys, options),
    reader,
    async restart(restartOptions) {
      await fixture.keys.close();
      fixture.keys = await KeyStore.open(path);
      fixture.auth = newAuthenticator(fixture.keys, { ...options, processStartMs: restartOptions.processStartMs });
    },
  };
  t.teardown(async () => {
    await fixture.keys.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return fixture;
}

function newAuthenticator(keys: KeyStore, options: Partial<AuthenticatorOptions>): Authenticator {
  return new Authenticator({
    keys,
    clock: () => NOW_MS,
    windowMs: WINDOW_MS,
    accessTokenTtlMs: ACCESS_TTL_MS,
    processStartMs: START_MS,
    ...options,
  });
}

export function hmacHex(secret: string, stringToSign: string): string {
  return createHmac('sha256', secret).update(stringToSign, 'utf8').digest('hex');
}

export function httpStringToSign(fields: { ts: string; nonce: string; method: string; target: string; body: string }): string {
  return `${fields.ts}\n${fields.nonce}\n${fields.method}\n${fields.target}\n${fields.body}\n`;
}

export interface SignedHttp {
  request: HttpRequestToVerify;
  sig: string;
  ts: string;
  nonce: string;
}

/** A request signed the way CCXT does (header order id, ts, sig, nonce). */
export function signHttp(options: { clientId?: string; secret?: string; ts?: string | number; nonce?: string; method?: string; target: string; body?: string }): SignedHttp {
  const ts = String(options.ts ?? NOW_MS);
  const nonce = options.nonce ?? ts;
  const method = options.method ?? 'GET';
  const body = options.body ?? '';
  const sig = hmacHex(options.secret ?? TEST_KEY.clientSecret, httpStringToSign({ ts, nonce, method, target: options.target, body }));
  const authorization = hmacHeader({ id: options.clientId ?? TEST_KEY.clientId, ts, sig, nonce });
  return { request: { authorization, method, rawTarget: options.target, rawBody: body }, sig, ts, nonce };
}

export function hmacHeader(fields: { id: string; ts: string; sig: string; nonce: string }, order: readonly ('id' | 'ts' | 'sig' | 'nonce')[] = ['id', 'ts', 'sig', 'nonce']): string {
  return `deri-hmac-sha256 ${order.map((name) => `${name}=${fields[name]}`).join(',')}`;
}

export function signGrant(options: { clientId?: string; secret?: string; timestamp?: number; nonce?: string; data?: string }) {
  const timestamp = options.timestamp ?? NOW_MS;
  const nonce = options.nonce ?? String(timestamp);
  const data = options.data ?? '';
  const signature = hmacHex(options.secret ?? TEST_KEY.clientSecret, `${timestamp}\n${nonce}\n${data}`);
  return { grant_type: 'client_signature' as const, client_id: options.clientId ?? TEST_KEY.clientId, timestamp, signature, nonce, data };
}

export function basicHeader(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
}

/** What a call ended with: its value, the AuthError it threw, or anything else it threw (a bug). */
export type Outcome<T> = { kind: 'ok'; value: T } | { kind: 'auth_error'; error: AuthError } | { kind: 'other_throw'; error: unknown };

export function outcomeOf<T>(call: () => T): Outcome<T> {
  try {
    return { kind: 'ok', value: call() };
  } catch (error) {
    return error instanceof AuthError ? { kind: 'auth_error', error } : { kind: 'other_throw', error };
  }
}

/** `"13009 replayed"`, `"ok"`, or `"threw <name>"`: one short string a table test can compare. */
export function verdictOf(call: () => unknown): string {
  const outcome = outcomeOf(call);
  if (outcome.kind === 'ok') return 'ok';
  if (outcome.kind === 'auth_error') return `${outcome.error.code} ${outcome.error.reason}`;
  return `threw ${outcome.error instanceof Error ? outcome.error.name : typeof outcome.error}`;
}
