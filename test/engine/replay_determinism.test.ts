// Replay determinism and the determinism guard (RELIABILITY.md tests 4 and 5).
//
// What it proves: the same journal always rebuilds the same state, byte for byte, whoever replays
// it: the live engine (Sequencer + SqliteJournal, group commit, pipelining, snapshots), a fresh
// process in another time zone and locale with Math.random reseeded and Date.now moved, and a
// restart from a snapshot plus the commands after it. So recovery and audit can be trusted, and
// the engine has no hidden nondeterminism (Map order, wall clock, locale, floats). Test 5 proves
// the state machine reads no clock, random source or timer at all.
//
// The generator: test/engine/_workload.ts, a seeded mix of ≥ 100,000 engine commands over the
// four spot instruments (limit GTC/GTD/IOC/FOK, post-only, market, stop/take, amends, cancels,
// cancel-all, label retries, transfers, withdrawals, deposits, index prices, clock ticks), with
// time jumping across 08:00 UTC expiries and the end of November listing calendar. The live run
// keeps 20,000 commands in flight through the real Sequencer, writing a snapshot every 30,000
// commands; its clock is WorkloadClock, so each command gets its workload time.
//
// The oracle: H1 = stateHash after the live run (also = H0, the generator's own in-memory run, and
// the journal must hold exactly the workload's commands and times, in order). H2 = a replay from
// the empty state, in a child process (test/engine/_replay_child.ts, TZ=Pacific/Chatham,
// LANG=tr_TR.UTF-8), of a copy of the journal with its snapshots deleted, read through
// SqliteJournal.load. H3 = recoverState on the journal as left (newest snapshot + suffix), both in
// the child and in this process through openEngine. Require H1 = H2 = H3, and the replayed state at
// each snapshot's sequence hashing to the stored snapshot's hash (identical canonical bytes). For
// test 5: applyCommand replays a workload with Date, Math.random, performance.now, the timers,
// queueMicrotask, process.hrtime and crypto's random functions replaced by throwing stubs, and
// must end at the generator's hash.
//
// How to replay: the run prints SEED=<n>. ENGINE_REPLAY_SEED=<n> npx tap test/engine/replay_determinism.test.ts
// replays it; ENGINE_REPLAY_COMMANDS=<n> sets the workload length (default 100,000; 200,000+
// for a long run) and ENGINE_REPLAY_SNAPSHOT_EVERY=<n> the snapshot interval.

import t, { type TAP } from 'tap';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyCommand, emptyState, openEngine, stateHash } from '../../engine/index.js';
import { checkpoint, commandText, commandTextsOfRows, copyJournal, readJournalRows, readSnapshotRows, withDatabase } from './_journal_files.js';
import type { ReplayChildReport } from './_replay_child.js';
import {
  INIT_SEQUENCE,
  WORKLOAD_START_MS,
  WorkloadClock,
  generateWorkload,
  indexOfSequence,
  loadExchangeConfig,
  sequenceOfIndex,
  submitWorkload,
  workloadStateHash,
  type Workload,
} from './_workload.js';
import { readIntegerEnv } from '../_env.js';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD_SCRIPT = resolve(REPOSITORY_ROOT, 'test/engine/_replay_child.ts');
const COMMANDS_DEFAULT = 100_000;
const SNAPSHOT_EVERY_DEFAULT = 30_000;
/** Under limits.backlogCommandsSoftMax: a deeper window would keep that many queued and be refused after 250 ms. */
const IN_FLIGHT = 8_000;
const GUARD_COMMANDS = 30_000;
const CHILD_TIMEOUT_MS = 300_000;
const CHILD_ENVIRONMENT = { TZ: 'Pacific/Chatham', LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' };

const seed = readIntegerEnv('ENGINE_REPLAY_SEED', 1) ?? randomInt(1, 2 ** 31);
const commandCount = readIntegerEnv('ENGINE_REPLAY_COMMANDS', 1) ?? COMMANDS_DEFAULT;
const snapshotEvery = readIntegerEnv('ENGINE_REPLAY_SNAPSHOT_EVERY', 1) ?? SNAPSHOT_EVERY_DEFAULT;

t.comment(`SEED=${seed} commands=${commandCount} snapshotEvery=${snapshotEvery}`);
t.comment(`replay: ENGINE_REPLAY_SEED=${seed} ENGINE_REPLAY_COMMANDS=${commandCount} npx tap --reporter=tap test/engine/replay_determinism.test.ts`);

t.test('live run, fresh-process replay from scratch and snapshot + suffix agree: H1 = H2 = H3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journalPath = join(dir, 'journal.db');

  const generatedAt = performance.now();
  const workload = generateWorkload(seed, commandCount);
  const generateMs = performance.now() - generatedAt;
  const live = await runLive(workload, journalPath);
  t.comment(`workload: ${commandCount} commands generated (with the shadow run) in ${Math.round(generateMs)} ms; ${tallyText(workload)}`);
  t.comment(`live: ${commandCount} commands through Sequencer + SqliteJournal in ${Math.round(live.ms)} ms = ${rate(commandCount, live.ms)} commands/s`);
  t.equal(live.hash, workloadStateHash(workload), 'H1 (live) equals H0 (the generator\'s own run)');
  await checkJournalHoldsWorkload(t, journalPath, workload);

  const snapshots = await readSnapshotRows(journalPath);
  t.ok(snapshots.length >= 1, `the live run left snapshots (at ${snapshots.map((row) => row.sequence).join(', ')})`);
  const fullPath = join(dir, 'full.db');
  copyJournal(journalPath, fullPath, { wal: true });
  await withDatabase(fullPath, (db) => db.exec('DELETE FROM snapshots'));
  await checkpoint(fullPath);

  const child = await runReplayChild({ fullPath, snapshotPath: journalPath, checkSequences: snapshots.map((row) => row.sequence), randomSeed: seed ^ 0x5bd1e995 });
  t.comment(`child full replay (H2): ${child.fullReplay.commands} commands in ${Math.round(child.fullReplay.ms)} ms = ${rate(child.fullReplay.commands, child.fullReplay.ms)} commands/s`);
  t.comment(`child snapshot + suffix (H3): snapshot at ${child.recovered.snapshotSequence}, ${child.recovered.replayedCommands} commands replayed, ${Math.round(child.recovered.ms)} ms including load`);
  t.comment(`child environment: ${JSON.stringify(child.environment)}`);
  t.equal(child.fullReplay.lastSequence, sequenceOfIndex(commandCount - 1), 'the child read the whole journal');
  t.equal(child.fullReplay.commands, commandCount + 1, 'the child replayed every command, init_exchange included');
  t.equal(child.fullReplay.hash, live.hash, 'H2 (fresh process, from scratch) = H1');
  t.equal(child.recovered.hash, live.hash, 'H3 (fresh process, snapshot + suffix) = H1');
  t.ok(child.recovered.snapshotSequence > 0 && child.recovered.replayedCommands < commandCount, 'H3 really started from a snapshot');
  for (const snapshot of snapshots) {
    t.equal(child.fullReplay.hashesAt[snapshot.sequence], snapshot.state_hash, `replayed state at ${snapshot.sequence} = the live snapshot's canonical bytes`);
  }
  t.equal(child.environment.timeZone, CHILD_ENVIRONMENT.TZ, 'the child ran in another time zone');
  t.not(child.environment.timeZone, Intl.DateTimeFormat().resolvedOptions().timeZone, 'a time zone different from this process');
  t.ok(child.environment.mathRandomPatched, 'the child ran with Math.random replaced');

  const reopened = await openEngine({ journalPath, clock: new WorkloadClock(workload.timesMs), config: loadExchangeConfig() });
  try {
    t.equal(reopened.recovery.stateHash, live.hash, 'H3 in this process through openEngine = H1');
    t.equal(stateHash(reopened.state), live.hash, 'and the state openEngine hands back hashes alike');
    t.comment(`openEngine: snapshot at ${reopened.recovery.snapshotSequence}, ${reopened.recovery.replayedCommands} commands replayed in ${Math.round(reopened.recovery.replayMs)} ms`);
  } finally {
    await reopened.close();
  }
});

t.test('the state machine reads no clock, random source or timer (determinism guard)', (t) => {
  const workload = generateWorkload(seed ^ 0x2545f491, GUARD_COMMANDS);
  const config = loadExchangeConfig();
  const hash = withNondeterminismForbidden(() => {
    const state = emptyState();
    applyCommand(state, { kind: 'init_exchange', config }, INIT_SEQUENCE, WORKLOAD_START_MS);
    workload.commands.forEach((command, index) => applyCommand(state, command, sequenceOfIndex(index), workload.timesMs[index]));
    return stateHash(state);
  });
  t.equal(hash, workloadStateHash(workload), `${GUARD_COMMANDS} commands applied with every clock, random source and timer throwing`);
  const probes: [string, () => unknown][] = [
    ['Date.now', () => Date.now()], ['new Date()', () => new Date()], ['Math.random', () => Math.random()], ['performance.now', () => performance.now()],
    ['setTimeout', () => setTimeout(() => undefined, 0)], ['setImmediate', () => setImmediate(() => undefined)], ['crypto.randomUUID', () => crypto.randomUUID()],
  ];
  for (const [name, probe] of probes) t.throws(() => withNondeterminismForbidden(probe), `the guard itself: ${name} throws under it`);
  t.doesNotThrow(() => withNondeterminismForbidden(() => new Date(WORKLOAD_START_MS).toISOString()), 'the guard itself: new Date(ms) still works');
  t.doesNotThrow(() => Date.now() + Math.random() + performance.now(), 'and everything is restored afterwards');
  t.end();
});

// ---------------------------------------------------------------------------------------------
// The live run

async function runLive(workload: Workload, journalPath: string): Promise<{ hash: string; ms: number }> {
  const clock = new WorkloadClock(workload.timesMs);
  const opened = await openEngine({ journalPath, clock, config: loadExchangeConfig(), snapshotEveryCommands: snapshotEvery });
  clock.attach(opened.state);
  let refused = 0;
  const startedMs = performance.now();
  try {
    await submitWorkload(opened.sequencer, workload, 0, IN_FLIGHT, (index, result) => {
      if (result.sequence !== sequenceOfIndex(index)) refused++;
    });
    const ms = performance.now() - startedMs;
    if (refused > 0) throw new Error(`${refused} commands were refused or got an unexpected sequence (halted: ${opened.state.haltedReason})`);
    await opened.sequencer.whenIdle();
    return { hash: stateHash(opened.state), ms };
  } finally {
    await opened.close();
  }
}

/** Every journaled entry is the workload command of its sequence, at its workload time. */
async function checkJournalHoldsWorkload(t: Tap, journalPath: string, workload: Workload): Promise<void> {
  const texts = commandTextsOfRows(await readJournalRows(journalPath));
  let mismatches = 0;
  for (const [sequence, { timeMs, text }] of texts) {
    if (sequence === INIT_SEQUENCE) continue;
    const index = indexOfSequence(sequence);
    if (text !== commandText(workload.commands[index]) || timeMs !== workload.timesMs[index]) mismatches++;
  }
  t.equal(texts.size, workload.commands.length + 1, 'the journal holds init_exchange and every workload command');
  t.equal(mismatches, 0, 'each journaled command and time is the workload\'s, in workload order');
}

// ---------------------------------------------------------------------------------------------
// The child

function runReplayChild(args: { fullPath: string; snapshotPath: string; checkSequences: number[]; randomSeed: number }): Promise<ReplayChildReport> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify(args)], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, ...CHILD_ENVIRONMENT },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`replay child exited ${code ?? signal}: ${stderr}`));
      resolvePromise(JSON.parse(stdout.trim().split('\n').pop()!) as ReplayChildReport);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The guard

/** Runs `work` with every source of nondeterminism replaced by a stub that throws. */
function withNondeterminismForbidden<T>(work: () => T): T {
  const forbidden = (name: string) => () => {
    throw new Error(`the state machine called ${name}`);
  };
  const RealDate = Date;
  const GuardDate = new Proxy(RealDate, {
    construct(target, args: unknown[]) {
      if (args.length === 0) forbidden('new Date()')();
      return Reflect.construct(target, args) as object;
    },
    apply: forbidden('Date()'),
    get(target, property, receiver) {
      if (property === 'now') return forbidden('Date.now');
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  const replaced: [object, string, unknown][] = [
    [globalThis, 'Date', GuardDate],
    [Math, 'random', forbidden('Math.random')],
    [performance, 'now', forbidden('performance.now')],
    [globalThis, 'setTimeout', forbidden('setTimeout')],
    [globalThis, 'setInterval', forbidden('setInterval')],
    [globalThis, 'setImmediate', forbidden('setImmediate')],
    [globalThis, 'queueMicrotask', forbidden('queueMicrotask')],
    [process, 'hrtime', forbidden('process.hrtime')],
    [globalThis.crypto, 'getRandomValues', forbidden('crypto.getRandomValues')],
    [globalThis.crypto, 'randomUUID', forbidden('crypto.randomUUID')],
  ];
  const saved = replaced.map(([owner, name]) => Object.getOwnPropertyDescriptor(owner, name));
  for (const [owner, name, stub] of replaced) Object.defineProperty(owner, name, { value: stub, configurable: true, writable: true });
  try {
    return work();
  } finally {
    replaced.forEach(([owner, name], index) => {
      const descriptor = saved[index];
      if (descriptor === undefined) delete (owner as Record<string, unknown>)[name];
      else Object.defineProperty(owner, name, descriptor);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

type Tap = Parameters<Parameters<TAP['test']>[0]>[0];

function tallyText(workload: Workload): string {
  return [...workload.tally].map(([name, counts]) => `${name} ${counts.made}${counts.rejected > 0 ? ` (${counts.rejected} rejected)` : ''}`).join(', ');
}

function rate(commands: number, ms: number): string {
  return Math.round(commands / (ms / 1000)).toLocaleString('en-US');
}
