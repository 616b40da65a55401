// Rate limits per address (RELIABILITY 14; gateway/dispatch.ts spendCredits, limiterByAddress).
// Besides each API key's credits, every request spends credits of its source address, so that
// anonymous traffic (public methods need no key) and many keys behind one address cannot crowd
// out everyone else. The bucket belongs to the address, not to a connection: opening more sockets
// does not buy more credits.
//
// Given an address limit of 50 credits a second (a burst of 250), two connections at 127.0.0.1 that
// send 300 public requests each at once, and a client at 127.0.0.2 that sends 20 at a steady pace
// meanwhile: expect 127.0.0.1 to get one burst (plus refill) answered over both connections and
// the rest refused with 10028 too_many_requests, and every request from 127.0.0.2 answered.

import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestExchange } from './_server.js';
import { WsRpcClient, type Envelope } from './_ws_client.js';

const CREDITS_PER_SECOND = 50;
const BURST = CREDITS_PER_SECOND * 5; // gateway/exchange.ts: a bucket holds five seconds of credits
const FLOOD = 600;

t.test('one address that floods is refused, over all its connections; another address is not affected', async (t) => {
  const server = await startTestExchange({ creditsPerSecondPerAddress: CREDITS_PER_SECOND });
  t.teardown(() => server.stop());
  // Two connections from the flooding address: one bucket between them, not one each.
  const flooders = [await WsRpcClient.connect(server.wsUrl, { localAddress: '127.0.0.1' }), await WsRpcClient.connect(server.wsUrl, { localAddress: '127.0.0.1' })];
  const steady = await WsRpcClient.connect(server.wsUrl, { localAddress: '127.0.0.2' });
  t.teardown(() => {
    for (const client of [...flooders, steady]) client.ws.terminate();
  });

  // The flood: all at once over both connections, not waiting for replies (public/get_time costs one credit).
  const startedMs = Date.now();
  const flood = flooders.flatMap((flooder) => Array.from({ length: FLOOD / 2 }, () => flooder.call('public/get_time', {}).catch(() => undefined)));
  // Meanwhile the other address asks at 20 a second, well under its own 50.
  const steadyReplies: Envelope[] = [];
  for (let index = 0; index < 20; index++) {
    steadyReplies.push(await steady.call('public/get_time', {}));
    await sleep(50);
  }
  const flooded = (await Promise.all(flood)).filter((reply): reply is Envelope => reply !== undefined);
  const elapsedSeconds = (Date.now() - startedMs) / 1000;

  const refused = flooded.filter((reply) => reply.error?.code === 10028);
  const answered = flooded.filter((reply) => reply.result !== undefined);
  const allowed = BURST + Math.ceil(CREDITS_PER_SECOND * elapsedSeconds);
  t.ok(answered.length <= allowed, `the flooding address got at most one burst and its refill answered, over both connections (${answered.length} of ${FLOOD}; allowed ${allowed}; a bucket per connection would allow ${2 * BURST})`);
  t.ok(refused.length >= FLOOD - allowed - (FLOOD - flooded.length), `the rest were refused with 10028 (${refused.length}; ${FLOOD - flooded.length} unanswered when a connection was closed for refusals in a row)`);
  t.match(refused[0]?.error, { code: 10028, message: 'too_many_requests' }, "Deribit's code and message");
  t.same(steadyReplies.filter((reply) => reply.result === undefined).map((reply) => reply.error), [], 'every request of the other address was answered');
});
