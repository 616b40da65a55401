// Recovery replays with applyCommand's `quiet` flag wherever nobody reads the events (before the
// point history has reached): it must change the state exactly as a normal apply does, and only
// leave out the order and balance views.
//
// The generator: the seeded durability workload (test/engine/_workload.ts). The oracle: the same
// commands applied normally to a second state, compared by state hash at checkpoints and at the
// end, and by the events other than order/balance views, command by command. How to replay:
// SEED=<n> (printed).

import t from 'tap';
import { applyCommand, emptyState, stateHash, type Event } from '../../engine/index.js';
import { WORKLOAD_START_MS, generateWorkload, loadExchangeConfig, sequenceOfIndex } from './_workload.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
const COMMANDS = 5_000;

t.comment(`SEED=${SEED}`);

t.test('quiet apply leaves the same state as a normal apply, without order and balance views', async (t) => {
  const workload = generateWorkload(SEED, COMMANDS);
  const loud = emptyState();
  const quiet = emptyState();
  const init = { kind: 'init_exchange' as const, config: loadExchangeConfig() };
  applyCommand(loud, init, 1, WORKLOAD_START_MS);
  applyCommand(quiet, init, 1, WORKLOAD_START_MS, true);
  const isView = (event: Event) => event.kind === 'order' || event.kind === 'balance';
  let viewsLeftOut = 0;
  const eventMismatches: number[] = [];
  const hashMismatches: number[] = [];
  for (let index = 0; index < workload.count; index++) {
    const sequence = sequenceOfIndex(index);
    const loudEvents = applyCommand(loud, workload.commands[index], sequence, workload.timesMs[index]);
    const quietEvents = applyCommand(quiet, workload.commands[index], sequence, workload.timesMs[index], true);
    viewsLeftOut += loudEvents.filter(isView).length;
    if (quietEvents.some(isView) || JSON.stringify(loudEvents.filter((event) => !isView(event)), bigintText) !== JSON.stringify(quietEvents, bigintText)) eventMismatches.push(sequence);
    if (index % 500 === 499 && stateHash(loud) !== stateHash(quiet)) hashMismatches.push(sequence);
  }
  t.ok(viewsLeftOut > COMMANDS / 2, `the workload produced views for quiet to leave out (${viewsLeftOut})`);
  t.same(eventMismatches.slice(0, 5), [], 'quiet gives the same events except order/balance views, which it leaves out');
  t.same(hashMismatches, [], 'the states hash alike at every 500th command');
  t.equal(stateHash(quiet), stateHash(loud), 'and at the end');
});

function bigintText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
