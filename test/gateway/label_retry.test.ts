// Order-entry retries over the wire (RELIABILITY.md test 11; reference/deribit-v2-api.md §7,
// engine/orders.ts placeOrder, gateway/methods/private.ts orderReply/retryReply).
//
// A trading client whose private/buy timed out does not know whether the order exists. It sends
// the same request again, with the same `label` (its client order id). The rulebook:
// - a retry with the same label and the same payload places nothing: the reply is the original
//   order (same order_id) with the original trades (same trade ids, prices, amounts), on the same
//   connection, on a new connection, sent before the first reply arrived, and after the exchange
//   was killed with SIGKILL and restarted on its data directory;
// - a retry that arrives after the order was cancelled returns the cancelled order, it does not
//   place it again;
// - a different payload under the label of an open order is refused with 11030 other_reject,
//   data.reason duplicate_label (result_codes.ts Reject.duplicateLabel), and changes nothing.
//
// Every "nothing happened" check is one that a duplicate would break: the books keep liquidity
// that a second order would take (a duplicate IOC would trade 3 more against the 2.510 ask), and
// the reads (order state by label, order history, user trades, open orders, account summaries of
// both sides) would show a second order, more trades, moved balances or a doubled reserve.
//
// Method: a real exchange per case. Cases 1 and 2 run it in-process (test/gateway/_server.ts);
// case 3 runs it as a child process (test/gateway/_exchange_child.ts, the shutdown test's
// harness) so it can be killed with SIGKILL. Accounts, keys and deposits go through the admin
// routes; clients are real WebSockets authenticated with client_credentials (_ws_client.ts).
// Nothing is random. Rerun with
//   npx tap --reporter=tap test/gateway/label_retry.test.ts

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminCalls, startExchangeProcess, type ExchangeProcess } from './_exchange_process.js';
import { startTestExchange, type TestAccount } from './_server.js';
import { WsRpcClient, type Envelope } from './_ws_client.js';

const SPOT = 'H100_USDAI';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface WireOrder {
  order_id: string;
  label: string;
  order_state: string;
  direction: string;
  price: number;
  amount: number;
  filled_amount: number;
  average_price: number;
  [field: string]: unknown;
}

interface WireTrade {
  trade_id: string;
  order_id: string;
  price: number;
  amount: number;
  direction: string;
  liquidity: string;
  fee: number;
  [field: string]: unknown;
}

interface OrderReply {
  order: WireOrder;
  trades: WireTrade[];
}

/** Anywhere accounts can be created: the in-process test exchange or the child process. */
interface Venue {
  wsUrl: string;
  account(owner: string, funds?: { usdai?: string; credits?: Record<string, string> }): Promise<TestAccount>;
}

// The book every case starts from: account A (the maker) offers 2 @ 2.500 and 5 @ 2.510.
const ASKS = [
  { label: 'ask-2500', amount: '2', price: '2.500' },
  { label: 'ask-2510', amount: '5', price: '2.510' },
];
// B's taker order: buy 3 up to 2.510, immediate-or-cancel. It takes 2 @ 2.500 and 1 @ 2.510 and
// leaves 4 @ 2.510 on the book, which a duplicate would take.
const IOC_BUY = { instrument_name: SPOT, amount: '3', type: 'limit', price: '2.510', time_in_force: 'immediate_or_cancel' };
// B's resting order: buy 2 @ 2.400, below the best ask, so it rests.
const RESTING_BUY = { instrument_name: SPOT, amount: '2', type: 'limit', price: '2.400' };

// B pays 2 × 2.500 + 1 × 2.510 = 7.51 USDAI and the 3 bp taker fee on it, 0.002253 (maker fee 0).
const B_USDAI_AFTER_IOC = 999_992.487747;
const A_USDAI_AFTER_IOC = 1_000_007.51;

// ---------------------------------------------------------------------------------------------
// Case 1: a taker order that traded, retried

t.test('a labelled IOC buy that traded, retried on the same and on a new connection, trades once', async (t) => {
  const server = await startTestExchange();
  t.teardown(() => server.stop());
  const { maker, taker, takerKey } = await openMarket(t, server);
  const before = await balances(maker, taker);

  // The original request: the client sends it and, say, its timer fires before it reads the reply.
  const first = await taker.result<OrderReply>('private/buy', { ...IOC_BUY, label: 'ioc-1' });
  t.match(first.order, { label: 'ioc-1', order_state: 'filled', filled_amount: 3, amount: 3 }, 'the original fills 3');
  t.same(first.trades.map(fill), [
    { order_id: first.order.order_id, price: 2.5, amount: 2, direction: 'buy', liquidity: 'T' },
    { order_id: first.order.order_id, price: 2.51, amount: 1, direction: 'buy', liquidity: 'T' },
  ], 'the original takes 2 @ 2.500 and 1 @ 2.510');
  t.not(first.trades[0].trade_id, first.trades[1].trade_id, 'two distinct trades');
  t.same(first.trades.map((trade) => trade.label), ['ioc-1', 'ioc-1'], "each trade carries its order's label, as Deribit's do (CCXT reads it as the client order id)");
  const makerTrades = (await maker.result<{ trades: WireTrade[] }>('private/get_user_trades_by_instrument', { instrument_name: SPOT, count: 100, sorting: 'asc' })).trades;
  t.same(makerTrades.map((trade) => [trade.label, trade.liquidity]), [['ask-2500', 'M'], ['ask-2510', 'M']], "and the maker's side of each carries the maker order's label");
  const afterFirst = await balances(maker, taker);
  t.match(afterFirst, { taker: { USDAI: { balance: B_USDAI_AFTER_IOC }, H100: { balance: 3 } }, maker: { USDAI: { balance: A_USDAI_AFTER_IOC }, H100: { balance: 97, spot_reserve: 4 } } }, 'the original moved 3 H100 for 7.51 USDAI plus the taker fee');
  t.notSame(afterFirst, before, 'the original changed the balances');

  // The retry: same label, same params, same connection.
  const retry = await taker.result<OrderReply>('private/buy', { ...IOC_BUY, label: 'ioc-1' });
  expectSameReply(t, retry, first, 'retry on the same connection');
  await expectTradedOnce(t, { maker, taker }, first, 'ioc-1', afterFirst, 'after the retry on the same connection');

  // The client reconnects (its socket was the thing that timed out) and retries again.
  await taker.close();
  const again = await WsRpcClient.connectAuthed(server.wsUrl, takerKey);
  t.teardown(() => again.close());
  const retryNew = await again.result<OrderReply>('private/buy', { ...IOC_BUY, label: 'ioc-1' });
  expectSameReply(t, retryNew, first, 'retry on a new connection');
  await expectTradedOnce(t, { maker, taker: again }, first, 'ioc-1', afterFirst, 'after the retry on a new connection');
});

// ---------------------------------------------------------------------------------------------
// Case 2: a resting order, retried; a different payload under its label

t.test('a labelled resting buy: retries return it, a different payload under its label is refused', async (t) => {
  const server = await startTestExchange();
  t.teardown(() => server.stop());
  const { maker, taker, takerKey } = await openMarket(t, server);
  const before = await balances(maker, taker);

  // The client sends the order and resends it before the first reply arrived (both in flight at
  // once): the second must find the first's label, not place a second order.
  const [original, resent] = await Promise.all([
    taker.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-1' }),
    taker.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-1' }),
  ]);
  t.match(original.order, { label: 'rest-1', order_state: 'open', price: 2.4, amount: 2, filled_amount: 0 }, 'the original rests');
  t.same(original.trades, [], 'the original did not trade');
  expectSameReply(t, resent, original, 'a resend while the original was in flight');
  const afterFirst = await balances(maker, taker);
  t.notSame(afterFirst.taker.USDAI, before.taker.USDAI, 'the resting buy holds USDAI');

  const retry = await taker.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-1' });
  expectSameReply(t, retry, original, 'a retry after the reply');
  await expectRestingOnce(t, { maker, taker }, original, afterFirst, 'after the retries');

  // A new connection finds the same open order under the label.
  await taker.close();
  const again = await WsRpcClient.connectAuthed(server.wsUrl, takerKey);
  t.teardown(() => again.close());
  expectSameReply(t, await again.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-1' }), original, 'a retry on a new connection');

  // Another payload under the label of the open order. The price 2.510 would cross the ask and
  // trade; the amount 3 would hold more: either would show if it were accepted.
  for (const [what, params] of [
    ['another price (crossing 2.510)', { ...RESTING_BUY, price: '2.510', label: 'rest-1' }],
    ['another amount', { ...RESTING_BUY, amount: '3', label: 'rest-1' }],
    ['another time in force', { ...RESTING_BUY, time_in_force: 'good_til_day', label: 'rest-1' }],
  ] as const) {
    const refused = await again.call('private/buy', params);
    expectDuplicateLabel(t, refused, original.order.order_id, what);
  }
  await expectRestingOnce(t, { maker, taker: again }, original, afterFirst, 'after the refused payloads');

  // The user cancels the order; a late retry of the original request must not place it again.
  const cancelled = await again.result<WireOrder>('private/cancel', { order_id: original.order.order_id });
  t.equal(cancelled.order_state, 'cancelled', 'cancelled');
  const late = await again.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-1' });
  t.equal(late.order.order_id, original.order.order_id, 'a retry after the cancel returns the original order id');
  t.match(late.order, { order_state: 'cancelled', label: 'rest-1', filled_amount: 0 }, 'in its cancelled state');
  t.same(late.trades, [], 'with no trades');
  t.same(await again.result('private/get_open_orders_by_instrument', { instrument_name: SPOT }), [], 'and nothing rests');
  t.same((await balances(maker, again)).taker, before.taker, 'the taker\'s balances are back where they started (nothing held, nothing traded)');
});

// ---------------------------------------------------------------------------------------------
// Case 3: kill -9 and restart between the original and the retry

t.test('after SIGKILL and a restart on the same data directory, retries return the originals', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'exchange-label-retry-'));
  let child: Child | undefined;
  t.teardown(() => {
    child?.process.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  child = await startChild(dataDir);
  const { maker, taker, makerKey, takerKey } = await openMarket(t, childVenue(child, dataDir));
  const ioc = await taker.result<OrderReply>('private/buy', { ...IOC_BUY, label: 'ioc-k' });
  const resting = await taker.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-k' });
  t.equal(ioc.order.order_state, 'filled', 'the IOC filled before the kill');
  t.equal(resting.order.order_state, 'open', 'the resting buy rests before the kill');
  const beforeKill = await balances(maker, taker);

  // Kill at once: acknowledged means journaled, whatever history had flushed by now.
  const exited = child.exited;
  child.process.kill('SIGKILL');
  t.match(await exited, { signal: 'SIGKILL' }, 'the exchange died of SIGKILL');
  await Promise.all([maker.closed, taker.closed]);

  child = await startChild(dataDir);
  const maker2 = await WsRpcClient.connectAuthed(child.wsUrl, makerKey);
  const taker2 = await WsRpcClient.connectAuthed(child.wsUrl, takerKey);
  t.teardown(() => Promise.all([maker2.close(), taker2.close()]));

  expectSameReply(t, await taker2.result<OrderReply>('private/buy', { ...IOC_BUY, label: 'ioc-k' }), ioc, 'IOC retry after the restart');
  expectSameReply(t, await taker2.result<OrderReply>('private/buy', { ...RESTING_BUY, label: 'rest-k' }), resting, 'resting retry after the restart');
  expectDuplicateLabel(t, await taker2.call('private/buy', { ...RESTING_BUY, price: '2.510', label: 'rest-k' }), resting.order.order_id, 'another price after the restart');

  const labelled = async (label: string) => ids(await taker2.result<WireOrder[]>('private/get_order_state_by_label', { currency: 'H100', label }));
  t.same(await labelled('ioc-k'), [ioc.order.order_id], 'one order under ioc-k');
  t.same(await labelled('rest-k'), [resting.order.order_id], 'one order under rest-k');
  t.same(ids(await taker2.result<WireOrder[]>('private/get_open_orders_by_instrument', { instrument_name: SPOT })), [resting.order.order_id], 'the taker has exactly the resting order open');
  t.same(tradeIds((await taker2.result<{ trades: WireTrade[] }>('private/get_user_trades_by_instrument', { instrument_name: SPOT, count: 100, sorting: 'asc' })).trades), tradeIds(ioc.trades), 'the taker has exactly the original two trades');
  t.same(await makerAsks(maker2), [{ price: 2.51, amount: 5, filled_amount: 1 }], 'the 2.510 ask still has 4 left');
  t.same(await balances(maker2, taker2), beforeKill, 'balances are as they were before the kill');
});

// ---------------------------------------------------------------------------------------------
// Expectations

/**
 * The retry's reply is the original's: the same order (id and every field), the same trades (every
 * field). The original's trades come from the command's events, the retry's from history
 * (private.ts retryReply), so this also checks that the two paths agree.
 */
function expectSameReply(t: Tap, retry: OrderReply, original: OrderReply, what: string): void {
  t.equal(retry.order.order_id, original.order.order_id, `${what}: the same order_id`);
  t.same(retry.order, original.order, `${what}: the same order, field by field`);
  t.same(tradeIds(retry.trades), tradeIds(original.trades), `${what}: the same trade ids`);
  t.same(retry.trades, original.trades, `${what}: the same trades, field by field (prices, amounts, fees)`);
}

function expectDuplicateLabel(t: Tap, reply: Envelope, orderId: string, what: string): void {
  t.equal(reply.result, undefined, `${what}: no result`);
  t.match(reply.error, { code: 11030, message: 'other_reject', data: { reason: 'duplicate_label' } }, `${what}: refused 11030 duplicate_label`);
  t.match(String(reply.error?.data?.detail), orderId, `${what}: the detail names the open order`);
}

/** After the IOC and its retries: one order, two trades, the ask partly left, balances as after the original. */
async function expectTradedOnce(t: Tap, clients: { maker: WsRpcClient; taker: WsRpcClient }, original: OrderReply, label: string, balancesAfterOriginal: Balances, when: string): Promise<void> {
  const { maker, taker } = clients;
  t.same(ids(await taker.result<WireOrder[]>('private/get_order_state_by_label', { currency: 'H100', label })), [original.order.order_id], `${when}: one order under the label`);
  t.same(ids(await taker.result<WireOrder[]>('private/get_order_history_by_instrument', { instrument_name: SPOT, include_unfilled: true })), [original.order.order_id], `${when}: one order in the taker's history`);
  t.same(await taker.result('private/get_open_orders_by_instrument', { instrument_name: SPOT }), [], `${when}: nothing of the taker rests`);
  const takerTrades = (await taker.result<{ trades: WireTrade[] }>('private/get_user_trades_by_instrument', { instrument_name: SPOT, count: 100, sorting: 'asc' })).trades;
  t.same(tradeIds(takerTrades), tradeIds(original.trades), `${when}: the taker has exactly the two original trades`);
  t.same(takerTrades.map((trade) => trade.label), original.trades.map(() => label), `${when}: read back from history, they carry the label`);
  t.same(await makerAsks(maker), [{ price: 2.51, amount: 5, filled_amount: 1 }], `${when}: the 2.510 ask still has 4 left (a duplicate would take 3 more)`);
  t.same(await balances(maker, taker), balancesAfterOriginal, `${when}: balances of both sides changed only once`);
}

/** After the resting order and its retries: one open order of the taker, untouched book, no trades, balances as after the original. */
async function expectRestingOnce(t: Tap, clients: { maker: WsRpcClient; taker: WsRpcClient }, original: OrderReply, balancesAfterOriginal: Balances, when: string): Promise<void> {
  const { maker, taker } = clients;
  const open = await taker.result<WireOrder[]>('private/get_open_orders_by_instrument', { instrument_name: SPOT });
  t.same(ids(open), [original.order.order_id], `${when}: exactly one open order`);
  t.match(open[0], { label: 'rest-1', price: 2.4, amount: 2, filled_amount: 0, order_state: 'open' }, `${when}: it is the original, unchanged`);
  t.same(ids(await taker.result<WireOrder[]>('private/get_order_state_by_label', { currency: 'H100', label: 'rest-1' })), [original.order.order_id], `${when}: one order under the label`);
  t.same((await taker.result<{ trades: WireTrade[] }>('private/get_user_trades_by_instrument', { instrument_name: SPOT, count: 100 })).trades, [], `${when}: the taker has no trades`);
  t.same(await makerAsks(maker), [{ price: 2.5, amount: 2, filled_amount: 0 }, { price: 2.51, amount: 5, filled_amount: 0 }], `${when}: the maker's asks are untouched`);
  t.same(await balances(maker, taker), balancesAfterOriginal, `${when}: balances (and the buy's reserve) as after the original`);
}

// ---------------------------------------------------------------------------------------------
// The market and the reads

/** A (the maker, with 100 H100) rests the two asks; B (the taker) has only USDAI. */
async function openMarket(t: Tap, venue: Venue): Promise<{ maker: WsRpcClient; taker: WsRpcClient; makerKey: TestAccount; takerKey: TestAccount }> {
  const makerKey = await venue.account('maker', { credits: { H100: '100' } });
  const takerKey = await venue.account('taker');
  const maker = await WsRpcClient.connectAuthed(venue.wsUrl, makerKey);
  const taker = await WsRpcClient.connectAuthed(venue.wsUrl, takerKey);
  t.teardown(() => Promise.all([maker.close(), taker.close()]));
  for (const ask of ASKS) {
    const placed = await maker.result<OrderReply>('private/sell', { instrument_name: SPOT, type: 'limit', ...ask });
    t.equal(placed.order.order_state, 'open', `ask ${ask.amount} @ ${ask.price} rests`);
  }
  return { maker, taker, makerKey, takerKey };
}

interface Balances {
  maker: Record<string, Record<string, unknown>>;
  taker: Record<string, Record<string, unknown>>;
}

/** USDAI and H100 of both accounts: total, available, held. */
async function balances(maker: WsRpcClient, taker: WsRpcClient): Promise<Balances> {
  const of = async (client: WsRpcClient) => {
    const out: Record<string, Record<string, unknown>> = {};
    for (const currency of ['USDAI', 'H100']) {
      const summary = await client.result<Record<string, unknown>>('private/get_account_summary', { currency });
      out[currency] = { balance: summary.balance, available_funds: summary.available_funds, spot_reserve: summary.spot_reserve };
    }
    return out;
  };
  return { maker: await of(maker), taker: await of(taker) };
}

async function makerAsks(maker: WsRpcClient): Promise<{ price: number; amount: number; filled_amount: number }[]> {
  const open = await maker.result<WireOrder[]>('private/get_open_orders_by_instrument', { instrument_name: SPOT });
  return open.map((order) => ({ price: order.price, amount: order.amount, filled_amount: order.filled_amount })).sort((a, b) => a.price - b.price);
}

function fill(trade: WireTrade) {
  return { order_id: trade.order_id, price: trade.price, amount: trade.amount, direction: trade.direction, liquidity: trade.liquidity };
}

const ids = (orders: WireOrder[]) => orders.map((order) => order.order_id).sort();
const tradeIds = (trades: WireTrade[]) => trades.map((trade) => trade.trade_id);

// ---------------------------------------------------------------------------------------------
// The exchange as a child process (for SIGKILL)

type Child = ExchangeProcess;

function startChild(dataDir: string): Promise<Child> {
  return startExchangeProcess(dataDir, 30_000);
}

/** Accounts on the child, through its admin routes (the token is in the data directory). */
function childVenue(child: Child, dataDir: string): Venue {
  const admin = adminCalls(child, dataDir);
  return {
    wsUrl: child.wsUrl,
    async account(owner, funds = {}) {
      const { account_id } = await admin('/admin/accounts', { owner });
      const key = await admin('/admin/keys', { account_id, scopes: ['read', 'trade'] });
      await admin('/admin/deposits', { account_id, currency: 'USDAI', amount: funds.usdai ?? '1000000' });
      for (const [currency, amount] of Object.entries(funds.credits ?? {})) await admin('/admin/deposits', { account_id, currency, amount });
      return { accountId: account_id as number, clientId: key.client_id as string, clientSecret: key.client_secret as string };
    },
  };
}
