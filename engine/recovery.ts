import { assert } from './assert.js';
import type { Clock } from './clock.js';
import type { RawExchangeConfig } from './config.js';
import { SqliteJournal } from './journal.js';
import { checkConservation } from './ledger.js';
import { Sequencer, type SequencerOptions } from './sequencer.js';
import { restoreState, serializeState, hashText } from './snapshot.js';
import { applyCommand } from './state_machine.js';
import { emptyState, type ExchangeState } from './state.js';

// Start-up = snapshot + replay (ARCHITECTURE.md data flow, step 5). Opens the journal (verifying the
// whole hash chain), restores the newest sound snapshot (and checks the restored state hashes to the
// stored hash: a pair assertion across the disk), replays the commands after it, checks
// conservation, and hands back a sequencer that continues from there. A fresh journal is
// initialized with the configuration as its first command.

export interface OpenEngineOptions extends Omit<SequencerOptions, 'state' | 'journal' | 'clock'> {
  journalPath: string;
  clock: Clock;
  /** Journaled as the first command of a new journal; ignored when the journal has one. */
  config: RawExchangeConfig;
}

export interface OpenedEngine {
  state: ExchangeState;
  journal: SqliteJournal;
  sequencer: Sequencer;
  recovery: RecoveryReport;
}

export interface RecoveryReport {
  snapshotSequence: number;
  replayedCommands: number;
  replayMs: number;
  damagedSnapshots: number[];
  stateHash: string;
}

export async function openEngine(options: OpenEngineOptions): Promise<OpenedEngine> {
  const journal = await SqliteJournal.open(options.journalPath);
  try {
    const { state, recovery } = await recoverState(journal);
    const sequencer = new Sequencer({ ...options, state, journal, clock: options.clock });
    if (state.config === null) {
      const result = await sequencer.submit({ kind: 'init_exchange', config: options.config });
      const rejected = result.events.find((event) => event.kind === 'rejected');
      assert(rejected === undefined, `the configuration was refused: ${rejected?.kind === 'rejected' ? rejected.detail : ''}`);
    }
    return { state, journal, sequencer, recovery };
  } catch (error) {
    await journal.close();
    throw error;
  }
}

export async function recoverState(journal: SqliteJournal): Promise<{ state: ExchangeState; recovery: RecoveryReport }> {
  const startedMs = performance.now();
  const contents = await journal.load();
  let state = emptyState();
  if (contents.snapshot !== undefined) {
    state = restoreState(contents.snapshot.body);
    assert(hashText(serializeState(state)) === contents.snapshot.stateHash, `snapshot at ${contents.snapshot.sequence} does not restore to its hash`);
  }
  for (const entry of contents.entries) applyCommand(state, entry.command, entry.sequence, entry.timeMs);
  checkConservation(state);
  assert(state.sequence === contents.lastSequence, `replay ended at ${state.sequence}, journal at ${contents.lastSequence}`);
  return {
    state,
    recovery: {
      snapshotSequence: contents.snapshot?.sequence ?? 0,
      replayedCommands: contents.entries.length,
      replayMs: performance.now() - startedMs,
      damagedSnapshots: contents.damagedSnapshots,
      stateHash: hashText(serializeState(state)),
    },
  };
}
