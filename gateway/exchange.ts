import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { openEngine, systemClock, type OpenedEngine, type RawExchangeConfig } from '../engine/index.js';
import { registerAdminRoutes } from './admin.js';
import { Authenticator } from './auth.js';
import { Dispatcher } from './dispatch.js';
import { KeyStore } from './key_store.js';
import { gatewayLimits } from './limits.js';
import { MarketData } from './market_data.js';
import { compileMethods, type GatewayServices } from './methods/registry.js';
import { privateMethods } from './methods/private.js';
import { publicMethods } from './methods/public.js';
import { sessionMethods } from './methods/session.js';
import { CreditLimiter } from './rate_limit.js';
import { AccountReadModel } from './read_model.js';
import { buildServer, type RunningServer } from './server.js';
import { SubscriptionHub } from './subscriptions.js';

// The exchange as one process: the engine (journal, history, sequencer) behind the gateway
// (HTTP + WebSocket), wired together here. `startExchange` opens everything in order and returns a
// handle whose `shutdown` finishes in-flight work, tells clients, and closes the files.

export interface ExchangeOptions {
  host: string;
  port: number;
  dataDir: string;
  config: RawExchangeConfig;
  logger?: Logger;
  /** Commands per second one API key may spend (credits; order entry costs 4, reads 1). */
  creditsPerSecondPerKey?: number;
  creditsPerSecondPerAddress?: number;
  /** A clock_tick every this many ms keeps time-driven rules running (expiry, listing). */
  clockTickMs?: number;
  /** WebSocket ping interval (dead peers are dropped after one unanswered ping); default gatewayLimits.pingIntervalMs. */
  pingIntervalMs?: number;
  /**
   * Where the history file goes; default `dataDir`. On its own device the history's writes stop
   * slowing the journal's commits (measured: 48-50k orders/s with history on tmpfs against 42-43k
   * beside the journal, bench/GATEWAY.md). History is derived: lost, it is rebuilt from the journal.
   */
  historyDir?: string;
}

export interface RunningExchange {
  url: string;
  wsUrl: string;
  adminTokenPath: string;
  engine: OpenedEngine;
  server: RunningServer;
  services: GatewayServices;
  keys: KeyStore;
  logger: Logger;
  shutdown(reason: string): Promise<void>;
}

const CONFLATION_MS = 100;
const HISTORY_SEED_MS = 24 * 3_600_000;

export async function startExchange(options: ExchangeOptions): Promise<RunningExchange> {
  const logger = options.logger ?? pino({
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['req.headers.authorization', '*.signature', '*.client_secret', '*.clientSecret', '*.privateKey', '*.access_token', '*.refresh_token', '*.accessToken', '*.refreshToken'], censor: '[redacted]' },
  });
  mkdirSync(options.dataDir, { recursive: true });
  const adminTokenPath = join(options.dataDir, 'admin-token');
  const adminToken = readOrCreateAdminToken(adminTokenPath);

  let hub: SubscriptionHub | undefined;
  if (options.historyDir !== undefined) mkdirSync(options.historyDir, { recursive: true });
  const engine = await openEngine({
    journalPath: join(options.dataDir, 'journal.sqlite'),
    historyPath: join(options.historyDir ?? options.dataDir, 'history.sqlite'),
    clock: systemClock,
    config: options.config,
    onCommitted: (results) => hub?.onCommitted(results),
    onHalt: (reason, cause) => logger.fatal({ err: cause, reason }, 'engine halted: it accepts no more commands'),
    onSnapshotFailed: (cause) => logger.error({ err: cause }, 'snapshot failed; the journal still holds everything'),
  });
  logger.info({ recovery: engine.recovery }, 'engine recovered');
  const keys = await KeyStore.open(join(options.dataDir, 'keys.sqlite'));
  const accounts = new AccountReadModel(engine.state);
  const market = new MarketData(engine.state);
  if (engine.history !== undefined) {
    const nowMs = systemClock.nowMs();
    market.seedTrades(await engine.history.trades({ startTimeMs: nowMs - HISTORY_SEED_MS, count: 1_000_000, newestFirst: false }));
  }
  let closing = false;
  const services: GatewayServices = {
    state: engine.state,
    sequencer: engine.sequencer,
    history: engine.history,
    accounts,
    market,
    hub: undefined as unknown as SubscriptionHub,
    // processStartMs secures restarts: signatures dated before this process started are refused.
    auth: new Authenticator({ keys, clock: systemClock.nowMs, processStartMs: systemClock.nowMs(), accessTokenTtlMs: gatewayLimits.accessTokenTtlMs, windowMs: gatewayLimits.signatureWindowMs }),
    nowMs: () => systemClock.nowMs(),
    closing: () => closing,
  };
  hub = new SubscriptionHub({ state: engine.state, market, accounts, nowMs: services.nowMs });
  services.hub = hub;

  const dispatcher = new Dispatcher({
    methods: compileMethods([...publicMethods(services), ...privateMethods(services), ...sessionMethods(services)]),
    services,
    limiterByKey: new CreditLimiter({ creditsPerSecond: options.creditsPerSecondPerKey ?? 20_000, creditsMax: (options.creditsPerSecondPerKey ?? 20_000) * 5, bucketsMax: 100_000 }),
    limiterByAddress: new CreditLimiter({ creditsPerSecond: options.creditsPerSecondPerAddress ?? 200_000, creditsMax: (options.creditsPerSecondPerAddress ?? 200_000) * 5, bucketsMax: 100_000 }),
    logger,
  });
  const server = buildServer({
    services,
    dispatcher,
    logger,
    registerAdmin: (app) => registerAdminRoutes(app, { services, keys, adminToken }),
    onDisconnectCancel: (identity) => {
      void engine.sequencer.submit({ kind: 'cancel_all', accountId: identity.accountId });
    },
    pingIntervalMs: options.pingIntervalMs,
  });
  await server.app.listen({ host: options.host, port: options.port });
  const address = server.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;

  const flushTimer = setInterval(() => hub!.flush(), CONFLATION_MS);
  const tickTimer = setInterval(() => {
    if (!closing) void engine.sequencer.submit({ kind: 'clock_tick' });
  }, options.clockTickMs ?? 1_000);

  const shutdown = async (reason: string): Promise<void> => {
    if (closing) return;
    closing = true;
    logger.info({ reason }, 'shutting down');
    clearInterval(tickTimer);
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, gatewayLimits.shutdownMsMax);
    deadline.unref();
    // In-flight commands finish and are answered; new ones are refused (13028) from here on.
    await engine.sequencer.whenIdle();
    // Replies to the last committed batch are still on their way out: let every connection answer
    // what it received before it is told goodbye.
    await Promise.all([...server.connections].map((connection) => connection.drained()));
    hub!.flush();
    for (const connection of server.connections) connection.close(1001, 'server shutting down');
    await server.app.close();
    clearInterval(flushTimer);
    await keys.close();
    await engine.close();
    clearTimeout(deadline);
    logger.info('shut down cleanly');
  };

  const url = `http://${options.host}:${port}`;
  return { url, wsUrl: `ws://${options.host}:${port}/ws/api/v2`, adminTokenPath, engine, server, services, keys, logger, shutdown };
}

function readOrCreateAdminToken(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}
