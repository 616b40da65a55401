import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { RawExchangeConfig } from '../../engine/index.js';
import { startExchange, type RunningExchange } from '../../gateway/index.js';
import { basicAuth, httpRequest } from './_ws_client.js';

// A real exchange for gateway tests: the full process (engine, journal and history in SQLite
// files, Fastify and ws on a free loopback port) in a temp data directory, plus helpers that create
// funded accounts with API keys through the admin routes, the way an operator does.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const exchangeConfig = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8'));

export interface TestAccount {
  accountId: number;
  clientId: string;
  clientSecret: string;
}

export interface TestExchange {
  exchange: RunningExchange;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Creates an account with a key (scopes read,trade by default), USDAI and optional GPU-hour credits. */
  account(owner: string, funds?: { usdai?: string; credits?: Record<string, string>; scopes?: string[] }): Promise<TestAccount>;
  /** Stops the server; removes the data directory unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startTestExchange(options: { dataDir?: string; logLevel?: string; creditsPerSecondPerKey?: number; creditsPerSecondPerAddress?: number; pingIntervalMs?: number; config?: RawExchangeConfig; historyDir?: string } = {}): Promise<TestExchange> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'exchange-test-'));
  const exchange = await startExchange({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    config: options.config ?? exchangeConfig,
    logger: pino({ level: options.logLevel ?? 'silent' }),
    creditsPerSecondPerKey: options.creditsPerSecondPerKey,
    creditsPerSecondPerAddress: options.creditsPerSecondPerAddress,
    pingIntervalMs: options.pingIntervalMs,
    historyDir: options.historyDir,
  });
  const adminToken = readFileSync(exchange.adminTokenPath, 'utf8').trim();
  const admin = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${exchange.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify(body) });
    const answer = (await response.json()) as { result?: Record<string, unknown>; error?: string };
    if (!response.ok || answer.result === undefined) throw new Error(`admin ${path} failed: ${JSON.stringify(answer)}`);
    return answer.result;
  };
  return {
    exchange,
    url: exchange.url,
    wsUrl: exchange.wsUrl,
    dataDir,
    async account(owner, funds = {}) {
      const { account_id } = await admin('/admin/accounts', { owner });
      const key = await admin('/admin/keys', { account_id, scopes: funds.scopes ?? ['read', 'trade'] });
      await admin('/admin/deposits', { account_id, currency: 'USDAI', amount: funds.usdai ?? '1000000' });
      for (const [currency, amount] of Object.entries(funds.credits ?? {})) await admin('/admin/deposits', { account_id, currency, amount });
      return { accountId: account_id as number, clientId: key.client_id as string, clientSecret: key.client_secret as string };
    },
    async stop(stopOptions = {}) {
      await exchange.shutdown('test finished');
      if (!stopOptions.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A ccxt configuration pointing at a test exchange (reference §1). */
export function ccxtConfig(server: { url: string; wsUrl: string }, account: TestAccount, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiKey: account.clientId,
    secret: account.clientSecret,
    urls: { api: { rest: server.url, ws: server.wsUrl } },
    enableRateLimit: false,
    options: { code: 'USDAI', currencies: ['USDAI'] },
    ...extra,
  };
}

/** The ids of `key`'s open orders on `instrument`, read over HTTP (Basic auth), as a client would check. */
export async function openOrderIds(server: { url: string }, key: TestAccount, instrument: string): Promise<string[]> {
  const reply = await httpRequest(`${server.url}/api/v2/private/get_open_orders_by_instrument?instrument_name=${instrument}`, { headers: basicAuth(key) });
  if (reply.body?.result === undefined) throw new Error(`get_open_orders_by_instrument failed: ${reply.text}`);
  return (reply.body.result as { order_id: string }[]).map((order) => order.order_id);
}
