import type { CommandResult, ExchangeState, Instrument, OrderView, TradeView } from '../engine/index.js';
import type { Identity } from './auth_types.js';
import { accountSummaryObject, orderObject, publicTradeObject, userTradeObject } from './format.js';
import { gatewayLimits } from './limits.js';
import type { BookMirror, LevelUpdate, MarketData } from './market_data.js';
import type { AccountReadModel } from './read_model.js';
import { lotsToAmount, ticksToPrice } from './wire_numbers.js';

// Subscriptions and fan-out. Channels are Deribit's (reference §6). A notification's text is built
// once per channel string and sent to every subscriber of that string (the channel in a
// notification must be byte-identical to the one subscribed).
//
// `raw` channels carry every committed change as it commits. Interval channels (100ms, agg2) are
// conflated: `flush()` runs every 100 ms and sends what changed since. Book channels send one
// snapshot on subscribe, then only `change` messages whose prev_change_id is the change_id the
// subscriber last received.
//
// Slow consumers: a connection with more than bufferedBytesSoftMax queued is skipped by conflated
// sends and marked stale; once it drains, its book channels catch up in one change message from
// the book's change log (so it never needs a second snapshot). A connection above
// bufferedBytesHardMax, stale for longer than staleMsMax, or so far behind that the log no longer
// reaches back, is closed with code 4008.

export interface Subscriber {
  readonly connectionId: number;
  identity: Identity | undefined;
  bufferedAmount(): number;
  send(text: string): void;
  terminate(code: number, reason: string): void;
}

export const SLOW_CONSUMER_CLOSE_CODE = 4008;

type Interval = 'raw' | '100ms' | 'agg2';
const INTERVALS = new Set(['raw', '100ms', 'agg2']);
const KINDS = new Set(['any', 'spot', 'future', 'option', 'future_combo', 'option_combo']);
const GROUPS = new Set(['none']);
const DEPTHS = new Set(['1', '10', '20']);
const RESOLUTIONS: Record<string, number> = { '1': 1, '3': 3, '5': 5, '10': 10, '15': 15, '30': 30, '60': 60, '120': 120, '180': 180, '360': 360, '720': 720, '1D': 1440 };

interface InstrumentFilter {
  instrument?: string;
  kind: string;
  currency: string;
}

type ChannelSpec =
  | { type: 'book'; instrument: string; interval: Interval }
  | { type: 'book_grouped'; instrument: string; depth: number }
  | { type: 'trades' | 'ticker'; instrument: string; interval: Interval }
  | { type: 'quote'; instrument: string }
  | { type: 'chart'; instrument: string; resolutionMinutes: number }
  | { type: 'user_orders' | 'user_trades' | 'user_changes'; filter: InstrumentFilter; interval: Interval }
  | { type: 'user_portfolio'; currency: string };

interface Subscription {
  channel: string;
  spec: ChannelSpec;
  subscriber: Subscriber;
  /** Book channels: the change_id this subscriber has. */
  changeId: number;
  /** Private interval channels: what waits for the next flush. */
  pending: unknown[];
  /** The last committed sequence when it subscribed: conflated trade channels send only later trades. */
  joinedAfterSequence: number;
}

interface SubscriberState {
  subscriptions: Map<string, Subscription>;
  /** When the connection went over the soft limit (0 when it is not stale). */
  staleSinceMs: number;
}

export interface HubDependencies {
  state: ExchangeState;
  market: MarketData;
  accounts: AccountReadModel;
  nowMs: () => number;
}

export class SubscriptionHub {
  private readonly subscribers = new Map<Subscriber, SubscriberState>();
  /** Public channel string → its subscriptions. */
  private readonly publicChannels = new Map<string, Set<Subscription>>();
  /** Instrument → public channel strings about it. */
  private readonly channelsByInstrument = new Map<string, Set<string>>();
  /** Account → its private subscriptions. */
  private readonly privateByAccount = new Map<number, Set<Subscription>>();
  /** Instruments whose conflated channels have something to send at the next flush. */
  private readonly dirtyInstruments = new Set<string>();
  private readonly pendingTrades = new Map<string, TradeView[]>();
  private readonly dirtyPrivate = new Set<Subscription>();
  /** The sequence of the last committed command this hub has seen. */
  private lastSequence = 0;

  constructor(private readonly deps: HubDependencies) {}

  /** Subscribes to what it can; returns the channels accepted (unknown ones are left out, never an error). */
  subscribe(subscriber: Subscriber, channels: readonly string[]): string[] {
    const state = this.stateOf(subscriber);
    const accepted: string[] = [];
    for (const channel of channels) {
      if (state.subscriptions.has(channel)) {
        accepted.push(channel);
        continue;
      }
      if (state.subscriptions.size >= gatewayLimits.subscriptionsPerConnectionMax) break;
      const spec = this.parseChannel(channel, subscriber.identity);
      if (spec === undefined) continue;
      const subscription: Subscription = { channel, spec, subscriber, changeId: 0, pending: [], joinedAfterSequence: this.lastSequence };
      state.subscriptions.set(channel, subscription);
      this.index(subscription);
      accepted.push(channel);
      this.sendInitial(subscription);
    }
    return accepted;
  }

  unsubscribe(subscriber: Subscriber, channels: readonly string[]): string[] {
    const state = this.subscribers.get(subscriber);
    const removed: string[] = [];
    if (state === undefined) return removed;
    for (const channel of channels) {
      const subscription = state.subscriptions.get(channel);
      if (subscription === undefined) continue;
      state.subscriptions.delete(channel);
      this.unindex(subscription);
      removed.push(channel);
    }
    return removed;
  }

  /** Drops every subscription of a connection (unsubscribe_all, or the connection closed). */
  removeSubscriber(subscriber: Subscriber): void {
    const state = this.subscribers.get(subscriber);
    if (state === undefined) return;
    for (const subscription of state.subscriptions.values()) this.unindex(subscription);
    this.subscribers.delete(subscriber);
  }

  channelsOf(subscriber: Subscriber): string[] {
    return [...(this.subscribers.get(subscriber)?.subscriptions.keys() ?? [])];
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Committed batch: update the read models, send raw channels, note what conflated ones need. */
  onCommitted(results: readonly CommandResult[]): void {
    this.deps.accounts.ingest(results);
    for (const result of results) {
      this.lastSequence = result.sequence;
      const { bookChanges, trades } = this.deps.market.ingest(result);
      for (const { instrument, updates } of bookChanges) {
        this.dirtyInstruments.add(instrument);
        this.sendRawBook(instrument, updates);
      }
      for (const [instrument, list] of trades) {
        this.dirtyInstruments.add(instrument);
        let pending = this.pendingTrades.get(instrument);
        if (pending === undefined) this.pendingTrades.set(instrument, (pending = []));
        pending.push(...list);
        this.sendToPublic(instrument, (spec) => spec.type === 'trades' && spec.interval === 'raw', () => list.map((trade) => publicTradeObject(trade, this.instrument(instrument))));
        this.sendToPublic(instrument, (spec) => spec.type === 'ticker' && spec.interval === 'raw', () => this.tickerObject(instrument));
      }
      if (bookChanges.length > 0) {
        for (const instrument of new Set(bookChanges.map((change) => change.instrument))) this.sendToPublic(instrument, (spec) => spec.type === 'quote', () => this.quoteObject(instrument));
      }
      this.routePrivate(result);
    }
  }

  /** Sends every conflated channel's update and enforces the slow-consumer policy. */
  flush(): void {
    const nowMs = this.deps.nowMs();
    this.updateStaleness(nowMs);
    for (const instrument of this.dirtyInstruments) this.flushInstrument(instrument);
    this.dirtyInstruments.clear();
    this.pendingTrades.clear();
    for (const subscription of this.dirtyPrivate) {
      if (subscription.pending.length === 0) continue;
      if (this.isHeldBack(subscription.subscriber)) continue;
      this.deliver(subscription.subscriber, subscription.channel, subscription.pending);
      subscription.pending = [];
    }
    this.dirtyPrivate.clear();
    this.catchUpDrainedBooks();
  }

  // -------------------------------------------------------------------------------------------
  // Channels

  private parseChannel(channel: string, identity: Identity | undefined): ChannelSpec | undefined {
    if (typeof channel !== 'string' || channel.length > 200) return undefined;
    const parts = channel.split('.');
    const [head] = parts;
    // Deribit serves raw public channels to authenticated connections only (13778); unauthenticated,
    // such a channel is left out of the result like any channel we do not serve.
    if (parts[parts.length - 1] === 'raw' && head !== 'user' && identity === undefined) return undefined;
    if (head === 'book') return this.parseBookChannel(parts);
    if ((head === 'trades' || head === 'ticker') && parts.length === 3 && this.isListed(parts[1]) && INTERVALS.has(parts[2])) {
      return { type: head, instrument: parts[1], interval: parts[2] as Interval };
    }
    if (head === 'quote' && parts.length === 2 && this.isListed(parts[1])) return { type: 'quote', instrument: parts[1] };
    if (head === 'chart' && parts.length === 4 && parts[1] === 'trades' && this.isListed(parts[2]) && parts[3] in RESOLUTIONS) {
      return { type: 'chart', instrument: parts[2], resolutionMinutes: RESOLUTIONS[parts[3]] };
    }
    if (head === 'user' && identity !== undefined) return this.parseUserChannel(parts);
    return undefined;
  }

  private parseBookChannel(parts: string[]): ChannelSpec | undefined {
    if (!this.isListed(parts[1])) return undefined;
    if (parts.length === 3 && INTERVALS.has(parts[2])) return { type: 'book', instrument: parts[1], interval: parts[2] as Interval };
    if (parts.length === 5 && GROUPS.has(parts[2]) && DEPTHS.has(parts[3]) && (parts[4] === '100ms' || parts[4] === 'agg2')) {
      return { type: 'book_grouped', instrument: parts[1], depth: Number(parts[3]) };
    }
    return undefined;
  }

  private parseUserChannel(parts: string[]): ChannelSpec | undefined {
    const kind = parts[1];
    if (kind === 'portfolio' && parts.length === 3) {
      const currency = Object.keys(this.deps.state.config!.raw.currencies).find((code) => code.toLowerCase() === parts[2].toLowerCase());
      return currency === undefined ? undefined : { type: 'user_portfolio', currency };
    }
    const type = kind === 'orders' ? 'user_orders' : kind === 'trades' ? 'user_trades' : kind === 'changes' ? 'user_changes' : undefined;
    if (type === undefined) return undefined;
    if (parts.length === 4 && this.isListed(parts[2]) && INTERVALS.has(parts[3])) {
      return { type, filter: { instrument: parts[2], kind: 'any', currency: 'any' }, interval: parts[3] as Interval };
    }
    const currencies = this.deps.state.config!.raw.currencies;
    if (parts.length === 5 && KINDS.has(parts[2]) && (parts[3] === 'any' || Object.hasOwn(currencies, parts[3])) && INTERVALS.has(parts[4])) {
      return { type, filter: { kind: parts[2], currency: parts[3] }, interval: parts[4] as Interval };
    }
    return undefined;
  }

  private isListed(instrument: string | undefined): boolean {
    return instrument !== undefined && this.deps.state.instruments.has(instrument);
  }

  private index(subscription: Subscription): void {
    const spec = subscription.spec;
    if ('instrument' in spec) {
      let subscriptions = this.publicChannels.get(subscription.channel);
      if (subscriptions === undefined) this.publicChannels.set(subscription.channel, (subscriptions = new Set()));
      subscriptions.add(subscription);
      let channels = this.channelsByInstrument.get(spec.instrument);
      if (channels === undefined) this.channelsByInstrument.set(spec.instrument, (channels = new Set()));
      channels.add(subscription.channel);
      return;
    }
    const accountId = subscription.subscriber.identity!.accountId;
    let subscriptions = this.privateByAccount.get(accountId);
    if (subscriptions === undefined) this.privateByAccount.set(accountId, (subscriptions = new Set()));
    subscriptions.add(subscription);
  }

  private unindex(subscription: Subscription): void {
    const spec = subscription.spec;
    this.dirtyPrivate.delete(subscription);
    if ('instrument' in spec) {
      const subscriptions = this.publicChannels.get(subscription.channel)!;
      subscriptions.delete(subscription);
      if (subscriptions.size === 0) {
        this.publicChannels.delete(subscription.channel);
        this.channelsByInstrument.get(spec.instrument)?.delete(subscription.channel);
      }
      return;
    }
    this.privateByAccount.get(subscription.subscriber.identity!.accountId)?.delete(subscription);
  }

  private stateOf(subscriber: Subscriber): SubscriberState {
    let state = this.subscribers.get(subscriber);
    if (state === undefined) this.subscribers.set(subscriber, (state = { subscriptions: new Map(), staleSinceMs: 0 }));
    return state;
  }

  /** What a new subscription gets at once: the book snapshot, or the current portfolio. */
  private sendInitial(subscription: Subscription): void {
    const spec = subscription.spec;
    if (spec.type === 'book') {
      const book = this.deps.market.book(spec.instrument);
      subscription.changeId = book.changeId;
      this.deliver(subscription.subscriber, subscription.channel, this.bookSnapshot(spec.instrument, book));
    } else if (spec.type === 'book_grouped') {
      this.deliver(subscription.subscriber, subscription.channel, this.groupedBook(spec.instrument, spec.depth));
    } else if (spec.type === 'user_portfolio') {
      this.deliver(subscription.subscriber, subscription.channel, this.portfolioObject(subscription.subscriber.identity!.accountId, spec.currency));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Public fan-out

  private sendRawBook(instrument: string, updates: LevelUpdate[]): void {
    // Most books have no subscriber at all: skip building the channel name to look it up.
    if (!this.channelsByInstrument.has(instrument)) return;
    const channel = `book.${instrument}.raw`;
    const subscriptions = this.publicChannels.get(channel);
    if (subscriptions === undefined || updates.length === 0) return;
    const changeId = updates[0].changeId;
    const data = this.bookChange(instrument, changeId - 1, changeId, updates.map((update) => ({
      action: update.qtyLots === 0 ? 'delete' : update.previousQtyLots === 0 ? 'new' : 'change',
      side: update.side,
      priceTicks: update.priceTicks,
      qtyLots: update.qtyLots,
    })));
    const text = notification(channel, data);
    for (const subscription of subscriptions) {
      subscription.changeId = changeId;
      this.sendText(subscription.subscriber, text);
    }
  }

  /** Sends one shared message to every subscription on `instrument` whose spec matches. */
  private sendToPublic(instrument: string, matches: (spec: ChannelSpec) => boolean, data: () => unknown, conflated = false): void {
    const channels = this.channelsByInstrument.get(instrument);
    if (channels === undefined) return;
    let payload: unknown;
    for (const channel of channels) {
      const subscriptions = this.publicChannels.get(channel)!;
      const first = subscriptions.values().next().value;
      if (first === undefined || !matches(first.spec)) continue;
      payload ??= data();
      const text = notification(channel, payload);
      for (const subscription of subscriptions) {
        if (conflated && this.isHeldBack(subscription.subscriber)) continue;
        this.sendText(subscription.subscriber, text);
      }
    }
  }

  private flushInstrument(instrument: string): void {
    const channels = this.channelsByInstrument.get(instrument);
    if (channels === undefined) return;
    const trades = this.pendingTrades.get(instrument) ?? [];
    const inst = this.instrument(instrument);
    for (const channel of channels) {
      const subscriptions = this.publicChannels.get(channel)!;
      const spec = subscriptions.values().next().value!.spec;
      if (spec.type === 'book' && spec.interval !== 'raw') this.flushConflatedBook(instrument, subscriptions);
      else if (spec.type === 'book_grouped') this.sendShared(channel, subscriptions, this.groupedBook(instrument, spec.depth));
      else if (spec.type === 'trades' && spec.interval !== 'raw' && trades.length > 0) this.flushConflatedTrades(channel, subscriptions, trades, inst); else if (spec.type === 'ticker' && spec.interval !== 'raw') this.sendShared(channel, subscriptions, this.tickerObject(instrument));
      else if (spec.type === 'chart' && trades.length > 0) {
        const candle = this.deps.market.tape(instrument).currentCandle(trades[trades.length - 1].timeMs, spec.resolutionMinutes);
        if (candle !== undefined) this.sendShared(channel, subscriptions, this.candleObject(inst, candle));
      }
    }
  }

  /**
   * A subscriber that joined while this interval's trades were already waiting gets only the trades
   * committed after it subscribed; everyone else shares one message.
   */
  private flushConflatedTrades(channel: string, subscriptions: Set<Subscription>, trades: readonly TradeView[], inst: Instrument): void {
    const firstSequence = trades[0].sequence;
    const latecomers: Subscription[] = [];
    let shared: string | undefined;
    for (const subscription of subscriptions) {
      if (this.isHeldBack(subscription.subscriber)) continue;
      if (subscription.joinedAfterSequence >= firstSequence) {
        latecomers.push(subscription);
        continue;
      }
      shared ??= notification(channel, trades.map((trade) => publicTradeObject(trade, inst)));
      this.sendText(subscription.subscriber, shared);
    }
    for (const subscription of latecomers) {
      const after = trades.filter((trade) => trade.sequence > subscription.joinedAfterSequence);
      if (after.length > 0) this.sendText(subscription.subscriber, notification(channel, after.map((trade) => publicTradeObject(trade, inst))));
    }
  }

  private sendShared(channel: string, subscriptions: Set<Subscription>, data: unknown): void {
    const text = notification(channel, data);
    for (const subscription of subscriptions) {
      if (!this.isHeldBack(subscription.subscriber)) this.sendText(subscription.subscriber, text);
    }
  }

  /** Conflated book: subscribers grouped by the change_id they have, one message per group. */
  private flushConflatedBook(instrument: string, subscriptions: Set<Subscription>): void {
    const book = this.deps.market.book(instrument);
    const byChangeId = new Map<number, Subscription[]>();
    for (const subscription of subscriptions) {
      if (subscription.changeId === book.changeId || this.isHeldBack(subscription.subscriber)) continue;
      let group = byChangeId.get(subscription.changeId);
      if (group === undefined) byChangeId.set(subscription.changeId, (group = []));
      group.push(subscription);
    }
    for (const [changeId, group] of byChangeId) this.sendBookCatchUp(instrument, book, changeId, group);
  }

  private sendBookCatchUp(instrument: string, book: BookMirror, fromChangeId: number, group: Subscription[]): void {
    const changes = book.changesSince(fromChangeId);
    if (changes === undefined) {
      for (const subscription of group) subscription.subscriber.terminate(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer: too far behind');
      return;
    }
    const data = this.bookChange(instrument, fromChangeId, book.changeId, changes);
    const text = notification(group[0].channel, data);
    for (const subscription of group) {
      subscription.changeId = book.changeId;
      this.sendText(subscription.subscriber, text);
    }
  }

  /** Stale connections that drained: their conflated books catch up now, not at the next change. */
  private catchUpDrainedBooks(): void {
    for (const [subscriber, state] of this.subscribers) {
      if (state.staleSinceMs !== 0 || subscriber.bufferedAmount() > gatewayLimits.bufferedBytesSoftMax) continue;
      for (const subscription of state.subscriptions.values()) {
        const spec = subscription.spec;
        if (spec.type !== 'book' || spec.interval === 'raw') continue;
        const book = this.deps.market.book(spec.instrument);
        if (subscription.changeId !== book.changeId) this.sendBookCatchUp(spec.instrument, book, subscription.changeId, [subscription]);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Private fan-out

  private routePrivate(result: CommandResult): void {
    if (this.privateByAccount.size === 0) return;
    for (const event of result.events) {
      if (event.kind === 'order') this.routeToAccount(event.order.accountId, 'user_orders', event.order.instrument, () => this.orderObjectOf(event.order));
      else if (event.kind === 'trade') {
        const trade = event.trade;
        this.routeToAccount(trade.makerAccountId, 'user_trades', trade.instrument, () => this.userTradeOf(trade, trade.makerAccountId));
        if (trade.takerAccountId !== trade.makerAccountId) this.routeToAccount(trade.takerAccountId, 'user_trades', trade.instrument, () => this.userTradeOf(trade, trade.takerAccountId));
      } else if (event.kind === 'balance') this.routePortfolio(event.accountId, event.currency);
    }
    this.routeChanges(result);
  }

  private routeToAccount(accountId: number, type: 'user_orders' | 'user_trades', instrumentName: string, data: () => unknown): void {
    const subscriptions = this.privateByAccount.get(accountId);
    if (subscriptions === undefined) return;
    let payload: unknown;
    for (const subscription of subscriptions) {
      const spec = subscription.spec;
      if (spec.type !== type || !this.filterMatches(spec.filter, instrumentName)) continue;
      payload ??= data();
      if (spec.interval === 'raw') this.deliver(subscription.subscriber, subscription.channel, type === 'user_trades' ? [payload] : payload);
      else this.queuePrivate(subscription, payload);
    }
  }

  /** user.changes: per command and instrument, the account's orders and trades together. */
  private routeChanges(result: CommandResult): void {
    const byAccountInstrument = new Map<string, { accountId: number; instrument: string; orders: unknown[]; trades: unknown[] }>();
    const entry = (accountId: number, instrument: string) => {
      const key = `${accountId}|${instrument}`;
      let found = byAccountInstrument.get(key);
      if (found === undefined) byAccountInstrument.set(key, (found = { accountId, instrument, orders: [], trades: [] }));
      return found;
    };
    for (const event of result.events) {
      if (event.kind === 'order' && this.hasChangesSubscription(event.order.accountId)) entry(event.order.accountId, event.order.instrument).orders.push(this.orderObjectOf(event.order));
      if (event.kind === 'trade') {
        for (const accountId of new Set([event.trade.makerAccountId, event.trade.takerAccountId])) {
          if (this.hasChangesSubscription(accountId)) entry(accountId, event.trade.instrument).trades.push(this.userTradeOf(event.trade, accountId));
        }
      }
    }
    for (const { accountId, instrument, orders, trades } of byAccountInstrument.values()) {
      for (const subscription of this.privateByAccount.get(accountId)!) {
        const spec = subscription.spec;
        if (spec.type !== 'user_changes' || !this.filterMatches(spec.filter, instrument)) continue;
        const data = { instrument_name: instrument, orders, trades, positions: [] };
        if (spec.interval === 'raw') this.deliver(subscription.subscriber, subscription.channel, data);
        else this.queuePrivate(subscription, data);
      }
    }
  }

  private hasChangesSubscription(accountId: number): boolean {
    const subscriptions = this.privateByAccount.get(accountId);
    if (subscriptions === undefined) return false;
    for (const subscription of subscriptions) if (subscription.spec.type === 'user_changes') return true;
    return false;
  }

  private routePortfolio(accountId: number, currency: string): void {
    const subscriptions = this.privateByAccount.get(accountId);
    if (subscriptions === undefined) return;
    for (const subscription of subscriptions) {
      const spec = subscription.spec;
      if (spec.type === 'user_portfolio' && spec.currency === currency) this.deliver(subscription.subscriber, subscription.channel, this.portfolioObject(accountId, currency));
    }
  }

  private queuePrivate(subscription: Subscription, payload: unknown): void {
    subscription.pending.push(payload);
    this.dirtyPrivate.add(subscription);
  }

  private filterMatches(filter: InstrumentFilter, instrumentName: string): boolean {
    if (filter.instrument !== undefined) return filter.instrument === instrumentName;
    const instrument = this.deps.state.instruments.get(instrumentName);
    if (instrument === undefined) return false;
    if (filter.kind !== 'any' && filter.kind !== instrument.kind) return false;
    return filter.currency === 'any' || filter.currency === instrument.baseCurrency || filter.currency === instrument.quoteCurrency || filter.currency === instrument.settlementCurrency;
  }

  // -------------------------------------------------------------------------------------------
  // Sending and the slow-consumer policy

  private deliver(subscriber: Subscriber, channel: string, data: unknown): void {
    this.sendText(subscriber, notification(channel, data));
  }

  private sendText(subscriber: Subscriber, text: string): void {
    if (subscriber.bufferedAmount() > gatewayLimits.bufferedBytesHardMax) {
      subscriber.terminate(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer: too much unread');
      this.removeSubscriber(subscriber);
      return;
    }
    subscriber.send(text);
  }

  /** Conflated sends skip a connection that has too much unread. */
  private isHeldBack(subscriber: Subscriber): boolean {
    const state = this.subscribers.get(subscriber);
    if (state === undefined) return true;
    if (subscriber.bufferedAmount() <= gatewayLimits.bufferedBytesSoftMax) return false;
    if (state.staleSinceMs === 0) state.staleSinceMs = this.deps.nowMs();
    return true;
  }

  private updateStaleness(nowMs: number): void {
    for (const [subscriber, state] of [...this.subscribers]) {
      if (state.staleSinceMs === 0) continue;
      if (subscriber.bufferedAmount() <= gatewayLimits.bufferedBytesSoftMax) {
        state.staleSinceMs = 0;
      } else if (nowMs - state.staleSinceMs > gatewayLimits.staleMsMax || subscriber.bufferedAmount() > gatewayLimits.bufferedBytesHardMax) {
        subscriber.terminate(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer: stale too long');
        this.removeSubscriber(subscriber);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Payloads

  private instrument(name: string): Instrument {
    return this.deps.state.instruments.get(name)!;
  }

  private bookSnapshot(instrumentName: string, book: BookMirror): unknown {
    const instrument = this.instrument(instrumentName);
    const side = (index: 0 | 1) => book.top(index, Number.MAX_SAFE_INTEGER).map(([price, qty]) => ['new', ticksToPrice(price, instrument), lotsToAmount(qty, instrument)]);
    return { type: 'snapshot', timestamp: book.timestampMs || this.deps.nowMs(), instrument_name: instrumentName, change_id: book.changeId, bids: side(0), asks: side(1) };
  }

  private bookChange(instrumentName: string, previousChangeId: number, changeId: number, changes: { action: string; side: 0 | 1; priceTicks: number; qtyLots: number }[]): unknown {
    const instrument = this.instrument(instrumentName);
    const bids: unknown[] = [];
    const asks: unknown[] = [];
    for (const change of changes) (change.side === 0 ? bids : asks).push([change.action, ticksToPrice(change.priceTicks, instrument), lotsToAmount(change.qtyLots, instrument)]);
    const book = this.deps.market.book(instrumentName);
    return { type: 'change', timestamp: book.timestampMs, instrument_name: instrumentName, prev_change_id: previousChangeId, change_id: changeId, bids, asks };
  }

  private groupedBook(instrumentName: string, depth: number): unknown {
    const instrument = this.instrument(instrumentName);
    const book = this.deps.market.book(instrumentName);
    const side = (index: 0 | 1) => book.top(index, depth).map(([price, qty]) => [ticksToPrice(price, instrument), lotsToAmount(qty, instrument)]);
    return { timestamp: book.timestampMs || this.deps.nowMs(), instrument_name: instrumentName, change_id: book.changeId, bids: side(0), asks: side(1) };
  }

  tickerObject(instrumentName: string): Record<string, unknown> {
    return tickerObject(this.deps.state, this.deps.market, this.instrument(instrumentName), this.deps.nowMs());
  }

  private quoteObject(instrumentName: string): unknown {
    const instrument = this.instrument(instrumentName);
    const book = this.deps.market.book(instrumentName);
    const bid = book.best(0);
    const ask = book.best(1);
    return {
      instrument_name: instrumentName,
      timestamp: book.timestampMs,
      best_bid_price: bid === undefined ? null : ticksToPrice(bid.priceTicks, instrument),
      best_bid_amount: bid === undefined ? 0 : lotsToAmount(bid.qtyLots, instrument),
      best_ask_price: ask === undefined ? null : ticksToPrice(ask.priceTicks, instrument),
      best_ask_amount: ask === undefined ? 0 : lotsToAmount(ask.qtyLots, instrument),
    };
  }

  private candleObject(instrument: Instrument, candle: { startMs: number; openTicks: number; highTicks: number; lowTicks: number; closeTicks: number; volumeLots: number; costTickLots: number }): unknown {
    return {
      tick: candle.startMs,
      open: ticksToPrice(candle.openTicks, instrument),
      high: ticksToPrice(candle.highTicks, instrument),
      low: ticksToPrice(candle.lowTicks, instrument),
      close: ticksToPrice(candle.closeTicks, instrument),
      volume: lotsToAmount(candle.volumeLots, instrument),
      cost: candle.costTickLots * Number(instrument.tickScaled * instrument.lotScaled) / 1e12,
    };
  }

  private orderObjectOf(order: OrderView): unknown {
    return orderObject(order, this.instrument(order.instrument), this.deps.state.config!.settlementDecimals);
  }

  private userTradeOf(trade: TradeView, accountId: number): unknown {
    const config = this.deps.state.config!;
    return userTradeObject(trade, accountId, this.instrument(trade.instrument), config.settlementCurrency, config.settlementDecimals);
  }

  private portfolioObject(accountId: number, currency: string): unknown {
    const accounts = this.deps.accounts;
    const decimals = this.deps.state.config!.raw.currencies[currency].decimals;
    return accountSummaryObject(accountId, accounts.owner(accountId), currency, accounts.balance(accountId, currency), decimals);
  }
}

/** Deribit's ticker object (reference §5.2) from committed market data. */
export function tickerObject(state: ExchangeState, market: MarketData, instrument: Instrument, nowMs: number): Record<string, unknown> {
  const book = market.book(instrument.name);
  const tape = market.tape(instrument.name);
  const bid = book.best(0);
  const ask = book.best(1);
  const price = (ticks: number | undefined) => (ticks === undefined || ticks === 0 ? null : ticksToPrice(ticks, instrument));
  const last = tape.lastPriceTicks || undefined;
  const markTicks = state.markPriceTicks.get(instrument.name) ?? last ?? (bid && ask ? Math.round((bid.priceTicks + ask.priceTicks) / 2) : undefined);
  const indexTicks = instrument.kind === 'spot' ? state.indexPriceTicks.get(instrument.sku) ?? markTicks : markTicks;
  const stats = tape.stats24h(nowMs);
  const volume = stats === undefined ? 0 : lotsToAmount(stats.volumeLots, instrument);
  const notional = stats === undefined ? 0 : stats.costTickLots * Number(instrument.tickScaled * instrument.lotScaled) / 1e12;
  return {
    instrument_name: instrument.name,
    timestamp: nowMs,
    state: instrument.state === 'trading' ? 'open' : instrument.state === 'halted' ? 'halted' : 'closed',
    last_price: price(last),
    best_bid_price: price(bid?.priceTicks),
    best_bid_amount: bid === undefined ? 0 : lotsToAmount(bid.qtyLots, instrument),
    best_ask_price: price(ask?.priceTicks),
    best_ask_amount: ask === undefined ? 0 : lotsToAmount(ask.qtyLots, instrument),
    mark_price: price(markTicks),
    index_price: price(indexTicks),
    settlement_price: price(markTicks),
    estimated_delivery_price: price(indexTicks),
    open_interest: 0,
    min_price: price(1),
    max_price: price(instrument.priceTicksMax),
    current_funding: 0,
    funding_8h: 0,
    interest_value: 0,
    stats: {
      high: stats === undefined ? null : price(stats.highTicks),
      low: stats === undefined ? null : price(stats.lowTicks),
      volume,
      volume_usd: notional,
      volume_notional: notional,
      price_change: stats === undefined || last === undefined || stats.openTicks === 0 ? null : Math.round(((last - stats.openTicks) / stats.openTicks) * 1e6) / 1e4,
    },
  };
}

function notification(channel: string, data: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } });
}
