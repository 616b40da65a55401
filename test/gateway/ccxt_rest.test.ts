// CCXT's REST client (`ccxt.deribit` 4.5.84, unmodified) against the real exchange: every call of
// reference/deribit-v2-api.md §5 that spot trading uses, and the exceptions CCXT maps from §7.
//
// What it proves: pointed at the gateway as §1 says, an unmodified CCXT loads every listed
// instrument as the right kind of market with the right precision and limits; reads time, status,
// currencies, tickers, books, trades and candles; places, edits and cancels every order type spot
// trading offers (limit, crossing limit, market, post-only, IOC, FOK, stop-loss) and reads them
// back (open, history, trades); sees balances move by exactly the notional and the fee (taker
// 3 bp of notional, maker 0); and gets the exception class §7 assigns to each refusal.
//
// Method: one exchange (test/gateway/_server.ts: the whole process on a loopback port, in a temp
// data directory) for the file, and four accounts funded through the admin routes: `maker` (USDAI,
// H100 and H200 credits), `taker`, `other` and `poor`. Each case starts from an empty book (every
// account cancels everything) and builds the few orders it needs; balance checks compare a
// snapshot before the action with one after. Two cases depend on their place: the deposit case
// runs before any trade, and the candle case reads the trades of every case before it.
//
// Oracle: values worked out by hand from the rules (CONTRACTS.md: tick 0.001, step 1 GPU-hour;
// config/exchange.json: fees) and §5's field mapping, with exact decimal arithmetic (CCXT's own
// Precise). Nothing is random, so a failure replays by rerunning:
//   npx tap --reporter=tap test/gateway/ccxt_rest.test.ts
//
// Cases marked "Regression" once failed against the server; the comment says what was wrong.

import t from 'tap';
import { BadRequest, ExchangeError, InsufficientFunds, InvalidOrder, OrderNotFound, type Balances, type Order, type Trade } from 'ccxt';
import { startTestExchange, type TestExchange } from './_server.js';
import {
  OTHER_SPOT,
  SPOT,
  SPOT_ID,
  buyHold,
  minus,
  num,
  rejectionOf,
  restClient,
  sum,
  takerFee,
  times,
  wireCodeOf,
  type RestClient,
} from './_ccxt_clients.js';

const FILE_START_MS = Date.now();
let server: TestExchange;
let maker: RestClient;
let taker: RestClient;
let other: RestClient;
let poor: RestClient;

t.before(async () => {
  server = await startTestExchange();
  const accounts = [
    await server.account('maker', { usdai: '10000', credits: { H100: '500', H200: '50' } }),
    await server.account('taker', { usdai: '10000', credits: { H100: '500' } }),
    await server.account('other', { usdai: '10000', credits: { H100: '500' } }),
    await server.account('poor', { usdai: '10' }),
  ];
  [maker, taker, other, poor] = await Promise.all(accounts.map((account) => restClient(server, account)));
});

t.teardown(async () => {
  await server?.stop();
});

/** Every account cancels every order (stops included): each case starts from an empty book. */
async function emptyBook(): Promise<void> {
  for (const client of [maker, taker, other, poor]) await client.cancelAllOrders();
}

async function bookOf(symbol = SPOT): Promise<{ bids: number[][]; asks: number[][] }> {
  const book = await maker.fetchOrderBook(symbol, 10_000);
  return { bids: book.bids as number[][], asks: book.asks as number[][] };
}

/** One currency's free/used/total, as decimal texts for exact arithmetic. */
function holding(balances: Balances, code: string): { free: string; used: string; total: string } {
  const account = balances[code];
  return { free: String(account.free), used: String(account.used), total: String(account.total) };
}

function change(before: Balances, after: Balances, code: string): { free: string; total: string } {
  return {
    free: minus(holding(after, code).free, holding(before, code).free),
    total: minus(holding(after, code).total, holding(before, code).total),
  };
}

/** The order fields a case checks, with CCXT's numbers as they are. */
function orderShape(order: Order): Record<string, unknown> {
  return {
    symbol: order.symbol,
    type: order.type,
    side: order.side,
    price: order.price,
    amount: order.amount,
    filled: order.filled,
    remaining: order.remaining,
    status: order.status,
    timeInForce: order.timeInForce,
    postOnly: order.postOnly,
  };
}

// ---------------------------------------------------------------------------------------------
// Markets and public reads

t.test('loadMarkets: spot, futures and options as CCXT markets with precision, limits and contract size', async (t) => {
  const response = (await (await fetch(`${server.url}/api/v2/public/get_instruments`)).json()) as { result: Record<string, unknown>[] };
  const instruments = response.result;
  const markets = maker.markets!;
  t.equal(Object.keys(markets).length, instruments.length, 'one market per listed instrument: no two instruments share a unified symbol');

  const spot = markets[SPOT];
  t.match(spot, {
    id: SPOT_ID, symbol: SPOT, type: 'spot', spot: true, base: 'H100', quote: 'USDAI', active: true, contract: false,
    contractSize: 1, maker: 0, taker: 0.0003,
    precision: { amount: 1, price: 0.001 },
    limits: { amount: { min: 1 }, price: { min: 0.001 } },
  });
  t.equal(spot.settle, undefined, 'spot has no settlement currency');

  const futures = instruments.filter((instrument) => instrument.kind === 'future' && instrument.base_currency === 'H100');
  const options = instruments.filter((instrument) => instrument.kind === 'option' && instrument.base_currency === 'H100');
  t.equal(futures.length, 12, 'CONTRACTS.md: the next 12 delivery months are listed');
  t.ok(options.length > 0, 'H100 options are listed');
  const futureMismatches = futures.flatMap((instrument) => {
    const expiryMs = instrument.expiration_timestamp as number;
    const symbol = `H100/USDAI:USDAI-${yymmdd(expiryMs)}`;
    const market = markets[symbol];
    const ok = instrument.instrument_name === `H100_USDAI-${dmmmyy(expiryMs)}` && new Date(expiryMs).getUTCHours() === 8 && market !== undefined &&
      market.id === instrument.instrument_name && market.type === 'future' && market.future && !market.swap && market.linear && !market.inverse &&
      market.settle === 'USDAI' && market.quote === 'USDAI' && market.expiry === expiryMs && market.contractSize === 1 &&
      market.precision.amount === 100 && market.precision.price === 0.001 && market.limits.amount?.min === 100 && market.limits.price?.min === 0.001;
    return ok ? [] : [{ instrument: instrument.instrument_name, symbol, market: market && { ...market, info: undefined } }];
  });
  t.same(futureMismatches, [], 'every future: H100_USDAI-DMMMYY ↔ H100/USDAI:USDAI-yymmdd, 08:00 UTC, linear, step 100, tick 0.001');
  const optionMismatches = options.flatMap((instrument) => {
    const expiryMs = instrument.expiration_timestamp as number;
    const strike = instrument.strike as number;
    const right = instrument.option_type === 'call' ? 'C' : 'P';
    const symbol = `H100/USDAI:USDAI-${yymmdd(expiryMs)}-${strike}-${right}`;
    const market = markets[symbol];
    const ok = instrument.instrument_name === `H100_USDAI-${dmmmyy(expiryMs)}-${String(strike).replace('.', 'd')}-${right}` &&
      new Date(expiryMs).getUTCHours() === 8 && market !== undefined &&
      market.id === instrument.instrument_name && market.type === 'option' && market.option && market.strike === strike &&
      market.optionType === instrument.option_type && market.settle === 'USDAI' && market.linear && market.expiry === expiryMs &&
      market.contractSize === 1 && market.precision.amount === 100 && market.precision.price === 0.0001 && market.limits.amount?.min === 100;
    return ok ? [] : [{ instrument: instrument.instrument_name, symbol, market: market && { ...market, info: undefined } }];
  });
  t.same(optionMismatches, [], `every one of ${options.length} options: ...-DMMMYY-{strike with d}-C|P ↔ ...-yymmdd-{strike}-C|P, 08:00 UTC, linear, step 100, tick 0.0001`);
  t.ok(markets['H200/USDAI'] && markets['B200/USDAI'] && markets['A100/USDAI'], 'the other SKUs have spot markets too');
});

t.test('fetchTime, fetchStatus and fetchCurrencies', async (t) => {
  const before = Date.now();
  const time = await maker.fetchTime();
  t.ok(time !== undefined && time >= before - 1000 && time <= Date.now() + 1000, 'server time is now');
  const status = await maker.fetchStatus();
  t.equal(status.status, 'ok');
  const currencies = await maker.fetchCurrencies();
  t.match(currencies.USDAI, { id: 'USDAI', code: 'USDAI', name: 'USDai stablecoin', fee: 0 });
  t.match(currencies.H100, { id: 'H100', code: 'H100' });
});

t.test('fetchBalance is exact after deposits', async (t) => {
  const balances = await maker.fetchBalance();
  t.same(holding(balances, 'USDAI'), { free: '10000', used: '0', total: '10000' });
  t.same(holding(balances, 'H100'), { free: '500', used: '0', total: '500' });
  t.same(holding(balances, 'H200'), { free: '50', used: '0', total: '50' });
  t.same(holding(await poor.fetchBalance(), 'USDAI'), { free: '10', used: '0', total: '10' });
});

t.test('limit orders rest: the order, fetchOrderBook exact levels, fetchTicker, and the funds they hold', async (t) => {
  await emptyBook();
  const before = await maker.fetchBalance();
  const ask = await maker.createOrder(SPOT, 'limit', 'sell', 10, 2.5);
  t.same(orderShape(ask), { symbol: SPOT, type: 'limit', side: 'sell', price: 2.5, amount: 10, filled: 0, remaining: 10, status: 'open', timeInForce: 'GTC', postOnly: false });
  t.match(ask.id, /^[0-9]+$/, 'the order id is a string of digits');
  await maker.createOrder(SPOT, 'limit', 'sell', 5, 2.55);
  await maker.createOrder(SPOT, 'limit', 'sell', 3, 2.55);
  await maker.createOrder(SPOT, 'limit', 'buy', 7, 2.4);
  await maker.createOrder(SPOT, 'limit', 'buy', 2, 2.399);

  t.same(await bookOf(), { bids: [[2.4, 7], [2.399, 2]], asks: [[2.5, 10], [2.55, 8]] }, 'two levels a side; orders at one price add up');
  const top = await maker.fetchOrderBook(SPOT, 1);
  t.same({ bids: top.bids, asks: top.asks }, { bids: [[2.4, 7]], asks: [[2.5, 10]] }, 'limit 1 sends depth=1');
  t.ok(Number.isInteger(top.nonce), 'nonce is the change_id');

  const ticker = await taker.fetchTicker(SPOT);
  t.match(ticker, { symbol: SPOT, bid: 2.4, bidVolume: 7, ask: 2.5, askVolume: 10 });

  // CCXT: free = available_funds, used = maintenance_margin (0 on spot), total = equity (§5.7);
  // what the open orders hold is therefore total − free, and the server reports it as spot_reserve.
  const after = await maker.fetchBalance();
  const heldUsdai = sum(buyHold(7, '2.4'), buyHold(2, '2.399'));
  t.same(holding(after, 'USDAI'), { free: minus(holding(before, 'USDAI').free, heldUsdai), used: '0', total: holding(before, 'USDAI').total }, 'a buy holds notional + 3 bp');
  t.same(holding(after, 'H100'), { free: minus(holding(before, 'H100').free, '18'), used: '0', total: holding(before, 'H100').total }, 'a sell holds its credits');
  const summaries = (after.info as { summaries: Record<string, unknown>[] }).summaries;
  t.equal(summaries.find((summary) => summary.currency === 'USDAI')?.spot_reserve, num(heldUsdai));
  t.equal(summaries.find((summary) => summary.currency === 'H100')?.spot_reserve, 18);
});

t.test('a crossing limit order fills at the maker price; fetchTrades, fetchOrderTrades and exact balances with fees', async (t) => {
  await emptyBook();
  const resting = await maker.createOrder(SPOT, 'limit', 'sell', 10, 2.5);
  const [makerBefore, takerBefore] = [await maker.fetchBalance(), await taker.fetchBalance()];

  const crossing = await taker.createOrder(SPOT, 'limit', 'buy', 4, 2.6);
  t.same(orderShape(crossing), { symbol: SPOT, type: 'limit', side: 'buy', price: 2.6, amount: 4, filled: 4, remaining: 0, status: 'closed', timeInForce: 'GTC', postOnly: false });
  t.equal(crossing.average, 2.5, 'filled at the resting price, not at its own limit');
  t.equal(crossing.trades.length, 1);
  t.match(crossing.trades[0], { symbol: SPOT, side: 'buy', price: 2.5, amount: 4, cost: 10, takerOrMaker: 'taker', order: crossing.id, fee: { cost: num(takerFee(10)), currency: 'USDAI' } });

  const [makerAfter, takerAfter] = [await maker.fetchBalance(), await taker.fetchBalance()];
  t.same(change(takerBefore, takerAfter, 'USDAI'), { free: `-${sum(10, takerFee(10))}`, total: `-${sum(10, takerFee(10))}` }, 'taker pays 10 + 3 bp');
  t.same(change(takerBefore, takerAfter, 'H100'), { free: '4', total: '4' });
  t.same(change(makerBefore, makerAfter, 'USDAI'), { free: '10', total: '10' }, 'maker receives 10, pays no fee');
  t.same(change(makerBefore, makerAfter, 'H100'), { free: '0', total: '-4' }, 'the credits delivered were already held');

  const trades = await other.fetchTrades(SPOT);
  t.equal(Math.max(...trades.map((trade) => Number(trade.id))), Number(crossing.trades[0].id), 'the newest public trade');
  t.match(trades.find((trade) => trade.id === crossing.trades[0].id), { id: crossing.trades[0].id, symbol: SPOT, price: 2.5, amount: 4, side: 'buy', cost: 10 }, 'the public trade: taker side, maker price');
  const makerTrades = await maker.fetchOrderTrades(resting.id!, SPOT);
  t.equal(makerTrades.length, 1);
  t.match(makerTrades[0], { id: crossing.trades[0].id, order: resting.id, side: 'sell', price: 2.5, amount: 4, takerOrMaker: 'maker', fee: { cost: 0, currency: 'USDAI' } });
  t.same(await bookOf(), { bids: [], asks: [[2.5, 6]] });
});

t.test('market orders fill across levels at the resting prices', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'sell', 6, 2.5);
  await maker.createOrder(SPOT, 'limit', 'sell', 5, 2.55);
  await maker.createOrder(SPOT, 'limit', 'buy', 5, 2.4);
  const before = await taker.fetchBalance();

  const buy = await taker.createOrder(SPOT, 'market', 'buy', 8);
  t.match(orderShape(buy), { symbol: SPOT, type: 'market', side: 'buy', amount: 8, filled: 8, remaining: 0, status: 'closed' });
  t.equal(buy.average, num('2.5125'), '(6 × 2.5 + 2 × 2.55) / 8');
  t.same(buy.trades.map((trade) => [trade.price, trade.amount]), [[2.5, 6], [2.55, 2]]);
  const notional = sum(times(6, '2.5'), times(2, '2.55'));
  t.same(change(before, await taker.fetchBalance(), 'USDAI'), { free: `-${sum(notional, takerFee(notional))}`, total: `-${sum(notional, takerFee(notional))}` });
  // Regression (fixed): a user trade's order_type is always "limit" (format.ts userTradeObject falls back
  // to 'limit' when no order is passed, and orderReply/history never pass one). Deribit sends the
  // type of the user's own order, so CCXT's trade.type should be 'market' here.
  //   GET /api/v2/private/buy?instrument_name=H100_USDAI&amount=8&type=market
  //   ← result.order.order_type "market", result.trades[0].order_type "limit"
  t.equal(buy.trades[0].type, 'market', "the taker's trade carries its order's type (market)");

  const sell = await taker.createOrder(SPOT, 'market', 'sell', 3);
  t.match(orderShape(sell), { type: 'market', side: 'sell', amount: 3, filled: 3, status: 'closed' });
  t.equal(sell.average, 2.4);
  t.same(await bookOf(), { bids: [[2.4, 2]], asks: [[2.55, 3]] });
});

t.test('post-only: one that would cross is refused (InvalidOrder, 11054); one that does not rests', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'sell', 5, 2.5);
  const refused = await rejectionOf(taker.createOrder(SPOT, 'limit', 'buy', 1, 2.5, { postOnly: true }));
  t.ok(refused instanceof InvalidOrder, `InvalidOrder, got ${refused?.constructor.name}`);
  t.equal(wireCodeOf(refused), 11054, 'post_only_reject');
  const resting = await taker.createOrder(SPOT, 'limit', 'buy', 1, 2.499, { postOnly: true });
  t.same(orderShape(resting), { symbol: SPOT, type: 'limit', side: 'buy', price: 2.499, amount: 1, filled: 0, remaining: 1, status: 'open', timeInForce: 'GTC', postOnly: true });
  t.same(await bookOf(), { bids: [[2.499, 1]], asks: [[2.5, 5]] }, 'nothing traded, the refused order left no trace');
});

t.test('IOC: fills what it can, the remainder is cancelled', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'sell', 3, 2.55);
  await maker.createOrder(SPOT, 'limit', 'sell', 4, 2.6);
  const ioc = await taker.createOrder(SPOT, 'limit', 'buy', 10, 2.55, { timeInForce: 'IOC' });
  t.same(orderShape(ioc), { symbol: SPOT, type: 'limit', side: 'buy', price: 2.55, amount: 10, filled: 3, remaining: 7, status: 'canceled', timeInForce: 'IOC', postOnly: false });
  t.equal(ioc.info.cancel_reason, 'immediate_or_cancel');
  t.same(ioc.trades.map((trade) => [trade.price, trade.amount]), [[2.55, 3]]);
  // Regression (fixed): average_price is a float quotient (format.ts averagePrice: quote amount / filled
  // amount, both as JS numbers), so an average that is an exact decimal comes out as
  // 2.5500000000000003. STYLE 1: decimals leave the gateway exact. Repro: maker sells 3 at 2.55;
  //   GET /api/v2/private/buy?instrument_name=H100_USDAI&amount=10&type=limit&price=2.55&time_in_force=immediate_or_cancel
  //   ← result.order.average_price 2.5500000000000003 (7.65 / 3)
  t.equal(ioc.average, 2.55, 'three GPU-hours at 2.55 average 2.55');
  t.same(await bookOf(), { bids: [], asks: [[2.6, 4]] }, 'the remainder does not rest');
  t.same(await taker.fetchOpenOrders(SPOT), []);
});

t.test('FOK: all or nothing', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'buy', 5, 2.4);
  const killed = await taker.createOrder(SPOT, 'limit', 'sell', 6, 2.4, { timeInForce: 'FOK' });
  t.same(orderShape(killed), { symbol: SPOT, type: 'limit', side: 'sell', price: 2.4, amount: 6, filled: 0, remaining: 6, status: 'canceled', timeInForce: 'FOK', postOnly: false });
  t.same(killed.trades, []);
  t.same(await bookOf(), { bids: [[2.4, 5]], asks: [] }, 'nothing traded');
  const filled = await taker.createOrder(SPOT, 'limit', 'sell', 5, 2.4, { timeInForce: 'FOK' });
  t.same(orderShape(filled), { symbol: SPOT, type: 'limit', side: 'sell', price: 2.4, amount: 5, filled: 5, remaining: 0, status: 'closed', timeInForce: 'FOK', postOnly: false });
  t.same(await bookOf(), { bids: [], asks: [] });
});

t.test('stop-loss: a stop_market waits untriggered, then a trade through its price triggers it and it fills', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'sell', 1, 2.5);
  await other.createOrder(SPOT, 'market', 'buy', 1);
  t.equal((await other.fetchTicker(SPOT)).last, 2.5, 'last price 2.5, above the trigger');
  await maker.createOrder(SPOT, 'limit', 'buy', 5, 2.45);
  await maker.createOrder(SPOT, 'limit', 'buy', 10, 2.44);

  const stop = await taker.createOrder(SPOT, 'market', 'sell', 3, undefined, { stopLossPrice: 2.45 });
  t.match(orderShape(stop), { symbol: SPOT, type: 'market', side: 'sell', amount: 3, filled: 0, status: 'open' });
  t.equal(stop.triggerPrice, 2.45);
  t.match(stop.info, { order_type: 'stop_market', order_state: 'untriggered', trigger: 'last_price', triggered: false });
  t.same((await taker.fetchOpenOrders(SPOT)).map((order) => order.id), [stop.id], 'an untriggered stop is an open order');
  t.same(await bookOf(), { bids: [[2.45, 5], [2.44, 10]], asks: [] }, 'an untriggered stop is not in the book');

  await other.createOrder(SPOT, 'market', 'sell', 5);
  const triggered = await taker.fetchOrder(stop.id!, SPOT);
  t.match(orderShape(triggered), { type: 'market', side: 'sell', amount: 3, filled: 3, remaining: 0, status: 'closed' });
  t.equal(triggered.average, 2.44, 'last traded at 2.45, the stop sold into the next bid');
  t.equal(triggered.info.triggered, true);
  t.same(await bookOf(), { bids: [[2.44, 7]], asks: [] });
  t.same(await taker.fetchOpenOrders(SPOT), []);
});

// ---------------------------------------------------------------------------------------------
// Changing and cancelling

t.test('editOrder changes amount and price in place: the id stays', async (t) => {
  await emptyBook();
  const order = await maker.createOrder(SPOT, 'limit', 'sell', 10, 2.5);
  const edited = await maker.editOrder(order.id!, SPOT, 'limit', 'sell', 8, 2.52);
  t.equal(edited.id, order.id);
  t.match(orderShape(edited), { price: 2.52, amount: 8, filled: 0, remaining: 8, status: 'open' });
  // Regression (fixed): reference §5.9 "Deribit edits in place and sets replaced:true"; format.ts
  // orderObject always sends replaced:false.
  //   GET /api/v2/private/edit?order_id=<id>&amount=8&price=2.52  ← result.order.replaced false
  t.equal(edited.info.replaced, true, 'an edited order says replaced:true');
  t.same(await bookOf(), { bids: [], asks: [[2.52, 8]] });

  const smaller = await maker.editOrder(order.id!, SPOT, 'limit', 'sell', 6);
  t.match(orderShape(smaller), { price: 2.52, amount: 6, remaining: 6, status: 'open' }, 'no price sent: the price stays');
  const fetched = await maker.fetchOrder(order.id!, SPOT);
  t.match(orderShape(fetched), { price: 2.52, amount: 6, status: 'open' });
  t.same(await bookOf(), { bids: [], asks: [[2.52, 6]] });
  const h100 = holding(await maker.fetchBalance(), 'H100');
  t.equal(minus(h100.total, h100.free), '6', 'the hold follows the edit');
});

t.test('cancelOrder; cancelling or editing a closed order, or an unknown one, is OrderNotFound', async (t) => {
  await emptyBook();
  const before = await maker.fetchBalance();
  const order = await maker.createOrder(SPOT, 'limit', 'buy', 3, 2.4);
  const cancelled = await maker.cancelOrder(order.id!, SPOT);
  t.match(orderShape(cancelled), { price: 2.4, amount: 3, filled: 0, status: 'canceled' });
  t.equal(cancelled.info.cancel_reason, 'user_request');
  t.same(await bookOf(), { bids: [], asks: [] });
  t.same(holding(await maker.fetchBalance(), 'USDAI'), holding(before, 'USDAI'), 'the hold is released');

  const again = await rejectionOf(maker.cancelOrder(order.id!, SPOT));
  t.ok(again instanceof OrderNotFound, `cancel twice: OrderNotFound, got ${again?.constructor.name}`);
  t.equal(wireCodeOf(again), 10010, 'already_closed');
  const edit = await rejectionOf(maker.editOrder(order.id!, SPOT, 'limit', 'buy', 3, 2.41));
  t.ok(edit instanceof OrderNotFound, `edit a cancelled order: OrderNotFound, got ${edit?.constructor.name}`);
  t.equal(wireCodeOf(edit), 10010);
  const unknown = await rejectionOf(maker.cancelOrder('987654321', SPOT));
  t.ok(unknown instanceof OrderNotFound, `cancel an unknown id: OrderNotFound, got ${unknown?.constructor.name}`);
  t.equal(wireCodeOf(unknown), 10004, 'order_not_found');
  const notMine = await maker.createOrder(SPOT, 'limit', 'buy', 1, 2.4);
  const foreign = await rejectionOf(taker.cancelOrder(notMine.id!, SPOT));
  t.ok(foreign instanceof OrderNotFound, `cancel another account's order: OrderNotFound, got ${foreign?.constructor.name}`);
  t.equal((await maker.fetchOrder(notMine.id!, SPOT)).status, 'open', "another account's order is untouched");
});

t.test('cancelAllOrders with a symbol cancels that market only; without one, everything', async (t) => {
  await emptyBook();
  await maker.createOrder(SPOT, 'limit', 'buy', 1, 2.3);
  await maker.createOrder(SPOT, 'limit', 'sell', 1, 2.7);
  await maker.createOrder(SPOT, 'market', 'sell', 1, undefined, { stopLossPrice: 2.0 });
  const h200 = await maker.createOrder(OTHER_SPOT, 'limit', 'sell', 1, 3.5);

  const bySymbol = await maker.cancelAllOrders(SPOT);
  t.equal((bySymbol[0].info as { result: number }).result, 3, 'cancel_all_by_instrument answers the count, the stop included');
  t.same((await maker.fetchOpenOrders()).map((order) => order.id), [h200.id], 'the H200 order stays');
  const all = await maker.cancelAllOrders();
  t.equal((all[0].info as { result: number }).result, 1);
  t.same(await maker.fetchOpenOrders(), []);
});

// ---------------------------------------------------------------------------------------------
// Reading orders and trades back

t.test('fetchOrder: open, then closed from history; an unknown id is OrderNotFound', async (t) => {
  await emptyBook();
  const order = await maker.createOrder(SPOT, 'limit', 'sell', 5, 2.5);
  t.match(orderShape(await maker.fetchOrder(order.id!, SPOT)), { price: 2.5, amount: 5, filled: 0, status: 'open' });
  await taker.createOrder(SPOT, 'limit', 'buy', 5, 2.5);
  const closed = await maker.fetchOrder(order.id!, SPOT);
  t.match(orderShape(closed), { price: 2.5, amount: 5, filled: 5, remaining: 0, status: 'closed' });
  t.equal(closed.average, 2.5);
  t.ok(closed.lastTradeTimestamp !== undefined && closed.lastTradeTimestamp >= closed.timestamp!, 'lastTradeTimestamp is the fill');

  const unknown = await rejectionOf(maker.fetchOrder('999999999', SPOT));
  t.ok(unknown instanceof OrderNotFound, `unknown id: OrderNotFound, got ${unknown?.constructor.name}`);
  t.equal(wireCodeOf(unknown), 10004);
  const foreign = await rejectionOf(taker.fetchOrder(order.id!, SPOT));
  t.ok(foreign instanceof OrderNotFound, `another account's order: OrderNotFound, got ${foreign?.constructor.name}`);
});

t.test('fetchOpenOrders with and without a symbol', async (t) => {
  await emptyBook();
  const h100 = await maker.createOrder(SPOT, 'limit', 'buy', 1, 2.3);
  const stop = await maker.createOrder(SPOT, 'market', 'sell', 1, undefined, { stopLossPrice: 2.0 });
  const h200 = await maker.createOrder(OTHER_SPOT, 'limit', 'sell', 1, 3.5);
  t.same((await maker.fetchOpenOrders(SPOT)).map((order) => order.id), [h100.id, stop.id], 'one market: open and untriggered');
  const all = await maker.fetchOpenOrders();
  t.same(all.map((order) => order.id), [h100.id, stop.id, h200.id], 'by currency USDAI (options.code): every USDAI market');
  t.same(all.map((order) => order.symbol), [SPOT, SPOT, OTHER_SPOT]);
  t.same(await taker.fetchOpenOrders(), [], "an account sees only its own orders");
});

t.test('fetchClosedOrders with and without a symbol', async (t) => {
  await emptyBook();
  const h100 = await maker.createOrder(SPOT, 'limit', 'sell', 2, 2.5);
  await taker.createOrder(SPOT, 'market', 'buy', 2);
  const h200 = await maker.createOrder(OTHER_SPOT, 'limit', 'sell', 1, 3.5);
  await taker.createOrder(OTHER_SPOT, 'market', 'buy', 1);
  const unfilled = await maker.createOrder(SPOT, 'limit', 'sell', 1, 2.9);
  await maker.cancelOrder(unfilled.id!, SPOT);

  const bySymbol = await maker.fetchClosedOrders(SPOT);
  t.ok(bySymbol.every((order) => order.symbol === SPOT), 'one market only');
  t.match(bySymbol.find((order) => order.id === h100.id), { status: 'closed', filled: 2, average: 2.5 });
  t.notOk(bySymbol.some((order) => order.id === unfilled.id), 'Deribit leaves cancelled unfilled orders out unless include_unfilled');
  const all = await maker.fetchClosedOrders();
  t.ok(all.some((order) => order.id === h100.id) && all.some((order) => order.id === h200.id), 'by currency: both markets');
  t.ok(all.every((order) => order.status === 'closed' || order.status === 'canceled'));
});

t.test('fetchMyTrades with and without a symbol, with since and limit', async (t) => {
  await emptyBook();
  const sinceMs = (await taker.fetchTime())!;
  await maker.createOrder(SPOT, 'limit', 'sell', 3, 2.5);
  const buys: Order[] = [];
  for (let index = 0; index < 3; index++) buys.push(await taker.createOrder(SPOT, 'market', 'buy', 1));
  await maker.createOrder(OTHER_SPOT, 'limit', 'sell', 1, 3.5);
  const h200 = await taker.createOrder(OTHER_SPOT, 'market', 'buy', 1);
  const ids = buys.map((order) => order.trades[0].id);

  const recent = await taker.fetchMyTrades(SPOT, sinceMs);
  t.same(idsOf(recent), ids, 'since: the three trades of this case');
  t.ok(recent.every((trade) => trade.timestamp! >= sinceMs && trade.symbol === SPOT && trade.side === 'buy' && trade.price === 2.5 && trade.amount === 1 && trade.takerOrMaker === 'taker'));
  t.same(idsOf(await taker.fetchMyTrades(SPOT, sinceMs, 2)), ids.slice(1), 'limit 2: the two most recent (§5)');
  const bySymbol = await taker.fetchMyTrades(SPOT);
  t.ok(bySymbol.every((trade) => trade.symbol === SPOT), 'with a symbol: that market only');
  t.ok(ids.every((id) => bySymbol.some((trade) => trade.id === id)));
  const all = await taker.fetchMyTrades(undefined, sinceMs);
  t.same(idsOf(all), [...ids, h200.trades[0].id], 'without a symbol (currency USDAI): both markets');
  t.same(idsOf(await taker.fetchMyTrades(undefined, sinceMs, 1)), [h200.trades[0].id]);
  const makerSide = (await maker.fetchMyTrades(SPOT, sinceMs)).sort((x, y) => Number(x.id) - Number(y.id));
  t.same(makerSide.map((trade) => [trade.id, trade.side, trade.takerOrMaker]), ids.map((id) => [id, 'sell', 'maker']), "the maker's side of the same trades");
});

t.test('fetchOHLCV 1m: the candles of every trade of this file', async (t) => {
  const sinceMs = Math.floor(FILE_START_MS / 60_000) * 60_000;
  const trades = await maker.fetchTrades(SPOT, sinceMs, 1000);
  t.ok(trades.length > 10, 'the earlier cases traded');
  const candles = await maker.fetchOHLCV(SPOT, '1m', sinceMs);
  t.same(candles, candlesOf(trades), 'open, high, low, close, volume per minute from the public trades');
});

t.test('fetchPositions is empty for spot', async (t) => {
  t.same(await taker.fetchPositions(), []);
});

// ---------------------------------------------------------------------------------------------
// Refusals

t.test('refusals map to the CCXT exceptions of §7', async (t) => {
  await emptyBook();
  const future = Object.values(maker.markets!).find((market) => market.future && market.base === 'H100')!;
  const option = Object.values(maker.markets!).find((market) => market.option && market.base === 'H100')!;
  for (const market of [future, option]) {
    const error = await rejectionOf(taker.createOrder(market.symbol, 'limit', 'buy', 100, 0.5));
    t.equal(error?.constructor, ExchangeError, `${market.symbol}: ExchangeError itself, got ${error?.constructor.name}`);
    t.equal(wireCodeOf(error), 11030, 'other_reject: derivatives open with margin');
  }

  const broke = await rejectionOf(poor.createOrder(SPOT, 'limit', 'buy', 5, 2.5));
  t.ok(broke instanceof InsufficientFunds, `buy beyond USDAI: InsufficientFunds, got ${broke?.constructor.name}`);
  t.equal(wireCodeOf(broke), 10009, 'not_enough_funds');
  const noCredits = await rejectionOf(poor.createOrder(SPOT, 'limit', 'sell', 1, 2.5));
  t.ok(noCredits instanceof InsufficientFunds, `sell without credits: InsufficientFunds, got ${noCredits?.constructor.name}`);
  t.equal(wireCodeOf(noCredits), 10009);
  const tooLarge = await rejectionOf(taker.createOrder(SPOT, 'limit', 'buy', 100_000, 2.5));
  t.ok(tooLarge instanceof InsufficientFunds, `buy of 250,000 USDAI with 10,000: InsufficientFunds, got ${tooLarge?.constructor.name}`);

  // CCXT rounds amount and price to the market's precision, so the over-precise values go in as
  // params, which replace the rounded ones in the query.
  for (const [name, params] of [['price', { price: '2.5001' }], ['price', { price: '2.5000001' }], ['amount', { amount: '1.5' }]] as const) {
    const error = await rejectionOf(taker.createOrder(SPOT, 'limit', 'buy', 1, 2.5, params));
    t.ok(error instanceof BadRequest, `${JSON.stringify(params)}: BadRequest, got ${error?.constructor.name}`);
    t.equal(wireCodeOf(error), -32602, 'Invalid params');
    t.match(error?.message, `"param":"${name}"`);
  }
  t.same(await bookOf(), { bids: [], asks: [] }, 'no refused order rests');
  t.same(holding(await poor.fetchBalance(), 'USDAI'), { free: '10', used: '0', total: '10' }, 'no refused order holds funds');
});

// ---------------------------------------------------------------------------------------------
// Helpers

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** CCXT's symbol date (reference §4.1). */
function yymmdd(ms: number): string {
  const date = new Date(ms);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}`;
}

/** Deribit's instrument date: day without a leading zero, month letters, two-digit year. */
function dmmmyy(ms: number): string {
  const date = new Date(ms);
  return `${date.getUTCDate()}${MONTHS[date.getUTCMonth()]}${String(date.getUTCFullYear() % 100).padStart(2, '0')}`;
}

/** Trade ids in id order (CCXT sorts by timestamp, then by id as text, so '10' comes before '9'). */
function idsOf(trades: { id?: string }[]): string[] {
  return trades.map((trade) => trade.id!).sort((x, y) => Number(x) - Number(y));
}

/** One-minute candles from public trades, oldest first, the way §5.6 defines them. */
function candlesOf(trades: Trade[]): number[][] {
  const ordered = [...trades].sort((a, b) => Number(a.id) - Number(b.id));
  const candles: number[][] = [];
  let volume = '0';
  for (const trade of ordered) {
    const price = trade.price!;
    const startMs = Math.floor(trade.timestamp! / 60_000) * 60_000;
    const last = candles[candles.length - 1];
    if (last === undefined || last[0] !== startMs) {
      volume = String(trade.amount);
      candles.push([startMs, price, price, price, price, num(volume)]);
      continue;
    }
    last[2] = Math.max(last[2], price);
    last[3] = Math.min(last[3], price);
    last[4] = price;
    volume = sum(volume, trade.amount!);
    last[5] = num(volume);
  }
  return candles;
}
