import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startExchange } from '../../gateway/index.js';

// The exchange as its own process, for tests that signal or kill it (shutdown.test.ts).
// Started as `node --import tsx test/gateway/_exchange_child.ts '{"dataDir":"…","port":0}'`:
// it opens the exchange on 127.0.0.1 with the shipped config/exchange.json, prints one JSON line
// {"ready":true,"url":…,"wsUrl":…,"pid":…} on stdout, and handles SIGTERM and SIGINT the way
// bin/exchange.ts does: a graceful shutdown, then exit 0 (or 1 if the shutdown failed). Logs go
// to stderr at LOG_LEVEL (default warn).

interface ChildOptions {
  dataDir: string;
  port?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
if (typeof options.dataDir !== 'string') throw new Error('usage: _exchange_child.ts \'{"dataDir":"…","port":0}\'');
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const config = JSON.parse(readFileSync(join(repoRoot, 'config/exchange.json'), 'utf8'));

const exchange = await startExchange({
  host: '127.0.0.1',
  port: options.port ?? 0,
  dataDir: options.dataDir,
  config,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)),
});

const stop = (signal: string) => {
  exchange.shutdown(signal).then(
    () => process.exit(0),
    (error) => {
      exchange.logger.fatal({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

process.stdout.write(`${JSON.stringify({ ready: true, url: exchange.url, wsUrl: exchange.wsUrl, pid: process.pid })}\n`);
