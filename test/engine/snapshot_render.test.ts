// The sequencer no longer turns a snapshot into text in one stop: it copies the state out
// (captureState) at the snapshot point and renders text and hash later, in slices, while it goes on
// applying commands (renderSnapshot). This proves the slices give back exactly the canonical bytes
// and hash of `serializeState` at the snapshot point, however far the state has moved on between
// slices, and that restoring the rendered text gives the same state again.
//
// The generator: the seeded durability workload (test/engine/_workload.ts), replayed onto a fresh
// state with applyCommand. The oracle: serializeState / stateHash at the snapshot point. How to
// replay: SEED=<n> (printed).

import t from 'tap';
import { applyCommand, captureState, emptyState, renderSnapshot, restoreState, serializeState, stateHash, type ExchangeState } from '../../engine/index.js';
import { WORKLOAD_START_MS, generateWorkload, loadExchangeConfig, sequenceOfIndex } from './_workload.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
const COMMANDS = 6_000;

t.comment(`SEED=${SEED}`);

t.test('a snapshot rendered in slices while commands keep changing the state equals the one taken at once', async (t) => {
  const workload = generateWorkload(SEED, COMMANDS);
  const state = emptyState();
  applyCommand(state, { kind: 'init_exchange', config: loadExchangeConfig() }, 1, WORKLOAD_START_MS);
  let next = 0;
  const applyNext = (count: number): void => {
    for (const end = Math.min(workload.count, next + count); next < end; next++) applyCommand(state, workload.commands[next], sequenceOfIndex(next), workload.timesMs[next]);
  };
  applyNext(COMMANDS / 2);
  t.ok(state.orders.size > 0 && state.accounts.length > 100, `the state is worth snapshotting (${state.orders.size} open orders, ${state.accounts.length - 1} accounts)`);

  const expectedBody = serializeState(state);
  const expectedHash = stateHash(state);
  const tree = captureState(state);
  // Between every slice, more of the workload is applied: orders fill and close, balances move.
  let slices = 0;
  const rendered = await renderSnapshot(tree, async () => {
    slices++;
    applyNext(50);
  });
  t.ok(slices >= 3, `the render yielded between slices (${slices} times)`);
  t.not(stateHash(state), expectedHash, 'the state really moved on while it rendered');
  t.equal(rendered.body, expectedBody, 'the rendered text is byte for byte serializeState at the snapshot point');
  t.equal(rendered.stateHash, expectedHash, 'and its hash is stateHash at the snapshot point');

  const restored: ExchangeState = restoreState(rendered.body);
  t.equal(stateHash(restored), expectedHash, 'restoring the rendered text gives that state back');
});

t.test('small trees render in one piece with the same bytes as JSON.stringify', async (t) => {
  for (const tree of [{}, { a: [] }, { a: [1, 2, 3], b: 'x', c: null }, { list: Array.from({ length: 1_201 }, (_, index) => ({ index, text: `"${index}"` })) }]) {
    const rendered = await renderSnapshot(tree, async () => undefined);
    t.equal(rendered.body, JSON.stringify(tree), `${JSON.stringify(tree).slice(0, 40)}…`);
  }
});
