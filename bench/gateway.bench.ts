// Gateway benchmark: the whole exchange process (Fastify + ws gateway, dispatcher with Ajv schemas,
// sequencer, SQLite journal at synchronous = FULL, replies only after COMMIT, history and market
// data) driven over WebSocket on loopback by a load generator in another process
// (bench/gateway_client.ts). Method, figures and where the time goes: bench/GATEWAY.md.
//
//   npm run bench:gateway                  about 3.5 minutes: throughput (3 closed-loop runs), a sweep
//                                          over connection counts, open-loop latency at 10k/s and
//                                          50%/80% of capacity (3 rounds), the floor (the same
//                                          client against bench/floor_server.ts, a server that
//                                          only parses, syncs and answers), fan-out to 1,000
//                                          subscribers (100ms and raw book channels)
//   npm run bench:gateway -- --quick       about 35 s: 1 run of each, shorter windows, 100ms only
//   options: --runs=N  --connections=N  --window=W  --seconds=S (throughput window)
//            --latency-seconds=S  --rates=10000,20000 (fixed rates, besides 50%/80% of capacity)
//            --subscribers=N  --subscriber-processes=N  --fanout-rate=R  --fanout-raw-rate=R
//            --phases=throughput,latency,floor,fanout  --shares=0.5,0.8|none  --sweep=32,128 (closed loop by connection count;
//            --sweep= for none)  --seed=N
//            --profile (one more closed-loop run with the server's CPU profiled over the measured
//                       window; prints where the time goes and keeps the .cpuprofile)
//            --syscalls (one more run under strace -c: system calls per reply)
//
// Every run starts the exchange in a child process of its own (this script with --role=server) on
// a fresh temporary data directory, with a copy of config/exchange.json whose per-account order
// limits (ordersPerSecond, orderBurst, openOrdersMax) are raised and with the gateway's credit
// limits lifted, so neither limiter is what is measured. Accounts, API keys and deposits (USDAI
// and H100 credits) are created through the admin routes, as an operator would. The last line of
// output is one JSON object with the headline figures.

import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { AccountCredentials, ClientJob, ClientMessage, HistogramData, OrderMix, OrdersJob, OrdersResult, SubscribeResult } from './gateway_client.js';
import { LatencyHistogram } from './gateway_client.js';
import { median } from './statistics.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/bench (compiled) or bench (source). */
const repoRoot = here.includes(`${join('dist', 'bench')}`) ? join(here, '../..') : join(here, '..');
const clientScript = join(here, 'gateway_client.js');
const floorScript = join(here, 'floor_server.js');
const INSTRUMENT = 'H100_USDAI';
const MID_TICKS = 2_500; // 2.500 USDai per GPU-hour, tick 0.001

const { values: flags } = parseArgs({
  options: {
    role: { type: 'string', default: 'parent' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    connections: { type: 'string' },
    window: { type: 'string' },
    seconds: { type: 'string' },
    'latency-seconds': { type: 'string' },
    rates: { type: 'string' },
    subscribers: { type: 'string' },
    'subscriber-processes': { type: 'string' },
    phases: { type: 'string' },
    sweep: { type: 'string' },
    'fanout-rate': { type: 'string' },
    'fanout-raw-rate': { type: 'string' },
    profile: { type: 'boolean', default: false },
    syscalls: { type: 'boolean', default: false },
    seed: { type: 'string' },
    shares: { type: 'string' },
  },
  strict: true,
});

// ---------------------------------------------------------------------------------------------
// Server role: the exchange, started by the parent

interface ServerSpec {
  dataDir: string;
  configPath: string;
}

type ServerCommand = { type: 'stop' } | { type: 'profile-start'; intervalUs: number } | { type: 'profile-stop'; path: string } | { type: 'stats-reset' } | { type: 'stats' };
type ServerReply =
  | { type: 'ready'; url: string; wsUrl: string; adminTokenPath: string }
  | { type: 'profiled'; path: string }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'error'; message: string };

/** Measured inside the server process (journal.append wrapped, event-loop delay monitor) since the last reset. */
interface ServerStats {
  batches: number;
  commands: number;
  batchSize: HistogramData;
  /** journal.append → its promise resolved (BEGIN, INSERT, COMMIT with fsync, on the libuv pool), µs. */
  commit: HistogramData;
  /** Batches appended while the previous append had not resolved yet (pipelined commits). */
  overlapped: number;
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** GC pauses of the server's JS thread in the window: count, sum, longest (ms). */
  gcPauses: number;
  gcPauseSumMs: number;
  gcPauseMaxMs: number;
  elapsedMs: number;
}

async function serverMain(): Promise<void> {
  const spec = JSON.parse(process.env.GATEWAY_BENCH_SERVER ?? '') as ServerSpec;
  const [{ startExchange }, { default: pino }, inspector] = await Promise.all([import('../gateway/index.js'), import('pino'), import('node:inspector')]);
  const exchange = await startExchange({
    host: '127.0.0.1',
    port: 0,
    dataDir: spec.dataDir,
    config: JSON.parse(readFileSync(spec.configPath, 'utf8')),
    logger: pino({ level: 'warn' }, pino.destination(2)),
    creditsPerSecondPerKey: 1_000_000_000,
    creditsPerSecondPerAddress: 1_000_000_000,
  });
  const reply = (message: ServerReply) => process.send?.(message);
  // Instrumentation (measurement only; it changes nothing the server does): batch sizes and commit
  // times around the journal's append, and the event loop's delay.
  const journal = exchange.engine.journal;
  const append = journal.append.bind(journal);
  // batchSize's "µs" fields hold command counts.
  let batchSize = new LatencyHistogram();
  let commit = new LatencyHistogram();
  let overlapped = 0;
  let appending = 0;
  let statsSinceMs = performance.now();
  // BENCH_TIMELINE=<prefix>: every commit [start, end (epoch ms), commands] and GC pause [start, ms]
  // since the last stats reset, written to <prefix>-server-<n>.json with each stats reply.
  const timeline = process.env.BENCH_TIMELINE;
  let timelineCommits: number[][] = [];
  let timelineGc: number[][] = [];
  let timelineFiles = 0;
  journal.append = (entries) => {
    const startedMs = performance.now();
    batchSize.record(entries.length);
    if (appending > 0) overlapped++;
    appending++;
    const committed = append(entries);
    committed.then(
      () => {
        appending--;
        const endedMs = performance.now();
        commit.record((endedMs - startedMs) * 1000);
        if (timeline) timelineCommits.push([performance.timeOrigin + startedMs, performance.timeOrigin + endedMs, entries.length]);
      },
      () => {
        appending--;
      },
    );
    return committed;
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  let gcPauses = 0;
  let gcPauseSumMs = 0;
  let gcPauseMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcPauses++;
      gcPauseSumMs += entry.duration;
      if (timeline) timelineGc.push([performance.timeOrigin + entry.startTime, entry.duration]);
      gcPauseMaxMs = Math.max(gcPauseMaxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const resetStats = () => {
    gcPauses = 0;
    gcPauseSumMs = 0;
    gcPauseMaxMs = 0;
    timelineCommits = [];
    timelineGc = [];
    batchSize = new LatencyHistogram();
    commit = new LatencyHistogram();
    overlapped = 0;
    loopDelay.reset();
    statsSinceMs = performance.now();
  };
  let session: InstanceType<typeof inspector.Session> | undefined;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session!.post(method, params ?? {}, (error: Error | null, result?: unknown) => (error ? reject(error) : resolve(result))));
  process.on('message', (command: ServerCommand) => {
    void (async () => {
      try {
        if (command.type === 'profile-start') {
          session = new inspector.Session();
          session.connect();
          await post('Profiler.enable');
          await post('Profiler.setSamplingInterval', { interval: command.intervalUs });
          await post('Profiler.start');
        } else if (command.type === 'profile-stop') {
          const { profile } = (await post('Profiler.stop')) as { profile: unknown };
          writeFileSync(command.path, JSON.stringify(profile));
          session?.disconnect();
          session = undefined;
          reply({ type: 'profiled', path: command.path });
        } else if (command.type === 'stats-reset') {
          resetStats();
        } else if (command.type === 'stats') {
          if (timeline) writeFileSync(`${timeline}-server-${++timelineFiles}.json`, JSON.stringify({ commits: timelineCommits, gc: timelineGc }));
          reply({
            type: 'stats',
            stats: {
              batches: batchSize.count,
              commands: batchSize.sumUs,
              batchSize: batchSize.toData(),
              commit: commit.toData(),
              overlapped,
              eventLoopDelayP50Ms: loopDelay.percentile(50) / 1e6,
              eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
              eventLoopDelayMaxMs: loopDelay.max / 1e6,
              gcPauses,
              gcPauseSumMs,
              gcPauseMaxMs,
              elapsedMs: performance.now() - statsSinceMs,
            },
          });
        } else if (command.type === 'stop') {
          await exchange.shutdown('benchmark finished');
          process.exit(0);
        }
      } catch (error) {
        reply({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready', url: exchange.url, wsUrl: exchange.wsUrl, adminTokenPath: exchange.adminTokenPath });
}

// ---------------------------------------------------------------------------------------------
// Parent: server handle, accounts, /proc sampling

interface ServerHandle {
  child: ChildProcess;
  pid: number;
  url: string;
  wsUrl: string;
  dataDir: string;
  admin(path: string, body: unknown): Promise<Record<string, unknown>>;
  send(command: ServerCommand): void;
  next(type: ServerReply['type']): Promise<ServerReply>;
  stop(): Promise<void>;
}

async function startServer(): Promise<ServerHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const config = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8'));
  // The engine's per-account order-rate and open-order limits would otherwise be what is measured.
  config.accounts = { ...config.accounts, ordersPerSecond: 1_000_000_000, orderBurst: 1_000_000_000, openOrdersMax: 10_000 };
  const configPath = join(dataDir, 'exchange.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const spec: ServerSpec = { dataDir, configPath };
  const child = fork(fileURLToPath(import.meta.url), ['--role=server'], {
    env: { ...process.env, GATEWAY_BENCH_SERVER: JSON.stringify(spec) },
    execArgv: ['--max-semi-space-size=64', ...(process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean)], // as `npm start` runs the exchange (plus BENCH_CHILD_FLAGS)
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: { type: ServerReply['type']; resolve: (reply: ServerReply) => void; reject: (error: Error) => void }[] = [];
  let exited = false;
  child.on('message', (message: ServerReply) => {
    const index = waiters.findIndex((waiter) => waiter.type === message.type);
    if (index >= 0) waiters.splice(index, 1)[0].resolve(message);
    else if (message.type === 'error') console.error(`server error: ${message.message}`);
  });
  child.on('exit', (code) => {
    exited = true;
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`server exited (${code}) while waiting for ${waiter.type}`));
  });
  const next = (type: ServerReply['type']) => new Promise<ServerReply>((resolve, reject) => (exited ? reject(new Error('server is gone')) : waiters.push({ type, resolve, reject })));
  const ready = await next('ready');
  if (ready.type !== 'ready') throw new Error('server did not start');
  const adminToken = readFileSync(ready.adminTokenPath, 'utf8').trim();
  const admin = async (path: string, body: unknown) => {
    const response = await fetch(`${ready.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify(body) });
    const answer = (await response.json()) as { result?: Record<string, unknown> };
    if (!response.ok || answer.result === undefined) throw new Error(`admin ${path} failed: ${JSON.stringify(answer)}`);
    return answer.result;
  };
  return {
    child,
    pid: child.pid!,
    url: ready.url,
    wsUrl: ready.wsUrl,
    dataDir,
    admin,
    send: (command) => child.send(command),
    next,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.send({ type: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Accounts with an API key (read, trade), USDAI and H100 credits, one per order connection. */
async function createAccounts(server: ServerHandle, count: number, prefix: string): Promise<AccountCredentials[]> {
  const accounts: AccountCredentials[] = [];
  for (let index = 0; index < count; index++) {
    const { account_id } = await server.admin('/admin/accounts', { owner: `${prefix}-${index}` });
    const key = await server.admin('/admin/keys', { account_id, scopes: ['read', 'trade'] });
    await server.admin('/admin/deposits', { account_id, currency: 'USDAI', amount: '1000000000' });
    await server.admin('/admin/deposits', { account_id, currency: 'H100', amount: '1000000000' });
    accounts.push({ clientId: key.client_id as string, clientSecret: key.client_secret as string });
  }
  return accounts;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? NaN : Number(match[1]) / 1024;
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by each thread of `pid`, summed by thread name. */
function cpuByThread(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = tid === String(pid) ? 'main (JS)' : 'other threads';
      const fields = stat.slice(close + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // thread ended between the listing and the read
    }
  }
  return byName;
}

function cpuDelta(before: Map<string, number>, after: Map<string, number>, seconds: number): Record<string, number> {
  const shares: Record<string, number> = {};
  let total = 0;
  for (const [name, value] of after) {
    const used = value - (before.get(name) ?? 0);
    total += used;
    if (used > 0) shares[name] = round((used / seconds) * 100, 0);
  }
  shares.total = round((total / seconds) * 100, 0);
  return shares;
}

/** Samples the server while a client job runs: CPU over the measured window, RSS every 200 ms. */
class ServerSampler {
  private cpuAtStart = new Map<string, number>();
  private startedMs = 0;
  cpuPercent: Record<string, number> = {};
  rssMaxMiB = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}
  start(): void {
    this.cpuAtStart = cpuByThread(this.pid);
    this.startedMs = Date.now();
    this.rssMaxMiB = rssMiB(this.pid);
    this.timer = setInterval(() => {
      this.rssMaxMiB = Math.max(this.rssMaxMiB, rssMiB(this.pid));
    }, 200);
  }
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.rssMaxMiB = Math.max(this.rssMaxMiB, rssMiB(this.pid));
    this.cpuPercent = cpuDelta(this.cpuAtStart, cpuByThread(this.pid), (Date.now() - this.startedMs) / 1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Client processes

interface ClientHandle {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<OrdersResult | SubscribeResult>;
  send(message: { type: 'start' } | { type: 'stop' } | { type: 'exit' }): void;
}

function startClient(job: ClientJob, onPhase?: (phase: 'measure-start' | 'measure-end') => void): ClientHandle {
  const child = fork(clientScript, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const result = new Promise<OrdersResult | SubscribeResult>((resolve, reject) => {
    child.on('message', (message: ClientMessage) => {
      if (message.type === 'ready') markReady();
      else if (message.type === 'phase') onPhase?.(message.phase);
      else if (message.type === 'error') reject(new Error(`load generator: ${message.message}`));
      else if (message.type === 'result') {
        resolve(message);
        child.send({ type: 'exit' });
      }
    });
    child.on('exit', (code) => reject(new Error(`load generator exited (${code}) before its result`)));
  });
  ready.catch(() => undefined);
  child.send(job);
  return { child, ready, result, send: (message) => child.send(message) };
}

// ---------------------------------------------------------------------------------------------
// Measurements

const quick = flags.quick;
const seed = Number(flags.seed ?? 42);
const runs = Number(flags.runs ?? (quick ? 1 : 3));
const connections = Number(flags.connections ?? 8);
const closedWindow = Number(flags.window ?? 16);
const throughputSeconds = Number(flags.seconds ?? (quick ? 3 : 10));
const throughputWarmupMs = quick ? 1_000 : 3_000;
const latencySeconds = Number(flags['latency-seconds'] ?? (quick ? 2.5 : 6));
const latencyWarmupMs = quick ? 750 : 1_500;
const fixedRates = (flags.rates ?? '10000').split(',').filter((text) => text !== '').map(Number);
/** Open-loop rates as shares of the measured capacity (`--shares=none` for the fixed rates only). */
const capacityShares = flags.shares === 'none' ? [] : (flags.shares ?? '0.5,0.8').split(',').filter((text) => text !== '').map(Number);
const subscriberCount = Number(flags.subscribers ?? 1_000);
const subscriberProcesses = Number(flags['subscriber-processes'] ?? 2);
const phases = new Set((flags.phases ?? 'throughput,latency,floor,fanout').split(','));
const fanoutSeconds = quick ? 3 : 8;
const fanoutTradeRate = Number(flags['fanout-rate'] ?? 500);
const fanoutRawTradeRate = Number(flags['fanout-raw-rate'] ?? 50);
const fanoutTraderConnections = 4;
/** Open loop: a connection owing this many replies skips its due sends (counted): the rate is then
 * above capacity, and waiting out a longer queue would only stretch the benchmark. */
const OPEN_LOOP_OUTSTANDING_MAX = 200;
const mix: OrderMix = { cancel: 0.4, cross: 0.1, restingMax: 100, midTicks: MID_TICKS, bandTicks: 20 };

interface ThroughputRun {
  connections: number;
  window: number;
  ordersPerSec: number;
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpu: Record<string, number>;
  clientCpuPercent: number;
  serverRssMiB: number;
  stats: ServerStats | undefined;
  result: OrdersResult;
}

function ordersJob(wsUrl: string, accounts: AccountCredentials[], overrides: Partial<OrdersJob>): OrdersJob {
  return {
    kind: 'orders',
    wsUrl,
    instrument: INSTRUMENT,
    accounts,
    connections,
    mode: 'closed',
    window: closedWindow,
    ratePerSec: 0,
    warmupMs: throughputWarmupMs,
    measureMs: throughputSeconds * 1000,
    seed,
    mix,
    outstandingMax: OPEN_LOOP_OUTSTANDING_MAX,
    ...overrides,
  };
}

/** Runs one client job against `server`, sampling the server over the client's measured window. */
async function measureOrders(server: ServerHandle, job: OrdersJob, hooks: { onStart?: () => void; onEnd?: () => void } = {}): Promise<{ result: OrdersResult; sampler: ServerSampler; stats: ServerStats | undefined }> {
  const sampler = new ServerSampler(server.pid);
  let stats: Promise<ServerReply> | undefined;
  const client = startClient(job, (phase) => {
    if (phase === 'measure-start') {
      sampler.start();
      server.send({ type: 'stats-reset' });
      hooks.onStart?.();
    } else {
      sampler.stop();
      stats = server.next('stats');
      server.send({ type: 'stats' });
      hooks.onEnd?.();
    }
  });
  const result = (await client.result) as OrdersResult;
  sampler.stop();
  if (result.unanswered > 0) throw new Error(`${result.unanswered} requests were never answered`);
  const reply = await stats;
  return { result, sampler, stats: reply?.type === 'stats' ? reply.stats : undefined };
}

function statsText(stats: ServerStats | undefined): string {
  if (stats === undefined) return 'no server stats';
  const batchSize = LatencyHistogram.from(stats.batchSize);
  const commit = LatencyHistogram.from(stats.commit);
  return `${thousands((stats.batches / stats.elapsedMs) * 1000)} commits/s (${fmt((stats.overlapped / Math.max(1, stats.batches)) * 100, 0)}% while another was in flight), batch mean ${fmt(batchSize.sumUs / Math.max(1, batchSize.count), 1)} (p99 ${batchSize.percentileUs(0.99)}), commit p50 ${fmt(commit.percentileMs(0.5))} ms p99 ${fmt(commit.percentileMs(0.99))} ms, loop delay p99 ${fmt(stats.eventLoopDelayP99Ms)} max ${fmt(stats.eventLoopDelayMaxMs)} ms, GC ${stats.gcPauses} pauses (${fmt((stats.gcPauseSumMs / stats.elapsedMs) * 100, 1)}% of the time, longest ${fmt(stats.gcPauseMaxMs)} ms)`;
}

/**
 * A CPU profile of the server over one measured window: `start` and `stop` go in measureOrders'
 * hooks, `written` resolves once the server has written the profile (nothing to do without a path).
 */
function serverProfiler(server: ServerHandle, path: string | undefined): { start(): void; stop(): void; written(): Promise<unknown> } {
  let profiled: Promise<ServerReply> | undefined;
  return {
    start: () => path !== undefined && server.send({ type: 'profile-start', intervalUs: 250 }),
    stop: () => {
      if (path === undefined) return;
      profiled = server.next('profiled');
      server.send({ type: 'profile-stop', path });
    },
    written: () => profiled ?? Promise.resolve(),
  };
}

async function throughputRun(connectionCount: number, window: number, profilePath?: string, measureMs = throughputSeconds * 1000, stracePath?: string): Promise<ThroughputRun> {
  const server = await startServer();
  try {
    const accounts = await createAccounts(server, connectionCount, 'tp');
    const profiler = serverProfiler(server, profilePath);
    let strace: ChildProcess | undefined;
    let straced: Promise<void> | undefined;
    const { result, sampler, stats } = await measureOrders(server, ordersJob(server.wsUrl, accounts, { connections: connectionCount, window, measureMs }), {
      onStart: () => {
        profiler.start();
        if (stracePath !== undefined) {
          strace = spawn('strace', ['-c', '-f', '-p', String(server.pid), '-o', stracePath], { stdio: 'ignore' });
          straced = new Promise((resolve) => strace!.once('exit', () => resolve()));
          strace.once('error', (error) => console.error(`strace: ${error.message}`));
        }
      },
      onEnd: () => {
        profiler.stop();
        strace?.kill('SIGINT');
      },
    });
    await profiler.written();
    if (straced !== undefined) await straced;
    const latency = LatencyHistogram.from(result.latency);
    return {
      connections: connectionCount,
      window,
      ordersPerSec: (result.repliesInWindow / result.measuredMs) * 1000,
      okPerSec: (result.okInWindow / result.measuredMs) * 1000,
      p50Ms: latency.percentileMs(0.5),
      p99Ms: latency.percentileMs(0.99),
      serverCpu: sampler.cpuPercent,
      clientCpuPercent: (result.clientCpuMs / result.measuredMs) * 100,
      serverRssMiB: sampler.rssMaxMiB,
      stats,
      result,
    };
  } finally {
    await server.stop();
  }
}

interface LatencyRun {
  ratePerSec: number;
  label: string;
  achievedPerSec: number;
  /** The server's own figures over the window (commits, event-loop delay, GC). */
  stats: ServerStats | undefined;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  serviceP99Ms: number;
  serverUsDiffP99Ms: number;
  lateSends: number;
  skipped: number;
  /** Share of the requests due in the window that were not sent (a connection owed outstandingMax replies). */
  skippedShare: number;
  serverCpu: Record<string, number>;
  clientCpuPercent: number;
  latency: HistogramData;
}

async function latencyRuns(rates: { ratePerSec: number; label: string }[], runCount: number): Promise<LatencyRun[][]> {
  const server = await startServer();
  try {
    const accounts = await createAccounts(server, connections, 'lat');
    // Warm the server's JIT before the first measured rate.
    await measureOrders(server, ordersJob(server.wsUrl, accounts, { warmupMs: 0, measureMs: quick ? 1_000 : 3_000 }));
    const byRate: LatencyRun[][] = rates.map(() => []);
    for (let run = 0; run < runCount; run++) {
      for (const [index, rate] of rates.entries()) {
        const job = ordersJob(server.wsUrl, accounts, { mode: 'open', ratePerSec: rate.ratePerSec, warmupMs: latencyWarmupMs, measureMs: latencySeconds * 1000, seed: seed + run * 31 + index });
        // BENCH_PROFILE_OPEN=1: a CPU profile of the server over each open-loop window, summarized after the run.
        const profilePath = process.env.BENCH_PROFILE_OPEN ? join(repoRoot, `bench/.cache/gateway-open-${rate.ratePerSec}-${Date.now()}.cpuprofile`) : undefined;
        if (profilePath !== undefined) mkdirSync(join(repoRoot, 'bench/.cache'), { recursive: true });
        const profiler = serverProfiler(server, profilePath);
        const { result, sampler, stats } = await measureOrders(server, job, { onStart: profiler.start, onEnd: profiler.stop });
        await profiler.written();
        if (profilePath !== undefined) {
          const summary = summarizeProfile(profilePath);
          console.log(`    server profile at ${rate.label}: busy ${summary.busyMs} ms, idle ${summary.idleMs} ms; kept in ${profilePath}`);
          for (const row of summary.categories.slice(0, 12)) console.log(`      ${row.name}: ${fmt(row.ms, 1)} ms (${fmt(row.percentOfBusy, 1)}%)`);
        }
        // Let the server finish what it does after the replies (history projection) before the next rate.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const latency = LatencyHistogram.from(result.latency);
        byRate[index].push({
          ratePerSec: rate.ratePerSec,
          label: rate.label,
          achievedPerSec: (result.repliesInWindow / result.measuredMs) * 1000,
          p50Ms: latency.percentileMs(0.5),
          p99Ms: latency.percentileMs(0.99),
          p999Ms: latency.percentileMs(0.999),
          maxMs: latency.maxUs / 1000,
          serviceP99Ms: LatencyHistogram.from(result.serviceLatency).percentileMs(0.99),
          serverUsDiffP99Ms: LatencyHistogram.from(result.serverUsDiff).percentileMs(0.99),
          lateSends: result.lateSends,
          skipped: result.skipped,
          skippedShare: result.skipped / Math.max(1, result.skipped + result.sentInWindow),
          serverCpu: sampler.cpuPercent,
          clientCpuPercent: (result.clientCpuMs / result.measuredMs) * 100,
          latency: result.latency,
          stats,
        });
      }
    }
    return byRate;
  } finally {
    await server.stop();
  }
}

interface FloorFigures {
  /** Closed loop, the throughput phase's shape (connections × window), one run. */
  ordersPerSec: number;
  runs: FloorRun[];
}

interface FloorRun {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  serverUsDiffP99Ms: number;
  lateSends: number;
}

/**
 * The same client against bench/floor_server.ts (ws, JSON.parse, one write + fdatasync per group of
 * requests, reply after the sync; nothing else): one closed-loop run as in the throughput phase,
 * then `runCount` open-loop runs at `ratePerSec`. What any server could reach on this machine with
 * this client beside it. One floor server for all runs, warmed like the exchange.
 */
async function floorRuns(ratePerSec: number, runCount: number): Promise<FloorFigures> {
  const child = fork(floorScript, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { type: string; wsUrl: string }) => resolve(message.wsUrl));
      child.once('exit', (code) => reject(new Error(`floor server exited (${code}) before listening`)));
    });
    const accounts = Array.from({ length: connections }, (_, index) => ({ clientId: `floor-${index}`, clientSecret: 'floor' })) as AccountCredentials[];
    await startClient(ordersJob(wsUrl, accounts, { warmupMs: 0, measureMs: quick ? 1_000 : 3_000 })).result;
    const closed = (await startClient(ordersJob(wsUrl, accounts, {})).result) as OrdersResult;
    const floor: FloorRun[] = [];
    for (let run = 0; run < runCount; run++) {
      const result = (await startClient(ordersJob(wsUrl, accounts, { mode: 'open', ratePerSec, warmupMs: latencyWarmupMs, measureMs: latencySeconds * 1000, seed: seed + run * 31 })).result) as OrdersResult;
      const latency = LatencyHistogram.from(result.latency);
      floor.push({
        p50Ms: latency.percentileMs(0.5),
        p99Ms: latency.percentileMs(0.99),
        p999Ms: latency.percentileMs(0.999),
        serverUsDiffP99Ms: LatencyHistogram.from(result.serverUsDiff).percentileMs(0.99),
        lateSends: result.lateSends,
      });
    }
    return { ordersPerSec: (closed.repliesInWindow / closed.measuredMs) * 1000, runs: floor };
  } finally {
    const gone = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    if (child.connected) child.send({ type: 'stop' });
    await gone;
  }
}

interface FanoutRun {
  channel: string;
  subscribers: number;
  tradeRatePerSec: number;
  notificationsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  gaps: number;
  closedEarly: number;
  rssBeforeMiB: number;
  rssIdleMiB: number;
  rssDuringMiB: number;
  serverCpu: Record<string, number>;
  subscriberCpuPercent: number;
  traderP99Ms: number;
}

async function fanoutRun(server: ServerHandle, trader: AccountCredentials[], spare: AccountCredentials, channel: string, tradeRatePerSec: number): Promise<FanoutRun> {
  const rssBeforeMiB = rssMiB(server.pid);
  const perProcess = Math.ceil(subscriberCount / subscriberProcesses);
  const subscribers: ClientHandle[] = [];
  for (let index = 0; index < subscriberProcesses; index++) {
    const count = Math.min(perProcess, subscriberCount - index * perProcess);
    if (count <= 0) break;
    subscribers.push(startClient({ kind: 'subscribe', wsUrl: server.wsUrl, count, channels: [channel], account: spare, connectConcurrency: 25 }));
  }
  // A subscriber process that fails before it is ready would leave `ready` pending forever.
  await Promise.race([Promise.all(subscribers.map((client) => client.ready)), ...subscribers.map((client) => client.result.then(() => undefined))]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssIdleMiB = rssMiB(server.pid);
  const { result, sampler } = await measureOrders(server, ordersJob(server.wsUrl, trader, { connections: trader.length, mode: 'open', ratePerSec: tradeRatePerSec, warmupMs: 1_000, measureMs: fanoutSeconds * 1000 }), {
    onStart: () => subscribers.forEach((client) => client.send({ type: 'start' })),
    onEnd: () => subscribers.forEach((client) => client.send({ type: 'stop' })),
  });
  const results = (await Promise.all(subscribers.map((client) => client.result))) as SubscribeResult[];
  const latency = new LatencyHistogram();
  let notifications = 0;
  let gaps = 0;
  let closedEarly = 0;
  let subscribed = 0;
  let cpuMs = 0;
  let measuredMs = 0;
  for (const subscriberResult of results) {
    subscribed += subscriberResult.subscribed;
    closedEarly += subscriberResult.closedEarly;
    cpuMs += subscriberResult.clientCpuMs;
    measuredMs = Math.max(measuredMs, subscriberResult.measuredMs);
    for (const stats of Object.values(subscriberResult.channels)) {
      latency.merge(stats.latency);
      notifications += stats.notifications;
      gaps += stats.gaps;
    }
  }
  return {
    channel,
    subscribers: subscribed,
    tradeRatePerSec,
    notificationsPerSec: (notifications / measuredMs) * 1000,
    p50Ms: latency.percentileMs(0.5),
    p99Ms: latency.percentileMs(0.99),
    p999Ms: latency.percentileMs(0.999),
    maxMs: latency.maxUs / 1000,
    gaps,
    closedEarly,
    rssBeforeMiB,
    rssIdleMiB,
    rssDuringMiB: sampler.rssMaxMiB,
    serverCpu: sampler.cpuPercent,
    subscriberCpuPercent: (cpuMs / measuredMs) * 100,
    traderP99Ms: LatencyHistogram.from(result.latency).percentileMs(0.99),
  };
}

// ---------------------------------------------------------------------------------------------
// CPU profile summary

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function categoryOf(frame: ProfileNode['callFrame']): string {
  const { functionName: name, url } = frame;
  if (name === '(idle)') return 'idle (waiting for I/O)';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return 'V8/native, unattributed';
  if (url === '') {
    if (name === 'parse') return 'JSON.parse';
    if (name === 'stringify') return 'JSON.stringify';
    if (/^validate\d*$/.test(name)) return 'Ajv (generated validators)';
    // node-sqlite3's native methods (run, serialize, prepare) carry this name in V8's profiles.
    if (name === 'Backup') return 'sqlite3 native calls (main thread)';
    if (name === 'writev' || name === 'writeUtf8String' || name === 'writeBuffer') return 'socket writes (writev syscalls)';
    return `native: ${name || '(anonymous)'}`.slice(0, 60);
  }
  if (url.includes('/node_modules/ws/')) return 'ws (frames in/out)';
  if (url.includes('/node_modules/ajv/')) return 'Ajv (library)';
  if (url.includes('/node_modules/sqlite3/')) return 'sqlite3 binding (JS side)';
  if (url.includes('/node_modules/pino')) return 'pino';
  if (url.includes('/node_modules/fastify') || url.includes('/node_modules/@fastify') || url.includes('/node_modules/find-my-way') || url.includes('/node_modules/light-my-request')) return 'fastify';
  if (url.includes('/node_modules/')) return `node_modules/${url.split('/node_modules/')[1].split('/')[0]}`;
  const project = /\/dist\/(book|engine|gateway)\/(.+)\.js$/.exec(url);
  if (project !== null) {
    if (project[1] === 'gateway' && project[2] === 'json_scan') return 'gateway: JSON pre-scan (json_scan)';
    return `${project[1]}: ${project[2]}`;
  }
  if (url.startsWith('node:')) {
    if (url.includes('crypto')) return 'node: crypto';
    if (url.includes('stream') || url.includes('net') || url.includes('buffer') || url.includes('string_decoder')) return 'node: net/stream/buffer';
    if (url.includes('timers') || url.includes('process/task_queues') || url.includes('promises')) return 'node: timers/microtasks';
    return `node: ${url.replace('node:internal/', '').replace('node:', '')}`;
  }
  return url.split('/').slice(-2).join('/');
}

interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  idleMs: number;
  /** Samples of the profiler's own IPC (the stop request), left out of everything else. */
  excludedMs: number;
  categories: { name: string; ms: number; percentOfBusy: number }[];
  selfTop: { name: string; ms: number; percentOfBusy: number }[];
  inclusive: { name: string; ms: number; percentOfBusy: number }[];
}

function summarizeProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  // timeDeltas[i] is the time before sample i; attribute it to sample i (the usual convention).
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = Math.max(0, profile.timeDeltas[index] ?? 0);
    selfUs.set(profile.samples[index], (selfUs.get(profile.samples[index]) ?? 0) + delta);
    totalUs += delta;
  }
  const category = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveByFunction = new Map<string, number>();
  let idleUs = 0;
  const label = (frame: ProfileNode['callFrame']) => {
    const file = frame.url === '' ? '' : ` (${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1})`;
    return `${frame.functionName || '(anonymous)'}${file}`;
  };
  let excludedUs = 0;
  const isProfilerOwn = (id: number): boolean => {
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parentOf.get(cursor)) {
      if (byId.get(cursor)!.callFrame.url === 'node:inspector') return true;
    }
    return false;
  };
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (isProfilerOwn(id)) {
      excludedUs += us;
      continue;
    }
    const name = categoryOf(node.callFrame);
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    category.set(name, (category.get(name) ?? 0) + us);
    selfByFunction.set(label(node.callFrame), (selfByFunction.get(label(node.callFrame)) ?? 0) + us);
    // Inclusive: every distinct function on the stack of this node gets the time once.
    const seen = new Set<string>();
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parentOf.get(cursor)) {
      const frame = byId.get(cursor)!.callFrame;
      if (frame.functionName === '(root)' || frame.functionName === '(idle)' || frame.functionName === '(program)' || frame.functionName === '(garbage collector)') continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveByFunction.set(key, (inclusiveByFunction.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs - excludedUs;
  const rows = (map: Map<string, number>, count: number) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, us]) => ({ name, ms: round(us / 1000, 1), percentOfBusy: round((us / busyUs) * 100, 1) }));
  return { totalMs: round(totalUs / 1000, 0), busyMs: round(busyUs / 1000, 0), idleMs: round(idleUs / 1000, 0), excludedMs: round(excludedUs / 1000, 0), categories: rows(category, 30), selfTop: rows(selfByFunction, 25), inclusive: rows(inclusiveByFunction, 40) };
}

// ---------------------------------------------------------------------------------------------
// Output

function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ')} |`;
  return [line(headers), `|${widths.map((width, column) => (column === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Server CPU (all threads) per reply, µs. */
function cpuPerOrderUs(cpu: Record<string, number>, perSec: number): number {
  return (((cpu.total ?? NaN) / 100) * 1e6) / perSec;
}

function cpuText(cpu: Record<string, number>): string {
  const main = cpu['main (JS)'] ?? 0;
  const others = Object.entries(cpu).filter(([name]) => name !== 'main (JS)' && name !== 'total').sort((a, b) => b[1] - a[1]);
  return `${cpu.total ?? 0}% (main ${main}%${others.length > 0 ? `, ${others.slice(0, 2).map(([name, value]) => `${name} ${value}%`).join(', ')}` : ''})`;
}

// ---------------------------------------------------------------------------------------------
// Main

/** Share of one core a busy loop gets over `ms` of wall time: about 100% on an idle machine. */
function cpuShareAvailable(ms: number): number {
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  while (performance.now() - startedMs < ms) {
    // spin
  }
  const used = process.cpuUsage(cpuBefore);
  return ((used.user + used.system) / 1000 / (performance.now() - startedMs)) * 100;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  const shareAtStart = cpuShareAvailable(500);
  console.log(`gateway bench: node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadAtStart.toFixed(2)} at start${quick ? ', quick mode' : ''}`);
  console.log(`a 0.5 s busy loop got ${shareAtStart.toFixed(0)}% of a core (about 100% when the machine is otherwise idle; other work here skews every figure)`);
  console.log(`server: one process (gateway + engine + SQLite journal, synchronous=FULL, reply after COMMIT); load generator: separate process, ${connections} WS connections, 1 account each`);
  console.log(`order mix: ${mix.cancel * 100}% cancel of own resting order, ${mix.cross * 100}% IOC through the spread, rest GTC limit 1-${mix.bandTicks} ticks from ${(MID_TICKS / 1000).toFixed(3)}; at most ${mix.restingMax} resting per connection; seed ${seed}\n`);

  const summary: Record<string, unknown> = {};
  let capacity = NaN;

  let phaseStartedMs = Date.now();
  const phaseTook = () => {
    const seconds = (Date.now() - phaseStartedMs) / 1000;
    phaseStartedMs = Date.now();
    return `(phase took ${seconds.toFixed(1)} s)`;
  };

  // (1) Throughput, closed loop.
  let throughput: ThroughputRun[] = [];
  if (phases.has('throughput')) {
    console.log(`(1) Throughput: closed loop, ${connections} connections × window ${closedWindow}, ${throughputWarmupMs / 1000} s warm-up + ${throughputSeconds} s measured, ${runs} run(s), fresh server each`);
    for (let run = 0; run < runs; run++) {
      const result = await throughputRun(connections, closedWindow);
      throughput.push(result);
      console.log(`    run ${run + 1}: ${thousands(result.ordersPerSec)} replies/s (${thousands(result.okPerSec)} ok), p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms; server CPU ${cpuText(result.serverCpu)} = ${fmt(cpuPerOrderUs(result.serverCpu, result.ordersPerSec), 0)} µs/order; client CPU ${fmt(result.clientCpuPercent, 0)}%`);
      console.log(`           server: ${statsText(result.stats)}`);
    }
    capacity = median(throughput.map((run) => run.ordersPerSec));
    const first = throughput[0].result;
    const errors = Object.entries(first.counts.errors).map(([code, count]) => `${code}×${count}`).join(', ') || 'none';
    console.log(`    mix of run 1 (sent in window): rest ${thousands(first.counts.rest)} (${thousands(first.counts.restedOpen)} rested), cross ${thousands(first.counts.cross)} (${thousands(first.counts.crossFilled)} filled), cancel ${thousands(first.counts.cancel)}; errors ${errors}; resting at end ${first.restingAtEnd}`);
    console.log();
    console.log(table(['closed loop', 'orders/s (median)', 'min', 'max', 'p50 ms', 'p99 ms', 'server CPU', 'server CPU µs/order', 'client CPU', 'server RSS MiB'], [[
      `${connections} conn × ${closedWindow}`,
      thousands(capacity),
      thousands(Math.min(...throughput.map((run) => run.ordersPerSec))),
      thousands(Math.max(...throughput.map((run) => run.ordersPerSec))),
      fmt(median(throughput.map((run) => run.p50Ms))),
      fmt(median(throughput.map((run) => run.p99Ms))),
      `${fmt(median(throughput.map((run) => run.serverCpu.total ?? NaN)), 0)}%`,
      fmt(median(throughput.map((run) => cpuPerOrderUs(run.serverCpu, run.ordersPerSec))), 0),
      `${fmt(median(throughput.map((run) => run.clientCpuPercent)), 0)}%`,
      fmt(median(throughput.map((run) => run.serverRssMiB)), 0),
    ]]));
    console.log(`    ${phaseTook()}`);
    console.log();
  }

  // Optional sweep over connection counts.
  let sweep: ThroughputRun[] = [];
  const sweepCounts = (flags.sweep ?? (quick ? '' : '32,128')).split(',').filter((text) => text !== '').map(Number);
  if (sweepCounts.length > 0) {
    const sweepSeconds = Math.min(throughputSeconds, 6);
    console.log(`Sweep: closed loop by connection count (the server answers each connection's requests one at a time, so more connections mean bigger commit batches), window 4, ${sweepSeconds} s measured, 1 run each`);
    for (const count of sweepCounts) {
      const result = await throughputRun(count, 4, undefined, sweepSeconds * 1000);
      sweep.push(result);
      console.log(`    ${count} connections: ${thousands(result.ordersPerSec)} replies/s, p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms; server CPU ${cpuText(result.serverCpu)} = ${fmt(cpuPerOrderUs(result.serverCpu, result.ordersPerSec), 0)} µs/order; client ${fmt(result.clientCpuPercent, 0)}%`);
      console.log(`           server: ${statsText(result.stats)}`);
    }
    console.log(`    ${phaseTook()}`);
    console.log();
  }

  // (2) Open-loop latency.
  let latency: LatencyRun[][] = [];
  if (phases.has('latency')) {
    if (!Number.isFinite(capacity) && capacityShares.length > 0) {
      console.log('(2) capacity unknown (throughput phase skipped): measuring it with one short closed-loop run');
      capacity = (await throughputRun(connections, closedWindow)).ordersPerSec;
    }
    // Ascending, so a rate above capacity (whose backlog the server may still be working off, e.g.
    // history projection) comes last in each round.
    const rates = [
      ...fixedRates.map((rate) => ({ ratePerSec: rate, label: `${thousands(rate)}/s` })),
      ...capacityShares.map((share) => ({ ratePerSec: Math.round(capacity * share), label: `${Math.round(share * 100)}% of capacity` })),
    ].sort((a, b) => a.ratePerSec - b.ratePerSec);
    console.log(`(2) Open-loop latency: ${connections} connections, requests evenly spaced, latency = reply − scheduled send; ${latencyWarmupMs / 1000} s warm-up + ${latencySeconds} s measured per rate, ${runs} run(s) per rate (one server, rates in ascending order in each round)`);
    latency = await latencyRuns(rates, runs);
    const rows = latency.map((runsOfRate) => {
      const rate = runsOfRate[0];
      return [
        `${rate.label}`,
        thousands(rate.ratePerSec),
        thousands(median(runsOfRate.map((run) => run.achievedPerSec))),
        fmt(median(runsOfRate.map((run) => run.p50Ms)), 3),
        fmt(median(runsOfRate.map((run) => run.p99Ms)), 3),
        fmt(median(runsOfRate.map((run) => run.p999Ms)), 3),
        fmt(Math.max(...runsOfRate.map((run) => run.maxMs)), 1),
        fmt(median(runsOfRate.map((run) => run.serviceP99Ms)), 3),
        fmt(median(runsOfRate.map((run) => run.serverUsDiffP99Ms)), 3),
        `${fmt(median(runsOfRate.map((run) => run.serverCpu.total ?? NaN)), 0)}%`,
        `${fmt(median(runsOfRate.map((run) => run.clientCpuPercent)), 0)}%`,
        `${fmt(median(runsOfRate.map((run) => run.skippedShare * 100)), 1)}%`,
      ];
    });
    console.log();
    console.log(table(['open loop', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'p99 from send', 'p99 server usDiff', 'server CPU', 'client CPU', 'not sent'], rows));
    if (latency.some((runsOfRate) => runsOfRate.some((run) => run.skipped > 0))) {
      console.log(`    not sent > 0: the server fell behind that rate (a connection owed ${OPEN_LOOP_OUTSTANDING_MAX} replies, so the generator skipped sends instead of queueing without bound); the percentiles cover only what was sent and understate the overload.`);
    }
    for (const runsOfRate of latency) {
      console.log(`    ${runsOfRate[0].label}: p99 by run ${runsOfRate.map((run) => fmt(run.p99Ms, 3)).join(' / ')} ms; late sends (>1 ms after schedule) ${runsOfRate.map((run) => run.lateSends).join(' / ')}`);
      console.log(`           server (run 1): ${statsText(runsOfRate[0].stats)}`);
    }
    console.log(`    ${phaseTook()}`);
    console.log();
  }

  // (2b) The floor: the same open loop at 10,000/s against a server that only parses, syncs and answers.
  let floor: FloorRun[] = [];
  let floorOrdersPerSec = NaN;
  if (phases.has('floor')) {
    console.log(`(2b) Floor: the same client against bench/floor_server.ts (ws + JSON.parse + one write and fdatasync per group of requests, reply after the sync; no exchange): one closed-loop run as in (1), then the open loop at 10,000/s, ${runs} run(s). What any server could reach here with this client beside it`);
    const figures = await floorRuns(10_000, runs);
    floor = figures.runs;
    floorOrdersPerSec = figures.ordersPerSec;
    const share = Number.isFinite(capacity) ? `; the exchange's ${thousands(capacity)}/s is ${fmt(capacity / floorOrdersPerSec, 2)}× that` : '';
    console.log(`    closed loop ${connections} conn × ${closedWindow}: ${thousands(floorOrdersPerSec)} replies/s${share}`);
    console.log(`    10,000/s: p50 ${fmt(median(floor.map((run) => run.p50Ms)), 3)} ms, p99 ${fmt(median(floor.map((run) => run.p99Ms)), 3)} ms (runs ${floor.map((run) => fmt(run.p99Ms, 3)).join(' / ')}), p99.9 ${fmt(median(floor.map((run) => run.p999Ms)), 3)} ms; p99 server usDiff ${fmt(median(floor.map((run) => run.serverUsDiffP99Ms)), 3)} ms; late sends ${floor.map((run) => run.lateSends).join(' / ')}`);
    console.log(`    ${phaseTook()}`);
    console.log();
  }

  // (3) Market-data fan-out.
  let fanout: FanoutRun[] = [];
  if (phases.has('fanout')) {
    // 100ms: the trader changes the book about every millisecond, so the freshest change in each
    // conflated message is young and the figure is the flush-and-send time, not the 100 ms
    // interval. raw: every change goes to every subscriber (1,000 sends per change), so a modest
    // trade rate already means tens of thousands of messages per second.
    const plans = [
      { channel: `book.${INSTRUMENT}.100ms`, rate: fanoutTradeRate },
      ...(quick ? [] : [{ channel: `book.${INSTRUMENT}.raw`, rate: fanoutRawTradeRate }]),
    ];
    console.log(`(3) Fan-out: ${subscriberCount} WS subscribers in ${subscriberProcesses} processes, one channel each; ${fanoutTraderConnections} trader connections, open loop; latency = receive time − data.timestamp (engine time of the change, whole ms: a measured value v means a true latency in (v−1, v]); ${fanoutSeconds} s measured`);
    const server = await startServer();
    try {
      const [trader, spare] = [await createAccounts(server, fanoutTraderConnections, 'trader'), (await createAccounts(server, 1, 'watcher'))[0]];
      for (const plan of plans) {
        const result = await fanoutRun(server, trader, spare, plan.channel, plan.rate);
        fanout.push(result);
      }
    } finally {
      await server.stop();
    }
    console.log();
    console.log(table(['channel', 'subs', 'trades/s', 'notif./s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'gaps', 'RSS before', 'RSS idle subs', 'RSS during', 'server CPU', 'subscriber CPU', 'trader p99 ms'], fanout.map((run) => [
      run.channel,
      String(run.subscribers),
      thousands(run.tradeRatePerSec),
      thousands(run.notificationsPerSec),
      fmt(run.p50Ms),
      fmt(run.p99Ms),
      fmt(run.p999Ms),
      fmt(run.maxMs, 1),
      String(run.gaps),
      `${fmt(run.rssBeforeMiB, 0)} MiB`,
      `${fmt(run.rssIdleMiB, 0)} MiB`,
      `${fmt(run.rssDuringMiB, 0)} MiB`,
      cpuText(run.serverCpu),
      `${fmt(run.subscriberCpuPercent, 0)}%`,
      fmt(run.traderP99Ms),
    ])));
    console.log(`    ${phaseTook()}`);
    console.log();
  }

  // Optional CPU profile of the server under the closed-loop load.
  let profileSummary: ProfileSummary | undefined;
  if (flags.profile) {
    const profileDir = join(repoRoot, 'bench/.cache');
    mkdirSync(profileDir, { recursive: true });
    const path = join(profileDir, `gateway-server-${Date.now()}.cpuprofile`);
    const run = await throughputRun(connections, closedWindow, path);
    profileSummary = summarizeProfile(path);
    const windowMs = profileSummary.totalMs - profileSummary.excludedMs;
    console.log(`Server CPU profile over the measured window (closed loop, ${connections} connections, ${thousands(run.ordersPerSec)} replies/s while profiled, sampled every 250 µs):`);
    console.log(`    JS thread ${profileSummary.busyMs} ms busy, ${profileSummary.idleMs} ms idle of ${windowMs} ms (samples are wall time: a thread descheduled by the OS is charged to what it was running).`);
    console.log(`    SQLite's statements run on libuv pool threads and are not in it; server threads by /proc: ${cpuText(run.serverCpu)}. ${statsText(run.stats)}`);
    console.log(`    file: ${path}`);
    const perOrderUs = (ms: number) => fmt((ms * 1000) / (run.ordersPerSec * (windowMs / 1000)), 1);
    console.log(table(['category (self time)', 'ms', '% of busy', 'µs/order'], [
      ...profileSummary.categories.map((row) => [row.name, fmt(row.ms, 1), fmt(row.percentOfBusy, 1), perOrderUs(row.ms)]),
      ['all busy time', fmt(profileSummary.busyMs, 1), '100.0', perOrderUs(profileSummary.busyMs)],
    ]));
    console.log();
    console.log(table(['function (inclusive)', 'ms', '% of busy'], profileSummary.inclusive.map((row) => [row.name.slice(0, 110), fmt(row.ms, 1), fmt(row.percentOfBusy, 1)])));
    console.log();
    console.log(table(['function (self)', 'ms', '% of busy'], profileSummary.selfTop.map((row) => [row.name.slice(0, 110), fmt(row.ms, 1), fmt(row.percentOfBusy, 1)])));
    console.log();
  }

  // Optional: system calls per order (strace -c on the server over the measured window).
  let syscallsPerOrder: Record<string, number> | undefined;
  if (flags.syscalls) {
    const profileDir = join(repoRoot, 'bench/.cache');
    mkdirSync(profileDir, { recursive: true });
    const path = join(profileDir, `gateway-server-${Date.now()}.strace`);
    const run = await throughputRun(connections, closedWindow, undefined, Math.min(throughputSeconds, 6) * 1000, path);
    syscallsPerOrder = {};
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      console.log('    strace wrote nothing (is it installed, and may this user ptrace?)');
    }
    const rows: { name: string; calls: number }[] = [];
    for (const line of text.split('\n')) {
      const cells = line.trim().split(/\s+/);
      if (cells.length < 5 || !/^[\d.]+$/.test(cells[0]) || !/^[a-z_0-9]+$/.test(cells[cells.length - 1]) || cells[cells.length - 1] === 'total') continue;
      rows.push({ name: cells[cells.length - 1], calls: Number(cells[3]) });
    }
    const replies = run.result.repliesInWindow;
    const total = rows.reduce((sum, row) => sum + row.calls, 0);
    console.log(`System calls of the server (all threads) per reply, strace -c over the measured window (strace slows the server: ${thousands(run.ordersPerSec)} replies/s under it; the counts per reply still hold). ${statsText(run.stats)}`);
    console.log(table(['syscall', 'calls', 'per reply'], [
      ...rows.sort((a, b) => b.calls - a.calls).slice(0, 12).map((row) => [row.name, thousands(row.calls), fmt(row.calls / replies, 2)]),
      ['all', thousands(total), fmt(total / replies, 1)],
    ]));
    for (const row of rows) syscallsPerOrder[row.name] = round(row.calls / replies, 2);
    syscallsPerOrder.all = round(total / replies, 1);
    console.log();
  }

  // Goals and the closing JSON line.
  const at10k = latency.find((runsOfRate) => runsOfRate[0].ratePerSec === 10_000);
  const at50 = latency.find((runsOfRate) => runsOfRate[0].label === '50% of capacity');
  const at80 = latency.find((runsOfRate) => runsOfRate[0].label === '80% of capacity');
  const latencyFigures = (runsOfRate: LatencyRun[] | undefined) =>
    runsOfRate === undefined
      ? undefined
      : {
          ratePerSec: runsOfRate[0].ratePerSec,
          achievedPerSec: round(median(runsOfRate.map((run) => run.achievedPerSec)), 0),
          p50Ms: round(median(runsOfRate.map((run) => run.p50Ms)), 3),
          p99Ms: round(median(runsOfRate.map((run) => run.p99Ms)), 3),
          p999Ms: round(median(runsOfRate.map((run) => run.p999Ms)), 3),
          maxMs: round(Math.max(...runsOfRate.map((run) => run.maxMs)), 3),
          serverUsDiffP99Ms: round(median(runsOfRate.map((run) => run.serverUsDiffP99Ms)), 3),
          skipped: runsOfRate.reduce((sum, run) => sum + run.skipped, 0),
          overloaded: runsOfRate.some((run) => run.skipped > 0 || run.achievedPerSec < run.ratePerSec * 0.95),
        };
  const ordersPerSec = round(capacity, 0);
  const ackP99At10k = at10k === undefined ? NaN : round(median(at10k.map((run) => run.p99Ms)), 3);
  const floorP99At10k = floor.length === 0 ? NaN : round(median(floor.map((run) => run.p99Ms)), 3);
  const fanout100 = fanout.find((run) => run.channel.endsWith('.100ms'));
  const fanoutRaw = fanout.find((run) => run.channel.endsWith('.raw'));
  if (Number.isFinite(ordersPerSec)) console.log(`Goal ≥ 50,000 orders/s through one gateway process: ${ordersPerSec >= 50_000 ? 'MET' : 'NOT MET'} (${thousands(ordersPerSec)}/s, median of ${throughput.length})`);
  const figures10k = latencyFigures(at10k);
  if (Number.isFinite(ackP99At10k) && figures10k !== undefined) {
    const overload = figures10k.overloaded ? `; overloaded: ${thousands(figures10k.achievedPerSec)}/s answered, ${thousands(figures10k.skipped)} sends skipped, so the figure understates it` : '';
    const floorText = floor.length === 0 ? '' : `; the floor server's p99 in the same run: ${fmt(floorP99At10k, 3)} ms, the exchange's is ${fmt(ackP99At10k / floorP99At10k, 1)}× that`;
    console.log(`Goal p99 ack latency < 2 ms at 10,000 orders/s: ${ackP99At10k < 2 && !figures10k.overloaded ? 'MET' : 'NOT MET'} (p99 ${fmt(ackP99At10k, 3)} ms${overload}${floorText})`);
  }
  const loadAtEnd = loadavg()[0];
  const shareAtEnd = cpuShareAvailable(300);
  console.log(`Load average (1 min) at start/end: ${loadAtStart.toFixed(2)} / ${loadAtEnd.toFixed(2)} on ${cpus().length} cores; busy loop got ${shareAtStart.toFixed(0)}% / ${shareAtEnd.toFixed(0)}% of a core; client and server share the cores. Took ${Math.round((Date.now() - started) / 1000)} s.`);

  Object.assign(summary, {
    bench: 'gateway',
    quick,
    connections,
    window: closedWindow,
    runs,
    ordersPerSec,
    ordersPerSecRuns: throughput.map((run) => round(run.ordersPerSec, 0)),
    okPerSec: round(median(throughput.map((run) => run.okPerSec)), 0),
    closedLoopP99Ms: round(median(throughput.map((run) => run.p99Ms)), 3),
    ackLatencyP50MsAt10k: at10k === undefined ? null : round(median(at10k.map((run) => run.p50Ms)), 3),
    ackLatencyP99MsAt10k: Number.isFinite(ackP99At10k) ? ackP99At10k : null,
    ackLatencyP999MsAt10k: at10k === undefined ? null : round(median(at10k.map((run) => run.p999Ms)), 3),
    latencyAt10k: latencyFigures(at10k) ?? null,
    floorOrdersPerSec: Number.isFinite(floorOrdersPerSec) ? round(floorOrdersPerSec, 0) : null,
    floorP50MsAt10k: floor.length === 0 ? null : round(median(floor.map((run) => run.p50Ms)), 3),
    floorP99MsAt10k: Number.isFinite(floorP99At10k) ? floorP99At10k : null,
    floorP999MsAt10k: floor.length === 0 ? null : round(median(floor.map((run) => run.p999Ms)), 3),
    latencyAt50pct: latencyFigures(at50) ?? null,
    latencyAt80pct: latencyFigures(at80) ?? null,
    fanoutSubscribers: fanout100?.subscribers ?? fanoutRaw?.subscribers ?? null,
    fanoutP50Ms: fanout100 === undefined ? null : round(fanout100.p50Ms, 3),
    fanoutP99Ms: fanout100 === undefined ? null : round(fanout100.p99Ms, 3),
    fanoutP999Ms: fanout100 === undefined ? null : round(fanout100.p999Ms, 3),
    fanoutTradeRatePerSec: fanout100?.tradeRatePerSec ?? null,
    fanoutRawP50Ms: fanoutRaw === undefined ? null : round(fanoutRaw.p50Ms, 3),
    fanoutRawP99Ms: fanoutRaw === undefined ? null : round(fanoutRaw.p99Ms, 3),
    fanoutRawP999Ms: fanoutRaw === undefined ? null : round(fanoutRaw.p999Ms, 3),
    fanoutRawTradeRatePerSec: fanoutRaw?.tradeRatePerSec ?? null,
    fanoutRawNotificationsPerSec: fanoutRaw === undefined ? null : round(fanoutRaw.notificationsPerSec, 0),
    fanoutGaps: fanout.reduce((sum, run) => sum + run.gaps, 0),
    serverRssBeforeSubscribersMiB: fanout[0] === undefined ? null : round(fanout[0].rssBeforeMiB, 1),
    serverRssIdleSubscribersMiB: fanout[0] === undefined ? null : round(fanout[0].rssIdleMiB, 1),
    serverRssDuringFanoutMiB: fanout.length === 0 ? null : round(Math.max(...fanout.map((run) => run.rssDuringMiB)), 1),
    serverRssThroughputMiB: throughput.length === 0 ? null : round(median(throughput.map((run) => run.serverRssMiB)), 1),
    sweep: sweep.map((run) => ({
      connections: run.connections,
      ordersPerSec: round(run.ordersPerSec, 0),
      p99Ms: round(run.p99Ms, 3),
      serverCpuUsPerOrder: round(cpuPerOrderUs(run.serverCpu, run.ordersPerSec), 0),
      batchMean: run.stats === undefined ? null : round(run.stats.commands / Math.max(1, run.stats.batches), 1),
    })),
    serverCpuUsPerOrder: throughput.length === 0 ? null : round(median(throughput.map((run) => cpuPerOrderUs(run.serverCpu, run.ordersPerSec))), 0),
    commitBatchMean: throughput.length === 0 ? null : round(median(throughput.map((run) => (run.stats === undefined ? NaN : run.stats.commands / Math.max(1, run.stats.batches)))), 1),
    commitP99Ms: throughput.length === 0 ? null : round(median(throughput.map((run) => (run.stats === undefined ? NaN : LatencyHistogram.from(run.stats.commit).percentileMs(0.99)))), 3),
    goalOrdersPerSecMet: Number.isFinite(ordersPerSec) ? ordersPerSec >= 50_000 : null,
    goalP99At10kMet: Number.isFinite(ackP99At10k) ? ackP99At10k < 2 && !(figures10k?.overloaded ?? false) : null,
    profile: profileSummary === undefined ? null : profileSummary.categories.slice(0, 12).map((row) => ({ name: row.name, percentOfBusy: row.percentOfBusy })),
    syscallsPerOrder: syscallsPerOrder ?? null,
    loadAverage1m: [round(loadAtStart, 2), round(loadAtEnd, 2)],
    cpuShareAvailablePercent: [round(shareAtStart, 0), round(shareAtEnd, 0)],
    cores: cpus().length,
    node: process.version,
    seconds: Math.round((Date.now() - started) / 1000),
  });
  console.log(JSON.stringify(summary));
}

if (flags.role === 'server') {
  serverMain().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
