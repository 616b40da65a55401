// Gateway authentication: HMAC-signed HTTP requests, Bearer and Basic, the `public/auth` grants,
// tokens, and the API key store (RELIABILITY.md test 12, cases a–i; reference/deribit-v2-api.md §3).
//
// What it proves: the reference's test vectors verify exactly; a valid signature is accepted once
// and only once, across transports and across a restart; tampering with any signed byte, moving a
// timestamp one millisecond outside the window, or presenting a signature of the wrong length or
// spelling is refused with an AuthError carrying a stable reason, and never with anything else;
// the signature covers the exact bytes received, so no re-encoding gives one signature two
// meanings; the Identity carries the key's scopes; tokens expire, rotate and revoke; memory for
// replays is bounded without forgetting live signatures; no error text contains a secret.
//
// Method: example-based, table-driven cases against a real KeyStore (SQLite in a temp dir, closed
// and reopened for restarts) and a real Authenticator whose time is the `nowMs` argument, pinned
// near the reference's clock (1700000000000). Requests are signed by the fixture's own HMAC code
// (test/gateway/_auth_fixtures.ts, written from the reference, not from gateway/auth.ts). The
// oracle is the reference's vectors and formulas, and for every refusal the pair (code, reason).
// Nothing is random except the keys and tokens the code under test generates, so a failure
// replays by rerunning: npx tap --reporter=tap test/gateway/auth.test.ts

import t from 'tap';
import crypto from 'node:crypto';
import { statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { ReplayCache, scopeText } from '../../gateway/auth.js';
import { AuthError, type Scope } from '../../gateway/auth_types.js';
import { KeyStore, KeyStoreError } from '../../gateway/key_store.js';
import {
  ACCESS_TTL_MS,
  NOW_MS,
  START_MS,
  TEST_KEY,
  WINDOW_MS,
  basicHeader,
  hmacHeader,
  hmacHex,
  httpStringToSign,
  openFixture,
  outcomeOf,
  signGrant,
  signHttp,
  verdictOf,
} from './_auth_fixtures.js';

const SUMMARIES = '/api/v2/private/get_account_summaries';
const BUY = '/api/v2/private/buy?instrument_name=H100_USDAI-PERPETUAL&amount=5&type=limit&price=2.05&post_only=true&reject_post_only=true';

t.test('reference test vectors (§3.1, §3.2) verify exactly', async (t) => {
  const f = await openFixture(t);
  const ts = String(NOW_MS);
  t.equal(
    httpStringToSign({ ts, nonce: ts, method: 'GET', target: SUMMARIES, body: '' }),
    '1700000000000\n1700000000000\nGET\n/api/v2/private/get_account_summaries\n\n',
    'string to sign of vector 1',
  );
  const vector1 = '80762bee200d499f906b3e4322746081be0b16535ff558a7f95de5ff6fa6bfaf';
  const vector2 = '6c17f7459063f01afcaf29e3d9fe3c9b57d15a921d31f1fc62d1e98b0ead575b';
  t.equal(hmacHex('testsecret', httpStringToSign({ ts, nonce: ts, method: 'GET', target: SUMMARIES, body: '' })), vector1);
  t.equal(hmacHex('testsecret', httpStringToSign({ ts, nonce: ts, method: 'GET', target: BUY, body: '' })), vector2);

  const viaCcxtOrder = { authorization: hmacHeader({ id: 'testkey', ts, sig: vector1, nonce: ts }), method: 'GET', rawTarget: SUMMARIES, rawBody: '' };
  const identity = f.auth.authenticateHttp(viaCcxtOrder, NOW_MS);
  t.same({ accountId: identity.accountId, clientId: identity.clientId, scopes: [...identity.scopes] }, { accountId: 1, clientId: 'testkey', scopes: ['read', 'trade'] });

  const viaDeribitOrder = { authorization: hmacHeader({ id: 'testkey', ts, sig: vector2, nonce: ts }, ['id', 'ts', 'nonce', 'sig']), method: 'GET', rawTarget: BUY, rawBody: '' };
  t.equal(verdictOf(() => f.auth.authenticateHttp(viaDeribitOrder, NOW_MS)), 'ok', 'vector 2, pairs in Deribit order');

  const grant = { grant_type: 'client_signature' as const, client_id: 'testkey', timestamp: NOW_MS, nonce: ts, data: '', signature: 'de0683d28f713e8bef3430335f6e3c2389a30d3422332c90d668ed86aea8f3ca' };
  t.equal(signGrant({}).signature, grant.signature, 'grant vector from the fixture signer');
  const tokens = f.auth.grant(grant, NOW_MS);
  t.equal(tokens.identity.clientId, 'testkey');
  t.equal(tokens.scopeText, 'connection mainaccount account:read trade:read_write wallet:read');
  t.equal(tokens.expiresInSeconds, ACCESS_TTL_MS / 1000);
});

t.test('(a) valid signatures are accepted: GET with query, POST with body, a created key', async (t) => {
  const f = await openFixture(t);
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: BUY }).request, NOW_MS)), 'ok', 'GET with query');
  const post = signHttp({ method: 'POST', target: '/api/v2/private/buy', body: '{"jsonrpc":"2.0","id":1,"method":"private/buy","params":{"amount":"1"}}' });
  t.equal(verdictOf(() => f.auth.authenticateHttp(post.request, NOW_MS)), 'ok', 'POST with body');
  const reader = signHttp({ clientId: f.reader.clientId, secret: f.reader.clientSecret, target: SUMMARIES });
  t.equal(f.auth.authenticateHttp(reader.request, NOW_MS).accountId, 2, 'a key from createKey, its own account');
  const spaced = signHttp({ target: SUMMARIES, nonce: 'n-spaced' });
  const header = `deri-hmac-sha256 id=testkey, ts=${spaced.ts}, sig=${spaced.sig}, nonce=${spaced.nonce}`;
  t.equal(verdictOf(() => f.auth.authenticateHttp({ ...spaced.request, authorization: header }, NOW_MS)), 'ok', 'spaces after commas');
  const upperScheme = signHttp({ target: SUMMARIES, nonce: 'n-upper' });
  const upperHeader = upperScheme.request.authorization?.replace('deri-hmac-sha256', 'DERI-HMAC-SHA256');
  t.equal(verdictOf(() => f.auth.authenticateHttp({ ...upperScheme.request, authorization: upperHeader }, NOW_MS)), 'ok', 'scheme is case-insensitive');
});

t.test('(b) tampering with any signed part is refused, and refusals do not poison the cache', async (t) => {
  const f = await openFixture(t);
  const body = '{"jsonrpc":"2.0","id":7,"method":"private/buy","params":{"instrument_name":"H100_USDAI-PERPETUAL","amount":"5"}}';
  const target = '/api/v2/private/buy?instrument_name=H100_USDAI-PERPETUAL&amount=5';
  const signed = signHttp({ method: 'POST', target, body, nonce: '1700000000000' });
  const other = await f.keys.createKey({ accountId: 3, scopes: ['read', 'trade'], nowMs: NOW_MS });
  const headerWith = (changes: Partial<{ id: string; ts: string; sig: string; nonce: string }>) => hmacHeader({ id: 'testkey', ts: signed.ts, sig: signed.sig, nonce: signed.nonce, ...changes });
  const flipped = (text: string, index: number) => text.slice(0, index) + (text[index] === 'a' ? 'b' : 'a') + text.slice(index + 1);
  const cases: [string, Partial<typeof signed.request>, string][] = [
    ['ts + 1 ms', { authorization: headerWith({ ts: String(NOW_MS + 1) }) }, '13009 bad_signature'],
    ['ts - 1 ms', { authorization: headerWith({ ts: String(NOW_MS - 1) }) }, '13009 bad_signature'],
    ['ts with a leading zero', { authorization: headerWith({ ts: `0${signed.ts}` }) }, '13009 malformed'],
    ['nonce changed', { authorization: headerWith({ nonce: '1700000000001' }) }, '13009 bad_signature'],
    ['another key id', { authorization: headerWith({ id: other.clientId }) }, '13009 bad_signature'],
    ['unknown key id', { authorization: headerWith({ id: 'nobody00' }) }, '13009 unknown_key'],
    ['sig: one hex digit changed', { authorization: headerWith({ sig: flipped(signed.sig, 10) }) }, '13009 bad_signature'],
    ['sig: last hex digit changed', { authorization: headerWith({ sig: signed.sig.slice(0, 63) + (signed.sig[63] === '0' ? '1' : '0') }) }, '13009 bad_signature'],
    ['method POST → GET', { method: 'GET' }, '13009 bad_signature'],
    ['method POST → PUT', { method: 'PUT' }, '13009 bad_signature'],
    ['method in lower case', { method: 'post' }, '13009 malformed'],
    ['path changed', { rawTarget: target.replace('private/buy', 'private/sell') }, '13009 bad_signature'],
    ['path prefix added', { rawTarget: `/deribit${target}` }, '13009 bad_signature'],
    ['query order swapped', { rawTarget: '/api/v2/private/buy?amount=5&instrument_name=H100_USDAI-PERPETUAL' }, '13009 bad_signature'],
    ['one query byte (amount 5 → 6)', { rawTarget: target.replace('amount=5', 'amount=6') }, '13009 bad_signature'],
    ['query parameter appended', { rawTarget: `${target}&price=1` }, '13009 bad_signature'],
    ['trailing & on the query', { rawTarget: `${target}&` }, '13009 bad_signature'],
    ['query dropped', { rawTarget: '/api/v2/private/buy' }, '13009 bad_signature'],
    ['one body byte (amount "5" → "6")', { rawBody: body.replace('"5"', '"6"') }, '13009 bad_signature'],
    ['body truncated', { rawBody: body.slice(0, -1) }, '13009 bad_signature'],
    ['body emptied', { rawBody: '' }, '13009 bad_signature'],
    ['newline in the target', { rawTarget: `${target}\nX` }, '13009 malformed'],
  ];
  for (const [name, change, expected] of cases) {
    t.equal(verdictOf(() => f.auth.authenticateHttp({ ...signed.request, ...change }, NOW_MS)), expected, name);
  }
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok', 'the untampered original still passes afterwards');
  t.equal(f.auth.rememberedSignatureCount(), 1, 'only the accepted signature entered the replay cache');
});

t.test('(c) an identical request inside the window is refused; a reused nonce with another signature is not', async (t) => {
  const f = await openFixture(t);
  const signed = signHttp({ target: SUMMARIES });
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), '13009 replayed', 'same ms');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS + 30_000)), '13009 replayed', 'half a window later');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS + WINDOW_MS)), '13009 replayed', 'at the window edge');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS + WINDOW_MS + 1)), '13009 stale_timestamp', 'past the window it is stale');
  // CCXT: parallel calls in the same millisecond share ts and nonce but sign different targets.
  const parallel = signHttp({ target: BUY });
  t.equal(verdictOf(() => f.auth.authenticateHttp(parallel.request, NOW_MS)), 'ok', 'same ts and nonce, other request');
  const grant = signGrant({});
  t.equal(verdictOf(() => f.auth.grant(grant, NOW_MS)), 'ok');
  t.equal(verdictOf(() => f.auth.grant(grant, NOW_MS + 1)), '13004 replayed', 'grant replay');
  t.equal(verdictOf(() => f.auth.grant(signGrant({ data: 'other' }), NOW_MS)), 'ok', 'same ts and nonce, other data');
});

t.test('(d) one cache for every connection and transport; no signature is valid as both HTTP and grant', async (t) => {
  const f = await openFixture(t);
  const signed = signHttp({ target: SUMMARIES });
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok', 'connection 1');
  // Another connection re-sends it with the header spelt differently: same signature, so replayed.
  const respelt = `deri-hmac-sha256 nonce=${signed.nonce}, sig=${signed.sig}, ts=${signed.ts}, id=testkey`;
  t.equal(verdictOf(() => f.auth.authenticateHttp({ ...signed.request, authorization: respelt }, NOW_MS + 5)), '13009 replayed', 'connection 2, pairs reordered');

  // The HTTP string to sign is `ts\nnonce\n` + `GET\n<target>\n\n`, which a grant would sign if its data were that tail.
  const tail = `GET\n${SUMMARIES}\n\n`;
  const crossover = { grant_type: 'client_signature' as const, client_id: 'testkey', timestamp: NOW_MS, nonce: signed.nonce, data: tail, signature: signed.sig };
  t.equal(hmacHex('testsecret', `${NOW_MS}\n${signed.nonce}\n${tail}`), signed.sig, 'the threat is real: same HMAC input');
  t.equal(verdictOf(() => f.auth.grant(crossover, NOW_MS)), '13004 malformed', 'HTTP signature as a grant: refused (data may not hold a newline)');
  const unseen = signHttp({ target: BUY });
  const unseenCrossover = { ...crossover, data: `GET\n${BUY}\n\n`, signature: unseen.sig };
  t.equal(verdictOf(() => f.auth.grant(unseenCrossover, NOW_MS)), '13004 malformed', 'even before the HTTP request was seen');

  const grant = signGrant({ nonce: 'ws-1' });
  t.equal(verdictOf(() => f.auth.grant(grant, NOW_MS)), 'ok', 'WS connection 1 authenticates');
  t.equal(verdictOf(() => f.auth.grant(grant, NOW_MS + 1)), '13004 replayed', 'WS connection 2 replays the grant');
  const grantAsHttp = { authorization: hmacHeader({ id: 'testkey', ts: String(NOW_MS), sig: grant.signature, nonce: 'ws-1' }), method: 'GET', rawTarget: SUMMARIES, rawBody: '' };
  t.equal(verdictOf(() => f.auth.authenticateHttp(grantAsHttp, NOW_MS)), '13009 bad_signature', 'a grant signature used over HTTP');
  t.equal(verdictOf(() => f.auth.grant({ ...signGrant({ nonce: 'a\nb' }) }, NOW_MS)), '13004 malformed', 'newline in a nonce');
});

t.test('(e) timestamps at the window edge ±1 ms, and far past and future', async (t) => {
  const f = await openFixture(t);
  const offsets: [number, string][] = [
    [-WINDOW_MS - 1, 'stale_timestamp'],
    [-WINDOW_MS, 'ok'],
    [-WINDOW_MS + 1, 'ok'],
    [0, 'ok'],
    [WINDOW_MS - 1, 'ok'],
    [WINDOW_MS, 'ok'],
    [WINDOW_MS + 1, 'future_timestamp'],
    [-NOW_MS, 'stale_timestamp'],
    [-1_000_000_000, 'stale_timestamp'],
    [1_000_000_000, 'future_timestamp'],
    [Number.MAX_SAFE_INTEGER - NOW_MS, 'future_timestamp'],
  ];
  for (const [offsetMs, expected] of offsets) {
    const ts = NOW_MS + offsetMs;
    const http = signHttp({ target: SUMMARIES, ts, nonce: `e${offsetMs}` });
    const httpExpected = expected === 'ok' ? 'ok' : `13009 ${expected}`;
    t.equal(verdictOf(() => f.auth.authenticateHttp(http.request, NOW_MS)), httpExpected, `HTTP ts = now ${offsetMs >= 0 ? '+' : ''}${offsetMs}`);
    const grant = signGrant({ timestamp: ts, nonce: `g${offsetMs}` });
    const grantExpected = expected === 'ok' ? 'ok' : `13004 ${expected}`;
    t.equal(verdictOf(() => f.auth.grant(grant, NOW_MS)), grantExpected, `grant ts = now ${offsetMs >= 0 ? '+' : ''}${offsetMs}`);
  }
  for (const ts of ['17000000000000000', '-1', '+1700000000000', '1.7e12', '1700000000000.0', '', '0x18bcfe56800']) {
    const http = signHttp({ target: SUMMARIES, ts, nonce: 'n' });
    t.equal(verdictOf(() => f.auth.authenticateHttp(http.request, NOW_MS)), '13009 malformed', `HTTP ts ${JSON.stringify(ts)}`);
  }
  for (const timestamp of [1.7e12 + 0.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    t.equal(verdictOf(() => f.auth.grant(signGrant({ timestamp, nonce: 'n' }), NOW_MS)), '13004 malformed', `grant timestamp ${timestamp}`);
  }
});

t.test('(f) after a restart, pre-restart signatures are still refused', async (t) => {
  const f = await openFixture(t);
  const past = signHttp({ target: SUMMARIES, ts: NOW_MS - 1_000, nonce: 'past' });
  const current = signHttp({ target: SUMMARIES, ts: NOW_MS, nonce: 'current' });
  const future = signHttp({ target: SUMMARIES, ts: NOW_MS + 30_000, nonce: 'future' });
  const futureGrant = signGrant({ timestamp: NOW_MS + 20_000, nonce: 'future-grant' });
  for (const signed of [past, current, future]) t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok');
  t.equal(verdictOf(() => f.auth.grant(futureGrant, NOW_MS)), 'ok');
  await f.keys.flush();
  t.equal(f.keys.rememberedSignatures().length, 0, 'nothing persisted at open');

  const restartMs = NOW_MS + 5;
  await f.restart({ processStartMs: restartMs });
  const nowMs = restartMs + 5;
  t.same(
    f.keys.rememberedSignatures().map((row) => row.signature).sort(),
    [future.sig, futureGrant.signature].sort(),
    'only the signatures dated ahead of the clock were persisted',
  );
  t.equal(verdictOf(() => f.auth.authenticateHttp(past.request, nowMs)), '13009 predates_restart', 'past-dated: the restart rule');
  t.equal(verdictOf(() => f.auth.authenticateHttp(current.request, nowMs)), '13009 predates_restart', 'dated at the old clock: the restart rule');
  t.equal(verdictOf(() => f.auth.authenticateHttp(future.request, nowMs)), '13009 replayed', 'future-dated HTTP: persisted');
  t.equal(verdictOf(() => f.auth.grant(futureGrant, nowMs)), '13004 replayed', 'future-dated grant: persisted');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: restartMs, nonce: 'edge' }).request, nowMs)), '13009 predates_restart', 'ts = processStartMs');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: restartMs + 1, nonce: 'edge' }).request, nowMs)), 'ok', 'ts = processStartMs + 1');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: nowMs, nonce: 'fresh' }).request, nowMs)), 'ok', 'a fresh request works');

  // Persisted rows are pruned once expired, so the table holds at most a window's worth.
  const laterMs = NOW_MS + 3 * WINDOW_MS;
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: laterMs + 10, nonce: 'later' }).request, laterMs)), 'ok');
  await f.restart({ processStartMs: laterMs + 1 });
  t.equal(f.keys.rememberedSignatures().length, 1, 'expired rows deleted, the live one kept');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: laterMs + 10, nonce: 'later' }).request, laterMs + 2)), '13009 replayed');
});

t.test('(f) if a signature cannot be persisted, future-dated ones are refused (fail closed)', async (t) => {
  const f = await openFixture(t);
  await f.keys.close(); // every later write fails
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: NOW_MS + 10, nonce: 'a' }).request, NOW_MS)), 'ok', 'the failure is only known later');
  await f.keys.flush();
  t.equal(f.keys.signaturePersistenceHealthy(), false);
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: NOW_MS + 10, nonce: 'b' }).request, NOW_MS)), '13009 replay_store_unavailable');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: NOW_MS, nonce: 'c' }).request, NOW_MS)), 'ok', 'not future-dated: needs no disk');
});

t.test('(g) signatures of the wrong length or spelling are refused with an AuthError, never another throw', async (t) => {
  const f = await openFixture(t);
  const signed = signHttp({ target: SUMMARIES });
  const variants: [string, string][] = [
    ['empty', ''],
    ['1 char', 'a'],
    ['63 chars', signed.sig.slice(0, 63)],
    ['65 chars', `${signed.sig}0`],
    ['66 chars (33 bytes of valid hex)', `${signed.sig}00`],
    ['32 chars (16 bytes)', signed.sig.slice(0, 32)],
    ['128 chars (the signature twice)', signed.sig + signed.sig],
    ['3000 chars', 'a'.repeat(3_000)],
    ['upper-case hex of the right signature', signed.sig.toUpperCase()],
    ['64 non-hex chars', 'z'.repeat(64)],
    ['base64 of the right bytes', Buffer.from(signed.sig, 'hex').toString('base64')],
    ['hex with a space', ` ${signed.sig.slice(1)}`],
  ];
  for (const [name, sig] of variants) {
    const outcome = outcomeOf(() => f.auth.authenticateHttp({ ...signed.request, authorization: hmacHeader({ id: 'testkey', ts: signed.ts, sig, nonce: signed.nonce }) }, NOW_MS));
    t.equal(outcome.kind, 'auth_error', `${name}: an AuthError`);
    if (outcome.kind === 'auth_error') t.ok(['bad_signature', 'malformed'].includes(outcome.error.reason), `${name}: ${outcome.error.reason}`);
    const grantOutcome = outcomeOf(() => f.auth.grant({ ...signGrant({}), signature: sig }, NOW_MS));
    t.equal(grantOutcome.kind === 'auth_error' ? `${grantOutcome.error.code} ${grantOutcome.error.reason}` : grantOutcome.kind, '13004 bad_signature', `${name}: grant`);
  }
  const huge = { ...signed.request, authorization: hmacHeader({ id: 'testkey', ts: signed.ts, sig: 'a'.repeat(10_000), nonce: signed.nonce }) };
  t.equal(verdictOf(() => f.auth.authenticateHttp(huge, NOW_MS)), '13009 malformed', 'an oversized header');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok', 'none of them used up the real signature');

  // The comparison itself is crypto.timingSafeEqual, on buffers of equal length.
  const original = crypto.timingSafeEqual;
  const lengths: [number, number][] = [];
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    lengths.push([a.byteLength, b.byteLength]);
    return original(a, b);
  }) as typeof crypto.timingSafeEqual;
  syncBuiltinESMExports();
  try {
    f.auth.authenticateHttp(signHttp({ target: BUY }).request, NOW_MS);
    verdictOf(() => f.auth.authenticateHttp(signHttp({ target: BUY, nonce: 'x', secret: 'wrong' }).request, NOW_MS));
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
  t.same(lengths, [[32, 32], [32, 32]], 'timingSafeEqual on 32-byte buffers, for a match and a mismatch');
});

t.test('(h) canonicalization: the signature covers the exact bytes, so no rewriting keeps it valid', async (t) => {
  const f = await openFixture(t);
  const target = '/api/v2/private/buy?instrument_name=H100_USDAI-PERPETUAL&label=a%2Fb%20c&amount=5';
  const body = '{"jsonrpc":"2.0","id":1,"method":"private/buy","params":{"label":"caf\u00e9","amount":"5"}}';
  const signed = signHttp({ method: 'POST', target, body, nonce: 'h' });
  const rewrites: [string, Partial<typeof signed.request>][] = [
    ['query parameters reordered', { rawTarget: '/api/v2/private/buy?amount=5&instrument_name=H100_USDAI-PERPETUAL&label=a%2Fb%20c' }],
    ['a parameter duplicated', { rawTarget: `${target}&amount=5` }],
    ['a duplicated parameter with another value', { rawTarget: `${target}&amount=500` }],
    ['percent-encoding in lower case (%2f)', { rawTarget: target.replace('%2F', '%2f') }],
    ['slash decoded', { rawTarget: target.replace('%2F', '/') }],
    ['%20 as +', { rawTarget: target.replace('%20', '+') }],
    ['a letter percent-encoded', { rawTarget: target.replace('amount=5', '%61mount=5') }],
    ['JSON whitespace after a colon', { rawBody: body.replace('"amount":"5"', '"amount": "5"') }],
    ['JSON pretty-printed', { rawBody: JSON.stringify(JSON.parse(body), null, 2) }],
    ['JSON keys reordered', { rawBody: body.replace('"label":"caf\u00e9","amount":"5"', '"amount":"5","label":"caf\u00e9"') }],
    ['trailing newline on the body', { rawBody: `${body}\n` }],
    ['unicode NFC → NFD in the body', { rawBody: body.normalize('NFD') }],
    ['unicode escaped in the JSON', { rawBody: body.replace('\u00e9', '\\u00e9') }],
  ];
  t.not(body.normalize('NFD'), body, 'the NFD body really differs');
  for (const [name, change] of rewrites) {
    t.equal(verdictOf(() => f.auth.authenticateHttp({ ...signed.request, ...change }, NOW_MS)), '13009 bad_signature', name);
  }
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed.request, NOW_MS)), 'ok', 'the exact bytes pass');
  // And the server normalizes nothing: each rewritten form is valid when it is what was signed.
  const nfd = signHttp({ method: 'POST', target, body: body.normalize('NFD'), nonce: 'h' });
  t.equal(verdictOf(() => f.auth.authenticateHttp(nfd.request, NOW_MS)), 'ok', 'the NFD form, signed as NFD');
});

t.test('(i) scopes are carried in the Identity, from every way in', async (t) => {
  const f = await openFixture(t);
  const reader = f.reader;
  const viaHmac = f.auth.authenticateHttp(signHttp({ clientId: reader.clientId, secret: reader.clientSecret, target: SUMMARIES }).request, NOW_MS);
  const viaBasic = f.auth.authenticateHttp({ authorization: basicHeader(reader.clientId, reader.clientSecret), method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS);
  const granted = f.auth.grant(signGrant({ clientId: reader.clientId, secret: reader.clientSecret }), NOW_MS);
  const viaBearer = f.auth.authenticateHttp({ authorization: `Bearer ${granted.accessToken}`, method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS);
  for (const [name, identity] of [['HMAC', viaHmac], ['Basic', viaBasic], ['grant', granted.identity], ['Bearer', viaBearer]] as const) {
    t.same([...identity.scopes], ['read'], `${name}: read only`);
    t.equal(identity.scopes.has('trade'), false, `${name}: no trade scope`);
    t.equal(identity.accountId, 2, `${name}: the key's account`);
  }
  t.equal(granted.scopeText, 'connection mainaccount account:read trade:read wallet:read');
  t.throws(() => (viaHmac.scopes as Set<Scope>).add('trade'), TypeError, 'the shared scope set cannot be widened at run time');
  t.equal(f.auth.authenticateHttp(signHttp({ clientId: reader.clientId, secret: reader.clientSecret, target: BUY }).request, NOW_MS).scopes.has('trade'), false);

  const table: [Scope[], string][] = [
    [[], 'connection mainaccount'],
    [['read'], 'connection mainaccount account:read trade:read wallet:read'],
    [['read', 'trade'], 'connection mainaccount account:read trade:read_write wallet:read'],
    [['read', 'trade', 'wallet'], 'connection mainaccount account:read trade:read_write wallet:read_write'],
    [['trade'], 'connection mainaccount trade:read_write'],
  ];
  for (const [scopes, text] of table) t.equal(scopeText(new Set(scopes)), text, `scope text of [${scopes.join(',')}]`);
  const walletKey = await f.keys.createKey({ accountId: 9, scopes: ['wallet', 'read'], nowMs: NOW_MS });
  const walletIdentity = f.auth.grant({ grant_type: 'client_credentials', client_id: walletKey.clientId, client_secret: walletKey.clientSecret }, NOW_MS).identity;
  t.same([...walletIdentity.scopes], ['read', 'wallet'], 'canonical order, as stored');
});

t.test('tokens: client_credentials, Bearer, expiry, refresh rotation, revoke', async (t) => {
  const f = await openFixture(t);
  const issuedMs = NOW_MS;
  const tokens = f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, issuedMs);
  t.match(tokens.accessToken, /^[A-Za-z0-9_-]{43}$/, 'access token: 32 random bytes, base64url');
  t.match(tokens.refreshToken, /^[A-Za-z0-9_-]{43}$/);
  t.not(tokens.accessToken, tokens.refreshToken);
  const bearer = (token: string, nowMs: number) => verdictOf(() => f.auth.authenticateHttp({ authorization: `Bearer ${token}`, method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, nowMs));

  t.equal(bearer(tokens.accessToken, issuedMs + ACCESS_TTL_MS - 1), 'ok', 'valid 1 ms before expiry');
  t.equal(f.auth.identityOfToken(tokens.accessToken, issuedMs + ACCESS_TTL_MS - 1)?.clientId, 'testkey');
  t.equal(bearer(tokens.accessToken, issuedMs + ACCESS_TTL_MS), '13009 expired_token', 'expired at issue + ttl');
  t.equal(f.auth.identityOfToken(tokens.accessToken, issuedMs + ACCESS_TTL_MS), undefined);
  t.equal(bearer(tokens.refreshToken, issuedMs), '13009 invalid_token', 'a refresh token is not an access token');
  t.equal(bearer('x'.repeat(43), issuedMs), '13009 invalid_token');
  t.equal(bearer('', issuedMs), '13009 malformed');

  // Refresh after the access token expired, before the refresh token does (2 × ttl).
  const refreshedMs = issuedMs + ACCESS_TTL_MS + 1;
  const refreshed = f.auth.grant({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, refreshedMs);
  t.not(refreshed.accessToken, tokens.accessToken);
  t.not(refreshed.refreshToken, tokens.refreshToken);
  t.equal(refreshed.identity.clientId, 'testkey');
  t.equal(bearer(refreshed.accessToken, refreshedMs), 'ok', 'the new access token works');
  t.equal(verdictOf(() => f.auth.grant({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, refreshedMs)), '13004 invalid_token', 'the old refresh token is spent');
  t.equal(f.auth.identityOfToken(tokens.accessToken, issuedMs), undefined, 'the old access token ended with its pair');

  // A refresh token expires at issue + 2 × ttl.
  const expiring = f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, issuedMs);
  t.equal(verdictOf(() => f.auth.grant({ grant_type: 'refresh_token', refresh_token: expiring.refreshToken }, issuedMs + 2 * ACCESS_TTL_MS)), '13004 expired_token');
  t.equal(verdictOf(() => f.auth.grant({ grant_type: 'refresh_token', refresh_token: 'nope' }, issuedMs)), '13004 invalid_token');

  // Logout: the access token and its refresh token stop working.
  const live = f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, issuedMs);
  f.auth.revoke(live.accessToken);
  t.equal(bearer(live.accessToken, issuedMs), '13009 invalid_token', 'revoked access token');
  t.equal(verdictOf(() => f.auth.grant({ grant_type: 'refresh_token', refresh_token: live.refreshToken }, issuedMs)), '13004 invalid_token', 'its refresh token too');
  t.doesNotThrow(() => f.auth.revoke('unknown-token'), 'revoking an unknown token is a no-op');

  const many = new Set<string>();
  for (let index = 0; index < 100; index++) many.add(f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, issuedMs).accessToken);
  t.equal(many.size, 100, '100 grants, 100 distinct tokens');
});

t.test('tokens: a key holds at most sessionsPerKeyMax pairs; the oldest ends first', async (t) => {
  const f = await openFixture(t, { sessionsPerKeyMax: 3 });
  const grantOne = () => f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, NOW_MS);
  const pairs = [grantOne(), grantOne(), grantOne(), grantOne()];
  t.equal(f.auth.identityOfToken(pairs[0].accessToken, NOW_MS), undefined, 'the first pair ended');
  for (const pair of pairs.slice(1)) t.equal(f.auth.identityOfToken(pair.accessToken, NOW_MS)?.clientId, 'testkey');
  const readerTokens = f.auth.grant({ grant_type: 'client_credentials', client_id: f.reader.clientId, client_secret: f.reader.clientSecret }, NOW_MS);
  t.equal(f.auth.identityOfToken(readerTokens.accessToken, NOW_MS)?.clientId, f.reader.clientId, 'other keys are not affected');
});

t.test('Basic, client_credentials and header parsing', async (t) => {
  const f = await openFixture(t);
  const request = (authorization: string | undefined) => ({ authorization, method: 'GET', rawTarget: SUMMARIES, rawBody: '' });
  const cases: [string, string | undefined, string][] = [
    ['Basic, right secret', basicHeader('testkey', 'testsecret'), 'ok'],
    ['basic in lower case', basicHeader('testkey', 'testsecret').replace('Basic', 'basic'), 'ok'],
    ['Basic, wrong secret', basicHeader('testkey', 'testsecreT'), '13009 bad_secret'],
    ['Basic, secret prefix', basicHeader('testkey', 'testsecre'), '13009 bad_secret'],
    ['Basic, secret extended', basicHeader('testkey', 'testsecret0'), '13009 bad_secret'],
    ['Basic, unknown id', basicHeader('nobody', 'testsecret'), '13009 unknown_key'],
    ['Basic, no colon', `Basic ${Buffer.from('testkeytestsecret').toString('base64')}`, '13009 malformed'],
    ['Basic, empty secret', `Basic ${Buffer.from('testkey:').toString('base64')}`, '13009 malformed'],
    ['Basic, not base64', 'Basic !!!!', '13009 malformed'],
    ['Basic, nothing', 'Basic ', '13009 malformed'],
    ['no header', undefined, '13009 missing'],
    ['empty header', '', '13009 missing'],
    ['unknown scheme', 'Digest abc', '13009 malformed'],
    ['scheme only', 'deri-hmac-sha256', '13009 malformed'],
    ['HMAC, a field missing', 'deri-hmac-sha256 id=testkey,ts=1700000000000,nonce=1', '13009 malformed'],
    ['HMAC, a field twice', `deri-hmac-sha256 id=testkey,id=testkey,ts=1700000000000,sig=${'0'.repeat(64)},nonce=1`, '13009 malformed'],
    ['HMAC, an unknown field', `deri-hmac-sha256 id=testkey,ts=1700000000000,sig=${'0'.repeat(64)},nonce=1,x=1`, '13009 malformed'],
    ['HMAC, a pair without =', `deri-hmac-sha256 id=testkey,ts=1700000000000,sig=${'0'.repeat(64)},nonce`, '13009 malformed'],
    ['HMAC, empty nonce', `deri-hmac-sha256 id=testkey,ts=1700000000000,sig=${'0'.repeat(64)},nonce=`, '13009 malformed'],
    ['HMAC, id with a space', `deri-hmac-sha256 id=test key,ts=1700000000000,sig=${'0'.repeat(64)},nonce=1`, '13009 malformed'],
  ];
  for (const [name, authorization, expected] of cases) t.equal(verdictOf(() => f.auth.authenticateHttp(request(authorization), NOW_MS)), expected, name);

  const credentials = (client_id: string, client_secret: string) => verdictOf(() => f.auth.grant({ grant_type: 'client_credentials', client_id, client_secret }, NOW_MS));
  t.equal(credentials('testkey', 'testsecret'), 'ok');
  t.equal(credentials('testkey', 'wrong'), '13004 bad_secret');
  t.equal(credentials('testkey', ''), '13004 bad_secret');
  t.equal(credentials('nobody', 'testsecret'), '13004 unknown_key');
  t.equal(credentials('testkey', 'testsecret'.repeat(1000)), '13004 bad_secret');
});

t.test('a disabled key stops at once: signatures, Basic, grants and its live tokens', async (t) => {
  const f = await openFixture(t);
  const tokens = f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret' }, NOW_MS);
  const disabling = f.keys.disableKey('testkey');
  // No await yet: the memory map already refuses the key before the write is durable.
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES }).request, NOW_MS)), '13009 unknown_key', 'HMAC');
  await disabling;
  t.equal(verdictOf(() => f.auth.authenticateHttp({ authorization: basicHeader('testkey', 'testsecret'), method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS)), '13009 unknown_key', 'Basic');
  t.equal(verdictOf(() => f.auth.authenticateHttp({ authorization: `Bearer ${tokens.accessToken}`, method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS)), '13009 unknown_key', 'Bearer');
  t.equal(f.auth.identityOfToken(tokens.accessToken, NOW_MS), undefined, 'identityOfToken');
  t.equal(verdictOf(() => f.auth.grant(signGrant({}), NOW_MS)), '13004 unknown_key', 'client_signature grant');
  t.equal(verdictOf(() => f.auth.grant({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, NOW_MS)), '13004 unknown_key', 'refresh');
  await f.restart({ processStartMs: START_MS });
  t.equal(f.keys.lookup('testkey')?.disabled, true, 'still disabled after reopening');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, nonce: 'after' }).request, NOW_MS)), '13009 unknown_key');
});

t.test('the replay cache is bounded: when full it refuses new signatures and forgets no live one', async (t) => {
  const f = await openFixture(t, { signaturesRememberedMax: 3 });
  const signed = [0, 1, 2, 3].map((index) => signHttp({ target: SUMMARIES, nonce: `cap${index}` }));
  for (const request of signed.slice(0, 3)) t.equal(verdictOf(() => f.auth.authenticateHttp(request.request, NOW_MS)), 'ok');
  t.equal(verdictOf(() => f.auth.authenticateHttp(signed[3].request, NOW_MS)), '13009 replay_cache_full', 'the fourth is refused');
  for (const request of signed.slice(0, 3)) t.equal(verdictOf(() => f.auth.authenticateHttp(request.request, NOW_MS + 1)), '13009 replayed', 'the three are still remembered');
  t.equal(f.auth.rememberedSignatureCount(), 3);
  // Once the window has passed, their entries are pruned and new signatures fit again.
  const laterMs = NOW_MS + WINDOW_MS + 1_001;
  t.equal(verdictOf(() => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: laterMs, nonce: 'late' }).request, laterMs)), 'ok');
  t.equal(f.auth.rememberedSignatureCount(), 1, 'expired entries pruned');

  const cache = new ReplayCache({ entriesMax: 10, bucketMs: 1_000 });
  t.equal(cache.remember('a', 5_500, 0), 'remembered');
  t.equal(cache.remember('a', 5_500, 5_999), 'replayed', 'kept through its bucket');
  t.equal(cache.remember('a', 5_500, 6_000), 'remembered', 'pruned once its bucket is past');
});

t.test('key store: formats, listing without secrets, durable settings, owner-only file', async (t) => {
  const f = await openFixture(t);
  const created = await f.keys.createKey({ accountId: 5, scopes: ['trade', 'read'], nowMs: NOW_MS + 1 });
  t.match(created.clientId, /^[A-Za-z0-9_-]{8,}$/, 'client id: url-safe, 8+ chars');
  t.match(created.clientSecret, /^[A-Za-z0-9_-]{43}$/, 'secret: base64url');
  t.equal(Buffer.from(created.clientSecret, 'base64url').length, 32, 'secret: 32 bytes');
  const listing = f.keys.listKeys();
  t.same(listing.map((key) => key.clientId), ['testkey', f.reader.clientId, created.clientId], 'oldest first');
  t.same(f.keys.listKeys(5), [{ clientId: created.clientId, accountId: 5, scopes: ['read', 'trade'], createdMs: NOW_MS + 1, disabled: false }]);
  const listingText = JSON.stringify(listing);
  for (const secret of ['testsecret', f.reader.clientSecret, created.clientSecret]) t.notOk(listingText.includes(secret), 'no secret in listKeys');

  t.same(await f.keys.settings(), { journalMode: 'wal', synchronous: 2 }, 'fresh connection');
  await f.restart({ processStartMs: START_MS });
  t.same(await f.keys.settings(), { journalMode: 'wal', synchronous: 2 }, 'reopened connection still reads FULL');
  t.equal(f.keys.lookup(created.clientId)?.clientSecret, created.clientSecret, 'keys reload from the file');
  t.equal(statSync(f.path).mode & 0o777, 0o600, 'the database file is owner-only');

  const refusal = async (work: () => Promise<unknown>) => {
    try {
      await work();
      return 'ok';
    } catch (error) {
      return error instanceof KeyStoreError ? error.reason : 'other';
    }
  };
  t.equal(await refusal(() => f.keys.createKey({ accountId: 1, scopes: ['admin' as Scope], nowMs: NOW_MS })), 'invalid_scope');
  t.equal(await refusal(() => f.keys.createKey({ accountId: -1, scopes: ['read'], nowMs: NOW_MS })), 'invalid_account');
  t.equal(await refusal(() => f.keys.importKey({ ...TEST_KEY, accountId: 1, scopes: ['read'], nowMs: NOW_MS })), 'duplicate_client_id');
  t.equal(await refusal(() => f.keys.importKey({ clientId: 'a,b', clientSecret: 's', accountId: 1, scopes: ['read'], nowMs: NOW_MS })), 'invalid_client_id');
  t.equal(await refusal(() => f.keys.disableKey('nobody')), 'unknown_key');
  t.equal(f.keys.listKeys().length, 3, 'refused writes left nothing behind');
  const reopened = await KeyStore.open(f.path).catch(() => undefined);
  t.ok(reopened, 'a second connection opens the same file');
  await reopened?.close();
});

t.test('no error carries a secret; every message is the wire token and a stable reason', async (t) => {
  const f = await openFixture(t);
  const secrets = ['testsecret', f.reader.clientSecret];
  const attempts: (() => unknown)[] = [
    () => f.auth.authenticateHttp({ authorization: basicHeader('testkey', 'testsecretX'), method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS),
    () => f.auth.authenticateHttp({ authorization: basicHeader(f.reader.clientId, `${f.reader.clientSecret}x`), method: 'GET', rawTarget: SUMMARIES, rawBody: '' }, NOW_MS),
    () => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, secret: 'testsecretX' }).request, NOW_MS),
    () => f.auth.authenticateHttp(signHttp({ target: SUMMARIES, ts: NOW_MS - 2 * WINDOW_MS }).request, NOW_MS),
    () => f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret!' }, NOW_MS),
    () => f.auth.grant({ grant_type: 'client_credentials', client_id: 'testkey', client_secret: 'testsecret'.repeat(3) }, NOW_MS),
    () => f.auth.grant(signGrant({ secret: 'nope' }), NOW_MS),
    () => f.auth.grant({ grant_type: 'refresh_token', refresh_token: 'testsecret' }, NOW_MS),
  ];
  for (const attempt of attempts) {
    const outcome = outcomeOf(attempt);
    t.equal(outcome.kind, 'auth_error');
    if (outcome.kind !== 'auth_error') continue;
    const error: AuthError = outcome.error;
    const text = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)} ${String(error)}`;
    t.match(error.message, /^(unauthorized|invalid_credentials): [a-z_]+$/, `message ${error.message}`);
    for (const secret of secrets) t.notOk(text.includes(secret), `no secret in ${error.reason}`);
  }
});
