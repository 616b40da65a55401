// Order-book benchmark: replays `lobwl` workloads into the project's book and into the peer
// (nodejs-order-book) through the shared adapter interface, and prints throughput, per-operation
// latency, memory and whether each run reproduced the workload's `# expect` line.
//
//   npm run bench:book                      build, then 5 runs per engine and workload
//   node dist/bench/book.bench.js --quick   1 run, the canonical workload and a small one
//   options: --runs=N (or BENCH_RUNS=N), --engines=book,nodejs-order-book, --workloads=name,...
//
// Every run is a child process of its own (this script with --child); see bench_child.ts for what
// one run measures. The last line of output is one JSON object with the headline figures.

import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ENGINE_NAMES, runChild, type ChildResult, type ChildTask } from './bench_child.js';
import { median } from './statistics.js';
import { formatWorkload, generateWorkload, type GeneratorOptions } from './workload.js';

const CANONICAL_NAME = 'canonical-1m-s42';
const DEFAULT_RUNS = 5;
const WARMUP_OPS = 100_000;

interface WorkloadPlan {
  name: string;
  description: string;
  /** A file to replay as is, or generator options for one written to bench/.cache/. */
  path?: string;
  generator?: Partial<GeneratorOptions>;
  /** Shown next to the peer's figures: why its outcome cannot match here. */
  peerNote?: string;
}

interface BenchOptions {
  runs: number;
  quick: boolean;
  engines: string[];
  workloadFilter: string[] | null;
}

interface EngineSummary {
  engine: string;
  engineVersion: string;
  runs: number;
  failedRuns: number;
  opsPerSec: number;
  opsPerSecRuns: number[];
  secondHalfOpsPerSec: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  latencyByKind: Record<string, { p50Us: number; p99Us: number; p999Us: number; count: number }>;
  peakHeapMB: number;
  peakRssMB: number;
  retainedHeapMB: number;
  timerOverheadUs: number;
  match: boolean;
  matchedRuns: number;
  mismatches: string[];
  note?: string;
}

interface WorkloadSummary {
  name: string;
  description: string;
  opCount: number;
  engines: EngineSummary[];
  ratio: number;
}

// -----------------------------------------------------------------------------------------------
// Entry point

const thisFile = fileURLToPath(import.meta.url);

if (process.argv.includes('--child')) {
  await childMain();
} else {
  await parentMain();
}

async function childMain(): Promise<void> {
  const task = JSON.parse(process.argv[process.argv.indexOf('--child') + 1]) as ChildTask;
  const result = await runChild(task);
  await new Promise<void>((resolve, reject) => process.send!(result, (error: Error | null) => (error ? reject(error) : resolve())));
  process.disconnect();
}

async function parentMain(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const repositoryRoot = findRepositoryRoot(dirname(thisFile));
  const plans = planWorkloads(repositoryRoot, options);
  const totalStartMs = Date.now();
  console.log(`order-book bench: ${options.runs} run(s) per engine and workload, each in its own child process; engines: ${options.engines.join(', ')}`);
  console.log(`node ${process.version}, load average ${loadAverageText()} (other work on this machine skews every figure), warm-up: the first ${WARMUP_OPS.toLocaleString('en-US')} ops replayed into a separate book instance and the first ${(WARMUP_OPS / 2).toLocaleString('en-US')} into another, both never measured\n`);
  const summaries: WorkloadSummary[] = [];
  for (const plan of plans) {
    const path = materializeWorkload(repositoryRoot, plan);
    const summary = await benchWorkload(plan, path, options);
    summaries.push(summary);
    printWorkloadTable(summary);
  }
  printMethod(summaries);
  console.log(`total ${((Date.now() - totalStartMs) / 1000).toFixed(1)} s, load average at the end ${loadAverageText()}`);
  console.log(JSON.stringify({ ...headline(summaries), loadAverage1m: round(loadavg()[0], 2) }));
}

// -----------------------------------------------------------------------------------------------
// Options and workloads

function parseOptions(argv: string[]): BenchOptions {
  const value = (name: string): string | undefined => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  const runs = Number(value('runs') ?? process.env.BENCH_RUNS ?? (quick ? 1 : DEFAULT_RUNS));
  if (!Number.isSafeInteger(runs) || runs < 1) throw new RangeError(`--runs must be a positive integer, got ${runs}`);
  const engines = value('engines')?.split(',') ?? ENGINE_NAMES;
  for (const engine of engines) if (!ENGINE_NAMES.includes(engine)) throw new RangeError(`unknown engine ${engine}; known: ${ENGINE_NAMES.join(', ')}`);
  return { runs, quick, engines, workloadFilter: value('workloads')?.split(',') ?? null };
}

function findRepositoryRoot(start: string): string {
  for (let directory = start; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'package.json'))) return directory;
    if (dirname(directory) === directory) throw new Error(`no package.json above ${start}`);
  }
}

function planWorkloads(repositoryRoot: string, options: BenchOptions): WorkloadPlan[] {
  const canonicalPath = join(repositoryRoot, '..', 'shared', 'bench', 'lobwl-1m-s42.txt.gz');
  const canonical: WorkloadPlan = existsSync(canonicalPath)
    ? { name: CANONICAL_NAME, description: `the shared canonical file (${relative(repositoryRoot, canonicalPath)})`, path: canonicalPath }
    : { name: 'generated-1m-s42', description: 'canonical file absent: generated stand-in, seed 42, 1M ops, default mix', generator: { seed: 42, ops: 1_000_000 } };
  const plans: WorkloadPlan[] = [
    canonical,
    { name: 'default-100k-s7', description: 'generated, seed 7, 100k ops, default mix', generator: { seed: 7, ops: 100_000 } },
  ];
  if (!options.quick) {
    plans.push(
      {
        name: 'cancel-heavy-200k-s11',
        description: 'generated, seed 11, 200k ops: adds 55%, cancels 40%, crosses 4%, markets 1%',
        generator: { seed: 11, ops: 200_000, pCancelAtTarget: 0.5, pCross: 0.04, pMarket: 0.01 },
      },
      {
        name: 'amend-10pct-200k-s13',
        description: 'generated, seed 13, 200k ops with 10% amends (E lines)',
        generator: { seed: 13, ops: 200_000, pAmend: 0.1 },
        peerNote: 'its modify re-queues even a size reduction, E keeps its place: outcome differs by design',
      },
    );
  }
  return options.workloadFilter === null ? plans : plans.filter((plan) => options.workloadFilter!.includes(plan.name));
}

/** The path to replay: the file itself, or a generated workload written under bench/.cache/. */
function materializeWorkload(repositoryRoot: string, plan: WorkloadPlan): string {
  if (plan.path !== undefined) return plan.path;
  const directory = join(repositoryRoot, 'bench', '.cache');
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `${plan.name}.txt`);
  // Generation takes well under a second per million ops, so it is redone every time rather than
  // trusting a cached file that an older generator may have written.
  const text = formatWorkload(generateWorkload(plan.generator));
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
  return path;
}

// -----------------------------------------------------------------------------------------------
// Running

async function benchWorkload(plan: WorkloadPlan, path: string, options: BenchOptions): Promise<WorkloadSummary> {
  const resultsByEngine = new Map<string, ChildResult[]>(options.engines.map((engine) => [engine, []]));
  const failuresByEngine = new Map<string, string[]>(options.engines.map((engine) => [engine, []]));
  for (let run = 0; run < options.runs; run++) {
    // Alternate which engine goes first, so that drift in the machine's speed hits both alike.
    const order = run % 2 === 0 ? options.engines : [...options.engines].reverse();
    for (const engine of order) {
      const task: ChildTask = { engine, workloadName: plan.name, workloadPath: path, warmupOps: WARMUP_OPS };
      try {
        const result = await runInChild(task);
        resultsByEngine.get(engine)!.push(result);
        process.stderr.write(`  ${plan.name} run ${run + 1}/${options.runs} ${engine}: ${Math.round(result.opsPerSec).toLocaleString('en-US')} ops/s, match ${result.match}\n`);
      } catch (error) {
        failuresByEngine.get(engine)!.push((error as Error).message);
        process.stderr.write(`  ${plan.name} run ${run + 1}/${options.runs} ${engine}: FAILED ${(error as Error).message}\n`);
      }
    }
  }
  const engines = options.engines.map((engine) => summarizeEngine(engine, resultsByEngine.get(engine)!, failuresByEngine.get(engine)!, engine === 'book' ? undefined : plan.peerNote));
  const first = [...resultsByEngine.values()].flat()[0];
  const ours = engines.find((summary) => summary.engine === 'book');
  const peer = engines.find((summary) => summary.engine !== 'book');
  return {
    name: plan.name,
    description: plan.description,
    opCount: first?.opCount ?? 0,
    engines,
    ratio: ours !== undefined && peer !== undefined ? ours.opsPerSec / peer.opsPerSec : NaN,
  };
}

function runInChild(task: ChildTask): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(thisFile, ['--child', JSON.stringify(task)], {
      // --expose-gc lets the child force collections around its measurements (never during them).
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ChildResult | undefined;
    child.on('message', (message) => (result = message as ChildResult));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`child exited with ${signal ?? `code ${code}`} before reporting`));
    });
  });
}

function summarizeEngine(engine: string, results: ChildResult[], failures: string[], note: string | undefined): EngineSummary {
  const ofKind = (kind: string, field: 'p50Us' | 'p99Us' | 'p999Us'): number => median(results.map((result) => result.latency[kind]?.[field] ?? NaN));
  const kinds = [...new Set(results.flatMap((result) => Object.keys(result.latency)))].filter((kind) => kind !== 'all');
  const latencyByKind: EngineSummary['latencyByKind'] = {};
  for (const kind of kinds) {
    latencyByKind[kind] = { p50Us: ofKind(kind, 'p50Us'), p99Us: ofKind(kind, 'p99Us'), p999Us: ofKind(kind, 'p999Us'), count: results[0].latency[kind]?.count ?? 0 };
  }
  const matchedRuns = results.filter((result) => result.match && result.latencyReplayMatch).length;
  return {
    engine,
    engineVersion: results[0]?.engineVersion ?? '?',
    runs: results.length,
    failedRuns: failures.length,
    opsPerSec: median(results.map((result) => result.opsPerSec)),
    opsPerSecRuns: results.map((result) => Math.round(result.opsPerSec)),
    secondHalfOpsPerSec: median(results.map((result) => result.secondHalfOpsPerSec)),
    p50Us: ofKind('all', 'p50Us'),
    p99Us: ofKind('all', 'p99Us'),
    p999Us: ofKind('all', 'p999Us'),
    latencyByKind,
    peakHeapMB: median(results.map((result) => result.memory.peakHeapUsedDeltaMB)),
    peakRssMB: median(results.map((result) => result.memory.peakRssDeltaMB)),
    retainedHeapMB: median(results.map((result) => result.memory.retainedHeapUsedDeltaMB)),
    timerOverheadUs: median(results.map((result) => result.timerOverheadUs.p50)),
    match: results.length > 0 && failures.length === 0 && matchedRuns === results.length,
    matchedRuns,
    mismatches: [...new Set([...results.flatMap((result) => result.mismatches), ...failures])].slice(0, 5),
    ...(note === undefined ? {} : { note }),
  };
}

// -----------------------------------------------------------------------------------------------
// Output

function printWorkloadTable(summary: WorkloadSummary): void {
  console.log(`\n== ${summary.name}: ${summary.description}; ${summary.opCount.toLocaleString('en-US')} ops`);
  const kinds = ['add', 'cross', 'market', 'cancel', 'amend'].filter((kind) => summary.engines.some((engine) => kind in engine.latencyByKind));
  const header = ['engine', 'ops/s (median)', '2nd half ops/s', 'p50 µs', 'p99 µs', 'p99.9 µs', ...kinds.map((kind) => `${kind} p99.9`), 'peak heap MB', 'retained MB', 'peak RSS MB', 'match'];
  const rows = summary.engines.map((engine) => [
    `${engine.engine} ${engine.engineVersion}`,
    Math.round(engine.opsPerSec).toLocaleString('en-US'),
    Number.isFinite(engine.secondHalfOpsPerSec) ? Math.round(engine.secondHalfOpsPerSec).toLocaleString('en-US') : '-',
    fixed(engine.p50Us, 2),
    fixed(engine.p99Us, 2),
    fixed(engine.p999Us, 1),
    ...kinds.map((kind) => fixed(engine.latencyByKind[kind]?.p999Us ?? NaN, 1)),
    fixed(engine.peakHeapMB, 1),
    fixed(engine.retainedHeapMB, 1),
    fixed(engine.peakRssMB, 1),
    `${engine.match} (${engine.matchedRuns}/${engine.runs + engine.failedRuns})`,
  ]);
  printTable(header, rows);
  for (const engine of summary.engines) {
    console.log(`  ${engine.engine} ops/s per run: ${engine.opsPerSecRuns.map((value) => value.toLocaleString('en-US')).join(', ')}`);
    if (engine.note !== undefined) console.log(`  note (${engine.engine}): ${engine.note}`);
    if (!engine.match) console.log(`  ${engine.engine} mismatches: ${engine.mismatches.join('; ')}`);
  }
  if (Number.isFinite(summary.ratio)) console.log(`  ratio book / peer (ops/s): ${summary.ratio.toFixed(2)}x`);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

function printMethod(summaries: WorkloadSummary[]): void {
  const overheads = summaries.flatMap((summary) => summary.engines.map((engine) => engine.timerOverheadUs)).filter(Number.isFinite);
  console.log(
    [
      '',
      'ops/s: operations / wall time of one whole replay into a fresh book (no per-op timers), median over runs; 2nd half ops/s: the same replay\'s second half alone.',
      `p50/p99/p99.9: per-op latency from a separate replay with performance.now() around every op, medians over runs; timer overhead included, not subtracted (one read pair ~${fixed(median(overheads), 3)} µs median).`,
      'memory: heapUsed/RSS sampled every 65,536 ops during the measured replay, minus a baseline taken after parse, warm-up and a forced GC; retained = heapUsed after the replay and a forced GC with the book alive.',
      'match: fills, fillQty, tapeHash, bestBid, bestAsk, resting, restingQty and bookHash equal "# expect", in both replays of every run (matched/total runs).',
    ].join('\n'),
  );
}

function loadAverageText(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function headline(summaries: WorkloadSummary[]): Record<string, unknown> {
  const main = summaries[0];
  const ours = main?.engines.find((engine) => engine.engine === 'book');
  const peer = main?.engines.find((engine) => engine.engine !== 'book');
  return {
    bench: 'book',
    workload: main?.name ?? null,
    opsPerSec: round(ours?.opsPerSec),
    secondHalfOpsPerSec: round(ours?.secondHalfOpsPerSec),
    p50Us: round(ours?.p50Us, 3),
    p99Us: round(ours?.p99Us, 3),
    p999Us: round(ours?.p999Us, 3),
    peakMemMB: round(ours?.peakHeapMB, 2),
    retainedMemMB: round(ours?.retainedHeapMB, 2),
    match: ours?.match ?? false,
    peerOpsPerSec: round(peer?.opsPerSec),
    peerSecondHalfOpsPerSec: round(peer?.secondHalfOpsPerSec),
    peerP50Us: round(peer?.p50Us, 3),
    peerP99Us: round(peer?.p99Us, 3),
    peerP999Us: round(peer?.p999Us, 3),
    peerPeakMemMB: round(peer?.peakHeapMB, 2),
    peerMatch: peer?.match ?? null,
    ratio: round(main?.ratio, 3),
    runs: ours?.runs ?? 0,
    workloads: summaries.map((summary) => ({
      name: summary.name,
      ops: summary.opCount,
      ratio: round(summary.ratio, 3),
      engines: summary.engines.map((engine) => ({
        engine: engine.engine,
        opsPerSec: round(engine.opsPerSec),
        secondHalfOpsPerSec: round(engine.secondHalfOpsPerSec),
        p50Us: round(engine.p50Us, 3),
        p99Us: round(engine.p99Us, 3),
        p999Us: round(engine.p999Us, 3),
        peakMemMB: round(engine.peakHeapMB, 2),
        retainedMemMB: round(engine.retainedHeapMB, 2),
        peakRssMB: round(engine.peakRssMB, 2),
        match: engine.match,
        matchedRuns: engine.matchedRuns,
        runs: engine.runs,
        byKindP999Us: Object.fromEntries(Object.entries(engine.latencyByKind).map(([kind, latency]) => [kind, round(latency.p999Us, 3)])),
      })),
    })),
  };
}

function round(value: number | undefined, digits = 0): number | null {
  if (value === undefined || !Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
