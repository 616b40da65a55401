// engine/order_index.ts replaced a Map<orderId, OrderRecord> for the open orders. It must behave
// as that Map did for the way the engine uses it (ids stored in increasing order, deleted in any
// order), including iteration order, which snapshots and state hashes depend on.
//
// The generator: a seeded sequence of stores (always the next id, sometimes skipping ids) and
// deletes (random open ids, sometimes whole runs so chunks empty and are dropped). The oracle: a
// Map driven by the same operations. How to replay: SEED=<n> (printed).

import t from 'tap';
import type { OrderRecord } from '../../engine/index.js';
import { OrderIndex } from '../../engine/order_index.js';
import { Prng } from './_workload.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
t.comment(`SEED=${SEED}`);

const record = (orderId: number) => ({ orderId }) as OrderRecord;

t.test('behaves like the Map it replaced, iteration order included', async (t) => {
  const random = new Prng(SEED);
  const index = new OrderIndex();
  const oracle = new Map<number, OrderRecord>();
  let nextId = 1 + random.int(0, 1_000);
  const mismatches: string[] = [];
  for (let step = 0; step < 20_000 && mismatches.length === 0; step++) {
    const roll = random.int(0, 99);
    if (roll < 55 || oracle.size === 0) {
      nextId += random.int(0, 99) < 5 ? random.int(1, 2_000) : 1;
      const order = record(nextId);
      index.set(nextId, order);
      oracle.set(nextId, order);
    } else if (roll < 95) {
      const ids = [...oracle.keys()];
      const victim = ids[random.int(0, ids.length - 1)];
      if (index.delete(victim) !== oracle.delete(victim)) mismatches.push(`delete ${victim} at step ${step}`);
    } else {
      // Close a whole run of the oldest orders, so their chunks empty and are dropped.
      for (const id of [...oracle.keys()].slice(0, random.int(1, 600))) {
        index.delete(id);
        oracle.delete(id);
      }
    }
    const probe = random.int(0, nextId + 10);
    if (index.get(probe) !== oracle.get(probe) || index.has(probe) !== oracle.has(probe)) mismatches.push(`get/has ${probe} at step ${step}`);
    if (index.size !== oracle.size) mismatches.push(`size ${index.size} vs ${oracle.size} at step ${step}`);
    if (step % 500 === 0 && JSON.stringify([...index.keys()]) !== JSON.stringify([...oracle.keys()])) mismatches.push(`iteration order at step ${step}`);
  }
  t.same(mismatches, [], 'get, has, delete, size and iteration agree with the Map at every step');
  t.same([...index.values()], [...oracle.values()], 'values() in the same order at the end');
  t.same([...index].map(([id]) => id), [...oracle.keys()], 'and entries');
  t.ok(index.delete(-5) === false && index.get(nextId + 1) === undefined, 'unknown ids are absent');
});

t.test('ids stored out of order still iterate in ascending order; emptied chunks are dropped', async (t) => {
  const index = new OrderIndex();
  for (const id of [10_000, 3, 70_000, 700]) index.set(id, record(id));
  t.same([...index.keys()], [3, 700, 10_000, 70_000], 'ascending, whatever the order they came in');
  for (const id of [3, 700, 10_000]) index.delete(id);
  t.same([...index.keys()], [70_000], 'what is left after the head emptied');
  index.delete(70_000);
  t.equal(index.size, 0, 'empty');
  index.set(5, record(5));
  t.same([...index.keys()], [5], 'and usable again from any id');
});
