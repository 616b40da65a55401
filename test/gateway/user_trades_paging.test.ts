// Paging through one's own trades (Deribit's private/get_user_trades_by_instrument with
// start_seq/end_seq, private/get_user_trades_by_currency with start_id/end_id). A client that
// reconciles its fills asks for "everything after the last trade I have"; if the bounds were
// ignored it would get the newest page again and again and never see the rest (they were accepted
// and ignored until session 4). Here trade_seq and trade_id are the same number, and both bounds are
// inclusive, as on Deribit.
//
// Given a maker resting five asks of 1 and a taker buying 5 through them with one IOC (five
// trades), expect each bound to select exactly the trades in its range, and a client paging two
// at a time from start_seq to see all five exactly once, in order.

import t from 'tap';
import { startTestExchange } from './_server.js';
import { WsRpcClient } from './_ws_client.js';

const SPOT = 'H100_USDAI';

interface WireTrade {
  trade_id: string;
  trade_seq: number;
  price: number;
}

interface TradePage {
  trades: WireTrade[];
  has_more: boolean;
}

t.test('start_seq/end_seq and start_id/end_id bound the user trades returned; paging sees each trade once', async (t) => {
  const server = await startTestExchange();
  t.teardown(() => server.stop());
  const makerKey = await server.account('paging-maker', { credits: { H100: '10' } });
  const takerKey = await server.account('paging-taker');
  const maker = await WsRpcClient.connectAuthed(server.wsUrl, makerKey);
  const taker = await WsRpcClient.connectAuthed(server.wsUrl, takerKey);
  t.teardown(() => Promise.all([maker.close(), taker.close()]));
  for (const price of ['2.500', '2.501', '2.502', '2.503', '2.504']) await maker.result('private/sell', { instrument_name: SPOT, amount: '1', type: 'limit', price });
  const bought = await taker.result<{ trades: WireTrade[] }>('private/buy', { instrument_name: SPOT, amount: '5', type: 'limit', price: '2.504', time_in_force: 'immediate_or_cancel' });
  const seqs = bought.trades.map((trade) => trade.trade_seq);
  t.equal(seqs.length, 5, 'the IOC made five trades');
  t.same(bought.trades.map((trade) => Number(trade.trade_id)), seqs, 'trade_id and trade_seq are the same number');

  const byInstrument = (params: Record<string, unknown>) => taker.result<TradePage>('private/get_user_trades_by_instrument', { instrument_name: SPOT, sorting: 'asc', ...params });
  const byCurrency = (params: Record<string, unknown>) => taker.result<TradePage>('private/get_user_trades_by_currency', { currency: 'H100', sorting: 'asc', ...params });
  const seqsOf = (page: TradePage) => page.trades.map((trade) => trade.trade_seq);

  t.same(seqsOf(await byInstrument({})), seqs, 'without bounds: all five, oldest first');
  t.same(seqsOf(await byInstrument({ start_seq: seqs[1], end_seq: seqs[3] })), seqs.slice(1, 4), 'start_seq..end_seq: the second to the fourth, both ends included');
  t.same(seqsOf(await byInstrument({ start_seq: seqs[3] })), seqs.slice(3), 'start_seq alone: from the fourth on');
  t.same(seqsOf(await byInstrument({ end_seq: seqs[1], sorting: 'desc' })), [seqs[1], seqs[0]], 'end_seq alone, newest first: the second and the first');
  t.same(seqsOf(await byCurrency({ start_id: String(seqs[1]), end_id: String(seqs[2]) })), seqs.slice(1, 3), 'start_id..end_id (by currency): the second and the third');
  t.same(seqsOf(await byCurrency({ start_id: seqs[4] + 1 })), [], 'start_id past the newest: nothing');

  // A reconciling client: two at a time, each page starting after the last trade it has.
  const seen: number[] = [];
  let page = await byInstrument({ count: 2 });
  for (let pages = 0; pages < 10; pages++) {
    seen.push(...seqsOf(page));
    if (!page.has_more) break;
    page = await byInstrument({ count: 2, start_seq: seen[seen.length - 1] + 1 });
  }
  t.same(seen, seqs, 'paging two at a time from start_seq sees all five once, in order, and then has_more is false');

  const refused = await taker.call('private/get_user_trades_by_currency', { currency: 'H100', start_id: 'ETH-12' });
  t.equal(refused.error?.code, -32602, 'a start_id that is not a trade id of this exchange is refused as an invalid parameter');
});
