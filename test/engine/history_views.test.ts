// What history stores is what it gives back (engine/history.ts). Closed orders and trades are kept
// as their views, since session 4 as positional JSON arrays ([1, orderId, accountId, …]) instead
// of keyed objects; rows written in the older keyed form must still read the same. A field lost or
// shifted in either direction would show as a wrong order state, fee or label on the wire
// (get_order_state, get_user_trades_*), long after the trade.
//
// Given a maker and a taker with labels, post-only and a fill that charges a fee, expect every
// order and trade view read back from a real history file to equal the view the engine made,
// field for field (bigints included); and given a row in the old keyed form, expect the same.
// The generator: none. How to replay: deterministic.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore, type Event } from '../../engine/index.js';
import { twoTraders } from './_harness.js';
import { withDatabase } from './_journal_files.js';

t.test('closed orders and trades read back from history exactly as the engine reported them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await HistoryStore.open(join(dir, 'history.sqlite'));
  t.teardown(() => store.close());

  const { exchange, alice, bob } = twoTraders();
  const commands: { sequence: number; events: Event[] }[] = [];
  const keep = <T extends { events: Event[] }>(outcome: T): T => {
    commands.push({ sequence: exchange.sequence, events: outcome.events });
    return outcome;
  };
  keep(exchange.sell(alice, 2, 2500, { label: 'ask-1', postOnly: true }));
  const taken = keep(exchange.buy(bob, 3, 2500, { label: 'bid-1', timeInForce: 'immediate_or_cancel' }));
  const makerOrderId = taken.trades[0].makerOrderId;
  const cancelled = exchange.rest(bob, 'buy', 1, 2400, { label: 'rest-1' });
  keep(exchange.cancel(bob, cancelled));
  store.project(commands);
  await store.whenWritten();

  const closedViews = commands.flatMap(({ events }) => events.flatMap((event) => (event.kind === 'order' && (event.order.state === 'filled' || event.order.state === 'cancelled') ? [event.order] : [])));
  t.ok(closedViews.length >= 3, `the maker, the taker and the cancelled order closed (${closedViews.length} closed order views)`);
  for (const view of closedViews) t.same(await store.order(view.orderId), view, `order ${view.orderId} (${view.label}, ${view.state}) reads back field for field`);
  t.ok(taken.trades.some((trade) => trade.takerFeeUnits > 0n), 'a trade with a fee, so a bigint is exercised');
  const trades = await store.trades({ count: 100, newestFirst: false });
  t.same(trades, taken.trades, 'the trades read back field for field: ids, prices, fees (bigints), labels, post-only flags');
  t.match(trades[0], { makerOrderId, makerLabel: 'ask-1', makerPostOnly: true, takerLabel: 'bid-1' });
});

t.test('a row stored in the keyed form of earlier versions still reads back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'history.sqlite');
  const opened = await HistoryStore.open(path);
  await opened.close();
  const order = { orderId: 7, accountId: 2, instrument: 'H100_USDAI', side: 'buy', type: 'limit', timeInForce: 'good_til_cancelled', state: 'filled', cancelReason: '', priceTicks: 2500, amountLots: 2, filledLots: 2, filledNotionalTickLots: 5000, feeUnits: '1500000000000000', postOnly: false, rejectPostOnly: false, reduceOnly: false, replaced: true, label: 'old-1', triggerPriceTicks: 0, trigger: '', stopOrderId: 0, createdMs: 1_790_000_000_000, updatedMs: 1_790_000_000_100, expiresAtMs: 0 };
  const trade = { tradeId: 3, sequence: 9, instrument: 'H100_USDAI', priceTicks: 2500, amountLots: 2, takerSide: 'buy', makerOrderId: 6, takerOrderId: 7, makerAccountId: 1, takerAccountId: 2, makerFeeUnits: '0', takerFeeUnits: '1500000000000000', makerOrderType: 'limit', takerOrderType: 'limit', makerRemainingLots: 0, takerRemainingLots: 0, tickDirection: 0, timeMs: 1_790_000_000_100 };
  await withDatabase(path, async (db) => {
    await db.run('INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)', [7, 2, 'H100_USDAI', 'old-1', 'filled', order.updatedMs, JSON.stringify(order)]);
    await db.run('INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [3, 9, 'H100_USDAI', trade.timeMs, 6, 7, 1, 2, JSON.stringify(trade)]);
  });
  const store = await HistoryStore.open(path);
  t.teardown(() => store.close());
  t.same(await store.order(7), { ...order, feeUnits: 1_500_000_000_000_000n }, 'the old order row, with its fee as a bigint');
  t.same(await store.trades({ count: 10, newestFirst: false }), [{ ...trade, makerFeeUnits: 0n, takerFeeUnits: 1_500_000_000_000_000n }], 'the old trade row (no labels then: they read as absent)');
});
