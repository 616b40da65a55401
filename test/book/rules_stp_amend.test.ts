// The order book's rulebook, part 2: self-trade prevention, amend, cancel and cancel-all. Same
// method as part 1 (rules.test.ts): each case is data (given resting orders, one call, expected
// fills, done orders, reductions, changed levels and book), with every expectation derived by hand
// from the specification and checked, with all reads and validateInternalState(), by
// _rulebook.ts. Self-trade cases use named accounts (alice = 1, bob = 2, carol = 3, anon = 0);
// the taker's mode decides, fills before the self-trade stand, and no fill may ever join two
// orders of one real account. Run one rule with
// `npx tap test/book/rules_stp_amend.test.ts --grep='<group>' --grep='<words of the rule>'`.

import t from 'tap';
import { runCases, type Case } from './_rulebook.js';

const selfTradePrevention: Case[] = [
  {
    // Regression: the book once listed the untouched level 101 as changed here.
    rule: 'CancelTaker: a taker meeting its own order first is cancelled and no level changes',
    given: ['#1 alice sell 5 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 4 @ 101 stp:cancel-taker' },
    expect: { done: ['#3 SelfTradePrevented, 4 left'], levels: [], book: { asks: ['101: #1 x5, #2 x5'] } },
  },
  {
    rule: 'CancelTaker: fills before the self-trade stand, and the remainder does not rest',
    given: ['#1 bob sell 2 @ 101', '#2 alice sell 5 @ 101', '#3 bob sell 5 @ 102'],
    when: { place: '#4 alice buy 6 @ 102 stp:cancel-taker' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0'],
      done: ['#1 Filled', '#4 SelfTradePrevented, 4 left'],
      levels: ['ask 101: 5 lots, 1 order'],
      book: { asks: ['101: #2 x5', '102: #3 x5'] },
    },
  },
  {
    rule: 'CancelMaker: own makers are cancelled as they are met and the taker goes on matching',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 3 @ 101', '#3 alice sell 1 @ 102', '#4 bob sell 5 @ 102'],
    when: { place: '#5 alice buy 6 @ 102 stp:cancel-maker' },
    expect: {
      fills: ['#2 3 @ 101, leaves 0', '#4 3 @ 102, leaves 2'],
      done: ['#1 SelfTradePrevented, 2 left', '#2 Filled', '#3 SelfTradePrevented, 1 left', '#5 Filled'],
      levels: ['ask 101: gone', 'ask 102: 2 lots, 1 order'],
      book: { asks: ['102: #4 x2'] },
    },
  },
  {
    rule: 'CancelMaker: with only its own order in the way, a GTC taker cancels it and rests',
    given: ['#1 alice sell 2 @ 101'],
    when: { place: '#2 alice buy 5 @ 101 stp:cancel-maker' },
    expect: {
      done: ['#1 SelfTradePrevented, 2 left'],
      levels: ['ask 101: gone', 'bid 101: 5 lots, 1 order'],
      rests: '5 @ 101',
      book: { bids: ['101: #2 x5'] },
    },
  },
  {
    rule: 'CancelBoth: after earlier fills, the taker and its own maker are both cancelled',
    given: ['#1 bob sell 1 @ 101', '#2 alice sell 5 @ 101', '#3 bob sell 5 @ 101'],
    when: { place: '#4 alice buy 4 @ 101 stp:cancel-both' },
    expect: {
      fills: ['#1 1 @ 101, leaves 0'],
      done: ['#1 Filled', '#2 SelfTradePrevented, 5 left', '#4 SelfTradePrevented, 3 left'],
      levels: ['ask 101: 5 lots, 1 order'],
      book: { asks: ['101: #3 x5'] },
    },
  },
  {
    rule: 'DecrementBoth, taker larger: the own maker is cancelled, the taker reduced by it and matching on',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 6 @ 101 stp:decrement' },
    expect: {
      reduced: ['#3 by 2'],
      fills: ['#2 4 @ 101, leaves 1'],
      done: ['#1 SelfTradePrevented, 2 left', '#3 Filled'],
      levels: ['ask 101: 1 lot, 1 order'],
      book: { asks: ['101: #2 x1'] },
    },
  },
  {
    rule: 'DecrementBoth, maker larger: after a fill, the maker is reduced and keeps its place, the taker is cancelled',
    given: ['#1 bob sell 1 @ 101', '#2 alice sell 5 @ 101', '#3 bob sell 5 @ 101'],
    when: { place: '#4 alice buy 3 @ 101 stp:decrement' },
    expect: {
      fills: ['#1 1 @ 101, leaves 0'],
      reduced: ['#2 by 2'],
      done: ['#1 Filled', '#4 SelfTradePrevented, 2 left'],
      levels: ['ask 101: 8 lots, 2 orders'],
      book: { asks: ['101: #2 x3, #3 x5'] },
    },
  },
  {
    rule: 'DecrementBoth, equal: both are cancelled and nothing is reduced',
    given: ['#1 alice sell 3 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 3 @ 101 stp:decrement' },
    expect: {
      done: ['#1 SelfTradePrevented, 3 left', '#3 SelfTradePrevented, 3 left'],
      levels: ['ask 101: 5 lots, 1 order'],
      book: { asks: ['101: #2 x5'] },
    },
  },
  {
    rule: 'DecrementBoth, sell taker larger: fill, reduce past its own bid, fill on the next level',
    given: ['#1 bob buy 2 @ 100', '#2 alice buy 3 @ 100', '#3 bob buy 4 @ 99'],
    when: { place: '#4 alice sell 8 @ 99 stp:decrement' },
    expect: {
      fills: ['#1 2 @ 100, leaves 0', '#3 3 @ 99, leaves 1'],
      reduced: ['#4 by 3'],
      done: ['#1 Filled', '#2 SelfTradePrevented, 3 left', '#4 Filled'],
      levels: ['bid 100: gone', 'bid 99: 1 lot, 1 order'],
      book: { bids: ['99: #3 x1'] },
    },
  },
  {
    rule: 'DecrementBoth, sell taker smaller: its own bid is reduced in place and the taker cancelled',
    given: ['#1 alice buy 5 @ 100', '#2 bob buy 5 @ 100'],
    when: { place: '#3 alice sell 2 @ 100 stp:decrement' },
    expect: {
      reduced: ['#1 by 2'],
      done: ['#3 SelfTradePrevented, 2 left'],
      levels: ['bid 100: 8 lots, 2 orders'],
      book: { bids: ['100: #1 x3, #2 x5'] },
    },
  },
  {
    rule: 'DecrementBoth reduces the taker once for each own order it passes',
    given: [...[1, 2, 3, 4, 5].map((id) => `#${id} alice sell 1 @ ${100 + id}`), '#6 bob sell 10 @ 106'],
    when: { place: '#7 alice buy 10 @ 106 stp:decrement' },
    expect: {
      reduced: ['#7 by 1', '#7 by 1', '#7 by 1', '#7 by 1', '#7 by 1'],
      fills: ['#6 5 @ 106, leaves 5'],
      done: [...[1, 2, 3, 4, 5].map((id) => `#${id} SelfTradePrevented, 1 left`), '#7 Filled'],
      levels: ['ask 101: gone', 'ask 102: gone', 'ask 103: gone', 'ask 104: gone', 'ask 105: gone', 'ask 106: 5 lots, 1 order'],
      book: { asks: ['106: #6 x5'] },
    },
  },
  {
    rule: 'a taker reduced by DecrementBoth rests with the reduced quantity',
    given: ['#1 alice sell 2 @ 101'],
    when: { place: '#2 alice buy 5 @ 101 stp:decrement' },
    expect: {
      reduced: ['#2 by 2'],
      done: ['#1 SelfTradePrevented, 2 left'],
      levels: ['ask 101: gone', 'bid 101: 3 lots, 1 order'],
      rests: '3 @ 101',
      book: { bids: ['101: #2 x3'] },
    },
  },
  {
    rule: 'the anonymous account is never self-trade checked',
    given: ['#1 anon sell 2 @ 101'],
    when: { place: '#2 anon buy 2 @ 101 stp:cancel-both' },
    expect: { fills: ['#1 2 @ 101, leaves 0'], done: ['#1 Filled', '#2 Filled'], levels: ['ask 101: gone'], book: {} },
  },
  {
    rule: 'the taker\'s mode decides, not the maker\'s',
    given: ['#1 alice sell 2 @ 101 stp:cancel-taker'],
    when: { place: '#2 alice buy 2 @ 101 stp:cancel-maker' },
    expect: {
      done: ['#1 SelfTradePrevented, 2 left'],
      levels: ['ask 101: gone', 'bid 101: 2 lots, 1 order'],
      rests: '2 @ 101',
      book: { bids: ['101: #2 x2'] },
    },
  },
  {
    rule: 'a FOK under CancelTaker is blocked by its own order in the way: killed, book unchanged',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:cancel-taker' },
    expect: { done: ['#3 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    rule: 'a FOK under CancelTaker fills when others\' liquidity covers it before its own order',
    given: ['#1 bob sell 5 @ 101', '#2 alice sell 2 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:cancel-taker' },
    expect: { fills: ['#1 5 @ 101, leaves 0'], done: ['#1 Filled', '#3 Filled'], levels: ['ask 101: 2 lots, 1 order'], book: { asks: ['101: #2 x2'] } },
  },
  {
    rule: 'a FOK under CancelMaker passes its own order: the own maker is cancelled and the rest fills',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:cancel-maker' },
    expect: {
      fills: ['#2 5 @ 101, leaves 0'],
      done: ['#1 SelfTradePrevented, 2 left', '#2 Filled', '#3 Filled'],
      levels: ['ask 101: gone'],
      book: {},
    },
  },
  {
    rule: 'a FOK under CancelMaker does not count its own orders: killed, and its own order is not cancelled',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 4 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:cancel-maker' },
    expect: { done: ['#3 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    rule: 'a FOK under CancelBoth is blocked by its own order in the way',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:cancel-both' },
    expect: { done: ['#3 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    // All or nothing: passing its own order under DecrementBoth would shrink the taker, so it
    // cannot fill whole, and nothing may change (its own order is not reduced either).
    rule: 'a FOK under DecrementBoth is blocked by its own order in the way',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 5 @ 101'],
    when: { place: '#3 alice buy 5 @ 101 FOK stp:decrement' },
    expect: { done: ['#3 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    rule: 'a market order under CancelMaker cancels its own maker, fills the rest up to its protection',
    given: ['#1 alice sell 2 @ 101', '#2 bob sell 2 @ 102', '#3 bob sell 5 @ 104'],
    when: { place: '#4 alice market buy 5 @ 103 IOC stp:cancel-maker' },
    expect: {
      fills: ['#2 2 @ 102, leaves 0'],
      done: ['#1 SelfTradePrevented, 2 left', '#2 Filled', '#4 ImmediateRemainderCancelled, 3 left'],
      levels: ['ask 101: gone', 'ask 102: gone'],
      book: { asks: ['104: #3 x5'] },
    },
  },
];

const amend: Case[] = [
  {
    rule: 'reducing quantity at the same price keeps the order\'s place',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101'],
    when: { amend: [1, 101, 2] },
    expect: { levels: ['ask 101: 7 lots, 2 orders'], rests: '2 @ 101', book: { asks: ['101: #1 x2, #2 x5'] } },
  },
  {
    rule: 'a reduced order still fills first',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101', { amend: [1, 101, 2] }],
    when: { place: '#3 buy 3 @ 101' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 1 @ 101, leaves 4'],
      done: ['#1 Filled', '#3 Filled'],
      levels: ['ask 101: 4 lots, 1 order'],
      book: { asks: ['101: #2 x4'] },
    },
  },
  {
    rule: 'increasing quantity at the same price sends the order to the back of its level',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101'],
    when: { amend: [1, 101, 8] },
    expect: { levels: ['ask 101: 13 lots, 2 orders'], rests: '8 @ 101', book: { asks: ['101: #2 x5, #1 x8'] } },
  },
  {
    rule: 'an increased order fills after the orders it went behind',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101', { amend: [1, 101, 8] }],
    when: { place: '#3 buy 6 @ 101' },
    expect: {
      fills: ['#2 5 @ 101, leaves 0', '#1 1 @ 101, leaves 7'],
      done: ['#2 Filled', '#3 Filled'],
      levels: ['ask 101: 7 lots, 1 order'],
      book: { asks: ['101: #1 x7'] },
    },
  },
  {
    rule: 'an amend to the same price and quantity changes nothing',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101'],
    when: { amend: [1, 101, 5] },
    expect: { rests: '5 @ 101', book: { asks: ['101: #1 x5, #2 x5'] } },
  },
  {
    rule: 'a price change sends the order to the back of its new level',
    given: ['#1 buy 5 @ 100', '#2 buy 5 @ 99', '#3 buy 5 @ 99'],
    when: { amend: [2, 100, 5] },
    expect: {
      levels: ['bid 99: 5 lots, 1 order', 'bid 100: 10 lots, 2 orders'],
      rests: '5 @ 100',
      book: { bids: ['100: #1 x5, #2 x5', '99: #3 x5'] },
    },
  },
  {
    rule: 'moving away and back again loses priority',
    given: ['#1 buy 5 @ 100', '#2 buy 5 @ 100', { amend: [1, 99, 5] }],
    when: { amend: [1, 100, 5] },
    expect: { levels: ['bid 99: gone', 'bid 100: 10 lots, 2 orders'], rests: '5 @ 100', book: { bids: ['100: #2 x5, #1 x5'] } },
  },
  {
    rule: 'a price change that crosses trades as a taker at the makers\' prices and rests the rest at the new price',
    given: ['#1 sell 3 @ 102', '#2 sell 3 @ 103', '#3 buy 5 @ 100'],
    when: { amend: [3, 102, 5] },
    expect: {
      fills: ['#1 3 @ 102, leaves 0'],
      done: ['#1 Filled'],
      levels: ['bid 100: gone', 'ask 102: gone', 'bid 102: 2 lots, 1 order'],
      rests: '2 @ 102',
      book: { bids: ['102: #3 x2'], asks: ['103: #2 x3'] },
    },
  },
  {
    rule: 'a crossing amend that fills completely is done Filled',
    given: ['#1 sell 3 @ 102', '#2 buy 3 @ 100'],
    when: { amend: [2, 105, 3] },
    expect: { fills: ['#1 3 @ 102, leaves 0'], done: ['#1 Filled', '#2 Filled'], levels: ['bid 100: gone', 'ask 102: gone'], book: {} },
  },
  {
    rule: 'a crossing amend of a GTD order rests the rest with the same expiry',
    given: ['#1 sell 2 @ 102', '#2 buy 5 @ 100 GTD 500'],
    when: { amend: [2, 102, 5] },
    expect: {
      fills: ['#1 2 @ 102, leaves 0'],
      done: ['#1 Filled'],
      levels: ['bid 100: gone', 'ask 102: gone', 'bid 102: 3 lots, 1 order'],
      rests: '3 @ 102',
      book: { bids: ['102: #2 x3'] },
    },
  },
  {
    rule: 'a GTD order moved by a crossing amend still expires at its time',
    given: ['#1 sell 2 @ 102', '#2 buy 5 @ 100 GTD 500', { amend: [2, 102, 5] }],
    when: { expire: 500 },
    expect: { done: ['#2 Expired, 3 left'], levels: ['bid 102: gone'], book: {} },
  },
  {
    rule: 'a GTD order whose quantity was increased still expires, once',
    given: ['#1 sell 2 @ 101 GTD 500', '#2 sell 2 @ 101', { amend: [1, 101, 4] }],
    when: { expire: 500 },
    expect: { done: ['#1 Expired, 4 left'], levels: ['ask 101: 2 lots, 1 order'], book: { asks: ['101: #2 x2'] } },
  },
  {
    rule: 'a GTD order moved to another price expires once',
    given: ['#1 sell 2 @ 101 GTD 500', { amend: [1, 102, 2] }],
    when: { expire: 500 },
    expect: { done: ['#1 Expired, 2 left'], levels: ['ask 102: gone'], book: {} },
  },
  {
    rule: 'a crossing amend keeps the order\'s self-trade mode',
    given: ['#1 alice sell 2 @ 102', '#2 bob sell 2 @ 103', '#3 alice buy 3 @ 100 stp:cancel-maker'],
    when: { amend: [3, 103, 3] },
    expect: {
      fills: ['#2 2 @ 103, leaves 0'],
      done: ['#1 SelfTradePrevented, 2 left', '#2 Filled'],
      levels: ['bid 100: gone', 'ask 102: gone', 'ask 103: gone', 'bid 103: 1 lot, 1 order'],
      rests: '1 @ 103',
      book: { bids: ['103: #3 x1'] },
    },
  },
  {
    rule: 'a crossing amend that meets its own order under CancelTaker ends the amended order',
    given: ['#1 bob sell 1 @ 102', '#2 alice sell 3 @ 102', '#3 alice buy 4 @ 100 stp:cancel-taker'],
    when: { amend: [3, 102, 4] },
    expect: {
      fills: ['#1 1 @ 102, leaves 0'],
      done: ['#1 Filled', '#3 SelfTradePrevented, 3 left'],
      levels: ['bid 100: gone', 'ask 102: 3 lots, 1 order'],
      book: { asks: ['102: #2 x3'] },
    },
  },
  {
    rule: 'a post-only reject amended through the best ask is refused and stays as it was',
    given: ['#1 sell 5 @ 105', '#2 buy 3 @ 100 post-only:reject'],
    when: { amend: [2, 106, 1] },
    expect: { code: 'PostOnlyWouldCross' },
  },
  {
    rule: 'a post-only reject amended to the best ask itself is refused',
    given: ['#1 sell 5 @ 105', '#2 buy 3 @ 100 post-only:reject'],
    when: { amend: [2, 105, 3] },
    expect: { code: 'PostOnlyWouldCross' },
  },
  {
    rule: 'a post-only reject amended to a price that does not cross moves there',
    given: ['#1 sell 5 @ 105', '#2 buy 3 @ 100 post-only:reject'],
    when: { amend: [2, 104, 3] },
    expect: { levels: ['bid 100: gone', 'bid 104: 3 lots, 1 order'], rests: '3 @ 104', book: { bids: ['104: #2 x3'], asks: ['105: #1 x5'] } },
  },
  {
    rule: 'a post-only reprice buy amended across the book rests at the best ask minus one',
    given: ['#1 sell 5 @ 105', '#2 sell 1 @ 107', '#3 buy 3 @ 100 post-only:reprice'],
    when: { amend: [3, 107, 4] },
    expect: {
      levels: ['bid 100: gone', 'bid 104: 4 lots, 1 order'],
      rests: '4 @ 104',
      book: { bids: ['104: #3 x4'], asks: ['105: #1 x5', '107: #2 x1'] },
    },
  },
  {
    rule: 'a post-only reprice sell amended across the book rests at the best bid plus one',
    given: ['#1 buy 5 @ 100', '#2 sell 3 @ 110 post-only:reprice'],
    when: { amend: [2, 95, 3] },
    expect: { levels: ['ask 110: gone', 'ask 101: 3 lots, 1 order'], rests: '3 @ 101', book: { bids: ['100: #1 x5'], asks: ['101: #2 x3'] } },
  },
  {
    // Regression: the re-priced price equals the order's old price, so the book empties the level
    // and re-creates it in the same call; the report once listed 'bid 104' twice.
    rule: 'a post-only reprice amended across the book back onto its own price lists that level once',
    given: ['#1 sell 5 @ 105', '#2 buy 3 @ 104 post-only:reprice'],
    when: { amend: [2, 106, 4] },
    expect: { levels: ['bid 104: 4 lots, 1 order'], rests: '4 @ 104', book: { bids: ['104: #2 x4'], asks: ['105: #1 x5'] } },
  },
  {
    rule: 'an amend in a full book is allowed: it adds no order',
    limits: { ordersMax: 2 },
    given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99'],
    when: { amend: [2, 98, 6] },
    expect: { levels: ['bid 99: gone', 'bid 98: 6 lots, 1 order'], rests: '6 @ 98', book: { bids: ['98: #2 x6'], asks: ['101: #1 x5'] } },
  },
  { rule: 'amending an unknown order is UnknownOrder', given: ['#1 sell 5 @ 101'], when: { amend: [9, 101, 1] }, expect: { code: 'UnknownOrder' } },
  {
    rule: 'amending an order that has filled is UnknownOrder',
    given: ['#1 sell 2 @ 101', { place: '#2 buy 2 @ 101 IOC' }],
    when: { amend: [1, 101, 1] },
    expect: { code: 'UnknownOrder' },
  },
  { rule: 'an amend to price 0 is PriceOutOfRange', given: ['#1 sell 5 @ 101'], when: { amend: [1, 0, 5] }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'an amend above priceTicksMax is PriceOutOfRange', given: ['#1 sell 5 @ 101'], when: { amend: [1, 1001, 5] }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'an amend to quantity 0 is QuantityOutOfRange, not a cancel', given: ['#1 sell 5 @ 101'], when: { amend: [1, 101, 0] }, expect: { code: 'QuantityOutOfRange' } },
  { rule: 'an amend above qtyLotsMax is QuantityOutOfRange', given: ['#1 sell 5 @ 101'], when: { amend: [1, 101, 1001] }, expect: { code: 'QuantityOutOfRange' } },
];

const cancel: Case[] = [
  {
    rule: 'cancel removes the order and reports what it had left',
    given: ['#1 sell 5 @ 101', '#2 sell 3 @ 101'],
    when: { cancel: 1 },
    expect: { done: ['#1 Cancelled, 5 left'], levels: ['ask 101: 3 lots, 1 order'], book: { asks: ['101: #2 x3'] } },
  },
  {
    rule: 'cancelling from the middle of a queue keeps the others in order',
    given: ['#1 buy 1 @ 100', '#2 buy 2 @ 100', '#3 buy 3 @ 100'],
    when: { cancel: 2 },
    expect: { done: ['#2 Cancelled, 2 left'], levels: ['bid 100: 4 lots, 2 orders'], book: { bids: ['100: #1 x1, #3 x3'] } },
  },
  {
    rule: 'cancelling the last order of a middle level removes that level',
    given: ['#1 buy 1 @ 100', '#2 buy 1 @ 99', '#3 buy 1 @ 98'],
    when: { cancel: 2 },
    expect: { done: ['#2 Cancelled, 1 left'], levels: ['bid 99: gone'], book: { bids: ['100: #1 x1', '98: #3 x1'] } },
  },
  {
    rule: 'cancelling a partially filled order reports its remaining quantity',
    given: ['#1 sell 5 @ 101', { place: '#2 buy 2 @ 101 IOC' }],
    when: { cancel: 1 },
    expect: { done: ['#1 Cancelled, 3 left'], levels: ['ask 101: gone'], book: {} },
  },
  {
    rule: 'a GTD order can be cancelled before its expiry',
    given: ['#1 sell 1 @ 101 GTD 500'],
    when: { cancel: 1 },
    expect: { done: ['#1 Cancelled, 1 left'], levels: ['ask 101: gone'], book: {} },
  },
  { rule: 'cancelling an unknown order is UnknownOrder', given: ['#1 sell 5 @ 101'], when: { cancel: 9 }, expect: { code: 'UnknownOrder' } },
  { rule: 'cancelling order id -1 (the id index\'s empty mark) is UnknownOrder', given: ['#1 sell 5 @ 101'], when: { cancel: -1 }, expect: { code: 'UnknownOrder' } },
  { rule: 'cancelling order id 0 is UnknownOrder', given: ['#1 sell 5 @ 101'], when: { cancel: 0 }, expect: { code: 'UnknownOrder' } },
  { rule: 'cancelling twice is UnknownOrder the second time', given: ['#1 sell 5 @ 101', '#2 sell 1 @ 102', { cancel: 1 }], when: { cancel: 1 }, expect: { code: 'UnknownOrder' } },
];

// Cancel-all reports its cancellations bids first, then asks, each side best price first and
// FIFO within a level: the canonical order of forEachResting.
const aliceAndOthers = [
  '#1 alice buy 1 @ 100',
  '#2 bob buy 2 @ 100',
  '#3 alice buy 3 @ 101',
  '#4 alice sell 4 @ 105',
  '#5 alice buy 5 @ 100',
  '#6 bob sell 6 @ 104',
  '#7 alice sell 7 @ 104',
  '#8 carol sell 8 @ 105',
];

const cancelAll: Case[] = [
  {
    rule: 'cancel-all of an account removes its orders on both sides and no one else\'s',
    given: aliceAndOthers,
    when: { cancelAll: 'alice' },
    expect: {
      done: ['#3 Cancelled, 3 left', '#1 Cancelled, 1 left', '#5 Cancelled, 5 left', '#7 Cancelled, 7 left', '#4 Cancelled, 4 left'],
      levels: ['bid 101: gone', 'bid 100: 2 lots, 1 order', 'ask 104: 6 lots, 1 order', 'ask 105: 8 lots, 1 order'],
      book: { bids: ['100: #2 x2'], asks: ['104: #6 x6', '105: #8 x8'] },
    },
  },
  {
    rule: 'cancel-all of an account\'s bids leaves its asks',
    given: aliceAndOthers,
    when: { cancelAll: 'alice', side: 'buy' },
    expect: {
      done: ['#3 Cancelled, 3 left', '#1 Cancelled, 1 left', '#5 Cancelled, 5 left'],
      levels: ['bid 101: gone', 'bid 100: 2 lots, 1 order'],
      book: { bids: ['100: #2 x2'], asks: ['104: #6 x6, #7 x7', '105: #4 x4, #8 x8'] },
    },
  },
  {
    rule: 'cancel-all of an account\'s asks leaves its bids',
    given: aliceAndOthers,
    when: { cancelAll: 'alice', side: 'sell' },
    expect: {
      done: ['#7 Cancelled, 7 left', '#4 Cancelled, 4 left'],
      levels: ['ask 104: 6 lots, 1 order', 'ask 105: 8 lots, 1 order'],
      book: { bids: ['101: #3 x3', '100: #1 x1, #2 x2, #5 x5'], asks: ['104: #6 x6', '105: #8 x8'] },
    },
  },
  {
    rule: 'cancel-all of an account with nothing on that side changes nothing',
    given: aliceAndOthers,
    when: { cancelAll: 'carol', side: 'buy' },
    expect: { book: 'unchanged' },
  },
  {
    rule: 'cancel-all that empties every level of a side',
    given: ['#1 alice buy 1 @ 100', '#2 alice buy 1 @ 99', '#3 bob sell 1 @ 105'],
    when: { cancelAll: 'alice' },
    expect: { done: ['#1 Cancelled, 1 left', '#2 Cancelled, 1 left'], levels: ['bid 100: gone', 'bid 99: gone'], book: { asks: ['105: #3 x1'] } },
  },
  {
    rule: 'cancel-all of the anonymous account cancels its orders too',
    given: ['#1 anon buy 1 @ 100', '#2 bob buy 1 @ 100'],
    when: { cancelAll: 'anon' },
    expect: { done: ['#1 Cancelled, 1 left'], levels: ['bid 100: 1 lot, 1 order'], book: { bids: ['100: #2 x1'] } },
  },
];

t.test('self-trade prevention', async (t) => runCases(t, selfTradePrevention));
t.test('amend', async (t) => runCases(t, amend));
t.test('cancel', async (t) => runCases(t, cancel));
t.test('cancel-all of an account', async (t) => runCases(t, cancelAll));
