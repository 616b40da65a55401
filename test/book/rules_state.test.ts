// The order book's rulebook, part 3: the reads, the state hash, and validateInternalState itself.
// Reads are checked on one hand-built book against values written out by hand. The state hash is
// checked for its two promises: equal books reached by different histories (cancels, partial
// fills, amends, other slot usage) hash equal, and books that differ in any single resting field
// (id, account, side, price, quantity, time in force, expiry, post-only, self-trade mode) or in
// queue order hash differently. validateInternalState is checked against deliberate corruption:
// each test builds a healthy book, reaches into one private field through `(book as any)` (the
// field is named in the test), breaks one thing, and expects BookInvariantError naming it. These
// tests know the book's private layout (bidLevels/askLevels arrays of Level objects sorted best
// last; slotNext/slotPrev/slotPriceTicks typed arrays; slotByOrderId; expiries; freeSlot) and must
// follow it if the layout changes. Part 3 also holds one capacity case: a book past its initial
// 1024 slots.

import t from 'tap';
import { BookInvariantError, NO_PRICE, OrderBook, PostOnly, SelfTradePrevention, Side, TimeInForce, type BookLimits } from '../../book/index.js';
import { defaultLimits, parseOrder, restingLines, runCases, type RuleTest } from './_rulebook.js';

function bookOf(lines: string[], limits: Partial<BookLimits> = {}): OrderBook {
  const book = new OrderBook({ ...defaultLimits, ...limits });
  for (const line of lines) {
    const code = book.place(parseOrder(line)).code;
    if (code !== 0) throw new Error(`setup order refused with ${code}: ${line}`);
  }
  return book;
}

t.test('reads', async (t) => {
  t.test('an empty book has no best prices, no levels and no orders', async (t) => {
    const book = bookOf([]);
    t.equal(book.bestBid(), NO_PRICE);
    t.equal(book.bestAsk(), NO_PRICE);
    t.equal(NO_PRICE, -1);
    t.strictSame(book.topLevels(Side.Buy, 5), []);
    t.strictSame(book.topLevels(Side.Sell, 5), []);
    t.strictSame(book.levelOrders(Side.Buy, 100), []);
    t.equal(book.restingOrderCount, 0);
    t.equal(book.order(1), undefined);
    let visits = 0;
    book.forEachResting(() => visits++);
    t.equal(visits, 0);
    book.validateInternalState();
  });

  t.test('reads on a two-sided book', async (t) => {
    const book = bookOf([
      '#1 buy 5 @ 100',
      '#2 buy 3 @ 100',
      '#3 alice buy 2 @ 99 GTD 900 post-only:reject stp:cancel-both',
      '#4 sell 4 @ 103',
      '#5 sell 1 @ 104',
      '#6 sell 6 @ 103',
    ]);
    t.equal(book.bestBid(), 100, 'bestBid');
    t.equal(book.bestAsk(), 103, 'bestAsk');
    t.equal(book.restingOrderCount, 6, 'restingOrderCount');
    t.strictSame(book.topLevels(Side.Buy, 1), [{ priceTicks: 100, qtyLots: 8, orderCount: 2 }], 'topLevels depth 1');
    t.strictSame(book.topLevels(Side.Buy, 5), [{ priceTicks: 100, qtyLots: 8, orderCount: 2 }, { priceTicks: 99, qtyLots: 2, orderCount: 1 }], 'topLevels deeper than the book');
    t.strictSame(book.topLevels(Side.Sell, 2), [{ priceTicks: 103, qtyLots: 10, orderCount: 2 }, { priceTicks: 104, qtyLots: 1, orderCount: 1 }], 'asks best first');
    t.strictSame(book.topLevels(Side.Sell, 0), [], 'depth 0');
    const gtc = { timeInForce: TimeInForce.GoodTillCancelled, expiresAtMs: 0, postOnly: PostOnly.None, selfTradePrevention: SelfTradePrevention.CancelTaker };
    t.strictSame(book.levelOrders(Side.Buy, 100), [
      { orderId: 1, accountId: 101, side: Side.Buy, priceTicks: 100, qtyLots: 5, ...gtc },
      { orderId: 2, accountId: 102, side: Side.Buy, priceTicks: 100, qtyLots: 3, ...gtc },
    ], 'levelOrders: L3 queue, oldest first');
    t.strictSame(book.levelOrders(Side.Sell, 103).map((view) => view.orderId), [4, 6], 'ask queue FIFO');
    t.strictSame(book.levelOrders(Side.Sell, 100), [], 'no ask level at 100');
    t.strictSame(book.levelOrders(Side.Buy, 101), [], 'no bid level at 101');
    t.strictSame(book.order(3), {
      orderId: 3, accountId: 1, side: Side.Buy, priceTicks: 99, qtyLots: 2,
      timeInForce: TimeInForce.GoodTillDate, expiresAtMs: 900, postOnly: PostOnly.Reject, selfTradePrevention: SelfTradePrevention.CancelBoth,
    }, 'order(id) shows every field');
    t.equal(book.order(42), undefined, 'unknown id');
    t.equal(book.hasOrder(4), true);
    t.equal(book.hasOrder(42), false);
    const visited: number[][] = [];
    book.forEachResting((side, orderId, priceTicks, qtyLots, accountId) => visited.push([side, orderId, priceTicks, qtyLots, accountId]));
    t.strictSame(visited, [
      [Side.Buy, 1, 100, 5, 101],
      [Side.Buy, 2, 100, 3, 102],
      [Side.Buy, 3, 99, 2, 1],
      [Side.Sell, 4, 103, 4, 104],
      [Side.Sell, 6, 103, 6, 106],
      [Side.Sell, 5, 104, 1, 105],
    ], 'forEachResting: bids best to worst, then asks best to worst, FIFO');
    book.validateInternalState();
  });
});

t.test('stateHash', async (t) => {
  t.test('equal books reached by different histories hash equal', async (t) => {
    // Every history ends with bids 100: #1 x5, #3 x2 and asks 105: #4 x1, and never tells a time.
    const histories: Record<string, (book: OrderBook) => void> = {
      'placed directly': (book) => place(book, ['#1 buy 5 @ 100', '#3 buy 2 @ 100', '#4 sell 1 @ 105']),
      'a middle order cancelled': (book) => {
        place(book, ['#1 buy 5 @ 100', '#2 buy 3 @ 100', '#3 buy 2 @ 100', '#4 sell 1 @ 105']);
        book.cancel(2);
      },
      'an order on the other side cancelled': (book) => {
        place(book, ['#1 buy 5 @ 100', '#9 sell 7 @ 110', '#3 buy 2 @ 100', '#4 sell 1 @ 105']);
        book.cancel(9);
      },
      'the first order partially filled': (book) => place(book, ['#1 buy 8 @ 100', '#3 buy 2 @ 100', '#4 sell 1 @ 105', '#10 sell 3 @ 100 IOC']),
      'the first order reduced by amend': (book) => {
        place(book, ['#1 buy 9 @ 100', '#3 buy 2 @ 100', '#4 sell 1 @ 105']);
        book.amend(1, 100, 5);
      },
      'other slots used first': (book) => {
        place(book, ['#11 buy 4 @ 101', '#4 sell 1 @ 105', '#12 sell 2 @ 106', '#1 buy 5 @ 100', '#3 buy 2 @ 100']);
        book.cancel(11);
        book.cancel(12);
      },
    };
    const wanted = { bids: ['100: #1 x5, #3 x2'], asks: ['105: #4 x1'] };
    const hashes = new Set<string>();
    for (const [history, build] of Object.entries(histories)) {
      const book = bookOf([]);
      build(book);
      t.strictSame(restingLines(book), wanted, `${history}: the same resting orders`);
      book.validateInternalState();
      hashes.add(book.stateHash());
    }
    t.equal(hashes.size, 1, 'one hash for all histories');
  });

  t.test('books differing in any one resting field, or in queue order, hash differently', async (t) => {
    const base = ['#1 alice buy 5 @ 100', '#2 bob buy 3 @ 100', '#3 sell 4 @ 105 GTD 900'];
    const variants: Record<string, string[]> = {
      'order id': ['#7 alice buy 5 @ 100', base[1], base[2]],
      account: ['#1 carol buy 5 @ 100', base[1], base[2]],
      side: [base[0], base[1], '#3 buy 4 @ 105 GTD 900'],
      price: ['#1 alice buy 5 @ 101', base[1], base[2]],
      quantity: ['#1 alice buy 6 @ 100', base[1], base[2]],
      'time in force': [base[0], base[1], '#3 sell 4 @ 105'],
      expiry: [base[0], base[1], '#3 sell 4 @ 105 GTD 901'],
      'post-only reject': [base[0], '#2 bob buy 3 @ 100 post-only:reject', base[2]],
      'post-only reprice': [base[0], '#2 bob buy 3 @ 100 post-only:reprice', base[2]],
      'self-trade mode': [base[0], '#2 bob buy 3 @ 100 stp:decrement', base[2]],
      'queue order': [base[1], base[0], base[2]],
    };
    const baseHash = bookOf(base).stateHash();
    t.equal(bookOf(base).stateHash(), baseHash, 'the same orders placed again hash the same');
    const hashes = new Set([baseHash]);
    for (const [field, lines] of Object.entries(variants)) {
      const hash = bookOf(lines).stateHash();
      t.not(hash, baseHash, `differs from the base book in ${field}`);
      hashes.add(hash);
    }
    t.equal(hashes.size, Object.keys(variants).length + 1, 'all variants hash differently from each other');
  });

  t.test('reads do not change the hash, and an emptied book hashes like a new one', async (t) => {
    const book = bookOf(['#1 buy 5 @ 100', '#2 sell 4 @ 105']);
    const hash = book.stateHash();
    book.topLevels(Side.Buy, 3);
    book.levelOrders(Side.Sell, 105);
    book.forEachResting(() => undefined);
    book.validateInternalState();
    t.equal(book.stateHash(), hash, 'unchanged by reads');
    book.cancel(1);
    book.cancel(2);
    t.equal(book.stateHash(), bookOf([]).stateHash(), 'emptied book = new book');
  });

  t.test('the book\'s time is part of the hash (documented in stateHash)', async (t) => {
    const told = bookOf([]);
    told.expireOrders(5);
    t.not(told.stateHash(), bookOf([]).stateHash());
  });
});

t.test('validateInternalState detects corruption', async (t) => {
  // A healthy book: bids 100: #1 x5, #2 x3 and 99: #3 x2; asks 103: #4 x4 (GTD) and 104: #5 x1.
  const healthy = () => bookOf(['#1 buy 5 @ 100', '#2 buy 3 @ 100', '#3 buy 2 @ 99', '#4 sell 4 @ 103 GTD 900', '#5 sell 1 @ 104']);
  // Private layout: levels sorted so the best is last; orders live in slots.
  const internals = (book: OrderBook) => book as any;
  const slotOf = (book: OrderBook, orderId: number): number => internals(book).slotByOrderId.get(orderId);
  const expectBroken = (t: RuleTest, book: OrderBook, message: RegExp) =>
    t.throws(() => book.validateInternalState(), { name: 'BookInvariantError', message }, `throws BookInvariantError matching ${message}`);

  t.test('the healthy book passes', async (t) => {
    t.doesNotThrow(() => healthy().validateInternalState());
    t.ok(new BookInvariantError('x') instanceof Error);
  });

  t.test('a level total that disagrees with its orders (Level.qtyLots of bidLevels best)', async (t) => {
    const book = healthy();
    const bidLevels = internals(book).bidLevels;
    bidLevels[bidLevels.length - 1].qtyLots += 1;
    expectBroken(t, book, /level 100 total 9 != sum of orders 8/);
  });

  t.test('a level order count that disagrees with its queue (Level.orderCount)', async (t) => {
    const book = healthy();
    internals(book).askLevels[1].orderCount = 2; // askLevels[1] is the best ask, 103
    expectBroken(t, book, /level 103 counts 2 orders, holds 1/);
  });

  t.test('a broken back link (slotPrev of the second order in a queue)', async (t) => {
    const book = healthy();
    internals(book).slotPrev[slotOf(book, 2)] = -1;
    expectBroken(t, book, /order 2 has a broken back link/);
  });

  t.test('a forward link that drops the rest of a queue (slotNext of the first order)', async (t) => {
    const book = healthy();
    internals(book).slotNext[slotOf(book, 1)] = -1;
    expectBroken(t, book, /level 100 tail is not its last order/);
  });

  t.test('a crossed book (best bid level, its key and its orders\' slotPriceTicks moved to 103)', async (t) => {
    const book = healthy();
    const bidLevels = internals(book).bidLevels;
    const best = bidLevels[bidLevels.length - 1];
    best.priceTicks = 103;
    best.key = 103;
    for (const orderId of [1, 2]) internals(book).slotPriceTicks[slotOf(book, orderId)] = 103;
    expectBroken(t, book, /book crossed at rest: bid 103 >= ask 103/);
  });

  t.test('levels out of price order (two entries of bidLevels swapped)', async (t) => {
    const book = healthy();
    const bidLevels = internals(book).bidLevels;
    [bidLevels[0], bidLevels[1]] = [bidLevels[1], bidLevels[0]];
    expectBroken(t, book, /levels of side 0 not strictly sorted/);
  });

  t.test('an empty level left behind (a fresh Level inserted into bidLevels)', async (t) => {
    const book = healthy();
    const bidLevels = internals(book).bidLevels;
    const empty = new bidLevels[0].constructor();
    empty.priceTicks = 98;
    empty.key = 98;
    bidLevels.unshift(empty);
    expectBroken(t, book, /empty level left behind at 98/);
  });

  t.test('an order missing from the id index (slotByOrderId)', async (t) => {
    const book = healthy();
    internals(book).slotByOrderId.delete(2);
    expectBroken(t, book, /order 2 is missing from the id index/);
  });

  t.test('a GTD order with no expiry entry (expiries heap cleared)', async (t) => {
    const book = healthy();
    internals(book).expiries.clear();
    expectBroken(t, book, /GTD order 4 has no expiry entry/);
  });

  t.test('leaked slots (freeSlot list dropped)', async (t) => {
    const book = healthy();
    internals(book).freeSlot = -1;
    expectBroken(t, book, /slots leak/);
  });
});

t.test('capacity', async (t) => {
  // 1100 one-lot asks, 100 per level on 1001 … 1011, go past the book's initial 1024 slots.
  const asks = Array.from({ length: 1100 }, (_, index) => `#${index + 1} sell 1 @ ${1001 + Math.floor(index / 100)}`);
  runCases(t, [
    {
      rule: 'past its initial 1024 slots the book still fills strictly by price, then time',
      limits: { ordersMax: 2000, priceTicksMax: 5000, qtyLotsMax: 2000, accountIdMax: 5000 },
      given: asks,
      when: { place: '#2000 buy 1050 @ 1011 IOC' },
      expect: {
        fills: Array.from({ length: 1050 }, (_, index) => `#${index + 1} 1 @ ${1001 + Math.floor(index / 100)}, leaves 0`),
        done: [...Array.from({ length: 1050 }, (_, index) => `#${index + 1} Filled`), '#2000 Filled'],
        levels: [...Array.from({ length: 10 }, (_, index) => `ask ${1001 + index}: gone`), 'ask 1011: 50 lots, 50 orders'],
        book: { asks: [`1011: ${Array.from({ length: 50 }, (_, index) => `#${1051 + index} x1`).join(', ')}`] },
      },
    },
  ]);
});

function place(book: OrderBook, lines: string[]): void {
  for (const line of lines) {
    const code = book.place(parseOrder(line)).code;
    if (code !== 0) throw new Error(`history order refused with ${code}: ${line}`);
  }
}
