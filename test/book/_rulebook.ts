// The rulebook's notation: each case says, as data, which orders rest on the book (`given`), what
// one call does (`when`), and what the book must report and hold afterwards (`expect`). Every
// expected value in the tables is written by hand from the book's specification; this module only
// parses the notation, drives the book, and compares. It never derives an expectation from the
// book's own output.
//
// Orders are one line each: `#<id> [who] [market] buy|sell <qty> @ <price> [tif] [flags]`.
//   who      alice (account 1), bob (2), carol (3), anon (0, never self-trade checked) or acct:N.
//            Left out, order #N belongs to its own account 100 + N, so it never self-trades.
//   market   a market order; the price is then its protection price.
//   tif      GTC (default), GTD <expiresAtMs>, IOC or FOK.
//   flags    post-only:reject, post-only:reprice, stp:cancel-taker (default), stp:cancel-maker,
//            stp:cancel-both, stp:decrement.
// Expectations are strings in one fixed wording, compared after parsing and re-formatting:
//   fills    '#1 5 @ 101, leaves 0'          maker, quantity @ maker's price, maker's remaining
//   done     '#3 Filled' or '#3 SelfTradePrevented, 4 left'           reason and unfilled quantity
//   reduced  '#2 by 3'                       self-trade decrement without a fill
//   levels   'ask 101: 4 lots, 2 orders' or 'ask 101: gone'     each changed level, final totals
//   book     { bids: ['100: #4 x5, #5 x2'], asks: [...] }      best level first, each queue FIFO
//   rests    '3 @ 100'                       what the call left resting (default: nothing)
// Fills, done and reduced are compared in order; levels as a set that must not repeat a level.
// Besides the stated expectations, every case checks: the accounts on fills and done entries
// (from the orders' own specs), that no fill is between two orders of one real account, every read
// (bestBid, bestAsk, topLevels, levelOrders, order, restingOrderCount) against the expected book,
// that each resting order kept its flags, and validateInternalState() after setup and after the
// call. A rejected call (any code but Ok) must leave the book unchanged (same orders, same hash).

import {
  ANONYMOUS_ACCOUNT,
  BookResultCode,
  DoneReason,
  NO_PRICE,
  OrderBook,
  OrderType,
  PostOnly,
  SelfTradePrevention,
  Side,
  TimeInForce,
  blankOrderSpec,
  type BookLimits,
  type BookReport,
  type OrderSpec,
} from '../../book/index.js';
import type { TAP } from 'tap';

/** A tap (sub)test: the type of the argument tap passes to a test callback. */
export type RuleTest = Parameters<Parameters<TAP['test']>[0]>[0];

export type Call =
  | { place: string; with?: Partial<Record<keyof OrderSpec, number>> }
  | { cancel: number }
  | { amend: [orderId: number, priceTicks: number, qtyLots: number] }
  | { cancelAll: string | number; side?: 'buy' | 'sell' }
  | { expire: number };

export interface Expectation {
  /** A BookResultCode name; default 'Ok'. Anything else also means: the book is unchanged. */
  code?: keyof typeof BookResultCode;
  fills?: string[];
  done?: string[];
  reduced?: string[];
  levels?: string[];
  /** Resting orders after the call, or 'unchanged' (same orders and same hash as before). */
  book?: { bids?: string[]; asks?: string[] } | 'unchanged';
  /** report.filledQtyLots; default: the sum of the expected fills. */
  filled?: number;
  /** 'qty @ price' left resting by the call; default: nothing rests (restingQtyLots 0). */
  rests?: string;
}

export interface Case {
  /** The rule, in words; it names the subtest. */
  rule: string;
  limits?: Partial<BookLimits>;
  /** Setup, in order: an order string is placed; a call object is made. Each must return Ok. */
  given?: (string | Call)[];
  when: Call;
  expect: Expectation;
}

export const defaultLimits: BookLimits = { priceTicksMax: 1000, qtyLotsMax: 1000, ordersMax: 50, accountIdMax: 1000 };

/** Runs each case as a subtest named by its rule. */
export function runCases(t: RuleTest, cases: Case[]): void {
  for (const rulebookCase of cases) {
    t.test(rulebookCase.rule, async (t) => runCase(t, rulebookCase));
  }
}

/** Drives one case: build the book from `given`, make the `when` call, compare with `expect`. */
export function runCase(t: RuleTest, rulebookCase: Case): void {
  const book = new OrderBook({ ...defaultLimits, ...rulebookCase.limits });
  const orders = new Map<number, OrderSpec>();
  for (const step of rulebookCase.given ?? []) {
    const call = typeof step === 'string' ? { place: step } : step;
    const code = makeCall(book, call, orders, true).code;
    t.equal(codeName(code), 'Ok', `given step ${JSON.stringify(step)} is accepted`);
  }
  validate(t, book, 'after setup');
  const before = { hash: book.stateHash(), orders: restingLines(book) };
  const expectation = rulebookCase.expect;
  const codeWanted = expectation.code ?? 'Ok';
  const report = makeCall(book, rulebookCase.when, orders, codeWanted === 'Ok');
  checkReport(t, report, expectation, orders, rulebookCase.when);
  const bookWanted = expectation.book ?? (codeWanted === 'Ok' ? undefined : 'unchanged');
  if (bookWanted === 'unchanged') {
    t.strictSame(restingLines(book), before.orders, 'the book is unchanged');
    t.equal(book.stateHash(), before.hash, 'the state hash is unchanged');
  } else if (bookWanted !== undefined) {
    checkBook(t, book, bookWanted, orders);
  } else {
    t.fail('a case must state the book after the call');
  }
  validate(t, book, 'after the call');
}

/** Makes one call; records a placed order's spec when the case expects it to be accepted. */
function makeCall(book: OrderBook, call: Call, orders: Map<number, OrderSpec>, record: boolean): BookReport {
  if ('place' in call) {
    const spec = { ...parseOrder(call.place), ...call.with } as OrderSpec;
    if (record) orders.set(spec.orderId, spec);
    return book.place(spec);
  }
  if ('cancel' in call) return book.cancel(call.cancel);
  if ('amend' in call) return book.amend(...call.amend);
  if ('cancelAll' in call) {
    const accountId = typeof call.cancelAll === 'number' ? call.cancelAll : accountOfName(call.cancelAll);
    if (call.side === undefined) return book.cancelAllOfAccount(accountId);
    return book.cancelAllOfAccount(accountId, call.side === 'buy' ? Side.Buy : Side.Sell);
  }
  return book.expireOrders(call.expire);
}

function validate(t: RuleTest, book: OrderBook, when: string): void {
  try {
    book.validateInternalState();
  } catch (error) {
    t.fail(`validateInternalState ${when}: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing the report

function checkReport(t: RuleTest, report: BookReport, expectation: Expectation, orders: Map<number, OrderSpec>, call: Call): void {
  t.equal(codeName(report.code), expectation.code ?? 'Ok', 'result code');
  const fillsWanted = (expectation.fills ?? []).map(parseFill);
  t.strictSame(reportFills(report).map(formatFill), fillsWanted.map(formatFill), 'fills, in execution order');
  t.strictSame(reportDone(report).map(formatDone), (expectation.done ?? []).map(parseDone).map(formatDone), 'done, in order');
  t.strictSame(reportReduced(report).map(formatReduced), (expectation.reduced ?? []).map(parseReduced).map(formatReduced), 'reduced, in order');
  const levelsFound = reportLevels(report).map(formatLevel);
  const levelsWanted = (expectation.levels ?? []).map(parseLevel).map(formatLevel);
  t.strictSame([...levelsFound].sort(), [...levelsWanted].sort(), 'changed levels');
  const levelKeys = levelsFound.map((line) => line.slice(0, line.indexOf(':')));
  t.strictSame(levelKeys.filter((key, index) => levelKeys.indexOf(key) !== index), [], 'each changed level is listed once');
  const filledWanted = expectation.filled ?? fillsWanted.reduce((sum, fill) => sum + fill.qtyLots, 0);
  t.equal(report.filledQtyLots, filledWanted, 'filledQtyLots');
  if (expectation.rests === undefined) {
    t.equal(report.restingQtyLots, 0, 'nothing rests (restingQtyLots 0)');
  } else {
    const [qtyLots, priceTicks] = expectation.rests.split('@').map((part) => Number(part.trim()));
    t.strictSame([report.restingQtyLots, report.restingPriceTicks], [qtyLots, priceTicks], 'rests qty @ price');
  }
  checkAccounts(t, report, orders, call);
}

/** Accounts come from the orders' specs; no fill may join two orders of one real account. */
function checkAccounts(t: RuleTest, report: BookReport, orders: Map<number, OrderSpec>, call: Call): void {
  const problems: string[] = [];
  const takerAccount = 'place' in call || 'amend' in call ? orders.get(report.orderId)?.accountId : undefined;
  for (let index = 0; index < report.fillCount; index++) {
    const makerId = report.fillMakerOrderId[index];
    const makerAccount = orders.get(makerId)?.accountId;
    if (report.fillMakerAccountId[index] !== makerAccount) problems.push(`fill ${index}: maker #${makerId} account ${report.fillMakerAccountId[index]} != ${makerAccount}`);
    if (takerAccount !== undefined && takerAccount !== ANONYMOUS_ACCOUNT && makerAccount === takerAccount) problems.push(`fill ${index}: self-trade of account ${takerAccount}`);
  }
  for (let index = 0; index < report.doneCount; index++) {
    const orderId = report.doneOrderId[index];
    const account = orders.get(orderId)?.accountId;
    if (report.doneAccountId[index] !== account) problems.push(`done ${index}: #${orderId} account ${report.doneAccountId[index]} != ${account}`);
  }
  t.strictSame(problems, [], 'accounts on fills and done entries');
}

interface Fill { makerOrderId: number; priceTicks: number; qtyLots: number; makerRemainingLots: number }
interface Done { orderId: number; reason: string; remainingLots: number }
interface Reduced { orderId: number; byLots: number }
interface LevelChange { side: string; priceTicks: number; qtyLots: number; orderCount: number }

function reportFills(report: BookReport): Fill[] {
  return Array.from({ length: report.fillCount }, (_, index) => ({
    makerOrderId: report.fillMakerOrderId[index],
    priceTicks: report.fillPriceTicks[index],
    qtyLots: report.fillQtyLots[index],
    makerRemainingLots: report.fillMakerRemainingLots[index],
  }));
}

function reportDone(report: BookReport): Done[] {
  return Array.from({ length: report.doneCount }, (_, index) => ({
    orderId: report.doneOrderId[index],
    reason: reasonName(report.doneReason[index]),
    remainingLots: report.doneRemainingLots[index],
  }));
}

function reportReduced(report: BookReport): Reduced[] {
  return Array.from({ length: report.reducedCount }, (_, index) => ({ orderId: report.reducedOrderId[index], byLots: report.reducedByLots[index] }));
}

function reportLevels(report: BookReport): LevelChange[] {
  return Array.from({ length: report.levelCount }, (_, index) => ({
    side: report.levelSide[index] === Side.Buy ? 'bid' : 'ask',
    priceTicks: report.levelPriceTicks[index],
    qtyLots: report.levelQtyLots[index],
    orderCount: report.levelOrderCount[index],
  }));
}

function parseFill(line: string): Fill {
  const match = /^#(\d+) (\d+) @ (\d+), leaves (\d+)$/.exec(line);
  if (match === null) throw new Error(`bad fill line: ${line}`);
  return { makerOrderId: Number(match[1]), qtyLots: Number(match[2]), priceTicks: Number(match[3]), makerRemainingLots: Number(match[4]) };
}

function formatFill(fill: Fill): string {
  return `#${fill.makerOrderId} ${fill.qtyLots} @ ${fill.priceTicks}, leaves ${fill.makerRemainingLots}`;
}

function parseDone(line: string): Done {
  const match = /^#(\d+) (\w+)(?:, (\d+) left)?$/.exec(line);
  if (match === null || !(match[2] in DoneReason)) throw new Error(`bad done line: ${line}`);
  return { orderId: Number(match[1]), reason: match[2], remainingLots: Number(match[3] ?? 0) };
}

function formatDone(done: Done): string {
  return done.remainingLots === 0 ? `#${done.orderId} ${done.reason}` : `#${done.orderId} ${done.reason}, ${done.remainingLots} left`;
}

function parseReduced(line: string): Reduced {
  const match = /^#(\d+) by (\d+)$/.exec(line);
  if (match === null) throw new Error(`bad reduced line: ${line}`);
  return { orderId: Number(match[1]), byLots: Number(match[2]) };
}

function formatReduced(reduced: Reduced): string {
  return `#${reduced.orderId} by ${reduced.byLots}`;
}

function parseLevel(line: string): LevelChange {
  const match = /^(bid|ask) (\d+): (?:(gone)|(\d+) lots?, (\d+) orders?)$/.exec(line);
  if (match === null) throw new Error(`bad level line: ${line}`);
  if (match[3] === 'gone') return { side: match[1], priceTicks: Number(match[2]), qtyLots: 0, orderCount: 0 };
  return { side: match[1], priceTicks: Number(match[2]), qtyLots: Number(match[4]), orderCount: Number(match[5]) };
}

function formatLevel(level: LevelChange): string {
  const head = `${level.side} ${level.priceTicks}`;
  if (level.qtyLots === 0 && level.orderCount === 0) return `${head}: gone`;
  return `${head}: ${plural(level.qtyLots, 'lot')}, ${plural(level.orderCount, 'order')}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------------------------
// Comparing the book

interface BookLevel { priceTicks: number; orders: { orderId: number; qtyLots: number }[] }

/** The book as level lines, read through forEachResting (canonical order). */
export function restingLines(book: OrderBook): { bids: string[]; asks: string[] } {
  const levels: Record<'bids' | 'asks', BookLevel[]> = { bids: [], asks: [] };
  book.forEachResting((side, orderId, priceTicks, qtyLots) => {
    const sideLevels = side === Side.Buy ? levels.bids : levels.asks;
    const last = sideLevels[sideLevels.length - 1];
    if (last !== undefined && last.priceTicks === priceTicks) last.orders.push({ orderId, qtyLots });
    else sideLevels.push({ priceTicks, orders: [{ orderId, qtyLots }] });
  });
  return { bids: levels.bids.map(formatBookLevel), asks: levels.asks.map(formatBookLevel) };
}

function parseBookLevel(line: string): BookLevel {
  const match = /^(\d+): (.+)$/.exec(line);
  if (match === null) throw new Error(`bad book line: ${line}`);
  const orders = match[2].split(',').map((entry) => {
    const order = /^#(\d+) x(\d+)$/.exec(entry.trim());
    if (order === null) throw new Error(`bad book entry '${entry}' in: ${line}`);
    return { orderId: Number(order[1]), qtyLots: Number(order[2]) };
  });
  return { priceTicks: Number(match[1]), orders };
}

function formatBookLevel(level: BookLevel): string {
  return `${level.priceTicks}: ${level.orders.map((order) => `#${order.orderId} x${order.qtyLots}`).join(', ')}`;
}

/** Compares the book with the expected levels through every read the book offers. */
function checkBook(t: RuleTest, book: OrderBook, wanted: { bids?: string[]; asks?: string[] }, orders: Map<number, OrderSpec>): void {
  const bids = (wanted.bids ?? []).map(parseBookLevel);
  const asks = (wanted.asks ?? []).map(parseBookLevel);
  t.strictSame(restingLines(book), { bids: bids.map(formatBookLevel), asks: asks.map(formatBookLevel) }, 'book after (forEachResting)');
  t.equal(book.bestBid(), bids.length === 0 ? NO_PRICE : bids[0].priceTicks, 'bestBid');
  t.equal(book.bestAsk(), asks.length === 0 ? NO_PRICE : asks[0].priceTicks, 'bestAsk');
  const resting = new Set<number>();
  const problems: string[] = [];
  for (const [side, levels] of [[Side.Buy, bids], [Side.Sell, asks]] as const) {
    t.strictSame(book.topLevels(side, levels.length + 1), levels.map(levelView), `topLevels of side ${side}`);
    for (const level of levels) {
      const queue = book.levelOrders(side, level.priceTicks).map((view) => `#${view.orderId} x${view.qtyLots}`);
      t.strictSame(queue, level.orders.map((order) => `#${order.orderId} x${order.qtyLots}`), `levelOrders(${side}, ${level.priceTicks})`);
      for (const order of level.orders) {
        resting.add(order.orderId);
        problems.push(...restingOrderProblems(book, side, level.priceTicks, order, orders.get(order.orderId)));
      }
    }
  }
  t.equal(book.restingOrderCount, resting.size, 'restingOrderCount');
  for (const orderId of orders.keys()) {
    if (!resting.has(orderId) && book.order(orderId) !== undefined) problems.push(`#${orderId} should not rest`);
  }
  t.strictSame(problems, [], 'order(id) views agree with the expected book and the orders\' specs');
}

function levelView(level: BookLevel): { priceTicks: number; qtyLots: number; orderCount: number } {
  const qtyLots = level.orders.reduce((sum, order) => sum + order.qtyLots, 0);
  return { priceTicks: level.priceTicks, qtyLots, orderCount: level.orders.length };
}

/** A resting order keeps its account and flags whatever happened to its price and quantity. */
function restingOrderProblems(book: OrderBook, side: Side, priceTicks: number, order: { orderId: number; qtyLots: number }, spec: OrderSpec | undefined): string[] {
  const view = book.order(order.orderId);
  if (view === undefined) return [`#${order.orderId} is not found by order(id)`];
  if (spec === undefined) return [`#${order.orderId} was never placed by this case`];
  const found = [view.side, view.priceTicks, view.qtyLots, view.accountId, view.timeInForce, view.postOnly, view.selfTradePrevention];
  const wanted = [side, priceTicks, order.qtyLots, spec.accountId, spec.timeInForce, spec.postOnly, spec.selfTradePrevention];
  const problems = found.some((value, index) => value !== wanted[index]) ? [`#${order.orderId} view ${found} != ${wanted}`] : [];
  if (spec.timeInForce === TimeInForce.GoodTillDate && view.expiresAtMs !== spec.expiresAtMs) {
    problems.push(`#${order.orderId} expires at ${view.expiresAtMs}, not ${spec.expiresAtMs}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The order notation

const accountByName: Record<string, number> = { anon: ANONYMOUS_ACCOUNT, alice: 1, bob: 2, carol: 3 };

const flagTokens: Record<string, Partial<OrderSpec>> = {
  GTC: { timeInForce: TimeInForce.GoodTillCancelled },
  IOC: { timeInForce: TimeInForce.ImmediateOrCancel },
  FOK: { timeInForce: TimeInForce.FillOrKill },
  market: { type: OrderType.Market },
  'post-only:reject': { postOnly: PostOnly.Reject },
  'post-only:reprice': { postOnly: PostOnly.Reprice },
  'stp:cancel-taker': { selfTradePrevention: SelfTradePrevention.CancelTaker },
  'stp:cancel-maker': { selfTradePrevention: SelfTradePrevention.CancelMaker },
  'stp:cancel-both': { selfTradePrevention: SelfTradePrevention.CancelBoth },
  'stp:decrement': { selfTradePrevention: SelfTradePrevention.DecrementBoth },
};

export function accountOfName(name: string): number {
  const accountId = accountByName[name];
  if (accountId === undefined) throw new Error(`unknown account name: ${name}`);
  return accountId;
}

/** Parses one order line of the notation above into a full spec. */
export function parseOrder(line: string): OrderSpec {
  const tokens = line.trim().split(/\s+/);
  const idMatch = /^#(\d+)$/.exec(tokens[0]);
  if (idMatch === null) throw new Error(`an order line starts with #id: ${line}`);
  const orderId = Number(idMatch[1]);
  const spec: OrderSpec = { ...blankOrderSpec(), orderId, accountId: 100 + orderId };
  let sawSide = false;
  for (let index = 1; index < tokens.length; index++) {
    const token = tokens[index];
    if (token in accountByName) {
      spec.accountId = accountByName[token];
    } else if (token.startsWith('acct:')) {
      spec.accountId = Number(token.slice('acct:'.length));
    } else if (/^(buy|buys|sell|sells)$/.test(token)) {
      if (tokens[index + 2] !== '@') throw new Error(`expected '<side> <qty> @ <price>' in: ${line}`);
      spec.side = token.startsWith('buy') ? Side.Buy : Side.Sell;
      spec.qtyLots = Number(tokens[index + 1]);
      spec.priceTicks = Number(tokens[index + 3]);
      sawSide = true;
      index += 3;
    } else if (token === 'GTD') {
      spec.timeInForce = TimeInForce.GoodTillDate;
      spec.expiresAtMs = Number(tokens[++index]);
    } else if (token in flagTokens) {
      Object.assign(spec, flagTokens[token]);
    } else {
      throw new Error(`unknown token '${token}' in: ${line}`);
    }
  }
  if (!sawSide) throw new Error(`an order line needs '<side> <qty> @ <price>': ${line}`);
  return spec;
}

export function codeName(code: number): string {
  return Object.keys(BookResultCode).find((name) => BookResultCode[name as keyof typeof BookResultCode] === code) ?? `code ${code}`;
}

function reasonName(reason: number): string {
  return Object.keys(DoneReason).find((name) => DoneReason[name as keyof typeof DoneReason] === reason) ?? `reason ${reason}`;
}
