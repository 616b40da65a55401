// History is written without fsync (engine/history.ts, synchronous = OFF): a crash of the process
// loses nothing the OS already has, but an OS crash or power cut may tear the file. A state file
// beside it records the boot id while it is written and `clean` once close() synced it; a file
// left unclean under another boot is thrown away and rebuilt from the journal. If that check were
// missing or wrong, a torn history file would be trusted: the open would fail on a damaged page
// (the exchange would not start) or, worse, serve wrong or missing orders and fills.
//
// Rules tested, each with a real engine on real SQLite files:
//   - closed cleanly under boot A, opened under boot B: kept (nothing unsynced);
//   - left unclean (a crash image) and opened under the same boot: kept, caught up from its
//     projected_sequence (the OS never lost a write);
//   - left unclean and torn, opened under another boot: deleted and rebuilt from the start of the
//     journal, and it then holds exactly what it held before.
// The generator: the engine's seeded workload (SEED printed). How to replay: SEED=<n>.

import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore, ManualClock, openEngine, type OrderView, type TradeView } from '../../engine/index.js';
import { seedFromEnv } from '../_env.js';
import { generateWorkload, loadExchangeConfig, submitWorkload, WorkloadClock } from './_workload.js';

const SEED = seedFromEnv();
const COMMANDS = 3_000;

/** Every closed order and every trade in a history file (opened under `bootId`), read back in id order. */
async function historyContents(path: string, bootId: string): Promise<{ orders: OrderView[]; trades: TradeView[]; projected: number }> {
  const store = await HistoryStore.open(path, { bootId });
  try {
    const trades = await store.trades({ count: 1_000_000, newestFirst: false });
    const accounts = new Set(trades.flatMap((trade) => [trade.makerAccountId, trade.takerAccountId]));
    const orders: OrderView[] = [];
    for (const accountId of [...accounts].sort((a, b) => a - b)) orders.push(...(await store.orders({ accountId, count: 1_000_000, offset: 0 })));
    orders.sort((a, b) => a.orderId - b.orderId);
    return { orders, trades, projected: store.projectedSequence };
  } finally {
    await store.close();
  }
}

/** Runs the workload through a real engine with history under boot A and closes it cleanly. */
async function tradedExchange(dir: string): Promise<{ journalPath: string; historyPath: string }> {
  const journalPath = join(dir, 'journal.sqlite');
  const historyPath = join(dir, 'history.sqlite');
  const workload = generateWorkload(SEED, COMMANDS);
  const clock = new WorkloadClock(workload.timesMs);
  const engine = await openEngine({ journalPath, historyPath, clock, config: loadExchangeConfig(), snapshotEveryCommands: 1_000, historyBootId: 'boot-A' });
  clock.attach(engine.state);
  await submitWorkload(engine.sequencer, workload, 0, 64, () => undefined);
  await engine.close();
  return { journalPath, historyPath };
}

/** Writes garbage over a stretch of the file's middle pages: what a torn write can leave. */
function tear(path: string): void {
  const size = statSync(path).size;
  const descriptor = openSync(path, 'r+');
  try {
    writeSync(descriptor, Buffer.alloc(16_384, 0xa5), 0, 16_384, Math.floor(size / 2 / 4096) * 4096);
  } finally {
    closeSync(descriptor);
  }
}

t.test('history left unclean across a restart of the machine is deleted and rebuilt from the journal, equal to what it held', async (t) => {
  t.comment(`SEED=${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'history-power-loss-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { journalPath, historyPath } = await tradedExchange(dir);
  t.same(JSON.parse(readFileSync(`${historyPath}.state`, 'utf8')), { bootId: 'boot-A', clean: true }, 'a clean close records the file as synced');
  const before = await historyContents(historyPath, 'boot-A');
  t.ok(before.trades.length > 50 && before.orders.length > 50, `the workload left history worth comparing (${before.orders.length} closed orders, ${before.trades.length} trades)`);

  // The image a power cut could leave: the state file still says "being written under boot A", and
  // some pages never reached the disk whole.
  writeFileSync(`${historyPath}.state`, JSON.stringify({ bootId: 'boot-A', clean: false }));
  tear(historyPath);

  const engine = await openEngine({ journalPath, historyPath, clock: new ManualClock(0), config: loadExchangeConfig(), historyBootId: 'boot-B' });
  t.equal(engine.recovery.historyRebuilt, true, 'recovery reports that history was rebuilt');
  await engine.close();
  const after = await historyContents(historyPath, 'boot-B');
  t.same(after.orders, before.orders, 'every closed order is back, field for field');
  t.same(after.trades, before.trades, 'every trade is back, field for field');
  t.equal(after.projected, before.projected, 'history reaches the same sequence');
});

t.test('history closed cleanly is kept under another boot; history left unclean is kept under the same boot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'history-power-loss-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { journalPath, historyPath } = await tradedExchange(dir);
  const before = await historyContents(historyPath, 'boot-A');

  const clean = await openEngine({ journalPath, historyPath, clock: new ManualClock(0), config: loadExchangeConfig(), historyBootId: 'boot-B' });
  t.equal(clean.recovery.historyRebuilt, false, 'clean under boot A, opened under boot B: kept');
  t.equal(clean.recovery.replayedCommands < COMMANDS, true, `recovery replayed only from a snapshot (${clean.recovery.replayedCommands} commands), not the whole journal`);
  await clean.close();

  // A crash image under boot B (the process died; the OS kept every write): same boot, so kept.
  const crashed = join(dir, 'crashed');
  mkdirSync(crashed);
  for (const suffix of ['', '-wal']) if (existsSync(`${historyPath}${suffix}`)) copyFileSync(`${historyPath}${suffix}`, join(crashed, `history.sqlite${suffix}`));
  writeFileSync(join(crashed, 'history.sqlite.state'), JSON.stringify({ bootId: 'boot-B', clean: false }));
  const kept = await HistoryStore.open(join(crashed, 'history.sqlite'), { bootId: 'boot-B' });
  t.equal(kept.discarded, false, 'unclean under the same boot: kept');
  t.equal(kept.projectedSequence, before.projected, 'with everything it had');
  await kept.close();
  t.same(JSON.parse(readFileSync(join(crashed, 'history.sqlite.state'), 'utf8')), { bootId: 'boot-B', clean: true }, 'and clean again after its own close');
});
