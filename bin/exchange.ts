import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startExchange } from '../gateway/index.js';

// `npm start`: the exchange on an embedded default (a SQLite data directory, the instrument
// catalogue of config/exchange.json). Flags win over HOST, PORT, DATA_DIR and HISTORY_DIR, which
// win over the defaults. SIGTERM or SIGINT shuts down gracefully.

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    'history-dir': { type: 'string' },
    config: { type: 'string' },
  },
  strict: true,
});
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
const port = Number(values.port ?? process.env.PORT ?? 8080);
const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? join(repoRoot, 'data'));
const historyDirText = values['history-dir'] ?? process.env.HISTORY_DIR;
const historyDir = historyDirText === undefined || historyDirText === '' ? undefined : resolve(historyDirText);
const configPath = resolve(values.config ?? join(repoRoot, 'config/exchange.json'));
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0-65535, not ${port}`);

const exchange = await startExchange({ host, port, dataDir, historyDir, config: JSON.parse(readFileSync(configPath, 'utf8')) });
const stop = (signal: string) => {
  exchange.shutdown(signal).then(() => process.exit(0), (error) => {
    exchange.logger.fatal({ err: error }, 'shutdown failed');
    process.exit(1);
  });
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

console.log(`
GPU-hour exchange listening
  HTTP       ${exchange.url}/api/v2/{public|private}/{method}
  WebSocket  ${exchange.wsUrl}
  data       ${dataDir}${historyDir === undefined ? '' : `\n  history    ${historyDir}`}
Create an account with an API key and a test deposit (in another terminal):
  npm run admin -- create-account alice --deposit 100000 --credits H100:500
`);
