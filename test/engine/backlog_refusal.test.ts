// Overload (RELIABILITY 16): past a point the sequencer refuses new commands at once instead of
// queueing them. Besides the hard ceiling on commands in flight, a backlog of
// limits.backlogCommandsSoftMax queued commands may last at most limits.backlogAgeMsMax; after
// that, new commands are refused with 10047 matching_engine_queue_full until the queue falls
// below the soft maximum again. Why a time: a backlog slows the engine down (every queued command
// survives the young-generation GC, so scavenges grow with it; bench/ENGINE.md measured 33 ms
// scavenges and a backlog that fed itself), and a trader is better served by a refusal now than
// by an order that executes a second late.
//
// The backlog's age is measured on the sequencer's wait clock (performance.now in production),
// which the test replaces with a number it moves by hand, so time passes only where it says so.
// The generator: none (clock ticks). How to replay: deterministic.

import t, { type TAP } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, limits, openEngine, type CommandResult, type OpenedEngine } from '../../engine/index.js';
import { WORKLOAD_START_MS, loadExchangeConfig } from './_workload.js';

const QUEUE_FULL = 10047;

/** A real engine in a temp dir whose backlog clock moves only when the test calls `wait`. */
async function backlogEngine(t: Parameters<Parameters<TAP['test']>[0]>[0]): Promise<{ engine: OpenedEngine; wait: (ms: number) => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'engine-backlog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let waitedMs = 0;
  const engine = await openEngine({ journalPath: join(dir, 'journal.sqlite'), clock: new ManualClock(WORKLOAD_START_MS), waitClockMs: () => waitedMs, config: loadExchangeConfig(), snapshotEveryCommands: 0 });
  t.teardown(() => engine.close());
  return { engine, wait: (ms) => (waitedMs += ms) };
}

t.test('a backlog over the soft maximum for longer than the age limit refuses new commands, and accepts again once it drains', async (t) => {
  const { engine, wait } = await backlogEngine(t);
  const submitTick = () => engine.sequencer.submit({ kind: 'clock_tick' });

  // All in one turn: nothing is applied until this test yields.
  const accepted: Promise<CommandResult>[] = [];
  for (let index = 0; index <= limits.backlogCommandsSoftMax; index++) accepted.push(submitTick());
  t.equal(engine.sequencer.queuedCommands, limits.backlogCommandsSoftMax + 1, 'a burst one over the soft maximum is queued whole while no time passes');

  wait(limits.backlogAgeMsMax);
  accepted.push(submitTick());
  t.equal(engine.sequencer.queuedCommands, limits.backlogCommandsSoftMax + 2, `at exactly ${limits.backlogAgeMsMax} ms of backlog a command is still queued`);

  wait(1);
  let refusedSettled = false;
  const refused = submitTick().then((result) => {
    refusedSettled = true;
    return result;
  });
  t.equal(engine.sequencer.queuedCommands, limits.backlogCommandsSoftMax + 2, 'past it, the next command is not queued');
  await Promise.resolve();
  t.ok(refusedSettled, 'and its refusal is answered at once, not after the backlog');
  const refusal = await refused;
  t.equal(refusal.sequence, 0, 'the refused command gets no sequence (it is never journaled)');
  const event = refusal.events[0];
  t.equal(event.kind === 'rejected' ? event.rejection.code : undefined, QUEUE_FULL, 'refused with 10047 matching_engine_queue_full');
  t.match(event.kind === 'rejected' ? event.detail : '', /queued for more than 250 ms/, 'and the reason says why');

  const results = await Promise.all(accepted);
  t.ok(results.every((result, index) => result.sequence === index + 2), `every queued command was applied, in order (${results.length}; sequence 1 is init_exchange)`);
  await engine.sequencer.whenIdle();

  wait(10 * limits.backlogAgeMsMax);
  const after = await submitTick();
  t.equal(after.sequence, results.length + 2, 'once the backlog has drained, commands are accepted again, however much time has passed');
});

t.test('a backlog under the soft maximum is never refused for its age', async (t) => {
  const { engine, wait } = await backlogEngine(t);
  const pending: Promise<CommandResult>[] = [];
  for (let index = 0; index < limits.backlogCommandsSoftMax - 1; index++) pending.push(engine.sequencer.submit({ kind: 'clock_tick' }));
  wait(100 * limits.backlogAgeMsMax);
  pending.push(engine.sequencer.submit({ kind: 'clock_tick' }));
  const results = await Promise.all(pending);
  t.ok(results.every((result) => result.sequence > 0), `all ${results.length} accepted`);
});
