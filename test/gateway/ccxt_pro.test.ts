// CCXT's WebSocket client (`ccxt.pro.deribit` 4.5.84, unmodified) and a plain `ws` client against
// the real exchange: the watches of reference/deribit-v2-api.md §6 and the book channel's rules
// (§6.3).
//
// What it proves: every watch CCXT offers for spot (balance, trades, ticker, orders, my trades,
// order book) resolves with the right values after the action that should move it; after a burst
// of concurrent trading the book CCXT built from the feed equals the REST book at full depth; on
// the raw book channel the first message is the only snapshot and every later message's
// prev_change_id is the previous message's change_id, so replaying them rebuilds the REST book;
// the 100 ms trades channel sends arrays that together hold every trade, as REST reports them.
//
// Method: one exchange (test/gateway/_server.ts) for the file. `maker` and `taker` drive the watch
// cases with REST orders while `maker` watches; `a`, `b` and `c` run the burst. Every watch is
// started before the action that should move it and awaited after, under a timeout, so a missing
// message fails instead of hanging (watchUntil/withTimeout in _ccxt_clients.ts).
//
// The burst: 200 operations (limit, post-only, market, stop-market, edit, cancel), split across
// three accounts that send them concurrently. Each account's list is drawn in advance from a
// seeded PRNG; the seed is printed as SEED=… and `SEED=<n> npx tap --reporter=tap
// test/gateway/ccxt_pro.test.ts` replays the same lists (the interleaving of the three accounts is
// left to timing, which the oracles do not depend on). Refusals the workload causes by design are
// allowed: post_only_reject for a post-only order (placed, or edited to cross), invalid_amount for
// an edit below what another account already filled, and order_not_found / already_closed for an
// order that was filled first; any other refusal fails the case.
//
// Oracles: REST (get_order_book at full depth, get_last_trades_by_instrument, account summaries)
// read after the action, and values worked out by hand for the single-trade cases.
//
// Cases marked "Regression" once failed against the server; the comment says what was wrong.

import t, { type TAP } from 'tap';
import WebSocket from 'ws';
import { InvalidOrder, OrderNotFound, type Balances, type Order } from 'ccxt';
import { startTestExchange, type TestAccount, type TestExchange } from './_server.js';
import { seedFromEnv } from '../_env.js';
import {
  SPOT,
  SPOT_ID,
  levelsOf,
  num,
  pollUntil,
  proClient,
  restClient,
  seededRandom,
  sum,
  times,
  watchUntil,
  wireCodeOf,
  withTimeout,
  type ProClient,
  type RestClient,
} from './_ccxt_clients.js';

const WATCH_MS = 5_000;
const BURST_OPERATIONS = 200;
const SEED = seedFromEnv();

let server: TestExchange;
let burstAccounts: TestAccount[];
let maker: RestClient;
let taker: RestClient;
let burst: RestClient[];
let makerPro: ProClient;
const proClients: ProClient[] = [];

t.before(async () => {
  server = await startTestExchange();
  const makerAccount = await server.account('maker', { usdai: '10000', credits: { H100: '500' } });
  const takerAccount = await server.account('taker', { usdai: '10000', credits: { H100: '500' } });
  burstAccounts = [];
  for (const owner of ['a', 'b', 'c']) burstAccounts.push(await server.account(owner, { usdai: '100000', credits: { H100: '5000' } }));
  [maker, taker, ...burst] = await Promise.all([makerAccount, takerAccount, ...burstAccounts].map((account) => restClient(server, account)));
  makerPro = await proClient(server, makerAccount);
  proClients.push(makerPro);
});

t.teardown(async () => {
  for (const client of proClients) await client.close();
  await server?.stop();
});

async function emptyBook(): Promise<void> {
  for (const client of [maker, taker, ...burst]) await client.cancelAllOrders();
}

// ---------------------------------------------------------------------------------------------
// Watches

t.test('watchBalance resolves at once with the current USDAI balance, then again after a fill', async (t) => {
  await emptyBook();
  const rest = (await maker.fetchBalance()).USDAI;
  const first = await withTimeout(makerPro.watchBalance(), WATCH_MS, 'the first user.portfolio.USDAI message');
  t.same(usdaiOf(first), { free: rest.free, used: rest.used, total: rest.total }, 'the first message is the current balance (§6.1: sent at once)');

  await maker.createOrder(SPOT, 'limit', 'sell', 2, 2.5);
  const expectedTotal = num(sum(rest.total!, times(2, '2.5')));
  const updated = watchUntil(() => makerPro.watchBalance(), (balance) => usdaiOf(balance).total === expectedTotal, WATCH_MS, 'the USDAI balance after the fill');
  await taker.createOrder(SPOT, 'market', 'buy', 2);
  t.same(usdaiOf(await updated), { free: expectedTotal, used: 0, total: expectedTotal }, 'the maker received 5 USDAI, no fee');
  const after = (await maker.fetchBalance()).USDAI;
  t.same(usdaiOf(await updated), { free: after.free, used: after.used, total: after.total }, 'the same as REST');
});

t.test('watchTrades, watchTicker, watchOrders and watchMyTrades all see one fill', async (t) => {
  await emptyBook();
  const price = 2.513;
  const isOurs = (order: Order) => order.symbol === SPOT && order.side === 'sell' && order.price === price;
  const trades = watchUntil(() => makerPro.watchTrades(SPOT), (list) => list.some((trade) => trade.price === price), WATCH_MS, 'the public trade');
  const ticker = watchUntil(() => makerPro.watchTicker(SPOT), (value) => value.last === price, WATCH_MS, 'a ticker with the new last price');
  const orders = watchUntil(() => makerPro.watchOrders(SPOT), (list) => list.some((order) => isOurs(order) && order.filled === 3), WATCH_MS, "the maker's order, partly filled");
  const myTrades = watchUntil(() => makerPro.watchMyTrades(SPOT), (list) => list.some((trade) => trade.price === price), WATCH_MS, "the maker's trade");

  const resting = await maker.createOrder(SPOT, 'limit', 'sell', 5, price);
  const fill = await taker.createOrder(SPOT, 'market', 'buy', 3);
  const tradeId = fill.trades[0].id;

  t.match((await trades).find((trade) => trade.price === price), { id: tradeId, symbol: SPOT, price, amount: 3, side: 'buy', cost: num(times(3, price)) });
  t.match(await ticker, { symbol: SPOT, last: price, ask: price, askVolume: 2 });
  const order = (await orders).find((value) => isOurs(value) && value.filled === 3)!;
  t.match(order, { id: resting.id, symbol: SPOT, type: 'limit', side: 'sell', price, amount: 5, filled: 3, remaining: 2, status: 'open' });
  t.match((await myTrades).find((trade) => trade.price === price), { id: tradeId, order: resting.id, symbol: SPOT, side: 'sell', price, amount: 3, takerOrMaker: 'maker', fee: { cost: 0, currency: 'USDAI' } });
});

// ---------------------------------------------------------------------------------------------
// The book under a burst

t.test('raw book channel: a trade that triggers a stop order sends every change (the minimal case)', async (t) => {
  await emptyBook();
  const [a, b, c] = burst;
  await a.createOrder(SPOT, 'limit', 'sell', 1, 2.49);
  await b.createOrder(SPOT, 'market', 'buy', 1);
  const raw = await RawFeed.open(server.wsUrl, burstAccounts[0], [`book.${SPOT_ID}.raw`]);
  t.teardown(() => raw.close());
  for (const price of [2.5, 2.51, 2.52]) await a.createOrder(SPOT, 'limit', 'sell', 5, price);
  const stop = await c.createOrder(SPOT, 'market', 'buy', 3, undefined, { stopLossPrice: 2.5 });
  t.equal(stop.info.order_state, 'untriggered', 'last price 2.49: the buy stop at 2.5 waits');
  const sweep = await b.createOrder(SPOT, 'market', 'buy', 6);
  t.same(sweep.trades.map((trade) => [trade.price, trade.amount]), [[2.5, 5], [2.51, 1]]);
  const triggered = await c.fetchOrder(stop.id!, SPOT);
  t.match(triggered, { status: 'closed', filled: 3, cost: num(times(3, '2.51')) }, 'the trade at 2.5 triggered the stop, which bought 3 at 2.51');

  const rest = await a.fetchOrderBook(SPOT, 10_000);
  const expected = { bids: levelsOf(rest.bids), asks: levelsOf(rest.asks) };
  t.same(expected, { bids: [], asks: [[2.51, 1], [2.52, 5]] });
  await pollUntil(() => raw.lastChangeId(), (changeId) => changeId >= Number(rest.nonce), 3_000);
  checkRawBook(t, raw, expected, Number(rest.nonce));
  await emptyBook();
});

t.test('the 100 ms trades channel sends a new subscriber only the trades committed after it subscribed', async (t) => {
  // Regression (fixed): gateway/subscriptions.ts kept one list of the interval's trades per
  // instrument and sent all of it to every subscriber at the next flush, so a client that
  // subscribed in the middle of an interval also got the trades committed before it subscribed
  // (seen in CI: the burst case below received trades 3..6 of the stop-order case above). Each
  // round trades, subscribes at once (well inside the 100 ms interval), trades again, and checks
  // that the first trade never arrives.
  await emptyBook();
  const [a, b] = burst;
  for (let round = 0; round < 5; round++) {
    await a.createOrder(SPOT, 'limit', 'sell', 1, 2.5);
    const before = await b.createOrder(SPOT, 'market', 'buy', 1);
    const raw = await RawFeed.open(server.wsUrl, burstAccounts[2], [`book.${SPOT_ID}.raw`, `trades.${SPOT_ID}.100ms`]);
    await a.createOrder(SPOT, 'limit', 'sell', 1, 2.5);
    const after = await b.createOrder(SPOT, 'market', 'buy', 1);
    const afterId = after.trades[0].id;
    await pollUntil(() => raw.trades().map((trade) => String(trade.trade_id)), (ids) => ids.includes(afterId!), WATCH_MS);
    raw.close();
    t.same(raw.trades().map((trade) => String(trade.trade_id)), [afterId], `round ${round}: trade ${afterId} only, not ${before.trades[0].id} from before the subscription`);
  }
});

t.test('after a burst of trading, the books built from the feeds equal the REST book', async (t) => {
  await emptyBook();
  t.comment(`SEED=${SEED}`);
  const raw = await RawFeed.open(server.wsUrl, burstAccounts[0], [`book.${SPOT_ID}.raw`, `trades.${SPOT_ID}.100ms`]);
  t.teardown(() => raw.close());
  const pro = await proClient(server, burstAccounts[1]);
  proClients.push(pro);
  await withTimeout(pro.watchOrderBook(SPOT), WATCH_MS, 'the order book snapshot');
  const lastTradeIdBefore = Math.max(0, ...(await burst[0].fetchTrades(SPOT)).map((trade) => Number(trade.id)));
  await placeLadder(maker);

  const outcome = await runBurst(burst, SEED);
  t.same(outcome.unexpected, [], 'no refusal other than the ones the workload causes by design');
  t.comment(`burst: ${JSON.stringify(outcome.counts)}`);

  const rest = await burst[2].fetchOrderBook(SPOT, 10_000);
  const expected = { bids: levelsOf(rest.bids), asks: levelsOf(rest.asks) };
  // The ladder alone guarantees this (it used to depend on how the three clients interleaved).
  t.ok(expected.bids.length + expected.asks.length > 10, 'the burst left a book worth comparing');
  const ccxtBook = await pollUntil(() => ({ bids: levelsOf(pro.orderbooks[SPOT].bids), asks: levelsOf(pro.orderbooks[SPOT].asks) }), (book) => sameBook(book, expected), 3_000);
  t.same(ccxtBook, expected, "CCXT's book from book.H100_USDAI.100ms equals get_order_book at full depth");

  await pollUntil(() => raw.lastChangeId(), (changeId) => changeId >= Number(rest.nonce), 3_000);
  checkRawBook(t, raw, expected, Number(rest.nonce));

  // CCXT sorts trades by timestamp, then by id as text ('10' < '9'), so put them back in id order.
  const restTrades = (await burst[2].fetchTrades(SPOT, undefined, 1000)).filter((trade) => Number(trade.id) > lastTradeIdBefore).sort((x, y) => Number(x.id) - Number(y.id));
  t.ok(restTrades.length > 20, 'the burst traded');
  await pollUntil(() => raw.trades().length, (count) => count >= restTrades.length, 10_000);
  checkTradesChannel(t, raw, restTrades.map((trade) => trade.info as Record<string, unknown>));
  await emptyBook();
});

function checkRawBook(t: Tap, raw: RawFeed, expected: { bids: [number, number][]; asks: [number, number][] }, restChangeId: number): void {
  const messages = raw.book();
  t.equal(messages[0]?.type, 'snapshot', 'the first message is a snapshot');
  t.same(messages.slice(1).filter((message) => message.type !== 'change').map((message) => message.change_id), [], 'never a second snapshot');
  const gaps: string[] = [];
  for (let index = 1; index < messages.length; index++) {
    if (messages[index].prev_change_id !== messages[index - 1].change_id) {
      gaps.push(`message ${index}: prev_change_id ${messages[index].prev_change_id}, previous change_id ${messages[index - 1].change_id}`);
    }
  }
  // Regression (fixed): when one command changes the book twice (a trade that triggers a stop order,
  // which then trades too), market_data.ts MarketData.ingest keeps only the second change
  // (`books.set(instrument, …)` replaces the first), so subscriptions.ts sendRawBook never sends
  // the first change_id and the raw feed skips it. Minimal repro (three accounts, empty book):
  //   a: private/sell amount=5 price=2.5, amount=5 price=2.51, amount=5 price=2.52   (change_id 1..3)
  //   c: private/buy type=stop_market amount=3 trigger_price=2.5 trigger=last_price
  //   b: private/buy type=market amount=6                      (trades 5@2.5, 1@2.51, then c's 3@2.51)
  //   ← book.H100_USDAI.raw: {"type":"change","prev_change_id":4,"change_id":5,"asks":[["change",2.51,1]]}
  //      right after change_id 3: change_id 4 (["delete",2.5,0],["change",2.51,4]) is never sent,
  //      and a client replaying the feed keeps a phantom ask 5@2.5.
  t.same(gaps, [], 'every prev_change_id is the previous change_id (§6.3)');
  t.equal(messages.at(-1)?.change_id, restChangeId, 'the feed reached the change_id of the REST book');
  t.same(replayBook(messages), expected, 'replaying the raw feed gives the REST book');
}

function checkTradesChannel(t: Tap, raw: RawFeed, restTrades: Record<string, unknown>[]): void {
  const notifications = raw.tradeNotifications();
  t.ok(notifications.length > 0 && notifications.every((data) => Array.isArray(data)), 'every trades.H100_USDAI.100ms notification is an array');
  const sent = raw.trades();
  t.same(sent.map((trade) => trade.trade_id), restTrades.map((trade) => trade.trade_id), 'the channel carried every trade, once, in order');
  const fields = (trade: Record<string, unknown>) => ({ trade_id: trade.trade_id, price: trade.price, amount: trade.amount, direction: trade.direction, timestamp: trade.timestamp, instrument_name: trade.instrument_name });
  t.same(sent.map(fields), restTrades.map(fields), 'with the same price, amount, side and time as REST');
  // Regression (fixed): REST public trades always say tick_direction 0 (public.ts tradesOf calls
  // publicTradeObject without the tick direction), while the WebSocket sends the real one (§5.5:
  // 0 plus, 1 zero-plus, 2 minus, 3 zero-minus). Repro: two trades at the same price, then
  //   GET /api/v2/public/get_last_trades_by_instrument?instrument_name=H100_USDAI
  //   ← the second trade has "tick_direction":0; trades.H100_USDAI.100ms sent it with 1.
  t.same(sent.map((trade) => trade.tick_direction), restTrades.map((trade) => trade.tick_direction), 'tick_direction agrees between REST and WebSocket');
}

// ---------------------------------------------------------------------------------------------
// The burst workload

type BurstOperation =
  | { kind: 'limit'; side: 'buy' | 'sell'; amount: number; priceTicks: number; postOnly: boolean }
  | { kind: 'market'; side: 'buy' | 'sell'; amount: number }
  | { kind: 'stop'; side: 'buy' | 'sell'; amount: number; triggerTicks: number }
  | { kind: 'edit'; pick: number; amount: number; priceTicks: number }
  | { kind: 'cancel'; pick: number };

const MID_TICKS = 2500;

const LADDER_LEVELS = 8;
const LADDER_LOTS = 60;

/**
 * Resting depth the burst cannot take away: LADDER_LEVELS bids below and asks above every price the
 * burst's limits and edits use, LADDER_LOTS each. The burst's market and stop orders (a fifth of
 * its operations, 3 lots at most; ~120 lots in all) can take two or three of a side's levels, so
 * the book keeps more than 10 levels to compare whatever the interleaving.
 */
async function placeLadder(client: RestClient): Promise<void> {
  for (let level = 0; level < LADDER_LEVELS; level++) {
    await client.createOrder(SPOT, 'limit', 'buy', LADDER_LOTS, (MID_TICKS - 60 + level) / 1000);
    await client.createOrder(SPOT, 'limit', 'sell', LADDER_LOTS, (MID_TICKS + 60 - level) / 1000);
  }
}

/** Runs BURST_OPERATIONS operations split across the clients, each client's in order, all at once. */
async function runBurst(clients: RestClient[], seed: number): Promise<{ unexpected: string[]; counts: Record<string, number> }> {
  const random = seededRandom(seed);
  const lists = clients.map(() => [] as BurstOperation[]);
  for (let index = 0; index < BURST_OPERATIONS; index++) lists[index % clients.length].push(drawOperation(random));
  const unexpected: string[] = [];
  const counts: Record<string, number> = {};
  await Promise.all(clients.map(async (client, index) => {
    const openIds: string[] = [];
    for (const operation of lists[index]) {
      const result = await runBurstOperation(client, operation, openIds);
      const name = result.startsWith('unexpected') ? 'unexpected' : result;
      counts[name] = (counts[name] ?? 0) + 1;
      if (name === 'unexpected') unexpected.push(`${JSON.stringify(operation)}: ${result}`);
    }
  }));
  return { unexpected, counts };
}

/**
 * Limit buys rest on [2.480, 2.504] and sells on [2.496, 2.520], so most of them build the book and
 * some cross; market and stop orders are small, so the book stays deep enough to compare.
 */
function drawOperation(random: () => number): BurstOperation {
  const side = random() < 0.5 ? 'buy' : 'sell';
  const amount = 1 + Math.floor(random() * 10);
  const priceTicks = side === 'buy' ? MID_TICKS - 20 + Math.floor(random() * 25) : MID_TICKS + 20 - Math.floor(random() * 25);
  const roll = random();
  if (roll < 0.5) return { kind: 'limit', side, amount, priceTicks, postOnly: random() < 0.2 };
  if (roll < 0.6) return { kind: 'market', side, amount: 1 + Math.floor(random() * 3) };
  if (roll < 0.7) return { kind: 'stop', side, amount: 1 + Math.floor(random() * 3), triggerTicks: MID_TICKS + (side === 'buy' ? 1 : -1) * Math.floor(random() * 15) };
  if (roll < 0.85) return { kind: 'edit', pick: random(), amount, priceTicks: MID_TICKS - 20 + Math.floor(random() * 41) };
  return { kind: 'cancel', pick: random() };
}

/** One operation; answers what happened (a name for the counts), 'unexpected …' for a failure. */
async function runBurstOperation(client: RestClient, operation: BurstOperation, openIds: string[]): Promise<string> {
  const price = (ticks: number) => ticks / 1000;
  try {
    if (operation.kind === 'limit') {
      const order = await client.createOrder(SPOT, 'limit', operation.side, operation.amount, price(operation.priceTicks), operation.postOnly ? { postOnly: true } : {});
      if (order.status === 'open') openIds.push(order.id!);
      return operation.postOnly ? 'post-only placed' : 'limit placed';
    }
    if (operation.kind === 'market') return `market ${(await client.createOrder(SPOT, 'market', operation.side, operation.amount)).status}`;
    if (operation.kind === 'stop') {
      const order = await client.createOrder(SPOT, 'market', operation.side, operation.amount, undefined, { stopLossPrice: price(operation.triggerTicks) });
      return `stop ${order.info.order_state}`;
    }
    if (openIds.length === 0) return `${operation.kind}: nothing open`;
    const id = openIds[Math.floor(operation.pick * openIds.length)];
    if (operation.kind === 'edit') {
      // CCXT's editOrder sends order_id, amount and price only (§5.9); the side given here is unused.
      await client.editOrder(id, SPOT, 'limit', 'buy', operation.amount, price(operation.priceTicks));
      return 'edited';
    }
    openIds.splice(openIds.indexOf(id), 1);
    await client.cancelOrder(id, SPOT);
    return 'cancelled';
  } catch (error) {
    return burstRefusal(operation, error as Error, openIds);
  }
}

function burstRefusal(operation: BurstOperation, error: Error, openIds: string[]): string {
  const code = wireCodeOf(error);
  if (operation.kind === 'limit' && operation.postOnly && error instanceof InvalidOrder && code === 11054) return 'post-only refused';
  // An edit keeps the order's post-only flag, so an edit that would make it cross is refused too.
  if (operation.kind === 'edit' && error instanceof InvalidOrder && code === 11054) return 'edit: post-only refused';
  // Another account may have filled more of the order than the new amount.
  if (operation.kind === 'edit' && error instanceof InvalidOrder && code === 10021) return 'edit: amount below filled';
  if ((operation.kind === 'edit' || operation.kind === 'cancel') && error instanceof OrderNotFound && (code === 10004 || code === 10010)) {
    const id = openIds[Math.floor(operation.pick * openIds.length)];
    if (operation.kind === 'edit' && id !== undefined) openIds.splice(openIds.indexOf(id), 1);
    return `${operation.kind}: already closed`;
  }
  return `unexpected ${error.constructor.name}: ${error.message.slice(0, 300)}`;
}

// ---------------------------------------------------------------------------------------------
// A plain WebSocket client

interface BookMessage {
  type: string;
  change_id: number;
  prev_change_id?: number;
  bids: [string, number, number][];
  asks: [string, number, number][];
}

/** A Deribit JSON-RPC client over `ws` that records every notification it receives. */
class RawFeed {
  private readonly notifications: { channel: string; data: unknown }[] = [];
  private readonly waiting = new Map<number, (reply: { result?: unknown; error?: unknown }) => void>();
  private nextId = 1;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (text) => this.onMessage(JSON.parse(String(text))));
  }

  /** Connects, authenticates (Deribit wants an authorized connection for raw channels), subscribes. */
  static async open(url: string, account: TestAccount, channels: string[]): Promise<RawFeed> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await withTimeout(new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject)), WATCH_MS, 'the WebSocket connection');
    const feed = new RawFeed(socket);
    const auth = await feed.request('public/auth', { grant_type: 'client_credentials', client_id: account.clientId, client_secret: account.clientSecret });
    if (auth.error !== undefined) throw new Error(`auth failed: ${JSON.stringify(auth.error)}`);
    const subscribed = await feed.request('public/subscribe', { channels });
    if (JSON.stringify(subscribed.result) !== JSON.stringify(channels)) throw new Error(`subscribe answered ${JSON.stringify(subscribed)}`);
    await pollUntil(() => feed.book().length, (count) => count > 0, WATCH_MS);
    return feed;
  }

  request(method: string, params: Record<string, unknown>): Promise<{ result?: unknown; error?: unknown }> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return withTimeout(new Promise((resolve) => this.waiting.set(id, resolve)), WATCH_MS, `the reply to ${method}`);
  }

  book(): BookMessage[] {
    return this.notifications.filter((message) => message.channel.startsWith('book.')).map((message) => message.data as BookMessage);
  }

  lastChangeId(): number {
    return this.book().at(-1)?.change_id ?? -1;
  }

  tradeNotifications(): unknown[] {
    return this.notifications.filter((message) => message.channel.startsWith('trades.')).map((message) => message.data);
  }

  trades(): Record<string, unknown>[] {
    return this.tradeNotifications().flatMap((data) => (Array.isArray(data) ? data : [data]) as Record<string, unknown>[]);
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(message: { id?: number; method?: string; params?: { channel: string; data: unknown }; result?: unknown; error?: unknown }): void {
    if (message.method === 'subscription' && message.params !== undefined) this.notifications.push(message.params);
    else if (message.id !== undefined) this.waiting.get(message.id)?.(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

/**
 * The USDAI account of a watchBalance result. CCXT quirk (reference §8 #14): ccxt.pro.deribit
 * nests a whole balance structure under the currency code, so the account is at `.USDAI.USDAI`.
 */
function usdaiOf(balance: Balances): { free: number | undefined; used: number | undefined; total: number | undefined } {
  const account = (balance.USDAI as unknown as Balances).USDAI;
  return { free: account.free, used: account.used, total: account.total };
}

function sameBook(a: { bids: [number, number][]; asks: [number, number][] }, b: { bids: [number, number][]; asks: [number, number][] }): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Applies snapshot and change messages the way Deribit defines them (§6.3); best first. */
function replayBook(messages: BookMessage[]): { bids: [number, number][]; asks: [number, number][] } {
  const sides = { bids: new Map<number, number>(), asks: new Map<number, number>() };
  for (const message of messages) {
    for (const name of ['bids', 'asks'] as const) {
      for (const [action, price, amount] of message[name]) {
        if (action === 'delete') sides[name].delete(price);
        else sides[name].set(price, amount);
      }
    }
  }
  return {
    bids: [...sides.bids].sort((x, y) => y[0] - x[0]),
    asks: [...sides.asks].sort((x, y) => x[0] - y[0]),
  };
}
