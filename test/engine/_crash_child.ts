// The engine process of crash.test.ts (RELIABILITY.md tests 6 and 7). Run as
//   node --import tsx test/engine/_crash_child.ts '<json arguments>'
// optionally with FAULT_POINT=name:n in its environment (engine/fault_points.ts kills it at the
// n-th pass through that point).
//
// It opens the engine on the journal (openEngine: verify the chain, restore the newest snapshot,
// replay the rest, with history projected to its own file as in production), continues the
// workload from where the journal ends (workload command i is sequence i + 2, so the next index is
// the journal's last sequence − 1), and pushes it through the sequencer as fast as it can with
// `window` commands in flight. It writes to stdout, synchronously (a pipe on Linux), one line per
// event the parent needs:
//   READY <journal sequence> <next index> <open ms> <snapshot sequence> <replayed commands> <state hash>
//   ACK <sequence> <index>            after the command's promise resolved (= after its COMMIT)
//   REFUSED <index> <reason>          a command answered without a sequence (halted, queue full)
//   HALT <reason>                     the engine halted
//   DONE                              every workload command is acknowledged; then it exits 0
// ACK lines of one committed batch are written together, right after the batch's replies.

import { openEngine } from '../../engine/index.js';
import { WorkloadClock, indexOfSequence, loadExchangeConfig, readWorkloadFile, sequenceOfIndex, submitWorkload } from './_workload.js';

export interface CrashChildArguments {
  journalPath: string;
  historyPath: string;
  workloadPath: string;
  window: number;
  batchCommandsMax: number;
  snapshotEveryCommands: number;
  /** Test of the test: print ACK when a command is submitted, not when it is answered (a broken engine). */
  ackEarly?: boolean;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as CrashChildArguments;
  const workload = readWorkloadFile(args.workloadPath);
  const clock = new WorkloadClock(workload.timesMs);
  const startedMs = performance.now();
  const engine = await openEngine({
    journalPath: args.journalPath,
    historyPath: args.historyPath,
    clock,
    config: loadExchangeConfig(),
    batchCommandsMax: args.batchCommandsMax,
    snapshotEveryCommands: args.snapshotEveryCommands,
    // Small, so that kills also land while a background checkpoint is copying the WAL.
    checkpointEveryBytes: 256 * 1024,
    onHalt: (reason) => writeLine(`HALT ${reason.replace(/\s+/g, '_')}`),
  });
  clock.attach(engine.state);
  const nextIndex = Math.max(0, indexOfSequence(engine.state.sequence + 1));
  const openMs = Math.round(performance.now() - startedMs);
  writeLine(`READY ${engine.state.sequence} ${nextIndex} ${openMs} ${engine.recovery.snapshotSequence} ${engine.recovery.replayedCommands} ${engine.recovery.stateHash}`);
  const source = args.ackEarly ? { ...workload, commandAt: (index: number) => (bufferLine(`ACK ${sequenceOfIndex(index)} ${index}`), workload.commandAt(index)) } : workload;
  await submitWorkload(engine.sequencer, source, nextIndex, args.window, (index, result) => {
    if (args.ackEarly) return;
    if (result.sequence === 0) {
      const rejected = result.events.find((event) => event.kind === 'rejected');
      bufferLine(`REFUSED ${index} ${rejected?.kind === 'rejected' ? rejected.rejection.reason : 'unknown'}`);
    } else bufferLine(`ACK ${result.sequence} ${index}`);
  });
  await engine.close();
  writeLine('DONE');
}

let buffered: string[] = [];

/** Lines of one batch's replies go out together, after the last of them (one write, not one per ack). */
function bufferLine(line: string): void {
  if (buffered.length === 0) queueMicrotask(flush);
  buffered.push(line);
}

function flush(): void {
  const lines = buffered;
  buffered = [];
  writeLine(lines.join('\n'));
}

function writeLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
