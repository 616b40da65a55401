import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthError, type AuthGrant, type AuthService, type GrantedTokens, type HttpRequestToVerify, type Identity, type Scope } from './auth_types.js';
import type { KeyRecord, KeyStore } from './key_store.js';
import { gatewayLimits } from './limits.js';

// Authentication for the Deribit v2 dialect (reference/deribit-v2-api.md §3): HMAC-signed HTTP
// requests (`deri-hmac-sha256`), Bearer and Basic headers, and the three `public/auth` grants.
//
// Signatures cover the exact bytes received (the raw request target and raw body), so the server
// never canonicalizes anything: reordered query parameters, other percent-encodings or other JSON
// whitespace are other strings and fail the HMAC (RELIABILITY 12(h)).
//
// Replays. A signature is accepted once. The cache is keyed by (client id, signature), which is
// stricter than (id, ts, nonce, sig): the HMAC binds ts and nonce, and keying on the signature
// alone also catches the same signed string presented with its fields split differently. It is one
// cache for every transport, so an HTTP signature cannot be reused from another connection or as
// a WS grant. A repeated nonce with a different signature is fine: CCXT's nonce is the millisecond
// clock and parallel calls share it (§3.1). Entries live until their timestamp leaves the window
// (ts + windowMs), in one-second expiry buckets, and the cache has a hard cap: when full it
// refuses new signatures (`replay_cache_full`) rather than forget one that could still be replayed.
//
// Domain separation. A grant signs `ts\nnonce\ndata` and an HTTP request `ts\nnonce\nMETHOD\n...`.
// Nonces are restricted to a newline-free alphabet and grant data may not contain a newline, so a
// grant's string to sign has exactly two newlines and an HTTP one at least five: no signature is
// valid in both places.
//
// Restart rule (RELIABILITY 12(f)). The replay cache is memory, so after a restart a timestamp at
// or before `processStartMs` is refused (`predates_restart`): whatever the previous process accepted
// with a timestamp no later than its own clock is older than the new process's start. What that
// rule cannot cover is a signature dated ahead of the server's clock (the window allows +windowMs
// of client skew); those few are persisted in the key store as they are accepted and loaded into
// the cache on start. We chose this over a per-key nonce high-water mark because CCXT's parallel
// calls share timestamps and arrive out of order (a high-water mark would refuse honest requests),
// and over persisting every signature because on the request path nothing may wait for the disk.
// The cost: for up to windowMs after a restart, a client whose clock runs behind the server's is
// refused until its clock passes the restart (it retries with a fresh timestamp, which works).
// Assumes a single gateway process, `processStartMs` taken after the previous process stopped, and
// a wall clock that does not step back across the restart.
//
// Tokens live in memory only: after a restart clients authenticate again (CCXT does on reconnect).

export interface AuthenticatorOptions {
  keys: KeyStore;
  /** Used only where no `nowMs` is passed in: the default start time and seeding the replay cache. */
  clock?: () => number;
  /** How far a signature's timestamp may be from the server's clock, either way (inclusive). */
  windowMs?: number;
  accessTokenTtlMs: number;
  /** Defaults to twice the access token's lifetime. */
  refreshTokenTtlMs?: number;
  /** Timestamps at or before this are refused (restart rule). Defaults to clock() at construction. */
  processStartMs?: number;
  /** Hard cap of the replay cache. */
  signaturesRememberedMax?: number;
  /** Token pairs one key may hold; issuing one more ends that key's oldest. */
  sessionsPerKeyMax?: number;
}

const DEFAULT_WINDOW_MS = 60_000;
const DEFAULT_SESSIONS_PER_KEY_MAX = 256;
const REPLAY_BUCKET_MS = 1_000;
const TOKEN_BYTES = 32;
const AUTHORIZATION_CHARS_MAX = 4_096;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Canonical decimal ms, at most 16 digits: no sign, no leading zeros, so one value has one spelling. */
const TIMESTAMP_PATTERN = /^(0|[1-9][0-9]{0,15})$/;
/** No comma (the header's separator) and no newline (the string to sign's separator). */
const NONCE_PATTERN = /^[A-Za-z0-9._~+/=-]{1,128}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const METHOD_PATTERN = /^[A-Z]{1,16}$/;
const GRANT_DATA_CHARS_MAX = 1_024;

/** The fields of a signature, whichever way it arrived. */
interface SignedCredentials {
  clientId: string;
  timestampMs: number;
  signature: string;
  stringToSign: string;
}

type Transport = 'http' | 'grant';

interface Session {
  identity: Identity;
  accessToken: string;
  refreshToken: string;
  accessExpiresMs: number;
  refreshExpiresMs: number;
}

export class Authenticator implements AuthService {
  private readonly keys: KeyStore;
  private readonly windowMs: number;
  private readonly accessTokenTtlMs: number;
  private readonly refreshTokenTtlMs: number;
  private readonly processStartMs: number;
  private readonly sessionsPerKeyMax: number;
  private readonly replays: ReplayCache;
  private readonly sessionsByAccessToken = new Map<string, Session>();
  /** Every live session, in the order issued (so the oldest expire first). */
  private readonly sessionsByRefreshToken = new Map<string, Session>();
  private readonly sessionsByClientId = new Map<string, Set<Session>>();

  constructor(options: AuthenticatorOptions) {
    const clock = options.clock ?? Date.now;
    this.keys = options.keys;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.accessTokenTtlMs = options.accessTokenTtlMs;
    this.refreshTokenTtlMs = options.refreshTokenTtlMs ?? 2 * options.accessTokenTtlMs;
    this.processStartMs = options.processStartMs ?? clock();
    this.sessionsPerKeyMax = options.sessionsPerKeyMax ?? DEFAULT_SESSIONS_PER_KEY_MAX;
    this.replays = new ReplayCache({ entriesMax: options.signaturesRememberedMax ?? gatewayLimits.signaturesRememberedMax, bucketMs: REPLAY_BUCKET_MS });
    checkOptions({ windowMs: this.windowMs, accessTokenTtlMs: this.accessTokenTtlMs, refreshTokenTtlMs: this.refreshTokenTtlMs, sessionsPerKeyMax: this.sessionsPerKeyMax });
    this.seedReplaysFromStore(clock());
  }

  authenticateHttp(request: HttpRequestToVerify, nowMs: number): Identity {
    const { scheme, parameters } = splitAuthorization(request.authorization);
    if (scheme === 'deri-hmac-sha256') return this.authenticateHmac(parameters, request, nowMs);
    if (scheme === 'bearer') return this.authenticateBearer(parameters, nowMs);
    if (scheme === 'basic') return this.authenticateBasic(parameters);
    throw unauthorized('malformed');
  }

  grant(grant: AuthGrant, nowMs: number): GrantedTokens {
    if (grant.grant_type === 'client_signature') return this.issueSession(this.grantBySignature(grant, nowMs), nowMs);
    if (grant.grant_type === 'client_credentials') return this.issueSession(this.grantByCredentials(grant), nowMs);
    if (grant.grant_type === 'refresh_token') return this.grantByRefreshToken(grant.refresh_token, nowMs);
    throw invalidCredentials('malformed');
  }

  identityOfToken(accessToken: string, nowMs: number): Identity | undefined {
    const resolved = this.resolveAccessToken(accessToken, nowMs);
    return typeof resolved === 'string' ? undefined : resolved;
  }

  revoke(accessToken: string): void {
    const session = this.sessionsByAccessToken.get(accessToken);
    if (session !== undefined) this.endSession(session);
  }

  /** Signatures held against replay right now (for metrics and tests). */
  rememberedSignatureCount(): number {
    return this.replays.size();
  }

  // HTTP schemes -------------------------------------------------------------------------------

  private authenticateHmac(parameters: string, request: HttpRequestToVerify, nowMs: number): Identity {
    const header = parseHmacParameters(parameters);
    if (!METHOD_PATTERN.test(request.method) || /[\r\n]/.test(request.rawTarget)) throw unauthorized('malformed');
    const stringToSign = `${header.ts}\n${header.nonce}\n${request.method}\n${request.rawTarget}\n${request.rawBody}\n`;
    const credentials = { clientId: header.id, timestampMs: Number(header.ts), signature: header.sig, stringToSign };
    return this.verifySignature(credentials, 'http', nowMs);
  }

  private authenticateBearer(parameters: string, nowMs: number): Identity {
    const token = parameters.trim();
    if (token.length === 0) throw unauthorized('malformed');
    const resolved = this.resolveAccessToken(token, nowMs);
    if (typeof resolved === 'string') throw unauthorized(resolved);
    return resolved;
  }

  private authenticateBasic(parameters: string): Identity {
    const pair = decodeBasicParameters(parameters.trim());
    if (pair === undefined) throw unauthorized('malformed');
    return this.verifySecret(pair.clientId, pair.clientSecret, 'http');
  }

  // Grants -------------------------------------------------------------------------------------

  private grantBySignature(grant: Extract<AuthGrant, { grant_type: 'client_signature' }>, nowMs: number): Identity {
    const wellFormed =
      CLIENT_ID_PATTERN.test(grant.client_id) &&
      Number.isSafeInteger(grant.timestamp) &&
      grant.timestamp >= 0 &&
      NONCE_PATTERN.test(grant.nonce) &&
      grant.data.length <= GRANT_DATA_CHARS_MAX &&
      !/[\r\n]/.test(grant.data);
    if (!wellFormed) throw invalidCredentials('malformed');
    const stringToSign = `${grant.timestamp}\n${grant.nonce}\n${grant.data}`;
    return this.verifySignature({ clientId: grant.client_id, timestampMs: grant.timestamp, signature: grant.signature, stringToSign }, 'grant', nowMs);
  }

  private grantByCredentials(grant: Extract<AuthGrant, { grant_type: 'client_credentials' }>): Identity {
    return this.verifySecret(grant.client_id, grant.client_secret, 'grant');
  }

  /** Rotation: the presented pair ends (refresh and access token) and a new pair is issued. */
  private grantByRefreshToken(refreshToken: string, nowMs: number): GrantedTokens {
    const session = this.sessionsByRefreshToken.get(refreshToken);
    if (session === undefined) throw invalidCredentials('invalid_token');
    this.endSession(session);
    if (nowMs >= session.refreshExpiresMs) throw invalidCredentials('expired_token');
    const key = this.usableKey(session.identity.clientId);
    if (key === undefined) throw invalidCredentials('unknown_key');
    return this.issueSession(key.identity, nowMs);
  }

  // Verification shared by every way in ---------------------------------------------------------

  /**
   * The checks in order of cost, and the replay cache last, so that only correctly signed requests
   * can occupy it (a forger cannot fill it).
   */
  private verifySignature(credentials: SignedCredentials, transport: Transport, nowMs: number): Identity {
    const key = this.usableKey(credentials.clientId);
    if (key === undefined) throw failure(transport, 'unknown_key');
    const timestampProblem = checkTimestamp({ timestampMs: credentials.timestampMs, nowMs, windowMs: this.windowMs, processStartMs: this.processStartMs });
    if (timestampProblem !== undefined) throw failure(transport, timestampProblem);
    const expected = createHmac('sha256', key.clientSecret).update(credentials.stringToSign, 'utf8').digest();
    if (!hexSignatureMatches(expected, credentials.signature)) throw failure(transport, 'bad_signature');
    this.rememberSignature(credentials, transport, nowMs);
    return key.identity;
  }

  private rememberSignature(credentials: SignedCredentials, transport: Transport, nowMs: number): void {
    // Dated ahead of our clock: the restart rule would not cover it, so it must reach the disk.
    const mustPersist = credentials.timestampMs > nowMs;
    if (mustPersist && !this.keys.signaturePersistenceHealthy()) throw failure(transport, 'replay_store_unavailable');
    const expiresMs = credentials.timestampMs + this.windowMs;
    const outcome = this.replays.remember(replayKey(credentials.clientId, credentials.signature), expiresMs, nowMs);
    if (outcome === 'replayed') throw failure(transport, 'replayed');
    if (outcome === 'full') throw failure(transport, 'replay_cache_full');
    if (mustPersist) this.keys.rememberSignature({ clientId: credentials.clientId, signature: credentials.signature, expiresMs }, nowMs);
  }

  private verifySecret(clientId: string, clientSecret: string, transport: Transport): Identity {
    const key = this.usableKey(clientId);
    if (key === undefined) throw failure(transport, 'unknown_key');
    if (!secretsEqual(key.clientSecret, clientSecret)) throw failure(transport, 'bad_secret');
    return key.identity;
  }

  /** Unknown and disabled keys look the same from outside. */
  private usableKey(clientId: string): KeyRecord | undefined {
    const key = this.keys.lookup(clientId);
    return key === undefined || key.disabled ? undefined : key;
  }

  private seedReplaysFromStore(nowMs: number): void {
    for (const remembered of this.keys.rememberedSignatures()) {
      this.replays.remember(replayKey(remembered.clientId, remembered.signature), remembered.expiresMs, nowMs);
    }
  }

  // Sessions (token pairs) ------------------------------------------------------------------------

  private issueSession(identity: Identity, nowMs: number): GrantedTokens {
    this.endExpiredSessions(nowMs);
    const session: Session = {
      identity,
      accessToken: randomToken(),
      refreshToken: randomToken(),
      accessExpiresMs: nowMs + this.accessTokenTtlMs,
      refreshExpiresMs: nowMs + this.refreshTokenTtlMs,
    };
    this.addSession(session);
    return {
      identity,
      accessToken: session.accessToken,
      refreshToken: session.refreshToken,
      expiresInSeconds: Math.floor(this.accessTokenTtlMs / 1000),
      scopeText: scopeText(identity.scopes),
    };
  }

  private addSession(session: Session): void {
    let sessionsOfKey = this.sessionsByClientId.get(session.identity.clientId);
    if (sessionsOfKey === undefined) {
      sessionsOfKey = new Set();
      this.sessionsByClientId.set(session.identity.clientId, sessionsOfKey);
    }
    if (sessionsOfKey.size >= this.sessionsPerKeyMax) {
      const oldest = sessionsOfKey.values().next().value;
      if (oldest !== undefined) this.endSession(oldest);
    }
    sessionsOfKey.add(session);
    this.sessionsByAccessToken.set(session.accessToken, session);
    this.sessionsByRefreshToken.set(session.refreshToken, session);
  }

  private endSession(session: Session): void {
    this.sessionsByAccessToken.delete(session.accessToken);
    this.sessionsByRefreshToken.delete(session.refreshToken);
    const sessionsOfKey = this.sessionsByClientId.get(session.identity.clientId);
    sessionsOfKey?.delete(session);
    if (sessionsOfKey?.size === 0) this.sessionsByClientId.delete(session.identity.clientId);
  }

  /** Issue order is expiry order, so this stops at the first live session. */
  private endExpiredSessions(nowMs: number): void {
    for (const session of this.sessionsByRefreshToken.values()) {
      if (nowMs < session.refreshExpiresMs) return;
      this.endSession(session);
    }
  }

  /** The identity, or why not: a stable reason for the HTTP error. */
  private resolveAccessToken(accessToken: string, nowMs: number): Identity | 'invalid_token' | 'expired_token' | 'unknown_key' {
    const session = this.sessionsByAccessToken.get(accessToken);
    if (session === undefined) return 'invalid_token';
    if (nowMs >= session.accessExpiresMs) return 'expired_token';
    // A disabled key ends its tokens too, without waiting for them to expire.
    if (this.usableKey(session.identity.clientId) === undefined) return 'unknown_key';
    return session.identity;
  }
}

// The replay cache -------------------------------------------------------------------------------

/**
 * Keys with an expiry, bucketed by expiry so that pruning drops whole buckets (at most
 * 2 × window / bucket of them) instead of scanning entries. Entries may outlive their expiry by up to
 * one bucket; the caller's timestamp check already refuses anything that old.
 */
export class ReplayCache {
  private readonly keys = new Set<string>();
  private readonly keysByBucket = new Map<number, string[]>();
  private prunedBeforeBucket = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: { entriesMax: number; bucketMs: number }) {}

  remember(key: string, expiresMs: number, nowMs: number): 'remembered' | 'replayed' | 'full' {
    this.pruneExpired(nowMs);
    if (this.keys.has(key)) return 'replayed';
    if (this.keys.size >= this.options.entriesMax) return 'full';
    this.keys.add(key);
    const bucket = Math.floor(expiresMs / this.options.bucketMs);
    const keys = this.keysByBucket.get(bucket);
    if (keys === undefined) this.keysByBucket.set(bucket, [key]);
    else keys.push(key);
    return 'remembered';
  }

  size(): number {
    return this.keys.size;
  }

  /** Buckets wholly in the past; runs once per bucket of time, however many calls. */
  private pruneExpired(nowMs: number): void {
    const currentBucket = Math.floor(nowMs / this.options.bucketMs);
    if (currentBucket <= this.prunedBeforeBucket) return;
    for (const [bucket, keys] of this.keysByBucket) {
      if (bucket >= currentBucket) continue;
      for (const key of keys) this.keys.delete(key);
      this.keysByBucket.delete(bucket);
    }
    this.prunedBeforeBucket = currentBucket;
  }
}

// Pure helpers -----------------------------------------------------------------------------------

/** Deribit's scope text: `read` reads everything, `trade` and `wallet` add read_write to theirs. */
export function scopeText(scopes: ReadonlySet<Scope>): string {
  const parts = ['connection', 'mainaccount'];
  if (scopes.has('read')) parts.push('account:read');
  if (scopes.has('trade')) parts.push('trade:read_write');
  else if (scopes.has('read')) parts.push('trade:read');
  if (scopes.has('wallet')) parts.push('wallet:read_write');
  else if (scopes.has('read')) parts.push('wallet:read');
  return parts.join(' ');
}

/** A signature is the HMAC's lowercase hex; anything else, any length, is simply not equal. */
export function hexSignatureMatches(expected: Buffer, presented: string): boolean {
  if (!SIGNATURE_PATTERN.test(presented)) return false;
  const presentedBytes = Buffer.from(presented, 'hex');
  // Equal by construction after the pattern; checked again because timingSafeEqual throws otherwise.
  if (presentedBytes.length !== expected.length) return false;
  return timingSafeEqual(presentedBytes, expected);
}

export function checkTimestamp(input: { timestampMs: number; nowMs: number; windowMs: number; processStartMs: number }): 'stale_timestamp' | 'future_timestamp' | 'predates_restart' | undefined {
  if (input.timestampMs < input.nowMs - input.windowMs) return 'stale_timestamp';
  if (input.timestampMs > input.nowMs + input.windowMs) return 'future_timestamp';
  if (input.timestampMs <= input.processStartMs) return 'predates_restart';
  return undefined;
}

/** Scheme (lower case, since HTTP schemes are case-insensitive) and the rest of the header. */
function splitAuthorization(authorization: string | undefined): { scheme: string; parameters: string } {
  if (authorization === undefined || authorization.trim().length === 0) throw unauthorized('missing');
  if (authorization.length > AUTHORIZATION_CHARS_MAX) throw unauthorized('malformed');
  const trimmed = authorization.trim();
  const space = trimmed.indexOf(' ');
  if (space < 0) throw unauthorized('malformed');
  return { scheme: trimmed.slice(0, space).toLowerCase(), parameters: trimmed.slice(space + 1) };
}

/** `id=..,ts=..,sig=..,nonce=..` in any order, each exactly once, nothing else. */
function parseHmacParameters(parameters: string): { id: string; ts: string; sig: string; nonce: string } {
  const values = new Map<string, string>();
  for (const pair of parameters.split(',')) {
    const equals = pair.indexOf('=');
    if (equals < 0) throw unauthorized('malformed');
    const name = pair.slice(0, equals).trim();
    if (!['id', 'ts', 'sig', 'nonce'].includes(name) || values.has(name)) throw unauthorized('malformed');
    values.set(name, pair.slice(equals + 1).trim());
  }
  const id = values.get('id');
  const ts = values.get('ts');
  const sig = values.get('sig');
  const nonce = values.get('nonce');
  if (id === undefined || ts === undefined || sig === undefined || nonce === undefined) throw unauthorized('malformed');
  if (!CLIENT_ID_PATTERN.test(id) || !TIMESTAMP_PATTERN.test(ts) || !NONCE_PATTERN.test(nonce)) throw unauthorized('malformed');
  return { id, ts, sig, nonce };
}

/** `base64(client_id:client_secret)`, strictly: canonical base64, split at the first colon. */
function decodeBasicParameters(parameters: string): { clientId: string; clientSecret: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(parameters) || parameters.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(parameters, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) return undefined;
  return { clientId: decoded.slice(0, colon), clientSecret: decoded.slice(colon + 1) };
}

/** Constant-time whatever the lengths: compare fixed-size digests. */
function secretsEqual(stored: string, presented: string): boolean {
  const storedDigest = createHash('sha256').update(stored, 'utf8').digest();
  const presentedDigest = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(storedDigest, presentedDigest);
}

/**
 * The signature's 32 bytes as a one-byte string after the client id (which has no space): a fresh
 * string of ~45 characters, about half the memory of the hex (measured: 135 against 279 bytes per
 * entry, since a slice of the hex keeps the whole Authorization header alive). The caller has
 * already checked that `signatureHex` is 64 lowercase hex digits.
 */
function replayKey(clientId: string, signatureHex: string): string {
  return `${clientId} ${Buffer.from(signatureHex, 'hex').toString('latin1')}`;
}

function randomToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

function failure(transport: Transport, reason: string): AuthError {
  return transport === 'http' ? unauthorized(reason) : invalidCredentials(reason);
}

function unauthorized(reason: string): AuthError {
  return new AuthError(13009, 'unauthorized', reason);
}

function invalidCredentials(reason: string): AuthError {
  return new AuthError(13004, 'invalid_credentials', reason);
}

function checkOptions(options: { windowMs: number; accessTokenTtlMs: number; refreshTokenTtlMs: number; sessionsPerKeyMax: number }): void {
  if (!(Number.isSafeInteger(options.windowMs) && options.windowMs > 0)) throw new RangeError('windowMs must be a positive integer');
  if (!(Number.isSafeInteger(options.accessTokenTtlMs) && options.accessTokenTtlMs >= 1000)) throw new RangeError('accessTokenTtlMs must be at least 1000');
  if (!(options.refreshTokenTtlMs >= options.accessTokenTtlMs)) throw new RangeError('refreshTokenTtlMs must not be shorter than accessTokenTtlMs');
  if (!(Number.isSafeInteger(options.sessionsPerKeyMax) && options.sessionsPerKeyMax > 0)) throw new RangeError('sessionsPerKeyMax must be positive');
}
