// The engine's rulebook for what waits for a price or for the clock: stop and take orders,
// good-til-day orders, and the listing calendar of futures and options.
//
// Method. As in spot_trading.test.ts: each case drives the deterministic state machine through
// the harness (_harness.ts), which checks conservation, holds, self-trades and crossed books after
// every command, and compares the outcome with values worked out by hand from the rules:
//   stop_*  buy when the trigger price rises to or above the trigger, sell when it falls to or below;
//   take_*  the reverse (buy at or below, sell at or above);
//   the trigger price is the last trade (last_price), the mark (set_mark_price) or the SKU's index
//   (set_index_price); a stop holds its reserve from placement (a stop-market buy at its protection
//   price, trigger × 1.10 rounded down), counts toward open orders, and on triggering enters the
//   book as a limit or market order; stops triggered by one move enter in order-id order, and a
//   triggered stop that trades may trigger more within the same command;
//   good_til_day lasts until the next 08:00 UTC (futures.expiryHourUtc) after placement and expires
//   at the first command whose time is at or past it;
//   12 monthly futures per SKU are listed; when one expires at 08:00 UTC on its last day it goes
//   expired → settled and the next month is listed.
// Time is set explicitly with `exchange.at(ms)` / `exchange.tick(ms)`; the exchange starts on Monday
// 1 June 2026 at 06:00 UTC. The last group holds regression cases for engine bugs found and fixed.

import t from 'tap';
import { Reject, type OrderTypeText, type TriggerText } from '../../engine/index.js';
import {
  A100,
  Exchange,
  H100,
  MS_PER_DAY,
  SPOT,
  USDAI,
  buyHoldPerLot,
  credits,
  expectRejected,
  twoTraders,
  usdai,
  utc,
  type Outcome,
} from './_harness.js';

const EIGHT_UTC = utc(2026, 6, 1, 8);

t.test('when stop and take orders trigger', async (t) => {
  // A resting order far from the market, so that triggering shows as "it is now on the book".
  const cases: { type: OrderTypeText; side: 'buy' | 'sell'; quiet: number; fires: number }[] = [
    { type: 'stop_limit', side: 'buy', quiet: 2499, fires: 2500 },
    { type: 'stop_limit', side: 'sell', quiet: 2501, fires: 2500 },
    { type: 'take_limit', side: 'buy', quiet: 2501, fires: 2500 },
    { type: 'take_limit', side: 'sell', quiet: 2499, fires: 2500 },
  ];
  for (const { type, side, quiet, fires } of cases) {
    t.test(`a ${type} ${side} with trigger 2.500 stays at mark ${quiet} and triggers at mark ${fires}`, async (t) => {
      const { exchange, alice } = twoTraders();
      const restingPrice = side === 'buy' ? 2000 : 3000;
      const stop = exchange.rest(alice, side, 1, restingPrice, { type, triggerPriceTicks: 2500, trigger: 'mark_price' });
      t.equal(exchange.order(stop)?.state, 'untriggered');
      t.same(exchange.book(), { bids: [], asks: [] }, 'an untriggered stop is not on the book');
      const still = exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: quiet });
      t.equal(still.order(stop), undefined, 'no event for the stop');
      t.equal(exchange.order(stop)?.state, 'untriggered');
      const fired = exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: fires });
      t.match(fired.order(stop), { state: 'open', type, stopOrderId: stop, priceTicks: restingPrice });
      const line = `${restingPrice}: #${stop} x1`;
      t.same(exchange.book(), side === 'buy' ? { bids: [line], asks: [] } : { bids: [], asks: [line] });
    });
  }

  t.test('a stop buy on the last price triggers when a trade prints at its trigger, and trades in that command', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const stop = exchange.rest(alice, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2550, trigger: 'last_price' });
    exchange.rest(bob, 'sell', 1, 2549);
    exchange.rest(bob, 'sell', 1, 2550);
    const ask2600 = exchange.rest(bob, 'sell', 1, 2600);
    const below = exchange.buy(carol, 1, 2549);
    t.equal(below.trades.length, 1);
    t.equal(exchange.order(stop)?.state, 'untriggered', 'a trade at 2.549 leaves it waiting');
    const at = exchange.buy(carol, 1, 2550);
    t.match(at.trades, [{ priceTicks: 2550, takerAccountId: carol }, { priceTicks: 2600, makerOrderId: ask2600, takerOrderId: stop, takerAccountId: alice }]);
    t.match(at.order(stop), { state: 'filled', filledLots: 1, stopOrderId: stop });
    t.equal(exchange.reserved(alice, USDAI), 0n);
  });

  t.test('a stop sell on the last price triggers when a trade prints at or below its trigger', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const stop = exchange.rest(alice, 'sell', 1, undefined, { type: 'stop_market', triggerPriceTicks: 2450, trigger: 'last_price' });
    t.equal(exchange.reserved(alice, H100), credits(1), 'a stop sell holds its credits');
    exchange.rest(bob, 'buy', 1, 2451);
    exchange.rest(bob, 'buy', 1, 2449);
    const bid2400 = exchange.rest(bob, 'buy', 1, 2400);
    exchange.sell(carol, 1, 2451);
    t.equal(exchange.order(stop)?.state, 'untriggered', 'a trade at 2.451 leaves it waiting');
    const through = exchange.sell(carol, 1, 2449);
    t.match(through.trades, [{ priceTicks: 2449 }, { priceTicks: 2400, makerOrderId: bid2400, takerOrderId: stop }]);
    t.match(through.order(stop), { state: 'filled', type: 'stop_market' });
  });

  t.test('each stop listens to its own trigger price only', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const onMark = exchange.rest(alice, 'buy', 1, 2000, { type: 'stop_limit', triggerPriceTicks: 2500, trigger: 'mark_price' });
    const onIndex = exchange.rest(alice, 'buy', 1, 2001, { type: 'stop_limit', triggerPriceTicks: 2500, trigger: 'index_price' });
    const onLast = exchange.rest(alice, 'buy', 1, 2002, { type: 'stop_limit', triggerPriceTicks: 2500, trigger: 'last_price' });
    exchange.rest(bob, 'sell', 1, 2600);
    exchange.buy(carol, 1, 2600);
    t.same([onMark, onIndex, onLast].map((orderId) => exchange.order(orderId)?.state), ['untriggered', 'untriggered', 'open'], 'a trade moves the last price only');
    exchange.run({ kind: 'set_index_price', sku: A100, priceTicks: 9000 });
    t.equal(exchange.order(onIndex)?.state, 'untriggered', 'another SKU\'s index does not count');
    exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: 2600 });
    t.same([onMark, onIndex].map((orderId) => exchange.order(orderId)?.state), ['open', 'untriggered'], 'the mark moves mark-price stops only');
    exchange.run({ kind: 'set_index_price', sku: H100, priceTicks: 2600 });
    t.equal(exchange.order(onIndex)?.state, 'open', 'the H100 index triggers the H100 spot stop');
  });

  t.test('stops triggered by one move enter the book in order-id order, whatever their trigger prices', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const dave = exchange.trader('dave');
    const first = exchange.rest(alice, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2450, trigger: 'mark_price' });
    const second = exchange.rest(bob, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2500, trigger: 'mark_price' });
    const third = exchange.rest(carol, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2400, trigger: 'mark_price' });
    const cheap = exchange.rest(dave, 'sell', 1, 2510);
    const dear = exchange.rest(dave, 'sell', 1, 2520);
    const moved = exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: 2500 });
    t.match(moved.trades, [{ takerOrderId: first, makerOrderId: cheap, priceTicks: 2510 }, { takerOrderId: second, makerOrderId: dear, priceTicks: 2520 }]);
    t.equal(moved.trades.length, 2);
    t.same(exchange.book(), { bids: [`2600: #${third} x1`], asks: [] }, 'the last one to enter found nothing left and rests');
  });

  t.test('a cascade: a triggered stop that trades triggers the next, all within one command', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const dave = exchange.trader('dave');
    exchange.rest(bob, 'buy', 1, 2490);
    exchange.rest(bob, 'buy', 1, 2450);
    exchange.rest(bob, 'buy', 5, 2400);
    const stopA = exchange.rest(alice, 'sell', 1, undefined, { type: 'stop_market', triggerPriceTicks: 2495, trigger: 'last_price' });
    const stopB = exchange.rest(carol, 'sell', 1, undefined, { type: 'stop_market', triggerPriceTicks: 2460, trigger: 'last_price' });
    // Protection prices: 2495 × 0.9 = 2245.5 → 2246, and 2460 × 0.9 = 2214: both below the bids they take.
    t.equal(exchange.order(stopA)?.priceTicks, 2246);
    t.equal(exchange.order(stopB)?.priceTicks, 2214);
    const cascade = exchange.sell(dave, 1, 2490);
    t.match(cascade.trades, [
      { priceTicks: 2490, takerAccountId: dave },
      { priceTicks: 2450, takerOrderId: stopA },
      { priceTicks: 2400, takerOrderId: stopB },
    ]);
    t.equal(cascade.trades.length, 3);
    t.same(new Set(cascade.trades.map((trade) => trade.sequence)).size, 1, 'one command, one sequence number');
  });

  t.test('an untriggered stop holds its reserve and counts as an open order; cancelling it releases the hold', async (t) => {
    const { exchange, alice } = twoTraders();
    exchange.run({ kind: 'set_parameters', accounts: { openOrdersMax: 2, stopOrdersMax: 2 } });
    const stopBuy = exchange.rest(alice, 'buy', 2, undefined, { type: 'stop_market', triggerPriceTicks: 2550, trigger: 'last_price' });
    // stop-market buy: protection 2550 × 1.10 = 2805; holds 2 × (2.805 + 3 bp)
    t.equal(exchange.order(stopBuy)?.priceTicks, 2805);
    t.equal(exchange.reserved(alice, USDAI), 2n * buyHoldPerLot(2805));
    const stopSell = exchange.rest(alice, 'sell', 3, 2400, { type: 'take_limit', triggerPriceTicks: 2600, trigger: 'index_price' });
    t.equal(exchange.reserved(alice, H100), credits(3));
    t.same(exchange.openOrderIds(alice), [stopBuy, stopSell]);
    expectRejected(t, exchange, { kind: 'place_order', accountId: alice, instrument: SPOT, side: 'buy', type: 'limit', amountLots: 1, priceTicks: 2000, timeInForce: 'good_til_cancelled' }, Reject.tooManyOpenOrders, 'two stops fill an open-order limit of two');
    const cancelled = exchange.cancel(alice, stopBuy);
    t.match(cancelled.order(stopBuy), { state: 'cancelled', cancelReason: 'user_cancel' });
    t.equal(exchange.reserved(alice, USDAI), 0n);
    t.equal(exchange.available(alice, USDAI), usdai('1000'), 'back to the whole deposit');
    const moved = exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: 9000 });
    t.equal(moved.order(stopBuy), undefined, 'a cancelled stop never triggers');
  });

  t.test('amending an untriggered stop re-holds for its new amount and price, and re-checks the trigger', async (t) => {
    const { exchange, alice } = twoTraders();
    const stop = exchange.rest(alice, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2550, trigger: 'mark_price' });
    exchange.amend(alice, stop, 3, 2700);
    t.equal(exchange.reserved(alice, USDAI), 3n * buyHoldPerLot(2700));
    t.match(exchange.order(stop), { state: 'untriggered', amountLots: 3, priceTicks: 2700, triggerPriceTicks: 2550 });
    exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: 2500 });
    const amended = exchange.amend(alice, stop, 3, 2700, { triggerPriceTicks: 2500 });
    t.match(amended.order(stop), { state: 'open', triggerPriceTicks: 2500 }, 'a trigger moved to the current mark fires at once');
  });

  t.test('a stop order needs a trigger price and a trigger', async (t) => {
    const { exchange, alice } = twoTraders();
    expectRejected(t, exchange, { kind: 'place_order', accountId: alice, instrument: SPOT, side: 'buy', type: 'stop_limit', amountLots: 1, priceTicks: 2600, timeInForce: 'good_til_cancelled', trigger: 'last_price' }, Reject.invalidArguments, 'no trigger price');
    expectRejected(t, exchange, { kind: 'place_order', accountId: alice, instrument: SPOT, side: 'buy', type: 'stop_limit', amountLots: 1, priceTicks: 2600, timeInForce: 'good_til_cancelled', triggerPriceTicks: 2550, trigger: 'settlement' as TriggerText }, Reject.invalidArguments, 'an unknown trigger');
  });
});

t.test('good_til_day: until the next 08:00 UTC', async (t) => {
  t.test('a day order placed at 06:00 is open at 07:59:59.999 and expires at 08:00:00.000, releasing its hold', async (t) => {
    const { exchange, bob } = twoTraders();
    const placed = exchange.buy(bob, 2, 2500, { timeInForce: 'good_til_day' });
    t.equal(placed.order(placed.orderId)?.expiresAtMs, EIGHT_UTC);
    t.equal(exchange.reserved(bob, USDAI), 2n * buyHoldPerLot(2500));
    const before = exchange.tick(EIGHT_UTC - 1);
    t.equal(before.order(placed.orderId), undefined);
    t.equal(exchange.order(placed.orderId)?.state, 'open');
    const expired = exchange.tick(EIGHT_UTC);
    t.match(expired.order(placed.orderId), { state: 'cancelled', cancelReason: 'expired' });
    t.same(exchange.balance(bob, USDAI), { available: usdai('1000'), reserved: 0n, bonded: 0n });
    t.same(exchange.book(), { bids: [], asks: [] });
  });

  t.test('a day order placed at or after 08:00 lives until 08:00 the next day', async (t) => {
    const { exchange, bob } = twoTraders();
    const atEight = exchange.at(EIGHT_UTC).buy(bob, 1, 2400, { timeInForce: 'good_til_day' });
    const later = exchange.at(utc(2026, 6, 1, 21, 30)).buy(bob, 1, 2401, { timeInForce: 'good_til_day' });
    for (const outcome of [atEight, later]) t.equal(outcome.order(outcome.orderId)?.expiresAtMs, EIGHT_UTC + MS_PER_DAY);
    exchange.tick(EIGHT_UTC + MS_PER_DAY - 1);
    t.same(exchange.openOrderIds(bob), [atEight.orderId, later.orderId]);
    const expired = exchange.tick(EIGHT_UTC + MS_PER_DAY);
    t.same(cancelledIds(expired), [atEight.orderId, later.orderId]);
    t.equal(exchange.reserved(bob, USDAI), 0n);
  });

  t.test('any later command lets time act first: a sell at 08:00 does not meet the expired bid', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const bid = exchange.rest(bob, 'buy', 1, 2500, { timeInForce: 'good_til_day' });
    const sell = exchange.at(EIGHT_UTC).sell(alice, 1, 2500);
    t.equal(sell.trades.length, 0);
    t.match(sell.order(bid), { state: 'cancelled', cancelReason: 'expired' });
    t.same(exchange.book(), { bids: [], asks: [`2500: #${sell.orderId} x1`] });
  });

  t.test('a partly filled day order releases only what is left when it expires', async (t) => {
    const { exchange, alice, bob } = twoTraders();
    const bid = exchange.rest(bob, 'buy', 3, 2500, { timeInForce: 'good_til_day' });
    exchange.sell(alice, 1, 2500);
    t.equal(exchange.reserved(bob, USDAI), 2n * buyHoldPerLot(2500));
    const expired = exchange.tick(EIGHT_UTC);
    t.match(expired.order(bid), { state: 'cancelled', cancelReason: 'expired', filledLots: 1 });
    t.same(exchange.balance(bob, USDAI), { available: usdai('1000') - usdai('2.5'), reserved: 0n, bonded: 0n }, 'the maker paid 2.5 for its lot and nothing else');
  });
});

t.test('the listing calendar: futures expire at 08:00 UTC on their last day and the next month lists', async (t) => {
  t.test('at 08:00 on 30 June 2026 the June future goes expired → settled and June 2027 lists', async (t) => {
    const exchange = new Exchange();
    const june = 'H100_USDAI-30JUN26';
    t.equal(tradingFutures(exchange, H100).length, 12);
    t.equal(tradingFutures(exchange, H100)[0], june);
    const before = exchange.tick(utc(2026, 6, 30, 8) - 1);
    t.same(before.of('instrument_state').filter((event) => event.instrument === june), []);
    t.equal(exchange.state.instruments.get(june)?.state, 'trading');
    const roll = exchange.tick(utc(2026, 6, 30, 8));
    t.same(roll.of('instrument_state').filter((event) => event.instrument === june).map((event) => event.state), ['expired', 'settled']);
    t.equal(exchange.state.instruments.get(june)?.state, 'settled');
    t.ok(roll.of('instrument_listed').some((event) => event.instrument === 'H100_USDAI-30JUN27'), 'June 2027 is listed');
    for (const sku of ['H100', 'H200', 'B200', 'A100']) {
      const futures = tradingFutures(exchange, sku);
      t.equal(futures.length, 12, `${sku}: still 12 futures`);
      t.equal(futures[0], `${sku}_USDAI-31JUL26`);
      t.equal(futures[11], `${sku}_USDAI-30JUN27`);
    }
    t.equal(exchange.state.books.has(june), false, 'the settled future has no book');
    t.equal(exchange.state.instruments.get('H100_USDAI-26JUN26-2d5-C')?.state, 'settled', 'its options expired on the last Friday before the month');
    t.ok(exchange.state.instruments.has('H100_USDAI-28MAY27-2d5-C'), 'the options on the new month are listed');
  });

  t.test('a jump over three month-ends settles three months and lists three, keeping twelve', async (t) => {
    const exchange = new Exchange({ lean: true });
    const roll = exchange.tick(utc(2026, 9, 15));
    const settled = roll.of('instrument_state').filter((event) => event.state === 'settled' && event.instrument.startsWith('H100_')).map((event) => event.instrument);
    t.same(settled, ['H100_USDAI-30JUN26', 'H100_USDAI-31JUL26', 'H100_USDAI-31AUG26']);
    const futures = tradingFutures(exchange, H100);
    t.equal(futures.length, 12);
    t.same([futures[0], futures[11]], ['H100_USDAI-30SEP26', 'H100_USDAI-31AUG27']);
    t.equal(exchange.state.instruments.get(SPOT)?.state, 'trading', 'spot never expires');
  });
});

// ---------------------------------------------------------------------------------------------
// Regressions: each case pinned a place where the engine once disagreed with the rules or its own
// doc comments (now fixed).

t.test('regressions (once engine bugs, now fixed)', async (t) => {
  t.test('a good_til_day stop that has not triggered expires at 08:00 and releases its hold', async (t) => {
    // Rule: good_til_day lasts until the next 08:00 UTC. The engine sets expiresAtMs on the stop
    // but tracks expiry only for orders resting in a book, so an untriggered day stop lives on past
    // 08:00, holding its reserve, and can trigger (and trade) days later. Repro: at 06:00 place
    // stop_limit buy 1 @ 2.600 trigger mark 2.550 good_til_day; clock_tick at 09:00.
    const { exchange, alice } = twoTraders();
    const stop = exchange.rest(alice, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2550, trigger: 'mark_price', timeInForce: 'good_til_day' });
    t.equal(exchange.order(stop)?.expiresAtMs, EIGHT_UTC);
    exchange.tick(utc(2026, 6, 1, 9));
    t.equal(exchange.order(stop), undefined, 'the stop is gone at 09:00');
    t.equal(exchange.reserved(alice, USDAI), 0n, 'and holds nothing');
  });

  t.test('a good_til_day stop triggering after its expiry must not crash the engine', async (t) => {
    // Follows from the case above. Once the book has been told a time past the stop's expiry
    // (because another day order expired there), the triggered stop is submitted with an expiry
    // in the past; the book refuses it (ExpiryNotInFuture, -3007) and submitToBook asserts
    // "book refused a validated order": InvariantViolation, and the exchange halts. Repro: at 06:00
    // alice places the day stop above and bob a day bid 1 @ 2.000; clock_tick 09:00;
    // set_mark_price 2.550.
    const { exchange, alice, bob } = twoTraders();
    exchange.rest(alice, 'buy', 1, 2600, { type: 'stop_limit', triggerPriceTicks: 2550, trigger: 'mark_price', timeInForce: 'good_til_day' });
    exchange.rest(bob, 'buy', 1, 2000, { timeInForce: 'good_til_day' });
    exchange.tick(utc(2026, 6, 1, 9));
    t.doesNotThrow(() => exchange.run({ kind: 'set_mark_price', instrument: SPOT, priceTicks: 2550 }), 'the mark move is applied without an invariant violation');
  });

  t.test('amending the trigger of a stop_market moves its protection price (and its hold) with it', async (t) => {
    // Rule (orders.ts orderPriceTicks): a stop-market's protection price is marketProtectionPercent
    // beyond its trigger. amendOrder changes triggerPriceTicks but keeps priceTicks, so a stop buy
    // placed with trigger 2.000 (protection 2.200) and moved to trigger 3.000 triggers at 3.000
    // with a protection price of 2.200 and can never fill. Repro: below.
    const { exchange, alice, bob } = twoTraders();
    const carol = exchange.trader('carol');
    const stop = exchange.rest(alice, 'buy', 1, undefined, { type: 'stop_market', triggerPriceTicks: 2000, trigger: 'last_price' });
    t.equal(exchange.order(stop)?.priceTicks, 2200);
    exchange.amend(alice, stop, 1, undefined, { triggerPriceTicks: 3000 });
    t.equal(exchange.order(stop)?.priceTicks, 3300, 'protection 3.000 × 1.10');
    t.equal(exchange.reserved(alice, USDAI), buyHoldPerLot(3300), 'held at the new protection price');
    exchange.rest(bob, 'sell', 1, 3000);
    const ask = exchange.rest(bob, 'sell', 1, 3010);
    const fired = exchange.buy(carol, 1, 3000);
    t.match(fired.trades.filter((trade) => trade.takerOrderId === stop), [{ makerOrderId: ask, priceTicks: 3010 }], 'the triggered stop buys the 3.010 ask');
  });
});

function tradingFutures(exchange: Exchange, sku: string): string[] {
  return [...exchange.state.instruments.values()]
    .filter((instrument) => instrument.kind === 'future' && instrument.sku === sku && instrument.state === 'trading')
    .sort((a, b) => a.expirationMs - b.expirationMs)
    .map((instrument) => instrument.name);
}

function cancelledIds(outcome: Outcome): number[] {
  return outcome.orders.filter((order) => order.state === 'cancelled').map((order) => order.orderId).sort((a, b) => a - b);
}
