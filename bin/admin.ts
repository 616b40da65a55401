import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// The operator's command line, a client of the running exchange's admin routes (loopback only,
// with the token the exchange wrote to DATA_DIR/admin-token).
//
//   admin create-account <owner> [--provider] [--deposit <USDAI>] [--credits <SKU>:<hours>]... [--scopes read,trade,wallet]
//   admin create-key <account_id> [--scopes read,trade]
//   admin deposit <account_id> <currency> <amount>

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    provider: { type: 'boolean' },
    deposit: { type: 'string' },
    credits: { type: 'string', multiple: true },
    scopes: { type: 'string' },
  },
});
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
const port = values.port ?? process.env.PORT ?? '8080';
const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? join(repoRoot, 'data'));
const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`http://${host}:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { result?: Record<string, unknown>; error?: string; data?: unknown };
  if (!response.ok || answer.result === undefined) throw new Error(`${path}: ${answer.error ?? response.status} ${JSON.stringify(answer.data ?? '')}`);
  return answer.result;
}

const scopes = (values.scopes ?? 'read,trade').split(',');
const [command, ...rest] = positionals;
if (command === 'create-account' && rest.length === 1) {
  const { account_id } = await post('/admin/accounts', { owner: rest[0], kind: values.provider ? 'provider' : 'trader' });
  const key = await post('/admin/keys', { account_id, scopes });
  if (values.deposit !== undefined) await post('/admin/deposits', { account_id, currency: 'USDAI', amount: values.deposit });
  for (const credit of values.credits ?? []) {
    const [currency, amount] = credit.split(':');
    await post('/admin/deposits', { account_id, currency, amount });
  }
  console.log(JSON.stringify({ account_id, ...key }, null, 2));
} else if (command === 'create-key' && rest.length === 1) {
  console.log(JSON.stringify(await post('/admin/keys', { account_id: Number(rest[0]), scopes }), null, 2));
} else if (command === 'deposit' && rest.length === 3) {
  console.log(JSON.stringify(await post('/admin/deposits', { account_id: Number(rest[0]), currency: rest[1], amount: rest[2] }), null, 2));
} else {
  console.error('usage: admin create-account <owner> [--provider] [--deposit <USDAI>] [--credits SKU:hours]... [--scopes read,trade,wallet]\n       admin create-key <account_id> [--scopes read,trade]\n       admin deposit <account_id> <currency> <amount>');
  process.exit(2);
}
