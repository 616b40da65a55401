// Dead peers (RELIABILITY 15: "ping/pong ends dead peers"). The server pings every WebSocket each
// interval; a connection that has not answered the last ping by the next one is dropped. A peer whose
// machine vanished sends no FIN, so without this its connection, its subscriptions' buffers and,
// above all, its cancel-on-disconnect would wait for TCP keepalive (hours): a market maker whose
// link died would keep quoting. A live client answers pings (ws does it by default) and must
// never be dropped for it.
//
// Given two traders, each with cancel-on-disconnect on and two resting orders, one of whose client
// stops answering pings (ws `autoPong: false`, which is what a frozen peer looks like from the
// server), expect that one connection to be dropped after one unanswered ping and its orders
// cancelled, and the other to stay connected with its orders resting. The interval is 500 ms here
// (15 s in production, gateway/limits.ts).

import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { openOrderIds, startTestExchange, type TestAccount, type TestExchange } from './_server.js';
import { WsRpcClient } from './_ws_client.js';

const SPOT = 'H100_USDAI';
/** Long enough that a loaded CI machine never delays a live peer's pong past one interval. */
const PING_INTERVAL_MS = 500;

t.test('a peer that stops answering pings is dropped and its cancel-on-disconnect runs; a live peer stays', async (t) => {
  const server = await startTestExchange({ pingIntervalMs: PING_INTERVAL_MS });
  t.teardown(() => server.stop());
  const liveKey = await server.account('live-peer');
  const deadKey = await server.account('dead-peer');
  const live = await connect(server, liveKey, true);
  const dead = await connect(server, deadKey, false);
  t.teardown(() => {
    live.ws.terminate();
    dead.ws.terminate();
  });
  const livePlaced = await restTwoOrders(live, 'live');
  const deadPlaced = await restTwoOrders(dead, 'dead');
  t.same((await openOrderIds(server, deadKey, SPOT)).sort(), [...deadPlaced].sort(), 'the silent peer has its two orders resting');

  const silentSinceMs = Date.now();
  const closedOrTimeout = await Promise.race([dead.closed, sleep(20 * PING_INTERVAL_MS).then(() => 'timeout' as const)]);
  const droppedAfterMs = Date.now() - silentSinceMs;
  t.not(closedOrTimeout, 'timeout', `the silent peer is dropped within 20 ping intervals (after ${droppedAfterMs} ms)`);
  // Dropped, not closed politely: a dead peer cannot take part in a close handshake.
  if (closedOrTimeout !== 'timeout') t.equal(closedOrTimeout.code, 1006, 'by dropping the TCP connection (the client sees 1006)');

  t.equal(await pollOpenOrderCount(server, deadKey, 0), 0, "the dropped peer's cancel-on-disconnect cancelled its resting orders");

  // The live peer has been through as many pings by now, and answered each.
  await sleep(3 * PING_INTERVAL_MS);
  t.equal(live.closeInfo, undefined, 'the peer that answers pings is still connected');
  t.equal(await live.result('public/test', {}).then((result) => (result as { version?: string }).version !== undefined), true, 'and its requests are answered');
  t.same((await openOrderIds(server, liveKey, SPOT)).sort(), [...livePlaced].sort(), 'and its orders still rest');
});

async function connect(server: TestExchange, key: TestAccount, answersPings: boolean): Promise<WsRpcClient> {
  const client = await WsRpcClient.connect(server.wsUrl, { autoPong: answersPings });
  await client.result('public/auth', { grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.clientSecret });
  await client.result('private/enable_cancel_on_disconnect', { scope: 'connection' });
  return client;
}

/** Two buys far below the market, so they rest. */
async function restTwoOrders(client: WsRpcClient, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (const price of ['1.000', '1.001']) {
    const reply = await client.result<{ order: { order_id: string; order_state: string } }>('private/buy', { instrument_name: SPOT, amount: '1', type: 'limit', price, label: `${label}-${price}` });
    if (reply.order.order_state !== 'open') throw new Error(`order at ${price} did not rest: ${reply.order.order_state}`);
    ids.push(reply.order.order_id);
  }
  return ids;
}


/** The open-order count once it reaches `until`, or whatever it is after ~5 s. */
async function pollOpenOrderCount(server: TestExchange, key: TestAccount, until: number): Promise<number> {
  let count = (await openOrderIds(server, key, SPOT)).length;
  for (let step = 0; step < 50 && count !== until; step++) {
    await sleep(100);
    count = (await openOrderIds(server, key, SPOT)).length;
  }
  return count;
}
