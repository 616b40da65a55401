// The exchange as a child process (test/gateway/_exchange_child.ts), for tests that signal or kill
// it and start it again on the same data directory: graceful shutdown, kill -9, retries across a
// restart. Also its admin routes (accounts, keys, test deposits), with the token it wrote.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { httpRequest } from './_ws_client.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '../..');
const childScript = join(here, '_exchange_child.ts');

export interface ExchangeProcess {
  process: ChildProcess;
  url: string;
  wsUrl: string;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the exchange on `dataDir` and resolves once it listens (it prints a `ready` line). */
export async function startExchangeProcess(dataDir: string, readyWithinMs = 60_000): Promise<ExchangeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify({ dataDir, port: 0 })], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout! });
  const ready = await Promise.race([
    new Promise<{ url: string; wsUrl: string }>((resolve) => lines.on('line', (line) => {
      try {
        const message = JSON.parse(line);
        if (message.ready) resolve(message);
      } catch {
        // not the ready line
      }
    })),
    exited.then((exit) => Promise.reject(new Error(`child exited before ready (${JSON.stringify(exit)}): ${stderr.join('').slice(-2_000)}`))),
    deadline(readyWithinMs).then(() => Promise.reject(new Error(`child not ready in ${readyWithinMs} ms: ${stderr.join('').slice(-2_000)}`))),
  ]);
  return { process: child, url: ready.url, wsUrl: ready.wsUrl, stderr, exited };
}

/** POSTs to the exchange's admin routes with the bearer token it wrote to `dataDir`; resolves with `result`. */
export function adminCalls(exchange: { url: string }, dataDir: string): (path: string, body: unknown) => Promise<Record<string, unknown>> {
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return async (path, body) => {
    const reply = await httpRequest(`${exchange.url}${path}`, { body: JSON.stringify(body), headers: { authorization: `Bearer ${adminToken}` } });
    const result = (reply.body as { result?: Record<string, unknown> } | undefined)?.result;
    if (reply.status !== 200 || result === undefined) throw new Error(`admin ${path} failed: ${reply.text}`);
    return result;
  };
}

/** A timer for races: it does not keep the process alive once the test is done. */
export function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
