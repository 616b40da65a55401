// The fresh process of replay_determinism.test.ts (RELIABILITY.md test 4). Run as
//   node --import tsx test/engine/_replay_child.ts '<json arguments>'
// with TZ and LANG set by the parent to something other than its own. Before the engine is even
// loaded, it replaces Math.random with a generator seeded from the arguments and moves Date.now
// by an odd offset, so an engine that read either would replay to a different hash.
//
// It computes, and prints as one JSON line on stdout:
//   - H2: a replay of every journaled command from the empty state, read through SqliteJournal.load
//     from a copy whose snapshots were deleted (so the whole chain is verified and nothing is
//     skipped); on the way, the state hash at each sequence the live run snapshotted;
//   - H3: recoverState on the original journal (newest snapshot + the commands after it);
//   - the time zone, locale and date formatting it actually ran with.

interface ChildArguments {
  /** A copy of the journal with its snapshots deleted. */
  fullPath: string;
  /** The journal as the live run left it (snapshots included). */
  snapshotPath: string;
  /** Sequences at which to report the replayed state hash (the live run's snapshots). */
  checkSequences: number[];
  randomSeed: number;
}

export interface ReplayChildReport {
  fullReplay: { hash: string; commands: number; lastSequence: number; ms: number; hashesAt: Record<string, string> };
  recovered: { hash: string; snapshotSequence: number; replayedCommands: number; ms: number };
  environment: { timeZone: string; lang: string; dateText: string; numberText: string; mathRandomPatched: boolean };
}

const DATE_NOW_OFFSET_MS = 987_654_321_987;

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as ChildArguments;
  const mathRandomPatched = patchNondeterminism(args.randomSeed);
  const fullReplay = await replayFromScratch(args.fullPath, args.checkSequences);
  const recovered = await recoverFromSnapshot(args.snapshotPath);
  const report: ReplayChildReport = {
    fullReplay,
    recovered,
    environment: {
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      lang: process.env.LANG ?? '',
      dateText: new Date(Date.UTC(2026, 10, 21, 12)).toString(),
      numberText: (1234567.891).toLocaleString(),
      mathRandomPatched,
    },
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** Math.random from our own seeded PRNG (a different stream from any run), Date.now shifted. */
function patchNondeterminism(seed: number): boolean {
  let x = seed >>> 0 || 1;
  Math.random = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + DATE_NOW_OFFSET_MS;
  return Math.random() !== Math.random();
}

async function replayFromScratch(path: string, checkSequences: number[]): Promise<ReplayChildReport['fullReplay']> {
  const { SqliteJournal, entriesOf, applyCommand, emptyState, stateHash, checkConservation } = await import('../../engine/index.js');
  const journal = await SqliteJournal.open(path);
  try {
    const contents = await journal.load();
    if (contents.snapshot !== undefined) throw new Error('the full-replay copy still has a snapshot');
    const startedMs = performance.now();
    const state = emptyState();
    const wanted = new Set(checkSequences);
    const hashesAt: Record<string, string> = {};
    for await (const entries of entriesOf(journal, contents)) {
      for (const entry of entries) {
        applyCommand(state, entry.command, entry.sequence, entry.timeMs);
        if (wanted.has(entry.sequence)) hashesAt[entry.sequence] = stateHash(state);
      }
    }
    const ms = performance.now() - startedMs;
    checkConservation(state);
    return { hash: stateHash(state), commands: contents.entryCount, lastSequence: contents.lastSequence, ms, hashesAt };
  } finally {
    await journal.close();
  }
}

async function recoverFromSnapshot(path: string): Promise<ReplayChildReport['recovered']> {
  const { SqliteJournal, recoverState } = await import('../../engine/index.js');
  const journal = await SqliteJournal.open(path);
  try {
    const startedMs = performance.now();
    const { recovery } = await recoverState(journal);
    return { hash: recovery.stateHash, snapshotSequence: recovery.snapshotSequence, replayedCommands: recovery.replayedCommands, ms: performance.now() - startedMs };
  } finally {
    await journal.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
