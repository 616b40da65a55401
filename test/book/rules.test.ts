// The order book's rulebook, part 1: matching and order types. Each case below is one rule of the
// exchange, written as data: given these resting orders, when this order arrives (or this call is
// made), expect these fills, these done orders, these changed levels, and this book. Expected
// values were worked out by hand from the book's specification (price-time priority, the four
// times in force, market orders with a protection price, both post-only flavours, GTD expiry,
// validation codes, the report's contents); none was copied from the book's output. The notation
// and the checks every case gets for free (reads, accounts, flags, validateInternalState) are
// described at the top of _rulebook.ts. Part 2 (rules_stp_amend.test.ts) covers self-trade
// prevention, amend and cancel; part 3 (rules_state.test.ts) covers reads, stateHash and
// validateInternalState's own detection of corruption. Run one rule with
// `npx tap test/book/rules.test.ts --grep='<group>' --grep='<words of the rule>'`.

import t from 'tap';
import { runCases, type Case } from './_rulebook.js';

const priceTimePriority: Case[] = [
  {
    rule: 'a buy takes the lowest ask first',
    given: ['#1 sell 5 @ 102', '#2 sell 5 @ 101'],
    when: { place: '#3 buy 5 @ 102' },
    expect: {
      fills: ['#2 5 @ 101, leaves 0'],
      done: ['#2 Filled', '#3 Filled'],
      levels: ['ask 101: gone'],
      book: { asks: ['102: #1 x5'] },
    },
  },
  {
    rule: 'a sell takes the highest bid first',
    given: ['#1 buy 5 @ 99', '#2 buy 5 @ 100'],
    when: { place: '#3 sell 3 @ 99' },
    expect: {
      fills: ['#2 3 @ 100, leaves 2'],
      done: ['#3 Filled'],
      levels: ['bid 100: 2 lots, 1 order'],
      book: { bids: ['100: #2 x2', '99: #1 x5'] },
    },
  },
  {
    rule: 'within a price the oldest order fills first',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 101', '#3 sell 4 @ 101'],
    when: { place: '#4 buy 4 @ 101' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 2 @ 101, leaves 1'],
      done: ['#1 Filled', '#4 Filled'],
      levels: ['ask 101: 5 lots, 2 orders'],
      book: { asks: ['101: #2 x1, #3 x4'] },
    },
  },
  {
    rule: 'a later order at a better price fills before earlier orders at a worse price',
    given: ['#1 buy 5 @ 100', '#2 buy 5 @ 101'],
    when: { place: '#3 sell 6 @ 100' },
    expect: {
      fills: ['#2 5 @ 101, leaves 0', '#1 1 @ 100, leaves 4'],
      done: ['#2 Filled', '#3 Filled'],
      levels: ['bid 101: gone', 'bid 100: 4 lots, 1 order'],
      book: { bids: ['100: #1 x4'] },
    },
  },
  {
    rule: 'a buy fills at the maker\'s price, not at its own limit',
    given: ['#1 sell 5 @ 101'],
    when: { place: '#2 buy 5 @ 110' },
    expect: {
      fills: ['#1 5 @ 101, leaves 0'],
      done: ['#1 Filled', '#2 Filled'],
      levels: ['ask 101: gone'],
      book: {},
    },
  },
  {
    rule: 'a sell fills at the maker\'s price, not at its own limit',
    given: ['#1 buy 5 @ 100'],
    when: { place: '#2 sell 5 @ 90' },
    expect: {
      fills: ['#1 5 @ 100, leaves 0'],
      done: ['#1 Filled', '#2 Filled'],
      levels: ['bid 100: gone'],
      book: {},
    },
  },
  {
    rule: 'a partially filled maker keeps its place',
    given: ['#1 sell 5 @ 101', '#2 sell 5 @ 101', { place: '#3 buy 2 @ 101 IOC' }],
    when: { place: '#4 buy 4 @ 101 IOC' },
    expect: {
      fills: ['#1 3 @ 101, leaves 0', '#2 1 @ 101, leaves 4'],
      done: ['#1 Filled', '#4 Filled'],
      levels: ['ask 101: 4 lots, 1 order'],
      book: { asks: ['101: #2 x4'] },
    },
  },
  {
    rule: 'a limit that does not cross rests behind the orders already at its price',
    given: ['#1 buy 5 @ 100', '#2 sell 5 @ 102'],
    when: { place: '#3 buy 3 @ 100' },
    expect: {
      levels: ['bid 100: 8 lots, 2 orders'],
      rests: '3 @ 100',
      book: { bids: ['100: #1 x5, #3 x3'], asks: ['102: #2 x5'] },
    },
  },
  {
    rule: 'a limit on an empty book rests at its price',
    when: { place: '#1 sell 5 @ 101' },
    expect: { levels: ['ask 101: 5 lots, 1 order'], rests: '5 @ 101', book: { asks: ['101: #1 x5'] } },
  },
  {
    rule: 'a new level between existing ones takes its place in price order',
    given: ['#1 buy 1 @ 98', '#2 buy 1 @ 100', '#3 sell 1 @ 105', '#4 sell 1 @ 103'],
    when: { place: '#5 buy 2 @ 99' },
    expect: {
      levels: ['bid 99: 2 lots, 1 order'],
      rests: '2 @ 99',
      book: { bids: ['100: #2 x1', '99: #5 x2', '98: #1 x1'], asks: ['103: #4 x1', '105: #3 x1'] },
    },
  },
  {
    rule: 'a taker equal to the whole first level empties it exactly and goes no further',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 101', '#3 sell 4 @ 102'],
    when: { place: '#4 buy 5 @ 102' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 101, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#4 Filled'],
      levels: ['ask 101: gone'],
      book: { asks: ['102: #3 x4'] },
    },
  },
  {
    rule: 'a buy sweeps several levels best first and rests the remainder at its limit',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 102', '#3 sell 4 @ 103', '#4 sell 1 @ 105', '#5 buy 1 @ 99'],
    when: { place: '#6 buy 10 @ 103' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 102, leaves 0', '#3 4 @ 103, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#3 Filled'],
      levels: ['ask 101: gone', 'ask 102: gone', 'ask 103: gone', 'bid 103: 1 lot, 1 order'],
      rests: '1 @ 103',
      book: { bids: ['103: #6 x1', '99: #5 x1'], asks: ['105: #4 x1'] },
    },
  },
  {
    rule: 'a sell sweeps several levels best first and stops at its limit',
    given: ['#1 buy 2 @ 100', '#2 buy 3 @ 99', '#3 buy 4 @ 98'],
    when: { place: '#4 sell 7 @ 99 IOC' },
    expect: {
      fills: ['#1 2 @ 100, leaves 0', '#2 3 @ 99, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#4 ImmediateRemainderCancelled, 2 left'],
      levels: ['bid 100: gone', 'bid 99: gone'],
      book: { bids: ['98: #3 x4'] },
    },
  },
  {
    rule: 'a sweep of twenty makers on twenty levels reports every fill, done order and level',
    given: Array.from({ length: 20 }, (_, index) => `#${index + 1} sell 1 @ ${101 + index}`),
    when: { place: '#21 buy 20 @ 120 IOC' },
    expect: {
      fills: Array.from({ length: 20 }, (_, index) => `#${index + 1} 1 @ ${101 + index}, leaves 0`),
      done: [...Array.from({ length: 20 }, (_, index) => `#${index + 1} Filled`), '#21 Filled'],
      levels: Array.from({ length: 20 }, (_, index) => `ask ${101 + index}: gone`),
      book: {},
    },
  },
];

const timesInForce: Case[] = [
  {
    rule: 'an IOC fills what it can at its limit and cancels the rest',
    given: ['#1 sell 3 @ 101', '#2 sell 3 @ 102'],
    when: { place: '#3 buy 5 @ 101 IOC' },
    expect: {
      fills: ['#1 3 @ 101, leaves 0'],
      done: ['#1 Filled', '#3 ImmediateRemainderCancelled, 2 left'],
      levels: ['ask 101: gone'],
      book: { asks: ['102: #2 x3'] },
    },
  },
  {
    rule: 'an IOC that fills completely is done Filled',
    given: ['#1 sell 5 @ 101'],
    when: { place: '#2 buy 3 @ 101 IOC' },
    expect: {
      fills: ['#1 3 @ 101, leaves 2'],
      done: ['#2 Filled'],
      levels: ['ask 101: 2 lots, 1 order'],
      book: { asks: ['101: #1 x2'] },
    },
  },
  {
    rule: 'an IOC that does not cross is cancelled whole and never rests',
    given: ['#1 sell 5 @ 101'],
    when: { place: '#2 buy 5 @ 100 IOC' },
    expect: { done: ['#2 ImmediateRemainderCancelled, 5 left'], book: { asks: ['101: #1 x5'] } },
  },
  {
    rule: 'an IOC on an empty opposite side is cancelled whole',
    given: ['#1 buy 5 @ 100'],
    when: { place: '#2 buy 5 @ 101 IOC' },
    expect: { done: ['#2 ImmediateRemainderCancelled, 5 left'], book: { bids: ['100: #1 x5'] } },
  },
  {
    rule: 'a FOK one lot short is killed: no fill, book unchanged',
    given: ['#1 sell 2 @ 101', '#2 sell 2 @ 102', '#3 sell 9 @ 104'],
    when: { place: '#4 buy 5 @ 103 FOK' },
    expect: { done: ['#4 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    rule: 'a FOK exactly fillable within its limit fills completely',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 103', '#3 sell 9 @ 104'],
    when: { place: '#4 buy 5 @ 103 FOK' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 103, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#4 Filled'],
      levels: ['ask 101: gone', 'ask 103: gone'],
      book: { asks: ['104: #3 x9'] },
    },
  },
  {
    rule: 'a FOK with more than enough liquidity leaves the last maker partly filled',
    given: ['#1 buy 3 @ 100', '#2 buy 3 @ 99'],
    when: { place: '#3 sell 4 @ 99 FOK' },
    expect: {
      fills: ['#1 3 @ 100, leaves 0', '#2 1 @ 99, leaves 2'],
      done: ['#1 Filled', '#3 Filled'],
      levels: ['bid 100: gone', 'bid 99: 2 lots, 1 order'],
      book: { bids: ['99: #2 x2'] },
    },
  },
  {
    rule: 'a FOK sell one lot short is killed',
    given: ['#1 buy 3 @ 100', '#2 buy 3 @ 99', '#3 buy 5 @ 98'],
    when: { place: '#4 sell 7 @ 99 FOK' },
    expect: { done: ['#4 FillOrKillUnfillable, 7 left'], book: 'unchanged' },
  },
  {
    rule: 'a FOK on an empty opposite side is killed',
    when: { place: '#1 buy 1 @ 100 FOK' },
    expect: { done: ['#1 FillOrKillUnfillable, 1 left'], book: 'unchanged' },
  },
];

const goodTillDate: Case[] = [
  {
    rule: 'a GTD order expires when the book is told its expiry time',
    given: ['#1 sell 5 @ 101 GTD 500', '#2 sell 5 @ 101'],
    when: { expire: 500 },
    expect: { done: ['#1 Expired, 5 left'], levels: ['ask 101: 5 lots, 1 order'], book: { asks: ['101: #2 x5'] } },
  },
  {
    rule: 'a GTD order still rests one millisecond before its expiry',
    given: ['#1 sell 5 @ 101 GTD 500'],
    when: { expire: 499 },
    expect: { book: { asks: ['101: #1 x5'] } },
  },
  {
    rule: 'a time well past the expiry expires the order too',
    given: ['#1 buy 5 @ 100 GTD 500'],
    when: { expire: 10_000 },
    expect: { done: ['#1 Expired, 5 left'], levels: ['bid 100: gone'], book: {} },
  },
  {
    rule: 'orders expire earliest expiry first, then by order id, whatever their prices',
    given: [
      '#1 buy 1 @ 98 GTD 600',
      '#2 sell 1 @ 105 GTD 500',
      '#3 buy 1 @ 100 GTD 500',
      '#4 sell 1 @ 106 GTD 700',
      '#5 buy 1 @ 99 GTD 600',
      '#6 sell 2 @ 107',
    ],
    when: { expire: 600 },
    expect: {
      done: ['#2 Expired, 1 left', '#3 Expired, 1 left', '#1 Expired, 1 left', '#5 Expired, 1 left'],
      levels: ['bid 98: gone', 'bid 99: gone', 'bid 100: gone', 'ask 105: gone'],
      book: { asks: ['106: #4 x1', '107: #6 x2'] },
    },
  },
  {
    // Arrival order across levels is not part of a snapshot; order ids are, so replay after a
    // restore expires same-time orders in the same order as the live book did.
    rule: 'orders with the same expiry leave by order id, not by arrival',
    given: ['#9 buy 1 @ 97 GTD 500', '#8 buy 1 @ 96 GTD 500'],
    when: { expire: 500 },
    expect: {
      done: ['#8 Expired, 1 left', '#9 Expired, 1 left'],
      levels: ['bid 96: gone', 'bid 97: gone'],
      book: {},
    },
  },
  {
    rule: 'a time earlier than one already told is ignored',
    given: ['#1 sell 1 @ 101 GTD 500', { expire: 400 }],
    when: { expire: 300 },
    expect: { book: { asks: ['101: #1 x1'] } },
  },
  {
    rule: 'after receding time the latest time told still bounds new GTD orders',
    given: [{ expire: 400 }, { expire: 300 }],
    when: { place: '#1 sell 1 @ 101 GTD 350' },
    expect: { code: 'ExpiryNotInFuture' },
  },
  {
    rule: 'a GTD expiring exactly at the latest time told is rejected',
    given: ['#1 buy 1 @ 90', { expire: 400 }],
    when: { place: '#2 sell 1 @ 101 GTD 400' },
    expect: { code: 'ExpiryNotInFuture' },
  },
  {
    rule: 'a GTD expiring one millisecond after the latest time told is accepted',
    given: [{ expire: 400 }],
    when: { place: '#1 sell 1 @ 101 GTD 401' },
    expect: { levels: ['ask 101: 1 lot, 1 order'], rests: '1 @ 101', book: { asks: ['101: #1 x1'] } },
  },
  {
    rule: 'an expired order that was partially filled leaves with what remained',
    given: ['#1 sell 5 @ 101 GTD 500', { place: '#2 buy 2 @ 101 IOC' }],
    when: { expire: 500 },
    expect: { done: ['#1 Expired, 3 left'], levels: ['ask 101: gone'], book: {} },
  },
  {
    rule: 'a GTD taker rests its remainder with its expiry and later expires',
    given: ['#1 sell 2 @ 101', '#2 buy 5 @ 101 GTD 500'],
    when: { expire: 500 },
    expect: { done: ['#2 Expired, 3 left'], levels: ['bid 101: gone'], book: {} },
  },
  {
    rule: 'a cancelled GTD order does not expire again (its slot now holds another order)',
    given: ['#1 sell 1 @ 101 GTD 500', { cancel: 1 }, '#2 sell 1 @ 101 GTD 900'],
    when: { expire: 500 },
    expect: { book: { asks: ['101: #2 x1'] } },
  },
  {
    rule: 'a filled GTD order does not expire again',
    given: ['#1 sell 2 @ 101 GTD 500', { place: '#2 buy 2 @ 101 IOC' }, '#3 sell 1 @ 102 GTD 900'],
    when: { expire: 500 },
    expect: { book: { asks: ['102: #3 x1'] } },
  },
];

const marketOrders: Case[] = [
  {
    rule: 'a market buy stops at its protection price and cancels the rest',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 102', '#3 sell 4 @ 104'],
    when: { place: '#4 market buy 10 @ 103 IOC' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 102, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#4 ImmediateRemainderCancelled, 5 left'],
      levels: ['ask 101: gone', 'ask 102: gone'],
      book: { asks: ['104: #3 x4'] },
    },
  },
  {
    rule: 'a market sell stops at its protection price and cancels the rest',
    given: ['#1 buy 2 @ 100', '#2 buy 3 @ 98'],
    when: { place: '#3 market sell 5 @ 99 IOC' },
    expect: {
      fills: ['#1 2 @ 100, leaves 0'],
      done: ['#1 Filled', '#3 ImmediateRemainderCancelled, 3 left'],
      levels: ['bid 100: gone'],
      book: { bids: ['98: #2 x3'] },
    },
  },
  {
    rule: 'a market order trades at its protection price itself',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 103'],
    when: { place: '#3 market buy 5 @ 103 IOC' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 103, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#3 Filled'],
      levels: ['ask 101: gone', 'ask 103: gone'],
      book: {},
    },
  },
  {
    rule: 'a market order filled within its protection is done Filled',
    given: ['#1 sell 5 @ 101'],
    when: { place: '#2 market buy 3 @ 150 IOC' },
    expect: { fills: ['#1 3 @ 101, leaves 2'], done: ['#2 Filled'], levels: ['ask 101: 2 lots, 1 order'], book: { asks: ['101: #1 x2'] } },
  },
  {
    rule: 'a market order on an empty opposite side is cancelled whole and never rests',
    given: ['#1 buy 1 @ 100'],
    when: { place: '#2 market buy 5 @ 200 IOC' },
    expect: { done: ['#2 ImmediateRemainderCancelled, 5 left'], book: { bids: ['100: #1 x1'] } },
  },
  {
    rule: 'a market FOK that cannot fill within its protection is killed',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 104'],
    when: { place: '#3 market buy 5 @ 103 FOK' },
    expect: { done: ['#3 FillOrKillUnfillable, 5 left'], book: 'unchanged' },
  },
  {
    rule: 'a market FOK that can fill within its protection fills completely',
    given: ['#1 sell 2 @ 101', '#2 sell 3 @ 104'],
    when: { place: '#3 market buy 5 @ 104 FOK' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 3 @ 104, leaves 0'],
      done: ['#1 Filled', '#2 Filled', '#3 Filled'],
      levels: ['ask 101: gone', 'ask 104: gone'],
      book: {},
    },
  },
];

const postOnly: Case[] = [
  {
    rule: 'a post-only reject order that does not cross rests at its price',
    given: ['#1 sell 5 @ 105'],
    when: { place: '#2 buy 3 @ 104 post-only:reject' },
    expect: { levels: ['bid 104: 3 lots, 1 order'], rests: '3 @ 104', book: { bids: ['104: #2 x3'], asks: ['105: #1 x5'] } },
  },
  {
    rule: 'a post-only reprice order that does not cross rests at its own price',
    given: ['#1 buy 5 @ 100'],
    when: { place: '#2 sell 3 @ 103 post-only:reprice' },
    expect: { levels: ['ask 103: 3 lots, 1 order'], rests: '3 @ 103', book: { bids: ['100: #1 x5'], asks: ['103: #2 x3'] } },
  },
  {
    rule: 'a post-only order on an empty opposite side rests at its price',
    when: { place: '#1 buy 3 @ 500 post-only:reprice' },
    expect: { levels: ['bid 500: 3 lots, 1 order'], rests: '3 @ 500', book: { bids: ['500: #1 x3'] } },
  },
  {
    rule: 'a post-only reject buy at the best ask is rejected and nothing rests',
    given: ['#1 sell 5 @ 105', '#2 buy 1 @ 100'],
    when: { place: '#3 buy 3 @ 105 post-only:reject' },
    expect: { done: ['#3 PostOnlyRejected, 3 left'], book: 'unchanged' },
  },
  {
    rule: 'a post-only reject sell through the best bid is rejected',
    given: ['#1 buy 5 @ 100'],
    when: { place: '#2 sell 3 @ 99 post-only:reject' },
    expect: { done: ['#2 PostOnlyRejected, 3 left'], book: 'unchanged' },
  },
  {
    rule: 'a post-only reject that would cross several levels is rejected',
    given: ['#1 sell 1 @ 105', '#2 sell 1 @ 106', '#3 sell 1 @ 108'],
    when: { place: '#4 buy 3 @ 110 post-only:reject' },
    expect: { done: ['#4 PostOnlyRejected, 3 left'], book: 'unchanged' },
  },
  {
    rule: 'a post-only reprice buy that would cross rests at the best ask minus one',
    given: ['#1 sell 5 @ 105', '#2 buy 1 @ 100'],
    when: { place: '#3 buy 3 @ 105 post-only:reprice' },
    expect: {
      levels: ['bid 104: 3 lots, 1 order'],
      rests: '3 @ 104',
      book: { bids: ['104: #3 x3', '100: #2 x1'], asks: ['105: #1 x5'] },
    },
  },
  {
    rule: 'a post-only reprice that would cross several levels rests one tick behind the best, not its own price',
    given: ['#1 sell 1 @ 105', '#2 sell 1 @ 106', '#3 sell 1 @ 108'],
    when: { place: '#4 buy 3 @ 110 post-only:reprice' },
    expect: {
      levels: ['bid 104: 3 lots, 1 order'],
      rests: '3 @ 104',
      book: { bids: ['104: #4 x3'], asks: ['105: #1 x1', '106: #2 x1', '108: #3 x1'] },
    },
  },
  {
    rule: 'a post-only reprice sell that would cross rests at the best bid plus one',
    given: ['#1 buy 5 @ 100', '#2 buy 5 @ 98'],
    when: { place: '#3 sell 3 @ 97 post-only:reprice' },
    expect: {
      levels: ['ask 101: 3 lots, 1 order'],
      rests: '3 @ 101',
      book: { bids: ['100: #1 x5', '98: #2 x5'], asks: ['101: #3 x3'] },
    },
  },
  {
    rule: 'a re-priced order joins the back of the level it lands on',
    given: ['#1 sell 5 @ 105', '#2 buy 2 @ 104'],
    when: { place: '#3 buy 3 @ 107 post-only:reprice' },
    expect: {
      levels: ['bid 104: 5 lots, 2 orders'],
      rests: '3 @ 104',
      book: { bids: ['104: #2 x2, #3 x3'], asks: ['105: #1 x5'] },
    },
  },
  {
    rule: 'a re-priced GTD post-only keeps its expiry',
    given: ['#1 sell 5 @ 105'],
    when: { place: '#2 buy 3 @ 106 GTD 500 post-only:reprice' },
    expect: { levels: ['bid 104: 3 lots, 1 order'], rests: '3 @ 104', book: { bids: ['104: #2 x3'], asks: ['105: #1 x5'] } },
  },
  {
    rule: 'a buy re-priced below price 1 is rejected',
    given: ['#1 sell 5 @ 1'],
    when: { place: '#2 buy 3 @ 1 post-only:reprice' },
    expect: { done: ['#2 PostOnlyRejected, 3 left'], book: 'unchanged' },
  },
  {
    rule: 'a sell re-priced above priceTicksMax is rejected',
    given: ['#1 buy 5 @ 1000'],
    when: { place: '#2 sell 3 @ 1000 post-only:reprice' },
    expect: { done: ['#2 PostOnlyRejected, 3 left'], book: 'unchanged' },
  },
];

const validation: Case[] = [
  ...invalid('an order id of 0 is invalid', { orderId: 0 }),
  ...invalid('a negative order id is invalid', { orderId: -4 }),
  ...invalid('a fractional order id is invalid', { orderId: 1.5 }),
  ...invalid('an unknown side is invalid', { side: 2 }),
  ...invalid('an unknown order type is invalid', { type: 2 }),
  ...invalid('an unknown time in force is invalid', { timeInForce: 4 }),
  ...invalid('an unknown post-only flavour is invalid', { postOnly: 3 }),
  ...invalid('an unknown self-trade mode is invalid', { selfTradePrevention: 4 }),
  { rule: 'a market GTC is invalid', given: ['#1 sell 5 @ 101'], when: { place: '#2 market buy 1 @ 101 GTC' }, expect: { code: 'InvalidOrder' } },
  { rule: 'a market GTD is invalid', given: ['#1 sell 5 @ 101'], when: { place: '#2 market buy 1 @ 101 GTD 900' }, expect: { code: 'InvalidOrder' } },
  { rule: 'a post-only IOC is invalid', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 1 @ 100 IOC post-only:reject' }, expect: { code: 'InvalidOrder' } },
  { rule: 'a post-only FOK is invalid', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 1 @ 100 FOK post-only:reprice' }, expect: { code: 'InvalidOrder' } },
  { rule: 'a price of 0 is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 1 @ 0' }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'a price above priceTicksMax is out of range', given: ['#1 buy 5 @ 100'], when: { place: '#2 sell 1 @ 1001' }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'a fractional price is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 1 @ 101.5' }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'a market order\'s protection price must be in range', given: ['#1 sell 5 @ 101'], when: { place: '#2 market buy 1 @ 1001 IOC' }, expect: { code: 'PriceOutOfRange' } },
  { rule: 'a quantity of 0 is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 0 @ 101' }, expect: { code: 'QuantityOutOfRange' } },
  { rule: 'a quantity above qtyLotsMax is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 1001 @ 101 IOC' }, expect: { code: 'QuantityOutOfRange' } },
  { rule: 'a fractional quantity is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 buy 2.5 @ 101' }, expect: { code: 'QuantityOutOfRange' } },
  { rule: 'a negative account is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 acct:-1 buy 1 @ 101' }, expect: { code: 'AccountOutOfRange' } },
  { rule: 'an account above accountIdMax is out of range', given: ['#1 sell 5 @ 101'], when: { place: '#2 acct:1001 buy 1 @ 101' }, expect: { code: 'AccountOutOfRange' } },
  {
    rule: 'an order id that is resting is a duplicate, even for a taker that would fill',
    given: ['#1 sell 5 @ 101'],
    when: { place: '#1 buy 1 @ 101 IOC' },
    expect: { code: 'DuplicateOrderId' },
  },
  {
    rule: 'a GTC is refused BookFull when ordersMax orders rest',
    limits: { ordersMax: 2 },
    given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99'],
    when: { place: '#3 buy 1 @ 98' },
    expect: { code: 'BookFull' },
  },
  {
    rule: 'a GTD is refused BookFull when ordersMax orders rest',
    limits: { ordersMax: 2 },
    given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99'],
    when: { place: '#3 sell 1 @ 110 GTD 900' },
    expect: { code: 'BookFull' },
  },
  {
    rule: 'an IOC still trades when ordersMax orders rest',
    limits: { ordersMax: 2 },
    given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99'],
    when: { place: '#3 buy 2 @ 101 IOC' },
    expect: { fills: ['#1 2 @ 101, leaves 3'], done: ['#3 Filled'], levels: ['ask 101: 3 lots, 1 order'], book: { bids: ['99: #2 x5'], asks: ['101: #1 x3'] } },
  },
  {
    rule: 'a cancel makes room again in a full book',
    limits: { ordersMax: 2 },
    given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99', { cancel: 2 }],
    when: { place: '#3 buy 1 @ 98' },
    expect: { levels: ['bid 98: 1 lot, 1 order'], rests: '1 @ 98', book: { bids: ['98: #3 x1'], asks: ['101: #1 x5'] } },
  },
  {
    rule: 'every limit is inclusive: price 1 and priceTicksMax, qtyLotsMax, accountIdMax and account 0 are accepted',
    given: ['#1 anon sell 1000 @ 1000', '#2 acct:1000 buy 1000 @ 1'],
    when: { place: '#3 anon sell 1 @ 1 IOC' },
    expect: {
      fills: ['#2 1 @ 1, leaves 999'],
      done: ['#3 Filled'],
      levels: ['bid 1: 999 lots, 1 order'],
      book: { bids: ['1: #2 x999'], asks: ['1000: #1 x1000'] },
    },
  },
];

/** A GTC buy that would otherwise rest, spoiled by one field: InvalidOrder, book unchanged. */
function invalid(rule: string, spoiled: Partial<Record<'orderId' | 'side' | 'type' | 'timeInForce' | 'postOnly' | 'selfTradePrevention', number>>): Case[] {
  return [{ rule, given: ['#1 sell 5 @ 101', '#2 buy 5 @ 99'], when: { place: '#3 buy 1 @ 100', with: spoiled }, expect: { code: 'InvalidOrder' } }];
}

const reportContents: Case[] = [
  {
    rule: 'a level touched by several fills is listed once with its final totals',
    given: ['#1 sell 2 @ 101', '#2 sell 2 @ 101', '#3 sell 2 @ 101', '#4 sell 5 @ 102'],
    when: { place: '#5 buy 3 @ 101' },
    expect: {
      fills: ['#1 2 @ 101, leaves 0', '#2 1 @ 101, leaves 1'],
      done: ['#1 Filled', '#5 Filled'],
      levels: ['ask 101: 3 lots, 2 orders'],
      book: { asks: ['101: #2 x1, #3 x2', '102: #4 x5'] },
    },
  },
  {
    rule: 'a sell that empties a bid level and rests at the same price lists both sides\' levels',
    given: ['#1 buy 2 @ 100', '#2 buy 1 @ 99'],
    when: { place: '#3 sell 5 @ 100' },
    expect: {
      fills: ['#1 2 @ 100, leaves 0'],
      done: ['#1 Filled'],
      levels: ['bid 100: gone', 'ask 100: 3 lots, 1 order'],
      rests: '3 @ 100',
      book: { bids: ['99: #2 x1'], asks: ['100: #3 x3'] },
    },
  },
  {
    rule: 'levels a taker never reached are not listed',
    given: ['#1 sell 2 @ 101', '#2 sell 2 @ 102', '#3 buy 2 @ 99', '#4 buy 2 @ 98'],
    when: { place: '#5 buy 1 @ 101' },
    expect: {
      fills: ['#1 1 @ 101, leaves 1'],
      done: ['#5 Filled'],
      levels: ['ask 101: 1 lot, 1 order'],
      book: { bids: ['99: #3 x2', '98: #4 x2'], asks: ['101: #1 x1', '102: #2 x2'] },
    },
  },
];

t.test('price-time priority', async (t) => runCases(t, priceTimePriority));
t.test('times in force: GTC, IOC, FOK', async (t) => runCases(t, timesInForce));
t.test('good till date', async (t) => runCases(t, goodTillDate));
t.test('market orders', async (t) => runCases(t, marketOrders));
t.test('post-only', async (t) => runCases(t, postOnly));
t.test('validation: rejected calls change nothing', async (t) => runCases(t, validation));
t.test('the report', async (t) => runCases(t, reportContents));
