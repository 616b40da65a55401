// The history file may live apart from the journal (ExchangeOptions.historyDir, `npm start
// --history-dir` or HISTORY_DIR): on another device its writes stop slowing the journal's commits
// (bench/GATEWAY.md). Given a history directory of its own, expect the history file there and not
// beside the journal, and closed orders answered from it, before and after a restart.

import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestExchange } from './_server.js';
import { WsRpcClient } from './_ws_client.js';

t.test('with a history directory of its own, history is written there and read back across a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'exchange-data-'));
  const historyDir = join(mkdtempSync(join(tmpdir(), 'exchange-history-')), 'nested');
  t.teardown(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(join(historyDir, '..'), { recursive: true, force: true });
  });
  let server = await startTestExchange({ dataDir, historyDir });
  const key = await server.account('history-dir');
  let client = await WsRpcClient.connectAuthed(server.wsUrl, key);
  const placed = await client.result<{ order: { order_id: string } }>('private/buy', { instrument_name: 'H100_USDAI', amount: '1', type: 'limit', price: '1.000', label: 'kept' });
  const orderId = placed.order.order_id;
  await client.result('private/cancel', { order_id: orderId });
  await server.exchange.engine.history?.whenWritten();
  t.ok(existsSync(join(historyDir, 'history.sqlite')), 'the history file is in the history directory (created if missing)');
  t.notOk(existsSync(join(dataDir, 'history.sqlite')), 'and not beside the journal');
  t.ok(existsSync(join(dataDir, 'journal.sqlite')), 'the journal stays in the data directory');
  t.match(await client.result('private/get_order_state', { order_id: orderId }), { order_id: orderId, order_state: 'cancelled', label: 'kept' }, 'the closed order is answered from history');
  await client.close();
  await server.stop({ keepData: true });

  server = await startTestExchange({ dataDir, historyDir });
  t.teardown(() => server.stop({ keepData: true }));
  client = await WsRpcClient.connectAuthed(server.wsUrl, key);
  t.teardown(() => client.close());
  t.match(await client.result('private/get_order_state', { order_id: orderId }), { order_id: orderId, order_state: 'cancelled' }, 'and again after a restart');
});
