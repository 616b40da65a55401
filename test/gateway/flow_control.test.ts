// Flow control at the gateway: rate limits, slow consumers, and cancel-on-disconnect
// (RELIABILITY.md tests 14 and 15; reference §6.3, gateway/subscriptions.ts, gateway/rate_limit.ts).
//
// What it proves, against a real exchange on a loopback port:
// (a) Rate limits isolate keys: a key that floods (HTTP and WS) is answered 10028
//     too_many_requests (HTTP 429, JSON body) once its credits run out, while a second key keeps
//     its full paced throughput and every one of its requests succeeds.
// (b) A subscriber that stops reading cannot make the server hold unbounded memory, and does not
//     slow the others: once its unread bytes pass the soft limit its conflated book/trades updates
//     are held back (its server-side buffer stops growing while trading goes on), and it is closed
//     with code 4008 after staleMsMax (10 s); past the hard limit (8 MiB) it is closed at once.
//     Fast subscribers of the same channels keep receiving gap-free books all along, and RSS
//     stays within base + subscribers × hard limit + 64 MiB.
// (c) A subscriber that pauses for less than staleMsMax, past the soft limit but under the hard
//     one, gets one catch-up `change` on resume whose prev_change_id is the change_id it last got
//     and whose change_id covers everything that happened while it was held back; the book it
//     rebuilds from the messages equals public/get_order_book afterwards (levels and change_id).
// (d) Cancel-on-disconnect: with private/enable_cancel_on_disconnect, closing the socket (cleanly
//     or by dropping TCP) cancels the account's resting orders; without it, or after disabling it,
//     they stay.
//
// Method: `Market` drives the H100_USDAI book with a maker (sells of 2 at 2.500–2.549, cancelled
// every 100 steps) and an IOC taker (buys of 1 at 2.600), just under the engine's per-account
// order rate (200/s). A client
// "stops reading" with ws's pause() (the socket is no longer read, so the kernel buffers fill and
// then the server's ws queue grows). The kernel absorbs about 4 MB on loopback before the server
// queue grows at all, and this book's conflated updates are a few KB/s, so market data alone would
// take minutes to reach the limits; a client that stops reading usually also has replies pending,
// so the paused client sends a few public/get_instruments requests (1.7 MB each) right after
// pausing: that puts the unread backlog where each case needs it (soft < backlog < hard for the
// stale and resume cases, > hard for the hard case), and the subscription policy then acts on
// it. The server's view comes from the exchange handle: its connection's bufferedAmount() and a
// spy on its terminate(code, reason) (a paused client cannot read the close frame queued behind
// its backlog, and the server drops the TCP connection 1 s later, so the client itself sees 1006
// when it resumes). Book messages are checked as a chain: a snapshot, then each change's
// prev_change_id equals the change_id before it.
//
// Nothing here is random; timing varies with the machine. Rerun with
//   npx tap --reporter=tap test/gateway/flow_control.test.ts

import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { gatewayLimits } from '../../gateway/limits.js';
import type { WsConnection } from '../../gateway/server.js';
import { SLOW_CONSUMER_CLOSE_CODE } from '../../gateway/subscriptions.js';
import { openOrderIds, startTestExchange, type TestAccount, type TestExchange } from './_server.js';
import { basicAuth, httpRequest, WsRpcClient, type Envelope } from './_ws_client.js';

const SPOT = 'H100_USDAI';
const CHANNELS = [`book.${SPOT}.100ms`, `trades.${SPOT}.100ms`];
const INSTRUMENTS_REPLY_BYTES_MIN = 1_000_000;
/** Small, so that any flood outruns it even on a loaded machine: burst 50, then 10 per second. */
const KEY_CREDITS_PER_SECOND = 10;
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// (a) Rate limits

t.test('(a) a flooding key gets 10028 (HTTP 429) while a second key keeps its throughput', async (t) => {
  const server = await startTestExchange({ creditsPerSecondPerKey: KEY_CREDITS_PER_SECOND });
  t.teardown(() => server.stop());
  const flooder = await server.account('flooder');
  const steady = await server.account('steady');
  const read = (key: TestAccount) => httpRequest(`${server.url}/api/v2/private/get_open_orders_by_instrument?instrument_name=${SPOT}`, { headers: basicAuth(key) });

  // The steady key asks every 200 ms (half its credit rate), first alone (its baseline), then
  // while the flooder runs; it must lose nothing and keep ≥ 90% of its baseline throughput.
  const paceMs = 200;
  const durationMs = 3_000;
  const steadyRequest = () => read(steady).then((reply) => reply.status === 200 && reply.body?.result !== undefined);
  const baseline = paceSteadyClient(steadyRequest, paceMs, durationMs);
  await baseline.done;
  const steadyRun = paceSteadyClient(steadyRequest, paceMs, durationMs);

  const floodStartedMs = performance.now();
  const statuses = new Map<string, number>();
  let refusalBody: Envelope | undefined;
  const flood = async () => {
    while (performance.now() - floodStartedMs < durationMs) {
      const reply = await read(flooder);
      const key = `${reply.status} ${reply.body?.error?.code ?? 'ok'}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (reply.status === 429) refusalBody ??= reply.body;
    }
  };
  await Promise.all([...Array.from({ length: 8 }, flood), steadyRun.done]);

  const accepted = statuses.get('200 ok') ?? 0;
  const refused = statuses.get('429 10028') ?? 0;
  t.comment(`flooder over HTTP: ${[...statuses].map(([key, count]) => `${key} × ${count}`).join(', ')}`);
  t.ok(refused > 0, `the flooder was refused (${refused} × 429/10028)`);
  t.same([...statuses.keys()].filter((key) => key !== '200 ok' && key !== '429 10028'), [], 'the flooder got only successes and 429/10028');
  const creditsAvailable = KEY_CREDITS_PER_SECOND * 5 + (KEY_CREDITS_PER_SECOND * durationMs) / 1000;
  t.ok(accepted <= creditsAvailable + 10, `the flooder's accepted requests (${accepted}) stay within its credits (burst + rate × time = ${creditsAvailable})`);
  t.equal(refusalBody?.error?.message, 'too_many_requests', '429 body is JSON with the Deribit token');
  t.equal(baseline.stats.failed + steadyRun.stats.failed, 0, `the steady key: no request failed (${baseline.stats.succeeded} alone, ${steadyRun.stats.succeeded} during the flood)`);
  t.ok(steadyRun.stats.succeeded >= 0.9 * baseline.stats.succeeded, `the steady key kept ≥ 90% of its baseline throughput (${steadyRun.stats.succeeded} vs ${baseline.stats.succeeded} in ${durationMs / 1000} s)`);

  t.test('over WebSocket as well', async (t) => {
    const flooding = await WsRpcClient.connectAuthed(server.wsUrl, flooder);
    const calm = await WsRpcClient.connectAuthed(server.wsUrl, steady);
    const calmRequest = () => calm.call('private/get_open_orders', {}).then((reply) => reply.result !== undefined);
    const calmBaseline = paceSteadyClient(calmRequest, paceMs, 2_000);
    await calmBaseline.done;
    const calmRun = paceSteadyClient(calmRequest, paceMs, 2_000);
    const codes = new Map<string, number>();
    const startedMs = performance.now();
    // The flood ends when the gateway disconnects the flooder (its pending calls then reject).
    while (performance.now() - startedMs < 2_000 && flooding.closeInfo === undefined) {
      const window = Array.from({ length: 200 }, () => flooding.call('private/get_open_orders', {}).catch(() => undefined));
      for (const reply of await Promise.all(window)) {
        if (reply === undefined) continue;
        const code = String(reply.error?.code ?? 'ok');
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    await calmRun.done;
    t.comment(`flooder over WS: ${[...codes].map(([code, count]) => `${code} × ${count}`).join(', ')}`);
    t.ok((codes.get('10028') ?? 0) > 0, 'the WS flooder got 10028');
    t.same([...codes.keys()].filter((code) => code !== 'ok' && code !== '10028'), [], 'and no other error');
    t.equal(calmBaseline.stats.failed + calmRun.stats.failed, 0, `the calm WS key: no request failed (${calmBaseline.stats.succeeded} alone, ${calmRun.stats.succeeded} during the flood)`);
    t.ok(calmRun.stats.succeeded >= 0.9 * calmBaseline.stats.succeeded, `the calm WS key kept ≥ 90% of its baseline throughput (${calmRun.stats.succeeded} vs ${calmBaseline.stats.succeeded})`);
    // RELIABILITY 14: a sustained flooder is refused, then disconnected (close 1008).
    t.equal(flooding.closeInfo?.code, 1008, 'a sustained WS flooder is disconnected with 1008');
    await Promise.all([flooding.close(), calm.close()]);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) and (c) Slow consumers; (b)–(d) share one exchange (default credits)

let sharedServer: TestExchange | undefined;
async function shared(): Promise<TestExchange> {
  if (sharedServer === undefined) {
    sharedServer = await startTestExchange();
    t.teardown(() => sharedServer!.stop());
  }
  return sharedServer;
}

t.test('(b) slow consumers: held back, then closed 4008; fast subscribers unaffected; memory bounded', async (t) => {
  const server = await shared();
  const market = await Market.open(server);
  const rss = sampleRss();
  const fast = await Promise.all([0, 1, 2].map(async () => {
    const client = await WsRpcClient.connect(server.wsUrl);
    await client.result('public/subscribe', { channels: CHANNELS });
    return client;
  }));
  const driving = market.drive();
  await sleep(500);

  await t.test('stale: backlog between the soft and hard limits → held back, closed 4008 after staleMsMax', async (t) => {
    const slow = await SlowSubscriber.open(server, 'stale');
    const pausedMs = performance.now();
    const backlog = await slow.stopReadingWithBacklog(4);
    t.ok(backlog > gatewayLimits.bufferedBytesSoftMax && backlog < gatewayLimits.bufferedBytesHardMax, `server-side backlog ${mib(backlog)} MiB is between the soft (${mib(gatewayLimits.bufferedBytesSoftMax)}) and hard (${mib(gatewayLimits.bufferedBytesHardMax)}) limits`);
    const fastBefore = fast.map((client) => bookMessages(client).length);
    const changeIdHeld = market.changeId();
    await sleep(3_000);
    t.ok(market.changeId() > changeIdHeld + 10, `trading went on (${market.changeId() - changeIdHeld} book changes in 3 s)`);
    t.ok(slow.connection.bufferedAmount() <= backlog + 64 * 1024, `held back: the server queued nothing more for it (${slow.connection.bufferedAmount()} bytes vs ${backlog})`);
    fast.forEach((client, index) => t.ok(bookMessages(client).length - fastBefore[index] >= 5, `fast subscriber ${index} kept receiving book updates (${bookMessages(client).length - fastBefore[index]} in 3 s)`));

    rss.checkpoint(); // while the backlog is held
    const terminated = await slow.terminated(gatewayLimits.staleMsMax + 5_000);
    const elapsedMs = performance.now() - pausedMs;
    t.equal(terminated?.code, SLOW_CONSUMER_CLOSE_CODE, `the server closed it with ${SLOW_CONSUMER_CLOSE_CODE} (${terminated?.reason})`);
    t.ok(elapsedMs >= gatewayLimits.staleMsMax - 500 && elapsedMs <= gatewayLimits.staleMsMax + 3_000, `after staleMsMax: ${(elapsedMs / 1000).toFixed(1)} s after it stopped reading (limit ${gatewayLimits.staleMsMax / 1000} s, flush 100 ms, slack 3 s)`);
    const closed = await slow.resumeUntilClosed();
    t.ok(closed.code === SLOW_CONSUMER_CLOSE_CODE || closed.code === 1006, `the client saw the connection end (${closed.code}: the close frame sits behind its backlog until the server drops TCP)`);
    for (let step = 0; step < 30 && server.exchange.server.connections.has(slow.connection); step++) await sleep(100);
    t.notOk(server.exchange.server.connections.has(slow.connection), 'the server forgot the connection');
  });

  await t.test('hard: backlog above the hard limit → closed 4008 at the next flush', async (t) => {
    const slow = await SlowSubscriber.open(server, 'hard');
    const pausedMs = performance.now();
    const terminatedSoon = slow.terminated(5_000);
    await slow.stopReadingWithBacklog(8);
    const terminated = await terminatedSoon;
    rss.checkpoint();
    const elapsedMs = performance.now() - pausedMs;
    t.equal(terminated?.code, SLOW_CONSUMER_CLOSE_CODE, `closed with ${SLOW_CONSUMER_CLOSE_CODE} (${terminated?.reason})`);
    t.ok(elapsedMs < 3_000, `within 3 s of it stopping reading, well before staleMsMax (${(elapsedMs / 1000).toFixed(2)} s)`);
    t.ok((terminated?.bufferedAtClose ?? Infinity) <= gatewayLimits.bufferedBytesHardMax + 4 * INSTRUMENTS_REPLY_BYTES_MIN, `the backlog at close (${mib(terminated?.bufferedAtClose ?? 0)} MiB) is the hard limit plus the replies queued before the next flush`);
    await slow.resumeUntilClosed();
  });

  market.stop();
  await driving;
  t.equal(market.failure, undefined, `the market driver's requests all succeeded (${market.steps} steps)`);
  for (const [index, client] of fast.entries()) {
    t.equal(client.closeInfo, undefined, `fast subscriber ${index} is still connected`);
    t.equal(chainProblem(bookMessages(client)), 'ok', `fast subscriber ${index}: book messages form an unbroken chain (${bookMessages(client).length})`);
  }
  rss.checkpoint();
  rss.stop();
  const bound = rss.base + (fast.length + 2) * gatewayLimits.bufferedBytesHardMax + 64 * MIB;
  t.comment(`RSS base ${mib(rss.base)} MiB; after GC at checkpoints at most ${mib(rss.settledMax)} MiB; raw samples at most ${mib(rss.max)} MiB`);
  t.ok(rss.settledMax <= bound, `RSS after GC (while backlogs were held, and at the end) ≤ base + subscribers × hard limit + 64 MiB = ${mib(bound)} MiB (at most ${mib(rss.settledMax)} MiB)`);
  t.ok(rss.max <= rss.base + 256 * MIB, `raw RSS samples ≤ base + 256 MiB (at most ${mib(rss.max)} MiB)`);
  await Promise.all(fast.map((client) => client.close()));
  await market.close();
});

t.test('(c) a brief pause past the soft limit: one catch-up change on resume, and the rebuilt book equals get_order_book', async (t) => {
  const server = await shared();
  const market = await Market.open(server);
  const driving = market.drive();
  await sleep(300);
  const slow = await SlowSubscriber.open(server, 'brief');
  await sleep(500);

  const backlog = await slow.stopReadingWithBacklog(4);
  t.ok(backlog > gatewayLimits.bufferedBytesSoftMax && backlog < gatewayLimits.bufferedBytesHardMax, `backlog ${mib(backlog)} MiB: past the soft limit, under the hard one`);
  await sleep(300); // a flush or two: the connection is now held back
  const changeIdHeld = market.changeId();
  await sleep(2_000);
  const changeIdAtResume = market.changeId();
  t.ok(changeIdAtResume > changeIdHeld + 10, `the book changed while it was held back (${changeIdHeld} → ${changeIdAtResume})`);
  t.ok(slow.connection.bufferedAmount() <= backlog + 64 * 1024, 'nothing more was queued for it meanwhile');
  slow.client.resume();
  await slow.client.waitForNotification((message) => message.params?.channel === CHANNELS[0] && (message.params.data as BookData).change_id >= changeIdAtResume, 5_000);
  market.stop();
  await driving;
  t.equal(market.failure, undefined, `the market driver's requests all succeeded (${market.steps} steps)`);
  await sleep(400); // the last flush

  const messages = bookMessages(slow.client);
  t.equal(chainProblem(messages), 'ok', `the ${messages.length} book messages form an unbroken chain (each prev_change_id = the change_id before it)`);
  const catchUp = messages.find((message) => message.type === 'change' && message.prev_change_id! <= changeIdHeld && message.change_id >= changeIdAtResume);
  t.ok(catchUp !== undefined, `one change covers the whole pause (prev_change_id ≤ ${changeIdHeld}, change_id ≥ ${changeIdAtResume})`);
  if (catchUp !== undefined) t.comment(`catch-up: prev_change_id ${catchUp.prev_change_id} → change_id ${catchUp.change_id}, ${catchUp.bids.length + catchUp.asks.length} level updates`);
  t.equal(slow.terminatedWith, undefined, 'it was not closed');

  const reply = await slow.client.result<{ change_id: number; bids: [number, number][]; asks: [number, number][] }>('public/get_order_book', { instrument_name: SPOT, depth: 10_000 });
  const rebuilt = rebuildBook(bookMessages(slow.client));
  t.equal(rebuilt.changeId, reply.change_id, 'rebuilt change_id = get_order_book change_id');
  t.same(rebuilt.bids, reply.bids, 'rebuilt bids = get_order_book bids');
  t.same(rebuilt.asks, reply.asks, 'rebuilt asks = get_order_book asks');
  t.ok(reply.bids.length + reply.asks.length > 0, 'the book is not empty (the comparison means something)');
  await slow.client.close();
  await market.close();
});

t.test('(b) a client that stops reading its replies is held to the hard limit too', async (t) => {
  // Regression (fixed; was a server bug in gateway/server.ts WsConnection.send / sendEnvelope): the slow-consumer policy
  // lives only in the subscription hub (SubscriptionHub.sendText, updateStaleness). Replies to
  // requests go straight to ws.send with no check of bufferedAmount, so a connection with no
  // active subscription that sends requests and never reads their replies grows the server's
  // queue without bound until the ping timeout ends it (15–30 s later). Each public/get_instruments
  // costs 1 credit and ~70 bytes to send and queues 1.7 MB: about 25,000× amplification, at the
  // default 200,000 credits/s per address. Minimal repro (this test): connect, pause reading, send
  // 10 × {"jsonrpc":"2.0","id":n,"method":"public/get_instruments","params":{}}; the connection's
  // bufferedAmount() reaches ~13 MiB (> bufferedBytesHardMax 8 MiB) and the connection stays open.
  // Fix: check bufferedAmount against the hard limit in WsConnection.send (close 4008), or stop
  // reading requests from a connection while its unread replies exceed the soft limit.
  const server = await shared();
  const key = await server.account('reader-who-does-not-read');
  const client = await WsRpcClient.connectAuthed(server.wsUrl, key);
  const connection = connectionOf(server, key);
  client.pause();
  for (let index = 0; index < 10; index++) client.sendNoReply(JSON.stringify({ jsonrpc: '2.0', id: 100 + index, method: 'public/get_instruments', params: {} }));
  let peak = 0;
  for (let step = 0; step < 20; step++) {
    await sleep(100);
    peak = Math.max(peak, connection.bufferedAmount());
  }
  const open = server.exchange.server.connections.has(connection);
  t.comment(`unread replies queued: ${mib(peak)} MiB; connection ${open ? 'still open' : 'closed'} after 2 s`);
  t.ok(peak <= gatewayLimits.bufferedBytesHardMax + 2 * INSTRUMENTS_REPLY_BYTES_MIN || !open, `the server holds at most about the hard limit (${mib(gatewayLimits.bufferedBytesHardMax)} MiB) for a client that does not read (peak ${mib(peak)} MiB, ${open ? 'open' : 'closed'})`);
  await client.terminate();
});

// ---------------------------------------------------------------------------------------------
// (d) Cancel on disconnect

t.test('(d) cancel-on-disconnect cancels the resting orders when the socket closes', async (t) => {
  const server = await shared();

  const scenarios: { name: string; enable: boolean; disableAfter?: boolean; end: 'close' | 'terminate'; expectCancelled: boolean }[] = [
    { name: 'enabled, clean close', enable: true, end: 'close', expectCancelled: true },
    { name: 'enabled, TCP dropped', enable: true, end: 'terminate', expectCancelled: true },
    { name: 'never enabled', enable: false, end: 'close', expectCancelled: false },
    { name: 'enabled, then disabled', enable: true, disableAfter: true, end: 'close', expectCancelled: false },
  ];
  for (const [index, scenario] of scenarios.entries()) {
    const key = await server.account(`cod-${index}`);
    const client = await WsRpcClient.connectAuthed(server.wsUrl, key);
    if (scenario.enable) t.equal(await client.result('private/enable_cancel_on_disconnect', { scope: 'connection' }), 'ok', `${scenario.name}: enabled`);
    if (scenario.disableAfter) t.equal(await client.result('private/disable_cancel_on_disconnect', {}), 'ok', `${scenario.name}: disabled`);
    t.same(await client.result('private/get_cancel_on_disconnect', {}), { scope: 'connection', enabled: scenario.enable && !scenario.disableAfter }, `${scenario.name}: get_cancel_on_disconnect`);
    const placed: string[] = [];
    for (let order = 0; order < 5; order++) {
      const reply = await client.result<{ order: { order_id: string; order_state: string } }>('private/buy', { instrument_name: SPOT, amount: '1', type: 'limit', price: (1 + order / 1000).toFixed(3), label: `cod-${index}-${order}` });
      t.equal(reply.order.order_state, 'open', `${scenario.name}: order ${reply.order.order_id} rests`);
      placed.push(reply.order.order_id);
    }
    t.same((await openOrderIds(server, key, SPOT)).sort(), [...placed].sort(), `${scenario.name}: REST sees the 5 open orders`);
    await (scenario.end === 'close' ? client.close() : client.terminate());
    const remaining = await pollOpenOrders(server, key, scenario.expectCancelled ? 0 : placed.length);
    t.equal(remaining.length, scenario.expectCancelled ? 0 : placed.length, `${scenario.name}: ${scenario.expectCancelled ? 'all cancelled' : 'all still open'} after the socket ${scenario.end === 'close' ? 'closed' : 'dropped'}`);
    if (scenario.expectCancelled) {
      const states = await orderStates(server, key, placed);
      t.same(states, placed.map(() => 'cancelled'), `${scenario.name}: get_order_state says cancelled`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Market driver

class Market {
  private stopped = false;
  steps = 0;

  private constructor(
    private readonly server: TestExchange,
    private readonly maker: WsRpcClient,
    private readonly taker: WsRpcClient,
  ) {}

  static async open(server: TestExchange): Promise<Market> {
    const maker = await WsRpcClient.connectAuthed(server.wsUrl, await server.account(`maker-${Date.now()}`, { credits: { H100: '10000000' } }));
    const taker = await WsRpcClient.connectAuthed(server.wsUrl, await server.account(`taker-${Date.now()}`));
    return new Market(server, maker, taker);
  }

  /** The first request of the driver that failed (every one must succeed). */
  failure: unknown;

  /** Trades until stop(); never rejects (a failure is kept in `failure`). */
  async drive(): Promise<void> {
    try {
      for (let step = 0; !this.stopped; step++) {
        this.steps++;
        await this.maker.result('private/sell', { instrument_name: SPOT, amount: '2', type: 'limit', price: (2.5 + (step % 50) / 1000).toFixed(3), label: `m-${step}` });
        await this.taker.result('private/buy', { instrument_name: SPOT, amount: '1', type: 'limit', price: '2.600', time_in_force: 'immediate_or_cancel', label: `t-${step}` });
        if (step % 100 === 99) await this.maker.result('private/cancel_all', {});
        await sleep(6); // under the engine's per-account order rate (config accounts.ordersPerSecond 200)
      }
    } catch (error) {
      this.failure = error;
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** The book's change_id as the gateway's market data has it (committed changes). */
  changeId(): number {
    return this.server.exchange.services.market.book(SPOT).changeId;
  }

  async close(): Promise<void> {
    await Promise.all([this.maker.close(), this.taker.close()]);
  }
}

// ---------------------------------------------------------------------------------------------
// A subscriber that stops reading

interface Termination {
  code: number;
  reason: string;
  bufferedAtClose: number;
}

class SlowSubscriber {
  terminatedWith: Termination | undefined;
  private readonly waiters: ((termination: Termination) => void)[] = [];

  private constructor(
    readonly client: WsRpcClient,
    readonly connection: WsConnection,
  ) {
    // Spy on the server's own terminate(code, reason) for this connection.
    const terminate = connection.terminate.bind(connection);
    connection.terminate = (code: number, reason: string) => {
      this.terminatedWith ??= { code, reason, bufferedAtClose: connection.bufferedAmount() };
      for (const waiter of this.waiters.splice(0)) waiter(this.terminatedWith);
      terminate(code, reason);
    };
  }

  static async open(server: TestExchange, name: string): Promise<SlowSubscriber> {
    const key = await server.account(`slow-${name}`);
    const client = await WsRpcClient.connectAuthed(server.wsUrl, key);
    const subscriber = new SlowSubscriber(client, connectionOf(server, key));
    await client.result('public/subscribe', { channels: CHANNELS });
    return subscriber;
  }

  /** Stops reading, asks for `replies` × get_instruments; resolves with the settled server backlog. */
  async stopReadingWithBacklog(replies: number): Promise<number> {
    this.client.pause();
    for (let index = 0; index < replies; index++) this.client.sendNoReply(JSON.stringify({ jsonrpc: '2.0', id: 1_000 + index, method: 'public/get_instruments', params: {} }));
    let previous = -1;
    for (let step = 0; step < 50; step++) {
      await sleep(50);
      const now = this.connection.bufferedAmount();
      if (now === previous && now > 0) return now;
      previous = now;
    }
    return this.connection.bufferedAmount();
  }

  terminated(timeoutMs: number): Promise<Termination | undefined> {
    if (this.terminatedWith !== undefined) return Promise.resolve(this.terminatedWith);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs).unref();
      this.waiters.push((termination) => {
        clearTimeout(timer);
        resolve(termination);
      });
    });
  }

  async resumeUntilClosed(): Promise<{ code: number }> {
    this.client.resume();
    return Promise.race([this.client.closed, deadline(5_000).then(() => ({ code: -1 }))]);
  }
}

function connectionOf(server: TestExchange, key: TestAccount): WsConnection {
  const connection = [...server.exchange.server.connections].find((candidate) => candidate.identity?.clientId === key.clientId);
  if (connection === undefined) throw new Error(`no server connection for ${key.clientId}`);
  return connection;
}

// ---------------------------------------------------------------------------------------------
// Books from messages

interface BookData {
  type: 'snapshot' | 'change';
  change_id: number;
  prev_change_id?: number;
  bids: [string, number, number][];
  asks: [string, number, number][];
}

function bookMessages(client: WsRpcClient): BookData[] {
  return client.notifications.filter((message) => message.params?.channel === CHANNELS[0]).map((message) => message.params!.data as BookData);
}

/** 'ok' when the messages are a snapshot followed by changes whose prev_change_id links up. */
function chainProblem(messages: BookData[]): string {
  if (messages.length === 0) return 'no messages';
  if (messages[0].type !== 'snapshot') return `first message is ${messages[0].type}`;
  for (let index = 1; index < messages.length; index++) {
    const message = messages[index];
    if (message.type !== 'change') return `message ${index} is a second ${message.type}`;
    if (message.prev_change_id !== messages[index - 1].change_id) return `message ${index}: prev_change_id ${message.prev_change_id} ≠ previous change_id ${messages[index - 1].change_id}`;
    if (message.change_id <= message.prev_change_id!) return `message ${index}: change_id ${message.change_id} does not advance`;
  }
  return 'ok';
}

function rebuildBook(messages: BookData[]): { changeId: number; bids: [number, number][]; asks: [number, number][] } {
  const sides = { bids: new Map<number, number>(), asks: new Map<number, number>() };
  for (const message of messages) {
    for (const side of ['bids', 'asks'] as const) {
      for (const [action, price, amount] of message[side]) {
        if (action === 'delete') sides[side].delete(price);
        else sides[side].set(price, amount);
      }
    }
  }
  const sorted = (levels: Map<number, number>, descending: boolean) => [...levels].sort(([a], [b]) => (descending ? b - a : a - b));
  return { changeId: messages[messages.length - 1].change_id, bids: sorted(sides.bids, true), asks: sorted(sides.asks, false) };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Calls `request` once every `paceMs` (closed loop: the next waits for the previous) for
 * `durationMs`; `succeeded` counts answers within the window, so slow answers lower it.
 */
function paceSteadyClient(request: () => Promise<boolean>, paceMs: number, durationMs: number) {
  const stats = { intended: Math.floor(durationMs / paceMs), succeeded: 0, failed: 0 };
  const done = (async () => {
    const startedMs = performance.now();
    for (let index = 0; index < stats.intended; index++) {
      const waitMs = startedMs + index * paceMs - performance.now();
      if (waitMs > 0) await sleep(waitMs);
      const ok = await request().catch(() => false);
      if (!ok) stats.failed++;
      else if (performance.now() - startedMs <= durationMs + paceMs) stats.succeeded++;
    }
  })();
  return { stats, done };
}


async function pollOpenOrders(server: TestExchange, key: TestAccount, until: number): Promise<string[]> {
  let ids = await openOrderIds(server, key, SPOT);
  for (let step = 0; step < 50 && ids.length !== until; step++) {
    await sleep(100);
    ids = await openOrderIds(server, key, SPOT);
  }
  // When nothing should change, give a cancel that would be wrong the time to show up.
  if (until > 0) {
    await sleep(500);
    ids = await openOrderIds(server, key, SPOT);
  }
  return ids;
}

async function orderStates(server: TestExchange, key: TestAccount, orderIds: string[]): Promise<string[]> {
  const states: string[] = [];
  for (const orderId of orderIds) {
    const reply = await httpRequest(`${server.url}/api/v2/private/get_order_state?order_id=${orderId}`, { headers: basicAuth(key) });
    states.push((reply.body?.result as { order_state?: string } | undefined)?.order_state ?? `error ${reply.body?.error?.code}`);
  }
  return states;
}

/**
 * RSS of this process (server and clients share it) every 100 ms, and after a forced GC at
 * checkpoints. V8 lets the heap grow well past what is live before a major GC and keeps the
 * pages, so the RELIABILITY bound is checked on the GC'd checkpoints; the raw samples get a loose
 * bound that still catches runaway buffering.
 */
function sampleRss() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const base = process.memoryUsage().rss;
  const sampler = {
    base,
    max: base,
    settledMax: base,
    checkpoint() {
      gc();
      sampler.settledMax = Math.max(sampler.settledMax, process.memoryUsage().rss);
    },
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    sampler.max = Math.max(sampler.max, process.memoryUsage().rss);
  }, 100);
  timer.unref();
  return sampler;
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A timer for races: it does not keep the process alive once the test is done. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

