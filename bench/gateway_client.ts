// Load generator of the gateway benchmark (bench/gateway.bench.ts; notes in bench/GATEWAY.md). It
// runs as a child process of its own, so that its CPU shows up apart from the server's, and takes
// one job over IPC:
//
//   orders     N WebSocket connections, each authenticated (public/auth, client_credentials) as an
//              account of its own, sending private/buy, private/sell (limit GTC resting near the mid,
//              or IOC crossing the spread) and private/cancel of its own resting orders on
//              H100_USDAI. Either closed loop (a window of W requests outstanding per connection:
//              throughput) or open loop (a fixed rate on a timer schedule: latency, counted from each
//              request's scheduled send time, so a stalled server cannot hide its stall by slowing the
//              sender down: no coordinated omission).
//   subscribe  K WebSocket connections subscribed to book channels; for each `change` notification
//              the delivery latency is the receive time minus `data.timestamp` (the time the engine
//              stamped the change, in whole ms, same machine clock).
//
// The child reports {type:'phase'} when its measured window opens and closes (so the parent can
// sample the server's CPU and memory over exactly that window), then {type:'result'}.
//
// Replies are not JSON-parsed: the server's envelope is scanned for the few fields needed (id,
// error code, order_id, order_state), which keeps the generator's CPU small on a 2-core machine.

import { WebSocket } from 'ws';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// Histogram (HDR-style, log-linear): exact below 256 µs, 128 sub-buckets per power of two above
// (relative error under 0.8%), up to 2^31 µs. Mergeable across processes.

const LINEAR_BUCKETS = 256;
const SUB_BUCKETS = 128;
const OCTAVES = 24;
const BUCKETS = LINEAR_BUCKETS + OCTAVES * SUB_BUCKETS;

export interface HistogramData {
  /** [bucket index, count] for every non-empty bucket. */
  buckets: [number, number][];
  count: number;
  sumUs: number;
  maxUs: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  maxUs = 0;

  /** Records one value in microseconds (rounded up to a whole µs). */
  record(us: number): void {
    const value = us <= 0 ? 0 : Math.min(2 ** 31 - 1, Math.ceil(us));
    this.counts[bucketOf(value)]++;
    this.count++;
    this.sumUs += value;
    if (value > this.maxUs) this.maxUs = value;
  }

  /** Nearest-rank percentile (0 < fraction ≤ 1) in µs: the highest value of its bucket, at most the max. */
  percentileUs(fraction: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index];
      if (seen >= rank) return Math.min(highestOf(index), this.maxUs);
    }
    return this.maxUs;
  }

  percentileMs(fraction: number): number {
    return this.percentileUs(fraction) / 1000;
  }

  meanMs(): number {
    return this.count === 0 ? NaN : this.sumUs / this.count / 1000;
  }

  merge(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.counts[index] += count;
    this.count += data.count;
    this.sumUs += data.sumUs;
    this.maxUs = Math.max(this.maxUs, data.maxUs);
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    for (let index = 0; index < BUCKETS; index++) if (this.counts[index] !== 0) buckets.push([index, this.counts[index]]);
    return { buckets, count: this.count, sumUs: this.sumUs, maxUs: this.maxUs };
  }

  static from(data: HistogramData): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.merge(data);
    return histogram;
  }
}

function bucketOf(value: number): number {
  if (value < LINEAR_BUCKETS) return value;
  const msb = 31 - Math.clz32(value);
  const shift = msb - 7;
  return LINEAR_BUCKETS + (msb - 8) * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS);
}

function highestOf(index: number): number {
  if (index < LINEAR_BUCKETS) return index;
  const octave = Math.floor((index - LINEAR_BUCKETS) / SUB_BUCKETS);
  const sub = ((index - LINEAR_BUCKETS) % SUB_BUCKETS) + SUB_BUCKETS;
  const shift = octave + 1;
  return (sub + 1) * 2 ** shift - 1;
}

// ---------------------------------------------------------------------------------------------
// Jobs and results (shared with the parent)

export interface AccountCredentials {
  clientId: string;
  clientSecret: string;
}

export interface OrderMix {
  /** Share of requests that cancel one of the connection's own resting orders (when it has one). */
  cancel: number;
  /** Share of IOC limit orders priced through the spread (they take liquidity). */
  cross: number;
  /** Resting orders one connection keeps at most: above this every request is a cancel. The rest
   * of the requests are GTC limit orders 1-`bandTicks` ticks away from the mid, which rest. */
  restingMax: number;
  midTicks: number;
  bandTicks: number;
}

export interface OrdersJob {
  kind: 'orders';
  wsUrl: string;
  instrument: string;
  accounts: AccountCredentials[];
  connections: number;
  mode: 'closed' | 'open';
  /** Closed loop: requests outstanding per connection. */
  window: number;
  /** Open loop: requests per second over all connections, evenly spaced. */
  ratePerSec: number;
  warmupMs: number;
  measureMs: number;
  seed: number;
  mix: OrderMix;
  /** Open loop: a connection with this many requests outstanding counts the run as overloaded and skips sends. */
  outstandingMax: number;
}

export interface SubscribeJob {
  kind: 'subscribe';
  wsUrl: string;
  count: number;
  channels: string[];
  /** Used only if the server refuses a channel to an unauthenticated connection. */
  account: AccountCredentials;
  /** Connections opened at once while connecting. */
  connectConcurrency: number;
}

export type ClientJob = OrdersJob | SubscribeJob;

export interface OrdersResult {
  type: 'result';
  kind: 'orders';
  mode: 'closed' | 'open';
  connections: number;
  window: number;
  ratePerSec: number;
  measuredMs: number;
  /** Replies (ok or error) to order-entry requests received inside the measured window. */
  repliesInWindow: number;
  okInWindow: number;
  /** Requests scheduled (open loop) or sent (closed) inside the measured window. */
  sentInWindow: number;
  /** Latency of requests sent/scheduled in the window: reply − scheduled send (open) or − send (closed). */
  latency: HistogramData;
  /** Open loop only: reply − actual send (how much of the above is the client's own timer lateness). */
  serviceLatency: HistogramData;
  /** Server-side time per request from the envelope's usDiff (frame received → reply built), µs. */
  serverUsDiff: HistogramData;
  counts: { rest: number; cross: number; cancel: number; restedOpen: number; crossFilled: number; errors: Record<string, number> };
  /** Open loop: sends skipped because a connection had outstandingMax requests waiting. */
  skipped: number;
  /** Open loop: sends that went out later than 1 ms after their scheduled time. */
  lateSends: number;
  unanswered: number;
  clientCpuMs: number;
  restingAtEnd: number;
}

export interface SubscribeResult {
  type: 'result';
  kind: 'subscribe';
  connected: number;
  subscribed: number;
  measuredMs: number;
  /** Per channel suffix (e.g. 'raw', '100ms'): change notifications and their delivery latency. */
  channels: Record<string, { notifications: number; latency: HistogramData; gaps: number; snapshots: number }>;
  bytes: number;
  clientCpuMs: number;
  closedEarly: number;
}

export type ClientMessage =
  | { type: 'ready' }
  | { type: 'phase'; phase: 'measure-start' | 'measure-end'; atMs: number }
  | OrdersResult
  | SubscribeResult
  | { type: 'error'; message: string };

export type ParentMessage = { type: 'start'; measureMs?: number } | { type: 'stop' } | { type: 'exit' };

// ---------------------------------------------------------------------------------------------
// Helpers

/** xorshift32: small, seeded, good enough to pick order parameters. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }
  int(lowInclusive: number, highInclusive: number): number {
    return lowInclusive + Math.floor(this.next() * (highInclusive - lowInclusive + 1));
  }
}

const nowMs = (): number => performance.now();
/** BENCH_TIMELINE=<prefix>: each open-loop run writes its requests' timings to <prefix>-client-<pid>-<n>.json. */
const TIMELINE = process.env.BENCH_TIMELINE;

function send(message: ClientMessage): void {
  process.send?.(message);
}

/** Text of a price in ticks of 0.001, exact (no float formatting). */
function priceText(ticks: number): string {
  const whole = Math.floor(ticks / 1000);
  return `${whole}.${String(ticks - whole * 1000).padStart(3, '0')}`;
}

/** The integer after `"key":` in `text` (from `from`), or NaN. */
function intAfter(text: string, key: string, from = 0): number {
  const at = text.indexOf(key, from);
  if (at < 0) return NaN;
  let index = at + key.length;
  let value = 0;
  let digits = 0;
  let negative = false;
  if (text.charCodeAt(index) === 45) {
    negative = true;
    index++;
  }
  for (; index < text.length; index++) {
    const code = text.charCodeAt(index) - 48;
    if (code < 0 || code > 9) break;
    value = value * 10 + code;
    digits++;
  }
  if (digits === 0) return NaN;
  return negative ? -value : value;
}

/** The string value after `"key":"` in `text`, or undefined. */
function stringAfter(text: string, key: string): string | undefined {
  const at = text.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = text.indexOf('"', start);
  return end < 0 ? undefined : text.slice(start, end);
}

const zeroMask = (mask: Buffer): void => {
  mask[0] = 0;
  mask[1] = 0;
  mask[2] = 0;
  mask[3] = 0;
};

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // A zero mask lets ws skip masking on the client; the server's work is the same either way.
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, generateMask: zeroMask, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** One request/reply exchange before the measured traffic starts (auth, subscribe). */
function exchange(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const reply = data.toString();
      if (reply.startsWith('{"jsonrpc":"2.0","method":')) return; // a notification, not the reply
      ws.off('message', onMessage);
      resolve(reply);
    };
    ws.on('message', onMessage);
    ws.send(text);
  });
}

async function authenticate(ws: WebSocket, account: AccountCredentials): Promise<void> {
  const reply = await exchange(ws, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'public/auth', params: { grant_type: 'client_credentials', client_id: account.clientId, client_secret: account.clientSecret } }));
  if (!reply.includes('"access_token"')) throw new Error(`public/auth failed: ${reply.slice(0, 300)}`);
}

/** Underlying TCP socket of a ws client (ws keeps it in a private field); used to batch writes. */
function tcpOf(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  return (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
}

// ---------------------------------------------------------------------------------------------
// Order entry

const enum Kind {
  Rest = 0,
  Cross = 1,
  Cancel = 2,
}

interface Outstanding {
  id: number;
  kind: Kind;
  scheduledMs: number;
  sentMs: number;
  inWindow: boolean;
}

class OrderConnection {
  private nextId = 1;
  private readonly outstanding: Outstanding[] = [];
  private head = 0;
  readonly resting: string[] = [];
  private corked = false;
  private readonly tcp: { cork(): void; uncork(): void } | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly run: OrdersRun,
    private readonly random: Random,
  ) {
    this.tcp = tcpOf(ws);
    ws.on('message', (data: Buffer) => this.onReply(data.toString()));
  }

  get waiting(): number {
    return this.outstanding.length - this.head;
  }

  /** Sends the next request of the mix; `scheduledMs` is when it should have gone out. */
  sendNext(scheduledMs: number, sentMs: number, inWindow: boolean): void {
    const { mix, instrument } = this.run.job;
    const id = this.nextId++;
    let kind: Kind;
    let text: string;
    const roll = this.random.next();
    if (this.resting.length > 0 && (this.resting.length >= mix.restingMax || roll < mix.cancel)) {
      kind = Kind.Cancel;
      const pick = this.random.int(0, this.resting.length - 1);
      const orderId = this.resting[pick];
      this.resting[pick] = this.resting[this.resting.length - 1];
      this.resting.pop();
      text = `{"jsonrpc":"2.0","id":${id},"method":"private/cancel","params":{"order_id":"${orderId}"}}`;
    } else if (roll >= mix.cancel && roll < mix.cancel + mix.cross) {
      kind = Kind.Cross;
      const buy = this.random.next() < 0.5;
      const price = buy ? mix.midTicks + mix.bandTicks : mix.midTicks - mix.bandTicks;
      text = `{"jsonrpc":"2.0","id":${id},"method":"private/${buy ? 'buy' : 'sell'}","params":{"instrument_name":"${instrument}","amount":${this.random.int(1, 3)},"type":"limit","price":${priceText(price)},"time_in_force":"immediate_or_cancel"}}`;
    } else {
      kind = Kind.Rest;
      const buy = this.random.next() < 0.5;
      const offset = this.random.int(1, mix.bandTicks);
      const price = buy ? mix.midTicks - offset : mix.midTicks + offset;
      text = `{"jsonrpc":"2.0","id":${id},"method":"private/${buy ? 'buy' : 'sell'}","params":{"instrument_name":"${instrument}","amount":${this.random.int(1, 10)},"type":"limit","price":${priceText(price)}}}`;
    }
    this.outstanding.push({ id, kind, scheduledMs, sentMs, inWindow });
    if (this.tcp !== undefined && !this.corked) {
      // Frames sent in the same tick leave in one write, as a pipelining client's would.
      this.corked = true;
      this.tcp.cork();
      process.nextTick(() => {
        this.corked = false;
        this.tcp!.uncork();
      });
    }
    this.ws.send(text);
    this.run.counted(kind, inWindow);
  }

  private onReply(text: string): void {
    const receivedMs = nowMs();
    if (this.head >= this.outstanding.length) return this.run.fail(`unexpected message: ${text.slice(0, 200)}`);
    const request = this.outstanding[this.head++];
    if (this.head > 4096) {
      this.outstanding.splice(0, this.head);
      this.head = 0;
    }
    // The id is the envelope's last field ("…,"testnet":false,"id":N}"); replies come in order.
    const id = intAfter(text, '"id":', text.lastIndexOf('"id":'));
    if (id !== request.id) return this.run.fail(`reply id ${id} where ${request.id} was expected: ${text.slice(0, 200)}`);
    const isError = text.startsWith('{"jsonrpc":"2.0","error"');
    let ok = false;
    let rested = false;
    if (isError) {
      this.run.error(String(intAfter(text, '"code":')));
    } else {
      ok = true;
      if (request.kind === Kind.Rest) {
        const state = stringAfter(text, '"order_state":"');
        if (state === 'open') {
          const orderId = stringAfter(text, '"order_id":"');
          if (orderId !== undefined) {
            this.resting.push(orderId);
            rested = true;
          }
        }
      } else if (request.kind === Kind.Cross) {
        if (stringAfter(text, '"order_state":"') === 'filled') this.run.crossFilled(request.inWindow);
      }
    }
    const usDiff = intAfter(text, '"usDiff":');
    this.run.replied(this, request, receivedMs, ok, rested, usDiff);
  }
}

class OrdersRun {
  readonly latency = new LatencyHistogram();
  readonly serviceLatency = new LatencyHistogram();
  readonly serverUsDiff = new LatencyHistogram();
  readonly counts = { rest: 0, cross: 0, cancel: 0, restedOpen: 0, crossFilled: 0, errors: {} as Record<string, number> };
  connections: OrderConnection[] = [];
  sending = false;
  windowStartMs = Infinity;
  windowEndMs = Infinity;
  repliesInWindow = 0;
  /** Every reply, warm-up included (BENCH_PROGRESS). */
  repliesTotal = 0;
  okInWindow = 0;
  sentInWindow = 0;
  skipped = 0;
  lateSends = 0;
  /** BENCH_TIMELINE: per request [scheduled, sent, received (epoch ms), server usDiff]. */
  readonly timeline: number[][] = [];
  private failed = false;
  private drainWaiter: (() => void) | undefined;

  constructor(readonly job: OrdersJob) {}

  counted(kind: Kind, inWindow: boolean): void {
    if (!inWindow) return;
    this.sentInWindow++;
    if (kind === Kind.Rest) this.counts.rest++;
    else if (kind === Kind.Cross) this.counts.cross++;
    else this.counts.cancel++;
  }

  crossFilled(inWindow: boolean): void {
    if (inWindow) this.counts.crossFilled++;
  }

  error(code: string): void {
    this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1;
  }

  fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    send({ type: 'error', message });
    setTimeout(() => process.exit(1), 100);
  }

  replied(connection: OrderConnection, request: Outstanding, receivedMs: number, ok: boolean, rested: boolean, usDiff: number): void {
    this.repliesTotal++;
    if (receivedMs >= this.windowStartMs && receivedMs < this.windowEndMs) {
      this.repliesInWindow++;
      if (ok) this.okInWindow++;
    }
    if (request.inWindow) {
      if (TIMELINE) this.timeline.push([performance.timeOrigin + request.scheduledMs, performance.timeOrigin + request.sentMs, performance.timeOrigin + receivedMs, usDiff]);
      this.latency.record((receivedMs - request.scheduledMs) * 1000);
      this.serviceLatency.record((receivedMs - request.sentMs) * 1000);
      if (Number.isFinite(usDiff)) this.serverUsDiff.record(usDiff);
      if (rested) this.counts.restedOpen++;
    }
    if (this.job.mode === 'closed') {
      if (this.sending) {
        const t = nowMs();
        connection.sendNext(t, t, t >= this.windowStartMs && t < this.windowEndMs);
      }
    } else if (this.sending) {
      this.pump();
    }
    if (this.drainWaiter !== undefined && this.waiting() === 0) this.drainWaiter();
  }

  waiting(): number {
    let total = 0;
    for (const connection of this.connections) total += connection.waiting;
    return total;
  }

  // Open loop: request k (k = 0, 1, …) is due at start + k / rate, on connection k mod N.
  private openStartMs = 0;
  private openIndex = 0;
  private intervalMs = 1;
  private openEndMs = 0;

  startOpen(startMs: number): void {
    this.intervalMs = 1000 / this.job.ratePerSec;
    this.openStartMs = startMs;
    this.openEndMs = this.windowEndMs;
    this.sending = true;
    const tick = () => {
      if (!this.sending) return;
      this.pump();
      // A 1 ms timer, and every reply also runs the pump (above), so sends are seldom late.
      if (this.sending) setTimeout(tick, 1);
    };
    tick();
  }

  pump(): void {
    const t = nowMs();
    const connections = this.connections;
    for (;;) {
      const due = this.openStartMs + this.openIndex * this.intervalMs;
      if (due > t) break;
      if (due >= this.openEndMs) {
        this.sending = false;
        break;
      }
      const connection = connections[this.openIndex % connections.length];
      this.openIndex++;
      const inWindow = due >= this.windowStartMs;
      if (connection.waiting >= this.job.outstandingMax) {
        if (inWindow) this.skipped++;
        continue;
      }
      if (inWindow && t - due > 1) this.lateSends++;
      connection.sendNext(due, t, inWindow);
    }
  }

  drain(timeoutMs: number): Promise<void> {
    if (this.waiting() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

async function runOrders(job: OrdersJob): Promise<OrdersResult> {
  const run = new OrdersRun(job);
  for (let index = 0; index < job.connections; index++) {
    const ws = await openSocket(job.wsUrl);
    await authenticate(ws, job.accounts[index % job.accounts.length]);
    ws.on('close', (code) => {
      if (run.sending) run.fail(`connection ${index} closed (${code}) during the run`);
    });
    run.connections.push(new OrderConnection(ws, run, new Random(job.seed * 7919 + index * 104729 + 1)));
  }
  send({ type: 'ready' });
  const startMs = nowMs();
  run.windowStartMs = startMs + job.warmupMs;
  run.windowEndMs = run.windowStartMs + job.measureMs;
  let cpuAtStart = process.cpuUsage();
  const windowStart = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    send({ type: 'phase', phase: 'measure-start', atMs: Date.now() });
  }, Math.max(0, run.windowStartMs - nowMs()));
  let clientCpuMs = 0;
  // BENCH_PROGRESS=1: replies per second, printed every second of the run (warm-up included), to
  // see whether a long run holds its rate.
  let lastReplies = 0;
  const progress = process.env.BENCH_PROGRESS
    ? setInterval(() => {
        console.error(`    [client] ${Math.round((nowMs() - startMs) / 1000)} s: ${run.repliesTotal - lastReplies} replies/s`);
        lastReplies = run.repliesTotal;
      }, 1000)
    : undefined;
  const windowEnd = new Promise<void>((resolve) =>
    setTimeout(() => {
      const used = process.cpuUsage(cpuAtStart);
      clientCpuMs = (used.user + used.system) / 1000;
      send({ type: 'phase', phase: 'measure-end', atMs: Date.now() });
      clearInterval(progress);
      resolve();
    }, Math.max(0, run.windowEndMs - nowMs())),
  );
  if (job.mode === 'closed') {
    run.sending = true;
    for (const connection of run.connections) for (let k = 0; k < job.window; k++) connection.sendNext(startMs, startMs, false);
  } else {
    run.startOpen(startMs);
  }
  await windowEnd;
  clearTimeout(windowStart);
  run.sending = false;
  await run.drain(10_000);
  const unanswered = run.waiting();
  if (TIMELINE && job.mode === 'open') writeFileSync(`${TIMELINE}-client-${process.pid}-${job.ratePerSec}.json`, JSON.stringify(run.timeline));
  let restingAtEnd = 0;
  for (const connection of run.connections) {
    restingAtEnd += connection.resting.length;
    connection.ws.terminate();
  }
  return {
    type: 'result',
    kind: 'orders',
    mode: job.mode,
    connections: job.connections,
    window: job.window,
    ratePerSec: job.ratePerSec,
    measuredMs: job.measureMs,
    repliesInWindow: run.repliesInWindow,
    okInWindow: run.okInWindow,
    sentInWindow: run.sentInWindow,
    latency: run.latency.toData(),
    serviceLatency: run.serviceLatency.toData(),
    serverUsDiff: run.serverUsDiff.toData(),
    counts: run.counts,
    skipped: run.skipped,
    lateSends: run.lateSends,
    unanswered,
    clientCpuMs,
    restingAtEnd,
  };
}

// ---------------------------------------------------------------------------------------------
// Market-data subscribers

/** Offset from performance's clock to Date.now(), measured at a millisecond edge (sub-ms accurate). */
function epochOffsetMs(): number {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  return now - (performance.timeOrigin + performance.now());
}

async function runSubscribers(job: SubscribeJob): Promise<SubscribeResult> {
  const offsetMs = epochOffsetMs();
  const epochNow = () => performance.timeOrigin + performance.now() + offsetMs;
  let measuring = false;
  let bytes = 0;
  let closedEarly = 0;
  let stopping = false;
  const perChannel = new Map<string, { notifications: number; latency: LatencyHistogram; gaps: number; snapshots: number }>();
  const statsOf = (suffix: string) => {
    let stats = perChannel.get(suffix);
    if (stats === undefined) perChannel.set(suffix, (stats = { notifications: 0, latency: new LatencyHistogram(), gaps: 0, snapshots: 0 }));
    return stats;
  };
  const sockets: WebSocket[] = [];
  let subscribed = 0;
  const subscribeText = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'public/subscribe', params: { channels: job.channels } });

  const connectOne = async () => {
    const ws = await openSocket(job.wsUrl);
    sockets.push(ws);
    let reply = await exchange(ws, subscribeText);
    if (!job.channels.every((channel) => reply.includes(`"${channel}"`))) {
      // The server may keep raw channels for authenticated connections (Deribit does).
      await authenticate(ws, job.account);
      reply = await exchange(ws, subscribeText.replace('public/subscribe', 'private/subscribe'));
      if (!job.channels.every((channel) => reply.includes(`"${channel}"`))) throw new Error(`subscribe refused: ${reply.slice(0, 300)}`);
    }
    subscribed++;
    const lastChangeId = new Map<string, number>();
    ws.on('message', (data: Buffer) => {
      const receivedMs = epochNow();
      const text = data.toString();
      bytes += text.length;
      // {"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"change","timestamp":…
      const channelStart = text.indexOf('"channel":"');
      if (channelStart < 0) return;
      const channelEnd = text.indexOf('"', channelStart + 11);
      const channel = text.slice(channelStart + 11, channelEnd);
      const suffix = channel.slice(channel.lastIndexOf('.') + 1);
      const stats = statsOf(suffix);
      const changeId = intAfter(text, '"change_id":', channelEnd);
      if (text.startsWith('"type":"snapshot"', text.indexOf('"data":{', channelEnd) + 8)) {
        stats.snapshots++;
        lastChangeId.set(channel, changeId);
        return;
      }
      const previous = intAfter(text, '"prev_change_id":', channelEnd);
      const expected = lastChangeId.get(channel);
      if (expected !== undefined && previous !== expected) stats.gaps++;
      lastChangeId.set(channel, changeId);
      if (!measuring) return;
      stats.notifications++;
      stats.latency.record((receivedMs - intAfter(text, '"timestamp":', channelEnd)) * 1000);
    });
    ws.on('close', () => {
      if (!stopping) closedEarly++;
    });
  };

  // Connect in waves so the server's accept queue is not flooded.
  let started = 0;
  const workers: Promise<void>[] = [];
  for (let worker = 0; worker < job.connectConcurrency; worker++) {
    workers.push((async () => {
      while (started < job.count) {
        started++;
        await connectOne();
      }
    })());
  }
  await Promise.all(workers);
  send({ type: 'ready' });

  const start = await nextParentMessage();
  if (start.type !== 'start') throw new Error(`expected start, got ${start.type}`);
  // Drop what was in flight from before the window (snapshots, first changes).
  for (const stats of perChannel.values()) {
    stats.notifications = 0;
    stats.latency = new LatencyHistogram();
  }
  measuring = true;
  const cpuAtStart = process.cpuUsage();
  const startedMs = nowMs();
  bytes = 0;
  send({ type: 'phase', phase: 'measure-start', atMs: Date.now() });
  const stop = await nextParentMessage();
  if (stop.type !== 'stop') throw new Error(`expected stop, got ${stop.type}`);
  measuring = false;
  const measuredMs = nowMs() - startedMs;
  const used = process.cpuUsage(cpuAtStart);
  send({ type: 'phase', phase: 'measure-end', atMs: Date.now() });
  stopping = true;
  for (const ws of sockets) ws.terminate();
  const channels: SubscribeResult['channels'] = {};
  for (const [suffix, stats] of perChannel) channels[suffix] = { notifications: stats.notifications, latency: stats.latency.toData(), gaps: stats.gaps, snapshots: stats.snapshots };
  return { type: 'result', kind: 'subscribe', connected: sockets.length, subscribed, measuredMs, channels, bytes, clientCpuMs: (used.user + used.system) / 1000, closedEarly };
}

// ---------------------------------------------------------------------------------------------
// Entry

const parentMessages: ParentMessage[] = [];
let parentWaiter: ((message: ParentMessage) => void) | undefined;

function nextParentMessage(): Promise<ParentMessage> {
  const queued = parentMessages.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => {
    parentWaiter = resolve;
  });
}

function onParentMessage(message: ParentMessage): void {
  if (message.type === 'exit') process.exit(0);
  if (parentWaiter !== undefined) {
    const waiter = parentWaiter;
    parentWaiter = undefined;
    waiter(message);
  } else {
    parentMessages.push(message);
  }
}

async function main(job: ClientJob): Promise<void> {
  try {
    const result = job.kind === 'orders' ? await runOrders(job) : await runSubscribers(job);
    send(result);
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
}

// Only as the entry script: the parent and the server role import the histogram from here.
if (process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  let started = false;
  process.on('message', (message: ClientJob | ParentMessage) => {
    if (!started && 'kind' in message) {
      started = true;
      void main(message);
    } else {
      onParentMessage(message as ParentMessage);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
