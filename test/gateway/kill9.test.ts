// kill -9 under load, end to end through the gateway (RELIABILITY.md test 6; the SIGKILL
// counterpart of shutdown.test.ts, which covers test 10).
//
// What it proves: the gateway answers an order only after the engine committed it, so whatever a
// client was told survives the process dying at any instant, and nothing else appears. The
// exchange runs as a child process (test/gateway/_exchange_child.ts). One maker account keeps
// placing labelled resting sells at P = 2.500-2.502 (two in flight; the takers start once ten
// rest); three taker accounts place labelled buys, six in flight per connection: immediate-or-
// cancel buys at 2.500-2.503 (they trade against the maker), resting buys at 1.000-1.499 (no one
// sells that low, so they rest), and now and then a buy beyond the account's funds (which must be
// refused, and so must not exist after the restart). Every reply is written into a ledger, label →
// acked (the reply's order and its `trades`) / refused (error code) / unknown (the socket died
// first: Jepsen's *info*). Once the takers have had a seeded number of acknowledgements, after a
// seeded delay of a few ms, the child gets SIGKILL — no shutdown code runs. It is restarted on
// the same data directory (recovery replays the journal and re-projects the order and trade
// history, which lags the journal by design), and the exchange is read back through the API
// (open orders, order history, user trades, account summaries of every test account) and audited
// against the ledger:
// - every acknowledged order exists exactly once, with its order id and account;
// - an order acknowledged in a final state (filled, or cancelled as an IOC remainder), or one no
//   trade has touched since its reply, is exactly the order the reply described (state, filled
//   amount, average price, commission …); one acknowledged open may only have filled more since;
// - every trade a reply reported exists, exactly as reported (id, price, amount, fee, order, side),
//   and an order acknowledged in a final state has no other trades;
// - every order's filled amount and commission are the sums of its trades, and every trade is in
//   both its maker's and its taker's list, once (no half-applied fill);
// - no order exists for a label that was never sent, or that was refused; an unknown label exists
//   at most once;
// - every fee is the schedule's (maker 0 bp, taker 3 bp of the notional, rounded up);
// - conservation: each account's USDAI and H100 balance equals its deposits plus what its trades
//   moved, so across all test accounts Σ H100 = the credits granted and Σ USDAI = the deposits −
//   the fees (fees leave the traders for the exchange's fee pool and insurance fund, which the API
//   does not show; the fees are taken from the trades and each checked against the schedule, so a
//   made-up fee cannot hide lost money); no available balance is negative.
// Three kill cycles run on one data directory; each restart checks everything sent so far. A last
// part feeds the auditor deliberately damaged copies of the exchange's answer (an acked order
// removed, a trade changed, an unsent label, a duplicate, a balance off by one unit) and requires
// it to report each: a test of the test, since a checker that never fires proves nothing.
//
// Replay: the run prints SEED=<n>; SEED=<n> npx tap test/gateway/kill9.test.ts reruns the same
// orders (per client, in the same order) and the same kill point (acks, delay). Where the kill
// lands among the in-flight commands is wall-clock, so it varies; the checks do not depend on it.
// A longer run: KILL9_CYCLES=<n> (default 3, at most 10; a cycle's plan does not depend on it).

import t, { type TAP } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIntegerEnv, seededRandom, seedFromEnv } from '../_env.js';
import { adminCalls, deadline, startExchangeProcess, type ExchangeProcess } from './_exchange_process.js';
import { basicAuth, httpRequest, WsRpcClient } from './_ws_client.js';

const CYCLES = readIntegerEnv('KILL9_CYCLES', 1) ?? 3;
// Each cycle leaves about 40 resting buys per taker; past 10 cycles they near the account's limit of
// 500 open orders, and buys refused for that would break the rule that funded buys are accepted.
if (CYCLES > 10) throw new Error('KILL9_CYCLES is at most 10');
const TAKERS = 3;
const IN_FLIGHT = 6;
/** Orders one taker has ready per cycle; the kill comes well before they run out. */
const TAKER_ORDERS_PER_CYCLE = 120;
const MAKER_ORDERS_PER_CYCLE = 60;
const MAKER_LANES = 2;
/** Maker sells acknowledged before the takers start. */
const MAKER_HEAD_START = 10;
/** The kill comes after this many taker acknowledgements in the cycle (seeded, inclusive)… */
const KILL_AFTER_ACKS_MIN = 20;
const KILL_AFTER_ACKS_MAX = 200;
/** …and this many ms later (seeded, 0 = at once, inside the reply's callback). */
const KILL_DELAY_MS_MAX = 8;
const SPOT = 'H100_USDAI';
const SETTLEMENT = 'USDAI';
const CREDIT = 'H100';
/** Items per list query (the gateway's queryCountMax). */
const PAGE = 1_000;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '../..');
const config = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8')) as {
  currencies: Record<string, { decimals: number }>;
  fees: { makerBasisPoints: number; takerBasisPoints: number };
};
const DECIMALS: Record<string, number> = { [SETTLEMENT]: config.currencies[SETTLEMENT].decimals, [CREDIT]: config.currencies[CREDIT].decimals };

const SEED = seedFromEnv();
t.comment(`SEED=${SEED}`);
t.comment(`REPLAY: SEED=${SEED} npx tap --reporter=terse test/gateway/kill9.test.ts`);

// ---------------------------------------------------------------------------------------------
// The ledger: what each client was told

interface Key {
  accountId: number;
  clientId: string;
  clientSecret: string;
}

interface Account {
  name: string;
  key: Key;
  /** What the admin credited to it, in base units per currency. */
  deposited: Record<string, bigint>;
}

/** A Deribit order object as the gateway sends it (the fields this test reads, and the rest). */
interface WireOrder {
  order_id: string;
  label: string;
  order_state: string;
  direction: string;
  amount: number;
  filled_amount: number;
  price: number;
  commission: number;
  [field: string]: unknown;
}

/** A user trade as the gateway sends it. */
interface WireTrade {
  trade_id: string;
  order_id: string;
  direction: string;
  price: number;
  amount: number;
  fee: number;
  liquidity: string;
  [field: string]: unknown;
}

type Outcome =
  | { kind: 'acked'; order: WireOrder; trades: WireTrade[] }
  | { kind: 'refused'; code: number }
  | { kind: 'unknown' };

interface OrderSpec {
  kind: 'ioc' | 'resting' | 'unfunded' | 'maker';
  price: string;
  amount: number;
}

interface SentOrder extends OrderSpec {
  label: string;
  account: string;
  outcome: Outcome;
}

/** Every order any client sent, by label, across all cycles. */
const ledger = new Map<string, SentOrder>();

// ---------------------------------------------------------------------------------------------
// The plan: every order and kill point, drawn from the seed before anything runs

interface CyclePlan {
  killAfterAcks: number;
  killDelayMs: number;
  /** Orders by account name, in the order that client sends them. */
  orders: Map<string, OrderSpec[]>;
}

function makePlan(random: () => number, accountNames: string[]): CyclePlan[] {
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const price = (ticks: number) => (ticks / 1000).toFixed(3);
  const plans: CyclePlan[] = [];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const orders = new Map<string, OrderSpec[]>();
    for (const name of accountNames) {
      const list: OrderSpec[] = [];
      if (name === 'maker') {
        for (let index = 0; index < MAKER_ORDERS_PER_CYCLE; index++) list.push({ kind: 'maker', price: price(between(2_500, 2_502)), amount: between(5, 15) });
      } else {
        for (let index = 0; index < TAKER_ORDERS_PER_CYCLE; index++) {
          const draw = random();
          if (draw < 0.6) list.push({ kind: 'ioc', price: price(between(2_500, 2_503)), amount: between(1, 4) });
          else if (draw < 0.95) list.push({ kind: 'resting', price: price(between(1_000, 1_499)), amount: between(1, 3) });
          // Needs over 2,000,000 USDAI of a 100,000 deposit: the engine must refuse it, whatever the book.
          else list.push({ kind: 'unfunded', price: price(between(1_000, 1_499)), amount: 2_000_000 });
        }
      }
      orders.set(name, list);
    }
    plans.push({ killAfterAcks: between(KILL_AFTER_ACKS_MIN, KILL_AFTER_ACKS_MAX), killDelayMs: between(0, KILL_DELAY_MS_MAX), orders });
  }
  return plans;
}


// ---------------------------------------------------------------------------------------------
// The run

const dataDir = mkdtempSync(join(tmpdir(), 'exchange-kill9-'));
let running: Child | undefined;
t.teardown(() => {
  running?.process.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

t.test(`kill -9 under load, ${CYCLES} cycles on one data directory`, async (t) => {
  let child = await startChild();
  running = child;
  const accounts = await createAccounts(child);
  const plans = makePlan(seededRandom(SEED), accounts.map((account) => account.name));
  let lastView = await readExchange(child, accounts);
  await t.test('before any load: balances are the deposits', async (t) => assertAudit(t, audit(lastView, accounts)));
  const recoveryMs: number[] = [];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const plan = plans[cycle - 1];
    let killedAtMs = 0;
    await t.test(`cycle ${cycle}: SIGKILL after ${plan.killAfterAcks} taker acks + ${plan.killDelayMs} ms`, async (t) => {
      killedAtMs = await loadAndKill(t, child, accounts, cycle, plan);
    });
    child = await startChild();
    running = child;
    recoveryMs.push(performance.now() - killedAtMs);
    lastView = await readExchange(child, accounts);
    await t.test(`after restart ${cycle}: every acknowledgement holds, nothing else exists, money is conserved`, async (t) => assertAudit(t, audit(lastView, accounts)));
  }
  await t.test('the auditor catches each kind of damage (test of the test)', async (t) => auditSelfTest(t, lastView, accounts));
  child.process.kill('SIGKILL');
  await child.exited;
  running = undefined;

  const counts = { acked: 0, refused: 0, unknown: 0 };
  for (const order of ledger.values()) counts[order.outcome.kind]++;
  const unknownPresent = [...ledger.values()].filter((order) => order.outcome.kind === 'unknown' && (lastView.ordersByLabel.get(order.label)?.length ?? 0) > 0).length;
  const trades = new Set(lastView.accounts.flatMap((account) => account.trades.map((trade) => trade.trade_id))).size;
  t.comment(`orders over ${CYCLES} cycles: ${counts.acked} acknowledged, ${counts.refused} refused, ${counts.unknown} without a reply (${unknownPresent} of those committed); ${trades} trades`);
  t.comment(`recovery (SIGKILL → restarted child ready, includes tsx start-up): ${recoveryMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);
});

/** Sends the cycle's orders on every account's connection; SIGKILLs the child at the planned point. Returns when it died (performance.now()). */
async function loadAndKill(t: Tap, child: Child, accounts: Account[], cycle: number, plan: CyclePlan): Promise<number> {
  const clients = await Promise.all(accounts.map((account) => WsRpcClient.connectAuthed(child.wsUrl, account.key)));
  let takerAcks = 0;
  let killed = false;
  let killedAtMs = 0;
  let inFlightAtKill = 0;
  let ackedAtKill = 0;
  const kill = () => {
    if (killed) return;
    killed = true;
    inFlightAtKill = clients.reduce((sum, client) => sum + client.waiting, 0);
    ackedAtKill = takerAcks;
    killedAtMs = performance.now();
    child.process.kill('SIGKILL');
  };
  // The takers start once the maker has some sells resting, so that their IOC buys find sellers.
  let makerAcks = 0;
  let makerReady: () => void = () => undefined;
  const makerHeadStart = new Promise<void>((resolve) => (makerReady = resolve));
  const onTakerAck = () => {
    if (++takerAcks !== plan.killAfterAcks) return;
    if (plan.killDelayMs === 0) kill();
    else setTimeout(kill, plan.killDelayMs);
  };

  const runClient = async (client: WsRpcClient, account: Account) => {
    const specs = plan.orders.get(account.name)!;
    const isMaker = account.name === 'maker';
    let next = 0;
    const lane = async () => {
      while (next < specs.length && client.closeInfo === undefined) {
        const sequence = next++;
        const spec = specs[sequence];
        const label = `k${cycle}-${account.name}-${sequence}`;
        const order: SentOrder = { ...spec, label, account: account.name, outcome: { kind: 'unknown' } };
        // Into the ledger before the request leaves: a reply may never come.
        ledger.set(label, order);
        const params: Record<string, unknown> = { instrument_name: SPOT, amount: String(spec.amount), type: 'limit', price: spec.price, label };
        if (spec.kind === 'ioc') params.time_in_force = 'immediate_or_cancel';
        const reply = await client.call(isMaker ? 'private/sell' : 'private/buy', params).catch(() => undefined);
        if (reply === undefined) return; // the connection died with this one in flight: unknown
        if (reply.error !== undefined) {
          order.outcome = { kind: 'refused', code: reply.error.code };
          continue;
        }
        const result = reply.result as { order: WireOrder; trades: WireTrade[] };
        order.outcome = { kind: 'acked', order: result.order, trades: result.trades };
        if (!isMaker) onTakerAck();
        else if (++makerAcks === MAKER_HEAD_START) makerReady();
      }
    };
    await Promise.all(Array.from({ length: isMaker ? MAKER_LANES : IN_FLIGHT }, lane));
  };
  const makerIndex = accounts.findIndex((account) => account.name === 'maker');
  const makerDone = runClient(clients[makerIndex], accounts[makerIndex]).finally(makerReady);
  await makerHeadStart;
  await Promise.all([makerDone, ...clients.map((client, index) => (index === makerIndex ? undefined : runClient(client, accounts[index])))]);

  // Every taker lane stops only when its connection closes, or when its orders run out.
  t.ok(killed, `the kill came while the takers were still sending (${takerAcks} acks of ${TAKERS * TAKER_ORDERS_PER_CYCLE} orders)`);
  kill(); // if the plan was unreachable, still end this child (the assertion above has failed)
  const exit = await Promise.race([child.exited, deadline(10_000).then(() => undefined)]);
  t.same(exit, { code: null, signal: 'SIGKILL' }, 'the exchange died of SIGKILL (no shutdown code ran)');
  t.ok(inFlightAtKill > 0, `requests were in flight when it died (${inFlightAtKill}, after ${ackedAtKill} taker acks)`);
  const sent = [...ledger.values()].filter((order) => order.label.startsWith(`k${cycle}-`));
  const tally = (kind: Outcome['kind']) => sent.filter((order) => order.outcome.kind === kind).length;
  const answered = (kind: 'funded' | 'unfunded') => sent.filter((order) => (order.kind === 'unfunded') === (kind === 'unfunded') && order.outcome.kind !== 'unknown');
  const outcomeText = (order: SentOrder) => `${order.label}: ${order.outcome.kind === 'refused' ? `refused ${order.outcome.code}` : order.outcome.kind}`;
  t.same(answered('unfunded').filter((order) => order.outcome.kind !== 'refused' || order.outcome.code !== 10009).map(outcomeText), [], `every answered order beyond the account's funds was refused with 10009 not_enough_funds (${answered('unfunded').length})`);
  t.same(answered('funded').filter((order) => order.outcome.kind !== 'acked').map(outcomeText), [], `every answered order within the account's funds was accepted (${answered('funded').length})`);
  t.comment(`cycle ${cycle}: ${sent.length} sent, ${tally('acked')} acknowledged, ${tally('refused')} refused, ${tally('unknown')} unanswered`);
  const iocAcks = sent.filter((order) => order.kind === 'ioc' && order.outcome.kind === 'acked').map((order) => (order.outcome as { order: WireOrder }).order);
  t.comment(`cycle ${cycle}: IOC buys acknowledged ${iocAcks.length}: ${iocAcks.filter((order) => order.order_state === 'filled').length} filled, ${iocAcks.filter((order) => order.order_state !== 'filled' && order.filled_amount > 0).length} partly, ${iocAcks.filter((order) => order.filled_amount === 0).length} unfilled`);
  return killedAtMs;
}

// ---------------------------------------------------------------------------------------------
// What the exchange holds, read back through the API after a restart

interface AccountView {
  name: string;
  orders: WireOrder[];
  trades: WireTrade[];
  /** Total (available + reserved + bonded) and available, in base units. */
  balance: Record<string, bigint>;
  available: Record<string, bigint>;
}

interface ExchangeView {
  accounts: AccountView[];
  /** Every order of every test account by label, with the account that holds it. */
  ordersByLabel: Map<string, { account: string; order: WireOrder }[]>;
  /** Lists that could not be read completely (the audit would be blind there). */
  incomplete: string[];
}

async function readExchange(child: Child, accounts: Account[]): Promise<ExchangeView> {
  const incomplete: string[] = [];
  const views: AccountView[] = [];
  for (const account of accounts) {
    const get = async <T>(method: string, query: string): Promise<T> => {
      const reply = await httpRequest(`${child.url}/api/v2/${method}?${query}`, { headers: basicAuth(account.key) });
      if (reply.status !== 200 || reply.body?.result === undefined) throw new Error(`${method} for ${account.name}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
      return reply.body.result as T;
    };
    const orders = await get<WireOrder[]>('private/get_open_orders_by_instrument', `instrument_name=${SPOT}`);
    // Closed orders (filled, cancelled) live in the history; page through all of them.
    for (let offset = 0; ; offset += PAGE) {
      const page = await get<WireOrder[]>('private/get_order_history_by_instrument', `instrument_name=${SPOT}&include_unfilled=true&count=${PAGE}&offset=${offset}`);
      orders.push(...page);
      if (page.length < PAGE) break;
    }
    // Every trade, oldest first, a page at a time. get_user_trades_by_instrument would be the natural
    // call, but it accepts start_seq without applying it, so it cannot page; by time it can: each
    // page starts at the last timestamp seen (trades of that same ms come again and are skipped).
    const trades = new Map<string, WireTrade>();
    for (let startMs = 0; ; ) {
      const page = await get<{ trades: WireTrade[]; has_more: boolean }>('private/get_user_trades_by_instrument_and_time', `instrument_name=${SPOT}&start_timestamp=${startMs}&count=${PAGE}&sorting=asc`);
      const before = trades.size;
      for (const trade of page.trades) trades.set(trade.trade_id, trade);
      if (!page.has_more) break;
      if (trades.size === before) {
        incomplete.push(`${account.name}: over ${PAGE} trades in one ms, the list cannot be paged`);
        break;
      }
      startMs = page.trades[page.trades.length - 1].timestamp as number;
    }
    const balance: Record<string, bigint> = {};
    const available: Record<string, bigint> = {};
    for (const currency of [SETTLEMENT, CREDIT]) {
      const summary = await get<{ balance: number; available_funds: number }>('private/get_account_summary', `currency=${currency}`);
      balance[currency] = toUnits(summary.balance, DECIMALS[currency]);
      available[currency] = toUnits(summary.available_funds, DECIMALS[currency]);
    }
    views.push({ name: account.name, orders, trades: [...trades.values()], balance, available });
  }
  return { accounts: views, ordersByLabel: indexByLabel(views), incomplete };
}

function indexByLabel(views: AccountView[]): Map<string, { account: string; order: WireOrder }[]> {
  const byLabel = new Map<string, { account: string; order: WireOrder }[]>();
  for (const view of views) {
    for (const order of view.orders) {
      const list = byLabel.get(order.label) ?? [];
      list.push({ account: view.name, order });
      byLabel.set(order.label, list);
    }
  }
  return byLabel;
}

// ---------------------------------------------------------------------------------------------
// The audit: the ledger against the exchange

interface Problems {
  incomplete: string[];
  lostAcked: string[];
  duplicated: string[];
  wrongAccount: string[];
  changedOrder: string[];
  lostOrChangedTrade: string[];
  extraTrade: string[];
  fillsDisagree: string[];
  tradeSides: string[];
  wrongFee: string[];
  neverSent: string[];
  presentRefused: string[];
  balances: string[];
  conservation: string[];
  negative: string[];
}

/** Fields of an order that never change after it is placed. */
const FIXED_ORDER_FIELDS = ['order_id', 'label', 'instrument_name', 'direction', 'amount', 'price', 'order_type', 'time_in_force', 'creation_timestamp'];

function audit(view: ExchangeView, accounts: Account[], sent: Map<string, SentOrder> = ledger): Problems {
  const problems: Problems = { incomplete: [...view.incomplete], lostAcked: [], duplicated: [], wrongAccount: [], changedOrder: [], lostOrChangedTrade: [], extraTrade: [], fillsDisagree: [], tradeSides: [], wrongFee: [], neverSent: [], presentRefused: [], balances: [], conservation: [], negative: [] };
  const tradesById = new Map<string, { account: string; trade: WireTrade }[]>();
  for (const account of view.accounts) {
    for (const trade of account.trades) {
      const list = tradesById.get(trade.trade_id) ?? [];
      list.push({ account: account.name, trade });
      tradesById.set(trade.trade_id, list);
    }
  }
  const tradesOfOrder = (account: string, orderId: string) => view.accounts.find((candidate) => candidate.name === account)!.trades.filter((trade) => trade.order_id === orderId);

  // The ledger side: what clients were told is what the exchange holds.
  for (const [label, order] of sent) {
    const found = view.ordersByLabel.get(label) ?? [];
    if (found.length > 1) problems.duplicated.push(`${label} × ${found.length}`);
    const outcome = order.outcome;
    if (outcome.kind === 'refused' && found.length > 0) problems.presentRefused.push(`${label} (refused ${outcome.code})`);
    if (outcome.kind !== 'acked') continue;
    const held = found[0];
    if (held === undefined) {
      problems.lostAcked.push(`${label} (order ${outcome.order.order_id}, ${outcome.order.order_state}, filled ${outcome.order.filled_amount})`);
      continue;
    }
    if (held.account !== order.account) problems.wrongAccount.push(`${label}: sent by ${order.account}, held by ${held.account}`);
    if (held.order.order_id !== outcome.order.order_id) {
      problems.changedOrder.push(`${label}: acknowledged as order ${outcome.order.order_id}, exists as ${held.order.order_id}`);
      continue;
    }
    const trades = tradesOfOrder(held.account, held.order.order_id);
    const final = outcome.order.order_state === 'filled' || outcome.order.order_state === 'cancelled';
    const touchedSince = trades.length > outcome.trades.length;
    if (final || !touchedSince) {
      // Nothing can have changed it since the reply: it must be exactly what the client was told.
      if (canonical(held.order) !== canonical(outcome.order)) problems.changedOrder.push(`${label}: acknowledged ${canonical(outcome.order)}, exists ${canonical(held.order)}`);
    } else {
      const drift = FIXED_ORDER_FIELDS.filter((field) => canonical(held.order[field]) !== canonical(outcome.order[field]));
      if (drift.length > 0 || held.order.filled_amount < outcome.order.filled_amount) problems.changedOrder.push(`${label}: ${drift.join(', ') || 'filled amount went down'}: acknowledged ${canonical(outcome.order)}, exists ${canonical(held.order)}`);
    }
    for (const told of outcome.trades) {
      const same = (tradesById.get(told.trade_id) ?? []).find((entry) => entry.account === held.account);
      if (same === undefined || canonical(same.trade) !== canonical(told)) problems.lostOrChangedTrade.push(`${label}: acknowledged trade ${canonical(told)}, exists ${same === undefined ? 'nowhere' : canonical(same.trade)}`);
    }
    if (final && trades.length !== outcome.trades.length) {
      const told = new Set(outcome.trades.map((trade) => trade.trade_id));
      problems.extraTrade.push(`${label}: acknowledged ${outcome.order.order_state} with trades [${[...told].join(', ')}], has [${trades.map((trade) => trade.trade_id).join(', ')}]`);
    }
  }

  // The exchange side: nothing exists that no client sent, and every order agrees with its trades.
  for (const account of view.accounts) {
    for (const order of account.orders) {
      const source = sent.get(order.label);
      if (source === undefined || source.account !== account.name) problems.neverSent.push(`${account.name}: ${order.label === '' ? '(no label)' : order.label} (order ${order.order_id})`);
      const trades = tradesOfOrder(account.name, order.order_id);
      const filled = trades.reduce((sum, trade) => sum + toUnits(trade.amount, DECIMALS[CREDIT]), 0n);
      const fees = trades.reduce((sum, trade) => sum + toUnits(trade.fee, DECIMALS[SETTLEMENT]), 0n);
      if (filled !== toUnits(order.filled_amount, DECIMALS[CREDIT]) || fees !== toUnits(order.commission, DECIMALS[SETTLEMENT])) {
        problems.fillsDisagree.push(`${account.name} order ${order.order_id} (${order.label}): filled ${order.filled_amount} commission ${order.commission}, its trades sum to ${filled} units and ${fees} fee units`);
      }
    }
    const orderIds = new Set(account.orders.map((order) => order.order_id));
    for (const trade of account.trades) if (!orderIds.has(trade.order_id)) problems.fillsDisagree.push(`${account.name}: trade ${trade.trade_id} names order ${trade.order_id}, which the account does not have`);
  }

  // Every trade has exactly one maker side and one taker side among the test accounts (they are the
  // only traders), agreeing on price and amount, each charged the schedule's fee.
  for (const [tradeId, sides] of tradesById) {
    const maker = sides.filter((side) => side.trade.liquidity === 'M');
    const taker = sides.filter((side) => side.trade.liquidity === 'T');
    if (sides.length !== 2 || maker.length !== 1 || taker.length !== 1 || maker[0].trade.price !== taker[0].trade.price || maker[0].trade.amount !== taker[0].trade.amount || maker[0].trade.direction === taker[0].trade.direction) {
      problems.tradeSides.push(`trade ${tradeId}: ${sides.map((side) => `${side.account} ${canonical(side.trade)}`).join(' | ')}`);
    }
    for (const { account, trade } of sides) {
      const basisPoints = trade.liquidity === 'M' ? config.fees.makerBasisPoints : config.fees.takerBasisPoints;
      const expected = divideRoundingUp(notionalUnits(trade) * BigInt(basisPoints), 10_000n);
      if (toUnits(trade.fee, DECIMALS[SETTLEMENT]) !== expected) problems.wrongFee.push(`${account} trade ${tradeId}: fee ${trade.fee}, schedule says ${expected} units`);
    }
  }

  // Conservation. Each account: deposits, plus what it bought or sold, minus its fees.
  const totals: Record<string, bigint> = { [SETTLEMENT]: 0n, [CREDIT]: 0n };
  const expectedTotals: Record<string, bigint> = { [SETTLEMENT]: 0n, [CREDIT]: 0n };
  let feesPaid = 0n;
  for (const account of view.accounts) {
    const deposited = accounts.find((candidate) => candidate.name === account.name)!.deposited;
    const expected: Record<string, bigint> = { [SETTLEMENT]: deposited[SETTLEMENT] ?? 0n, [CREDIT]: deposited[CREDIT] ?? 0n };
    for (const trade of account.trades) {
      const sign = trade.direction === 'buy' ? 1n : -1n;
      const fee = toUnits(trade.fee, DECIMALS[SETTLEMENT]);
      expected[CREDIT] += sign * toUnits(trade.amount, DECIMALS[CREDIT]);
      expected[SETTLEMENT] -= sign * notionalUnits(trade) + fee;
      feesPaid += fee;
    }
    for (const currency of [SETTLEMENT, CREDIT]) {
      if (account.balance[currency] !== expected[currency]) problems.balances.push(`${account.name} ${currency}: holds ${account.balance[currency]} units, its deposits and trades say ${expected[currency]}`);
      if (account.available[currency] < 0n) problems.negative.push(`${account.name} ${currency}: available ${account.available[currency]}`);
      totals[currency] += account.balance[currency];
      expectedTotals[currency] += deposited[currency] ?? 0n;
    }
  }
  if (totals[CREDIT] !== expectedTotals[CREDIT]) problems.conservation.push(`Σ ${CREDIT} ${totals[CREDIT]} units, granted ${expectedTotals[CREDIT]}`);
  if (totals[SETTLEMENT] !== expectedTotals[SETTLEMENT] - feesPaid) problems.conservation.push(`Σ ${SETTLEMENT} ${totals[SETTLEMENT]} units, deposited ${expectedTotals[SETTLEMENT]} − fees ${feesPaid} = ${expectedTotals[SETTLEMENT] - feesPaid}`);
  return problems;
}

function assertAudit(t: Tap, problems: Problems): void {
  const acked = [...ledger.values()].filter((order) => order.outcome.kind === 'acked').length;
  t.same(problems.incomplete, [], 'the exchange could be read completely');
  t.same(problems.lostAcked, [], `no acknowledged order is lost (${acked} acknowledged so far)`);
  t.same(problems.duplicated, [], 'no label exists twice (an unanswered order exists at most once)');
  t.same(problems.wrongAccount, [], 'every acknowledged order is in the account that sent it');
  t.same(problems.changedOrder, [], 'every acknowledged order is as acknowledged (exactly, unless trades came later; then only filled more)');
  t.same(problems.lostOrChangedTrade, [], 'every acknowledged fill exists exactly as acknowledged (id, price, amount, fee, order)');
  t.same(problems.extraTrade, [], 'an order acknowledged as done has no trades beyond those acknowledged');
  t.same(problems.fillsDisagree, [], "every order's filled amount and commission are the sums of its trades");
  t.same(problems.tradeSides, [], 'every trade has one maker side and one taker side, agreeing on price and amount');
  t.same(problems.wrongFee, [], 'every fee is the schedule (maker and taker basis points of the notional, rounded up)');
  t.same(problems.neverSent, [], 'no order exists that its account never sent');
  t.same(problems.presentRefused, [], 'no refused order exists');
  t.same(problems.balances, [], "each account's balances are its deposits plus its trades minus its fees");
  t.same(problems.conservation, [], `conservation: Σ ${CREDIT} = credits granted, Σ ${SETTLEMENT} = deposits − fees paid`);
  t.same(problems.negative, [], 'no available balance is negative');
}

/** Damaged copies of a real answer: the auditor must name each damage, or its silence means nothing. */
function auditSelfTest(t: Tap, view: ExchangeView, accounts: Account[]): void {
  const clean = audit(view, accounts);
  const quiet = Object.values(clean).every((list) => list.length === 0);
  t.ok(quiet, 'the undamaged answer passes');
  const withTrades = [...ledger.values()].find((order) => order.kind === 'ioc' && order.outcome.kind === 'acked' && order.outcome.trades.length > 0);
  const resting = [...ledger.values()].find((order) => order.kind === 'resting' && order.outcome.kind === 'acked');
  if (withTrades === undefined || resting === undefined) return void t.fail('the run produced no acknowledged fill or resting order to damage');
  const fillOrderId = (withTrades.outcome as { order: WireOrder }).order.order_id;
  const restingOrderId = (resting.outcome as { order: WireOrder }).order.order_id;
  const damage = (what: string, expected: keyof Problems, change: (copy: ExchangeView) => void) => {
    const copy: ExchangeView = structuredClone(view);
    change(copy);
    copy.ordersByLabel = indexByLabel(copy.accounts);
    const found = audit(copy, accounts)[expected];
    t.ok(found.length > 0, `${what} → reported as ${expected} (${found[0]?.slice(0, 120) ?? 'not reported'})`);
  };
  const accountOf = (copy: ExchangeView, name: string) => copy.accounts.find((account) => account.name === name)!;
  damage('an acknowledged order missing (a reply sent before its commit)', 'lostAcked', (copy) => {
    const account = accountOf(copy, resting.account);
    account.orders = account.orders.filter((order) => order.order_id !== restingOrderId);
  });
  damage('an acknowledged fill with another amount', 'lostOrChangedTrade', (copy) => {
    const trade = accountOf(copy, withTrades.account).trades.find((candidate) => candidate.order_id === fillOrderId)!;
    trade.amount += 1;
  });
  damage('an acknowledged fill missing', 'lostOrChangedTrade', (copy) => {
    const account = accountOf(copy, withTrades.account);
    account.trades = account.trades.filter((trade) => trade.order_id !== fillOrderId);
  });
  damage('an order with a label no client sent', 'neverSent', (copy) => {
    const account = accountOf(copy, resting.account);
    account.orders.push({ ...account.orders.find((order) => order.order_id === restingOrderId)!, order_id: '999999999', label: 'never-sent' });
  });
  damage('an acknowledged order twice', 'duplicated', (copy) => {
    const account = accountOf(copy, resting.account);
    account.orders.push({ ...account.orders.find((order) => order.order_id === restingOrderId)!, order_id: '999999998' });
  });
  damage('an acknowledged resting order with another filled amount', 'changedOrder', (copy) => {
    accountOf(copy, resting.account).orders.find((order) => order.order_id === restingOrderId)!.filled_amount += 1;
  });
  damage(`one ${SETTLEMENT} base unit more in an account`, 'conservation', (copy) => {
    accountOf(copy, resting.account).balance[SETTLEMENT] += 1n;
  });
}

// ---------------------------------------------------------------------------------------------
// Exact amounts

/**
 * A wire number → base units of a currency, exactly. The gateway writes each amount as the
 * shortest text of the nearest double, which is the exact decimal while it has at most 15
 * significant digits; this test keeps its amounts that small, and refuses anything longer.
 */
function toUnits(value: number, decimals: number): bigint {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`not a finite number: ${String(value)}`);
  const text = String(Math.abs(value));
  const [mantissa, exponentText = '0'] = text.split('e');
  const [whole, fraction = ''] = mantissa.split('.');
  const digits = `${whole}${fraction}`.replace(/^0+/, '') || '0';
  if (digits.replace(/0+$/, '').length > 15) throw new Error(`${text} has too many digits to be exact`);
  const shift = decimals - fraction.length + Number(exponentText);
  let units: bigint;
  if (shift >= 0) units = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    if (BigInt(digits) % divisor !== 0n) throw new Error(`${text} has more than ${decimals} decimals`);
    units = BigInt(digits) / divisor;
  }
  return value < 0 ? -units : units;
}

/** price × amount of a trade, in settlement base units. */
function notionalUnits(trade: WireTrade): bigint {
  const priceUnits = toUnits(trade.price, DECIMALS[SETTLEMENT]);
  const amountUnits = toUnits(trade.amount, DECIMALS[CREDIT]);
  return (priceUnits * amountUnits) / 10n ** BigInt(DECIMALS[CREDIT]);
}

function divideRoundingUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** JSON with sorted keys, so two objects compare by content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

// ---------------------------------------------------------------------------------------------
// The child process and its accounts (as in shutdown.test.ts)

type Child = ExchangeProcess;

function startChild(): Promise<Child> {
  return startExchangeProcess(dataDir);
}

/** The maker (H100 credits to sell, a little USDAI) and the takers (USDAI to buy with). */
async function createAccounts(child: Child): Promise<Account[]> {
  const admin = adminCalls(child, dataDir);
  const wanted: { name: string; deposits: Record<string, string> }[] = [
    // Enough credits for every sell of every cycle (at most 15 × MAKER_ORDERS_PER_CYCLE each).
    { name: 'maker', deposits: { [SETTLEMENT]: '1000', [CREDIT]: String(15 * MAKER_ORDERS_PER_CYCLE * CYCLES) } },
    ...Array.from({ length: TAKERS }, (_, index) => ({ name: `taker${index}`, deposits: { [SETTLEMENT]: '100000' } })),
  ];
  const accounts: Account[] = [];
  for (const { name, deposits } of wanted) {
    const { account_id } = await admin('/admin/accounts', { owner: `kill9-${name}` });
    const key = await admin('/admin/keys', { account_id, scopes: ['read', 'trade'] });
    const deposited: Record<string, bigint> = {};
    for (const [currency, amount] of Object.entries(deposits)) {
      await admin('/admin/deposits', { account_id, currency, amount });
      deposited[currency] = BigInt(amount) * 10n ** BigInt(DECIMALS[currency]);
    }
    accounts.push({ name, key: { accountId: account_id as number, clientId: key.client_id as string, clientSecret: key.client_secret as string }, deposited });
  }
  return accounts;
}
