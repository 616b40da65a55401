// The rejection catalogue and docs/errors.md must list the same reasons with the same codes and
// messages, both ways (after Fastify's errors.test.js): a code added without documentation, or
// documented and then removed, fails here. Reasons must also be unique, since clients key on them.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { Reject } from '../../engine/index.js';

const documented = new Map<string, { code: number; message: string }>();
for (const line of readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8').split('\n')) {
  const match = /^\| `([a-z_]+)` \| (-?\d+) \| `([a-z_]+)` \|/.exec(line);
  if (match) documented.set(match[1], { code: Number(match[2]), message: match[3] });
}

t.test('every rejection in the code is documented with its code and message', async (t) => {
  for (const rejection of Object.values(Reject)) {
    t.same(documented.get(rejection.reason), { code: rejection.code, message: rejection.message }, rejection.reason);
  }
});

t.test('every documented rejection exists in the code', async (t) => {
  const reasons = new Set(Object.values(Reject).map((rejection) => rejection.reason));
  for (const reason of documented.keys()) t.ok(reasons.has(reason), `${reason} is documented but not in result_codes.ts`);
});

t.test('reasons are unique', async (t) => {
  const reasons = Object.values(Reject).map((rejection) => rejection.reason);
  t.equal(new Set(reasons).size, reasons.length);
});
