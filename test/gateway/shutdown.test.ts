// Graceful shutdown under load (RELIABILITY.md test 10; gateway/exchange.ts `shutdown`).
//
// What it proves: SIGTERM in the middle of order entry loses nothing and tells clients why. The
// exchange runs as a child process (test/gateway/_exchange_child.ts, which handles SIGTERM as
// bin/exchange.ts does). Four WebSocket clients place resting limit buys with unique labels,
// eight in flight each, and SIGTERM arrives once each has had 20 acknowledged. Then:
// - the process exits with code 0 within 10 s of the signal;
// - every WebSocket client gets close code 1001;
// - every order that got a success reply is in the engine after a restart on the same data
//   directory, exactly once, with its order id, label, price and amount;
// - every order refused during shutdown (13028 temporarily_unavailable) is absent;
// - an order with no reply (in flight when the socket closed) is there at most once, and
//   — the stronger promise of a graceful shutdown, "in-flight commands are committed and
//   answered" — none that is there went unanswered;
// - no order exists that was never sent;
// - HTTP requests sent during the shutdown get JSON: a result, or 503 (13028 for a command,
//   or Fastify's return503OnClosing), or the connection is refused once the port is closed.
// Five cycles run on one data directory (restart, check everything so far, load, SIGTERM), and
// a last restart checks the fifth.
//
// The oracle is the clients' own ledger (label → acked with the reply's order / refused with a
// code / unknown), compared with private/get_open_orders_by_instrument after the restart: the
// orders are buys far below any seller, so every order that exists is open.
//
// Nothing is random; the moment of the signal depends on timing. Rerun with
//   npx tap --reporter=tap test/gateway/shutdown.test.ts

import t, { type TAP } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayLimits } from '../../gateway/limits.js';
import { adminCalls, deadline, startExchangeProcess, type ExchangeProcess } from './_exchange_process.js';
import { basicAuth, httpRequest, WsRpcClient, type CloseInfo } from './_ws_client.js';

const CYCLES = 5;
const CLIENTS = 4;
const IN_FLIGHT = 8;
const ACKS_BEFORE_SIGNAL = 20;
/** Orders one client sends per cycle at most (the account's open-order limit is 500). */
const ORDERS_PER_CLIENT_CYCLE = 80;
const SPOT = 'H100_USDAI';
const SHUTDOWN_BUDGET_MS = gatewayLimits.shutdownMsMax;


interface Key {
  accountId: number;
  clientId: string;
  clientSecret: string;
}

type Outcome =
  | { kind: 'acked'; orderId: string; price: number; amount: number }
  | { kind: 'refused'; code: number }
  | { kind: 'unknown' };

interface SentOrder {
  label: string;
  key: Key;
  price: string;
  outcome: Outcome;
}

/** Every order any client ever sent, by label, across all cycles. */
const ledger = new Map<string, SentOrder>();

const dataDir = mkdtempSync(join(tmpdir(), 'exchange-shutdown-'));
let running: Child | undefined;
t.teardown(() => {
  running?.process.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

t.test(`graceful shutdown under load, ${CYCLES} cycles on one data directory`, async (t) => {
  let keys: Key[] = [];
  for (let cycle = 0; cycle <= CYCLES; cycle++) {
    const child = await startChild();
    running = child;
    if (cycle === 0) keys = await createAccounts(child);
    else await t.test(`after restart ${cycle}: every acknowledged order is there, nothing else`, (t) => checkLedger(t, child, keys));
    if (cycle === CYCLES) {
      const exit = await signalAndWait(child);
      t.equal(exit.code, 0, `the last run exits 0 (${exit.elapsedMs.toFixed(0)} ms)`);
      break;
    }
    await t.test(`cycle ${cycle + 1}: SIGTERM under load`, (t) => loadAndTerminate(t, child, keys, cycle));
  }
  running = undefined;
  const counts = { acked: 0, refused: 0, unknown: 0 };
  for (const order of ledger.values()) counts[order.outcome.kind]++;
  t.comment(`orders over ${CYCLES} cycles: ${counts.acked} acknowledged, ${counts.refused} refused during shutdown, ${counts.unknown} without a reply`);
});

// ---------------------------------------------------------------------------------------------
// One cycle

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

async function loadAndTerminate(t: Tap, child: Child, keys: Key[], cycle: number): Promise<void> {
  const clients = await Promise.all(keys.map((key) => WsRpcClient.connectAuthed(child.wsUrl, key)));
  const acked = keys.map(() => 0);
  let signalled = false;
  let signalSent: () => void = () => undefined;
  const signalDue = new Promise<void>((resolve) => (signalSent = resolve));

  const runClient = async (client: WsRpcClient, key: Key, index: number) => {
    let next = 0;
    const lane = async () => {
      while (next < ORDERS_PER_CLIENT_CYCLE && client.closeInfo === undefined) {
        const sequence = next++;
        const label = `c${cycle}-k${index}-${sequence}`;
        const price = (1 + ((cycle * ORDERS_PER_CLIENT_CYCLE + sequence) % 900) / 1000).toFixed(3);
        const order: SentOrder = { label, key, price, outcome: { kind: 'unknown' } };
        ledger.set(label, order);
        const reply = await client.call('private/buy', { instrument_name: SPOT, amount: '1', type: 'limit', price, label }).catch(() => undefined);
        if (reply === undefined) return; // the connection closed with this one in flight: unknown
        if (reply.error !== undefined) {
          order.outcome = { kind: 'refused', code: reply.error.code };
          continue;
        }
        const placed = (reply.result as { order: { order_id: string; price: number; amount: number } }).order;
        order.outcome = { kind: 'acked', orderId: placed.order_id, price: placed.price, amount: placed.amount };
        if (++acked[index] >= ACKS_BEFORE_SIGNAL && acked.every((count) => count >= ACKS_BEFORE_SIGNAL)) signalSent();
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  };
  const load = Promise.all(clients.map((client, index) => runClient(client, keys[index], index)));

  await Promise.race([signalDue, load]);
  t.ok(acked.every((count) => count >= ACKS_BEFORE_SIGNAL), `every client had ${ACKS_BEFORE_SIGNAL} orders acknowledged before the signal (${acked.join(', ')})`);
  signalled = true;
  const exitPromise = signalAndWait(child);
  const probes = probeHttpDuringShutdown(child, keys[0], cycle, exitPromise);
  const exit = await exitPromise;
  await load;
  const closes = await Promise.all(clients.map((client) => Promise.race([client.closed, deadline(2_000).then((): CloseInfo => ({ code: -1, reason: 'still open' }))])));

  t.ok(signalled, 'SIGTERM was sent mid-load');
  t.equal(exit.code, 0, `the process exited with code 0 (signal ${exit.signal})`);
  t.ok(exit.elapsedMs <= SHUTDOWN_BUDGET_MS, `within ${SHUTDOWN_BUDGET_MS / 1000} s of SIGTERM (${exit.elapsedMs.toFixed(0)} ms)`);
  t.same(closes.map((close) => close.code), clients.map(() => 1001), 'every WebSocket client got close code 1001');
  const refusedCodes = [...ledger.values()].filter((order) => order.label.startsWith(`c${cycle}-`) && order.outcome.kind === 'refused').map((order) => (order.outcome as { code: number }).code);
  t.same([...new Set(refusedCodes)].filter((code) => code !== 13028), [], `orders refused during shutdown were refused with 13028 (${refusedCodes.length})`);
  const probeResults = await probes;
  t.comment(`HTTP during shutdown: ${[...probeResults.outcomes].map(([what, count]) => `${what} × ${count}`).join(', ')}`);
  t.same(probeResults.unexpected, [], 'HTTP during shutdown: only results, 503s (JSON) or refused connections');
  if (exit.code !== 0) t.comment(`child stderr:\n${child.stderr.join('').slice(-4_000)}`);
}

/** HTTP requests every 20 ms until the process exits; HTTP buys go into the ledger. */
async function probeHttpDuringShutdown(child: Child, key: Key, cycle: number, exited: Promise<unknown>) {
  const outcomes = new Map<string, number>();
  const unexpected: string[] = [];
  let done = false;
  void exited.then(() => (done = true));
  const note = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  for (let probe = 0; !done && probe < 1_000; probe++) {
    const label = `c${cycle}-http-${probe}`;
    const price = (1.95 - (probe % 100) / 1000).toFixed(3);
    const order: SentOrder = { label, key, price, outcome: { kind: 'unknown' } };
    ledger.set(label, order);
    const [read, write] = await Promise.all([
      httpRequest(`${child.url}/api/v2/public/get_time`).catch(() => undefined),
      httpRequest(`${child.url}/api/v2/private/buy?instrument_name=${SPOT}&amount=1&type=limit&price=${price}&label=${label}`, { headers: basicAuth(key) }).catch(() => undefined),
    ]);
    for (const [what, reply] of [['read', read], ['buy', write]] as const) {
      if (reply === undefined) {
        note(`${what}: connection refused`);
        continue;
      }
      const code = reply.body?.error?.code;
      note(`${what}: ${reply.status}${code === undefined ? '' : ` ${code}`}`);
      const fine = reply.body !== undefined && (reply.status === 200 || (reply.status === 503 && (code === undefined || code === 13028)));
      if (!fine) unexpected.push(`${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
    }
    if (write?.status === 200) {
      const placed = (write.body!.result as { order: { order_id: string; price: number; amount: number } }).order;
      order.outcome = { kind: 'acked', orderId: placed.order_id, price: placed.price, amount: placed.amount };
    } else if (write?.body?.error !== undefined) order.outcome = { kind: 'refused', code: write.body.error.code };
    await sleep(20);
  }
  return { outcomes, unexpected };
}

// ---------------------------------------------------------------------------------------------
// The check after a restart

async function checkLedger(t: Tap, child: Child, keys: Key[]): Promise<void> {
  const byLabel = new Map<string, { order_id: string; label: string; price: number; amount: number; order_state: string; accountKey: Key }[]>();
  for (const key of keys) {
    const reply = await httpRequest(`${child.url}/api/v2/private/get_open_orders_by_instrument?instrument_name=${SPOT}`, { headers: basicAuth(key) });
    t.equal(reply.status, 200, `open orders of account ${key.accountId} readable`);
    for (const order of (reply.body?.result ?? []) as { order_id: string; label: string; price: number; amount: number; order_state: string }[]) {
      const list = byLabel.get(order.label) ?? [];
      list.push({ ...order, accountKey: key });
      byLabel.set(order.label, list);
    }
  }
  const problems = { lostAcked: [] as string[], wrongAcked: [] as string[], presentRefused: [] as string[], duplicated: [] as string[], unanswered: [] as string[], neverSent: [] as string[] };
  for (const [label, sent] of ledger) {
    const found = byLabel.get(label) ?? [];
    if (found.length > 1) problems.duplicated.push(label);
    const outcome = sent.outcome;
    if (outcome.kind === 'acked') {
      const order = found[0];
      if (order === undefined) problems.lostAcked.push(label);
      else if (order.order_id !== outcome.orderId || order.price !== outcome.price || order.amount !== outcome.amount || order.accountKey !== sent.key || order.order_state !== 'open') problems.wrongAcked.push(`${label}: ${JSON.stringify(order)} vs ${JSON.stringify(outcome)}`);
    } else if (outcome.kind === 'refused' && found.length > 0) problems.presentRefused.push(`${label} (refused ${outcome.code})`);
    else if (outcome.kind === 'unknown' && found.length > 0) problems.unanswered.push(label);
  }
  for (const label of byLabel.keys()) if (!ledger.has(label)) problems.neverSent.push(label);
  const acked = [...ledger.values()].filter((order) => order.outcome.kind === 'acked').length;
  t.same(problems.lostAcked, [], `no acknowledged order is lost (${acked} acknowledged so far)`);
  t.same(problems.wrongAcked, [], 'every acknowledged order has its order id, price, amount and account, and is open');
  t.same(problems.presentRefused, [], 'no refused order exists');
  t.same(problems.duplicated, [], 'no label exists twice');
  t.same(problems.neverSent, [], 'no order exists that was never sent');
  // Unknown orders may exist 0 or 1 times in general (test 6); a graceful shutdown answers every
  // command it commits, so a committed order without a reply breaks its promise.
  // Regression (fixed; was a server bug in gateway/exchange.ts shutdown): after `await engine.sequencer.whenIdle()` it
  // closes every WebSocket (1001) at once, but the replies of the last committed batch are still
  // travelling up their promise chains (submitOrThrow → handler → Dispatcher.call/handle →
  // WsConnection.answer), which take more microtask turns than whenIdle does; by the time they
  // reach WsConnection.send the socket is CLOSING and ws drops them silently. Found here: one
  // order per client per cycle (the batch in flight at SIGTERM, e.g. "c1-k0-21") is in the
  // engine after the restart but its client never got the reply. Repro: this test (4 clients,
  // 8 in flight each, SIGTERM after 20 acks each). Fix: before closing, await each connection's
  // request queue (WsConnection.queue) after whenIdle, then close(1001).
  t.same(problems.unanswered, [], 'no order was committed without its reply being sent (in-flight commands are answered)');
}

// ---------------------------------------------------------------------------------------------
// The child process

type Child = ExchangeProcess;

function startChild(): Promise<Child> {
  return startExchangeProcess(dataDir);
}

async function signalAndWait(child: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsedMs: number }> {
  const sentMs = performance.now();
  child.process.kill('SIGTERM');
  const exit = await Promise.race([child.exited, deadline(SHUTDOWN_BUDGET_MS + 5_000).then(() => undefined)]);
  const elapsedMs = performance.now() - sentMs;
  if (exit === undefined) {
    child.process.kill('SIGKILL');
    return { code: null, signal: null, elapsedMs };
  }
  return { ...exit, elapsedMs };
}

async function createAccounts(child: Child): Promise<Key[]> {
  const admin = adminCalls(child, dataDir);
  const keys: Key[] = [];
  for (let index = 0; index < CLIENTS; index++) {
    const { account_id } = await admin('/admin/accounts', { owner: `shutdown-${index}` });
    const key = await admin('/admin/keys', { account_id, scopes: ['read', 'trade'] });
    await admin('/admin/deposits', { account_id, currency: 'USDAI', amount: '1000000' });
    keys.push({ accountId: account_id as number, clientId: key.client_id as string, clientSecret: key.client_secret as string });
  }
  return keys;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
