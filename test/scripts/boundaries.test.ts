// The import-boundary check must pass on this repository and must fail on a tree whose arrows
// point the wrong way. The second half builds small throwaway trees in a temp folder, one
// violation each, and expects the checker to name it; without it a checker that found nothing
// would pass forever.

import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBoundaryViolations } from '../../scripts/check_boundaries.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

t.test('this repository keeps its import arrows', async (t) => {
  t.same(findBoundaryViolations(repoRoot), []);
});

function treeWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'boundaries-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const cases: { rule: string; files: Record<string, string>; expect: RegExp | null }[] = [
  { rule: 'book/ may not import engine/', files: { 'book/a.ts': "import { x } from '../engine/index.js';" }, expect: /book\/ may not import engine\// },
  { rule: 'book/ may not import a package', files: { 'book/a.ts': "import Decimal from 'decimal.js';" }, expect: /book\/ may import no package or Node built-in/ },
  { rule: 'book/ may not import a Node built-in', files: { 'book/a.ts': "import { readFileSync } from 'node:fs';" }, expect: /may import no package or Node built-in/ },
  { rule: 'book/ may not read the clock', files: { 'book/a.ts': 'export const now = Date.now();' }, expect: /must be deterministic but uses Date\.now/ },
  { rule: 'book/ may not draw random numbers', files: { 'book/a.ts': 'export const r = Math.random();' }, expect: /uses Math\.random/ },
  { rule: 'engine/ may not import gateway/', files: { 'engine/a.ts': "export { y } from '../gateway/index.js';" }, expect: /engine\/ may not import gateway\// },
  { rule: 'engine/ enters book/ only through its index', files: { 'engine/a.ts': "import { OrderBook } from '../book/order_book.js';" }, expect: /through book\/index\.js/ },
  { rule: 'gateway/ may not import settlement/', files: { 'gateway/a.ts': "const s = await import('../settlement/index.js');" }, expect: /gateway\/ may not import settlement\// },
  { rule: 'settlement/ may not import gateway/', files: { 'settlement/a.ts': "import '../gateway/index.js';" }, expect: /settlement\/ may not import gateway\// },
  { rule: 'gateway/ may not skip engine/ to reach book/', files: { 'gateway/a.ts': "import { OrderBook } from '../book/index.js';" }, expect: /gateway\/ may not import book\// },
  { rule: "engine/'s state machine may not read the clock", files: { 'engine/orders.ts': 'export const now = Date.now();' }, expect: /engine\/orders\.ts \(the state machine\) must be deterministic but uses Date\.now/ },
  { rule: "engine/'s state machine may not read the environment", files: { 'engine/matching.ts': "export const mode = process.env.MODE ?? 'a';" }, expect: /engine\/matching\.ts \(the state machine\) must be deterministic but uses process\.env/ },
  { rule: "engine/'s state machine may not import a Node built-in", files: { 'engine/ledger.ts': "import { readFileSync } from 'node:fs';" }, expect: /engine\/ledger\.ts \(the state machine\) may import no package or Node built-in/ },
  { rule: "a file added to engine/ is state machine unless it is listed as the shell", files: { 'engine/new_rule.ts': 'export const later = () => setTimeout(() => undefined, 1);' }, expect: /engine\/new_rule\.ts \(the state machine\) must be deterministic but uses setTimeout/ },
  { rule: "engine/'s shell (sequencer, journal, clock) may use timers, the clock and Node built-ins", files: { 'engine/sequencer.ts': 'setImmediate(() => undefined);', 'engine/clock.ts': 'export const now = () => Date.now();', 'engine/journal.ts': "import { readFileSync } from 'node:fs';" }, expect: null },
  { rule: 'a comment that mentions an import is not an import', files: { 'book/a.ts': "// import x from '../engine/index.js'\n/* Date.now() */\nexport const a = 1;" }, expect: null },
  { rule: 'engine/ may import book/ through its index', files: { 'engine/a.ts': "import { OrderBook } from '../book/index.js';" }, expect: null },
];

for (const { rule, files, expect } of cases) {
  t.test(rule, async (t) => {
    const root = treeWith(files);
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const messages = findBoundaryViolations(root).map((violation) => violation.message);
    if (expect === null) t.same(messages, []);
    else t.match(messages.join('\n'), expect);
  });
}
