// book/_id_index.ts, the book's order id → slot table (open addressing, backward-shift deletion),
// must answer exactly as the Map it replaced: every get, has, size and the set of stored values,
// through growth and through deletions that shift probe runs (also across the end of the table).
//
// The generator: seeded random stores and deletes over a small id range (so runs collide and
// wrap) and over large safe integers. The oracle: a Map. How to replay: SEED=<n> (printed).

import t from 'tap';
import fc from 'fast-check';
import { IdIndex } from '../../book/_id_index.js';
import { seedFromEnv } from '../_env.js';

const SEED = seedFromEnv();
t.comment(`SEED=${SEED}`);

const operation = (ids: fc.Arbitrary<number>) => fc.tuple(fc.constantFrom('set', 'set', 'delete', 'get'), ids, fc.integer({ min: 0, max: 1_000_000 }));

for (const [name, ids] of [
  ['small ids (collisions, wrap-around)', fc.integer({ min: 1, max: 300 })],
  ['any positive safe integer', fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.maxSafeNat().filter((id) => id > 0))],
] as const) {
  t.test(`agrees with a Map: ${name}`, async (t) => {
    fc.assert(
      fc.property(fc.array(operation(ids), { minLength: 200, maxLength: 3_000 }), (operations) => {
        const index = new IdIndex(16);
        const oracle = new Map<number, number>();
        for (const [kind, id, value] of operations) {
          if (kind === 'set') {
            index.set(id, value);
            oracle.set(id, value);
          } else if (kind === 'delete') {
            if (index.delete(id) !== oracle.delete(id)) return false;
          }
          if (index.get(id) !== (oracle.get(id) ?? -1) || index.has(id) !== oracle.has(id) || index.size !== oracle.size) return false;
        }
        for (const [id, value] of oracle) if (index.get(id) !== value) return false;
        const values: number[] = [];
        index.forEachValue((value) => values.push(value));
        return JSON.stringify(values.sort((a, b) => a - b)) === JSON.stringify([...oracle.values()].sort((a, b) => a - b));
      }),
      { seed: SEED, numRuns: 200 },
    );
    t.pass('200 random sequences agree');
  });
}

t.test('ids that are not positive integers are never found', async (t) => {
  // Regression (fixed before it shipped): -1 marks an empty place, so get(-1) answered an empty
  // place's value, and a book cancel(-1) would have cancelled whatever rested in slot 0.
  const index = new IdIndex();
  index.set(1, 7);
  t.same([0, -1, 1.5, Number.NaN, Infinity, -Infinity].map((id) => index.get(id)), [-1, -1, -1, -1, -1, -1]);
  t.same([0, -1, Number.NaN].map((id) => index.delete(id)), [false, false, false], 'nor deleted');
  t.equal(index.size, 1, 'and the size is untouched');
});
