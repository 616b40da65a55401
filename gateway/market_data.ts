import type { CommandResult, ExchangeState, TradeView } from '../engine/index.js';
import { gatewayLimits } from './limits.js';

// Public market data as of the last committed batch, built from committed events only (the
// engine's books run ahead of the journal while a batch commits).
//
// Per instrument:
// - BookMirror: the L2 book (price → total, order count) and one `change_id` counter that both
//   REST get_order_book and the WS book channels use, so a REST snapshot splices with WS deltas.
//   Every committed command that changed the book gets the next change_id; its level updates go
//   into a bounded log, from which conflated (100ms) subscribers are brought up to date.
// - recent trades (a bounded ring) and one-minute candles (for ticker stats and charts).

export const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const CANDLE_MINUTES_KEPT = 7 * 24 * 60;

export interface LevelUpdate {
  changeId: number;
  side: 0 | 1;
  priceTicks: number;
  qtyLots: number;
  previousQtyLots: number;
}

export class BookMirror {
  changeId = 0;
  /** Time of the last change. */
  timestampMs = 0;
  private readonly qtyBySide = [new Map<number, number>(), new Map<number, number>()];
  private readonly countBySide = [new Map<number, number>(), new Map<number, number>()];
  /** Sorted best first: bids descending, asks ascending. */
  private readonly pricesBySide: [number[], number[]] = [[], []];
  private log: LevelUpdate[] = [];
  private logStart = 0;

  /** Seeds the mirror from a book at start-up (all committed then). */
  seed(levels: { side: 0 | 1; priceTicks: number; qtyLots: number; orderCount: number }[]): void {
    for (const level of levels) this.setLevel(level.side, level.priceTicks, level.qtyLots, level.orderCount);
  }

  /** Applies one committed command's level changes as one change_id; returns its updates. */
  applyChange(flatLevels: readonly number[], timeMs: number): LevelUpdate[] {
    const changeId = ++this.changeId;
    this.timestampMs = timeMs;
    const updates: LevelUpdate[] = [];
    for (let index = 0; index < flatLevels.length; index += 4) {
      const side = flatLevels[index] as 0 | 1;
      const priceTicks = flatLevels[index + 1];
      const qtyLots = flatLevels[index + 2];
      const previousQtyLots = this.qtyBySide[side].get(priceTicks) ?? 0;
      this.setLevel(side, priceTicks, qtyLots, flatLevels[index + 3]);
      updates.push({ changeId, side, priceTicks, qtyLots, previousQtyLots });
    }
    this.appendLog(updates);
    return updates;
  }

  /** Best `depth` levels per side as [priceTicks, qtyLots]. */
  top(side: 0 | 1, depth: number): [number, number][] {
    const prices = this.pricesBySide[side];
    const levels: [number, number][] = [];
    for (let index = 0; index < prices.length && index < depth; index++) levels.push([prices[index], this.qtyBySide[side].get(prices[index])!]);
    return levels;
  }

  best(side: 0 | 1): { priceTicks: number; qtyLots: number } | undefined {
    const price = this.pricesBySide[side][0];
    return price === undefined ? undefined : { priceTicks: price, qtyLots: this.qtyBySide[side].get(price)! };
  }

  /**
   * The net change of every level between change `afterChangeId` and now, one entry per level
   * ('new' if it did not exist then, 'delete' if it does not now), or undefined when the log no
   * longer reaches that far back.
   */
  changesSince(afterChangeId: number): { action: 'new' | 'change' | 'delete'; side: 0 | 1; priceTicks: number; qtyLots: number }[] | undefined {
    if (afterChangeId === this.changeId) return [];
    const first = this.log[this.logStart];
    if (first === undefined || first.changeId > afterChangeId + 1) return undefined;
    const net = new Map<string, { side: 0 | 1; priceTicks: number; before: number; after: number }>();
    for (let index = this.logStart; index < this.log.length; index++) {
      const update = this.log[index];
      if (update.changeId <= afterChangeId) continue;
      const key = `${update.side}:${update.priceTicks}`;
      const seen = net.get(key);
      if (seen === undefined) net.set(key, { side: update.side, priceTicks: update.priceTicks, before: update.previousQtyLots, after: update.qtyLots });
      else seen.after = update.qtyLots;
    }
    const changes: { action: 'new' | 'change' | 'delete'; side: 0 | 1; priceTicks: number; qtyLots: number }[] = [];
    for (const { side, priceTicks, before, after } of net.values()) {
      if (before === after) continue;
      changes.push({ action: after === 0 ? 'delete' : before === 0 ? 'new' : 'change', side, priceTicks, qtyLots: after });
    }
    return changes;
  }

  private setLevel(side: 0 | 1, priceTicks: number, qtyLots: number, orderCount: number): void {
    const quantities = this.qtyBySide[side];
    const prices = this.pricesBySide[side];
    const existed = quantities.has(priceTicks);
    if (qtyLots === 0) {
      if (!existed) return;
      quantities.delete(priceTicks);
      this.countBySide[side].delete(priceTicks);
      prices.splice(findPrice(prices, priceTicks, side), 1);
      return;
    }
    quantities.set(priceTicks, qtyLots);
    this.countBySide[side].set(priceTicks, orderCount);
    if (!existed) prices.splice(insertionPoint(prices, priceTicks, side), 0, priceTicks);
  }

  private appendLog(updates: LevelUpdate[]): void {
    for (const update of updates) this.log.push(update);
    if (this.log.length - this.logStart > gatewayLimits.bookLogEntriesMax) {
      // Drop whole change_ids from the front, so a range is either fully in the log or not at all.
      let start = this.log.length - gatewayLimits.bookLogEntriesMax;
      const boundary = this.log[start].changeId;
      while (start < this.log.length && this.log[start].changeId === boundary) start++;
      this.logStart = start;
      if (this.logStart > this.log.length / 2) {
        this.log = this.log.slice(this.logStart);
        this.logStart = 0;
      }
    }
  }
}

/** Best-first order: bids descending, asks ascending. */
function comesBefore(a: number, b: number, side: 0 | 1): boolean {
  return side === 0 ? a > b : a < b;
}

function insertionPoint(prices: number[], price: number, side: 0 | 1): number {
  let low = 0;
  let high = prices.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (comesBefore(prices[middle], price, side)) low = middle + 1;
    else high = middle;
  }
  return low;
}

function findPrice(prices: number[], price: number, side: 0 | 1): number {
  const index = insertionPoint(prices, price, side);
  return prices[index] === price ? index : -1;
}

export interface Candle {
  startMs: number;
  openTicks: number;
  highTicks: number;
  lowTicks: number;
  closeTicks: number;
  volumeLots: number;
  /** Σ price × qty in tick-lots. */
  costTickLots: number;
}

/** Trades, candles and stats of one instrument. */
export class TradeTape {
  lastPriceTicks = 0;
  private readonly candles: Candle[] = [];
  /**
   * The recent trades and up to as many older ones: trimmed once per recentTradesPerInstrumentMax
   * trades, not on every trade (shifting a long array that holds new objects cost microseconds).
   */
  private trades: TradeView[] = [];

  /** The last recentTradesPerInstrumentMax trades, oldest first. */
  get recent(): readonly TradeView[] {
    const max = gatewayLimits.recentTradesPerInstrumentMax;
    return this.trades.length > max ? this.trades.slice(this.trades.length - max) : this.trades;
  }

  add(trade: TradeView): void {
    this.lastPriceTicks = trade.priceTicks;
    this.trades.push(trade);
    const max = gatewayLimits.recentTradesPerInstrumentMax;
    if (this.trades.length >= 2 * max) this.trades = this.trades.slice(this.trades.length - max);
    this.addToCandle(trade);
  }

  /** Candles of `resolutionMinutes`, bar open time in [startMs, endMs]. */
  candlesBetween(startMs: number, endMs: number, resolutionMinutes: number): Candle[] {
    const barMs = resolutionMinutes * MINUTE_MS;
    const bars = new Map<number, Candle>();
    for (const candle of this.candles) {
      const barStartMs = Math.floor(candle.startMs / barMs) * barMs;
      if (barStartMs < Math.floor(startMs / barMs) * barMs || barStartMs > endMs) continue;
      const bar = bars.get(barStartMs);
      if (bar === undefined) bars.set(barStartMs, { ...candle, startMs: barStartMs });
      else mergeCandle(bar, candle);
    }
    return [...bars.values()];
  }

  /** The candle of `resolutionMinutes` that contains `timeMs` (for chart.trades updates). */
  currentCandle(timeMs: number, resolutionMinutes: number): Candle | undefined {
    const barMs = resolutionMinutes * MINUTE_MS;
    const startMs = Math.floor(timeMs / barMs) * barMs;
    return this.candlesBetween(startMs, startMs, resolutionMinutes)[0];
  }

  /** High, low, volume and price change over the 24 hours before `nowMs`. */
  stats24h(nowMs: number): { highTicks: number; lowTicks: number; volumeLots: number; costTickLots: number; openTicks: number } | undefined {
    let stats: { highTicks: number; lowTicks: number; volumeLots: number; costTickLots: number; openTicks: number } | undefined;
    for (const candle of this.candles) {
      if (candle.startMs + MINUTE_MS <= nowMs - DAY_MS) continue;
      if (stats === undefined) stats = { highTicks: candle.highTicks, lowTicks: candle.lowTicks, volumeLots: 0, costTickLots: 0, openTicks: candle.openTicks };
      stats.highTicks = Math.max(stats.highTicks, candle.highTicks);
      stats.lowTicks = Math.min(stats.lowTicks, candle.lowTicks);
      stats.volumeLots += candle.volumeLots;
      stats.costTickLots += candle.costTickLots;
    }
    return stats;
  }

  private addToCandle(trade: TradeView): void {
    const startMs = Math.floor(trade.timeMs / MINUTE_MS) * MINUTE_MS;
    const last = this.candles[this.candles.length - 1];
    const costTickLots = trade.priceTicks * trade.amountLots;
    if (last !== undefined && last.startMs === startMs) {
      // mergeCandle with a one-trade candle, without building that candle for every trade.
      last.highTicks = Math.max(last.highTicks, trade.priceTicks);
      last.lowTicks = Math.min(last.lowTicks, trade.priceTicks);
      last.closeTicks = trade.priceTicks;
      last.volumeLots += trade.amountLots;
      last.costTickLots += costTickLots;
      return;
    }
    this.candles.push({ startMs, openTicks: trade.priceTicks, highTicks: trade.priceTicks, lowTicks: trade.priceTicks, closeTicks: trade.priceTicks, volumeLots: trade.amountLots, costTickLots });
    if (this.candles.length > CANDLE_MINUTES_KEPT) this.candles.splice(0, this.candles.length - CANDLE_MINUTES_KEPT);
  }
}

function mergeCandle(into: Candle, next: Candle): void {
  into.highTicks = Math.max(into.highTicks, next.highTicks);
  into.lowTicks = Math.min(into.lowTicks, next.lowTicks);
  into.closeTicks = next.closeTicks;
  into.volumeLots += next.volumeLots;
  into.costTickLots += next.costTickLots;
}

/** Everything public about every instrument, moved only by committed events. */
export class MarketData {
  readonly books = new Map<string, BookMirror>();
  readonly tapes = new Map<string, TradeTape>();

  constructor(state: ExchangeState) {
    for (const [name, book] of state.books) {
      const levels: { side: 0 | 1; priceTicks: number; qtyLots: number; orderCount: number }[] = [];
      for (const side of [0, 1] as const) {
        for (const level of book.topLevels(side, Number.MAX_SAFE_INTEGER)) levels.push({ side, ...level });
      }
      this.book(name).seed(levels);
    }
    for (const [name, priceTicks] of state.lastPriceTicks) this.tape(name).lastPriceTicks = priceTicks;
  }

  book(instrument: string): BookMirror {
    let book = this.books.get(instrument);
    if (book === undefined) this.books.set(instrument, (book = new BookMirror()));
    return book;
  }

  tape(instrument: string): TradeTape {
    let tape = this.tapes.get(instrument);
    if (tape === undefined) this.tapes.set(instrument, (tape = new TradeTape()));
    return tape;
  }

  /** Seeds the tapes with trades from history (start-up), oldest first. */
  seedTrades(trades: readonly TradeView[]): void {
    for (const trade of trades) this.tape(trade.instrument).add(trade);
  }

  /**
   * Applies one committed command; the caller fans the returned updates out. Each book event is
   * its own change_id, in order (one command can change a book twice: a trade that triggers a
   * stop order).
   */
  ingest(result: CommandResult): { bookChanges: { instrument: string; updates: LevelUpdate[] }[]; trades: Map<string, TradeView[]> } {
    const bookChanges: { instrument: string; updates: LevelUpdate[] }[] = [];
    const trades = new Map<string, TradeView[]>();
    for (const event of result.events) {
      if (event.kind === 'book') {
        bookChanges.push({ instrument: event.instrument, updates: this.book(event.instrument).applyChange(event.levels, result.timeMs) });
      } else if (event.kind === 'trade') {
        this.tape(event.trade.instrument).add(event.trade);
        let list = trades.get(event.trade.instrument);
        if (list === undefined) trades.set(event.trade.instrument, (list = []));
        list.push(event.trade);
      }
    }
    return { bookChanges, trades };
  }
}
