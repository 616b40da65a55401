// The floor for the gateway's open-loop latency on this machine: a WebSocket server that does the
// least a durable exchange must do, and nothing else. Each request frame is JSON-parsed and queued;
// queued requests are written to a file in one write and made durable with one fdatasync (group
// commit, one sync in flight, like the journal), and only then answered. No matching, no SQLite, no
// schemas, no market data. It answers in the envelope the load generator (gateway_client.ts) reads:
// `public/auth`, orders (`order_id`, `order_state`) and cancels.
//
// Started by gateway.bench.ts (the `floor` phase) with the same client, rate and connections as
// the exchange's own open-loop run, so the two p99s come from the same machine in the same minute.
// Its figure bounds what any server could reach here: the client shares the two cores, and the
// disk's fsync and the loopback are the same. Started as a child with IPC: it sends
// `{ type: 'listening', wsUrl }` and exits on `{ type: 'stop' }`.

import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';

interface Queued {
  socket: WebSocket;
  id: number;
  usIn: number;
  text: string;
  result: string;
}

const directory = mkdtempSync(join(tmpdir(), 'gateway-floor-'));
const file = openSync(join(directory, 'journal'), 'w');
let queued: Queued[] = [];
let syncing = false;
let nextOrderId = 1;

function microseconds(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function answer(socket: WebSocket, id: number, usIn: number, result: string): void {
  const usOut = microseconds();
  socket.send(`{"jsonrpc":"2.0","result":${result},"usIn":${usIn},"usOut":${usOut},"usDiff":${usOut - usIn},"testnet":false,"id":${id}}`);
}

/** Writes everything queued and syncs it; answers once the sync is done, then starts the next. */
function commit(): void {
  if (syncing || queued.length === 0) return;
  syncing = true;
  const batch = queued;
  queued = [];
  writeSync(file, `${batch.map((request) => request.text).join('\n')}\n`);
  fdatasync(file, (error) => {
    if (error) throw error;
    syncing = false;
    for (const request of batch) answer(request.socket, request.id, request.usIn, request.result);
    commit();
  });
}

/** What the exchange would answer, as far as the load generator reads it. */
function resultOf(message: { method?: string; params?: Record<string, unknown> }): string {
  if (message.method === 'public/auth') return '{"access_token":"floor","refresh_token":"floor","expires_in":900,"token_type":"bearer","scope":"trade"}';
  if (message.method === 'private/cancel') return `{"order_id":${JSON.stringify(String(message.params?.order_id))},"order_state":"cancelled"}`;
  const immediate = message.params?.time_in_force === 'immediate_or_cancel';
  return `{"order":{"order_id":"${nextOrderId++}","order_state":"${immediate ? 'filled' : 'open'}"},"trades":[]}`;
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/api/v2' });
server.on('connection', (socket) => {
  socket.on('message', (data: Buffer) => {
    const usIn = microseconds();
    const text = data.toString();
    const message = JSON.parse(text) as { id: number; method?: string; params?: Record<string, unknown> };
    const result = resultOf(message);
    if (message.method === 'public/auth') return answer(socket, message.id, usIn, result);
    queued.push({ socket, id: message.id, usIn, text, result });
    setImmediate(commit);
  });
});
server.on('listening', () => {
  const address = server.address() as { port: number };
  process.send!({ type: 'listening', wsUrl: `ws://127.0.0.1:${address.port}/ws/api/v2` });
});
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  server.close();
  for (const socket of server.clients) socket.terminate();
  closeSync(file);
  rmSync(directory, { recursive: true, force: true });
  process.exit(0);
});
