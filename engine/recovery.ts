import { assert } from './assert.js';
import type { Clock } from './clock.js';
import type { RawExchangeConfig } from './config.js';
import { HistoryStore } from './history.js';
import { SqliteJournal, entriesOf } from './journal.js';
import { checkConservation } from './ledger.js';
import { Sequencer, type CommandResult, type SequencerOptions } from './sequencer.js';
import { restoreState, serializeState, hashText } from './snapshot.js';
import { applyCommand } from './state_machine.js';
import { emptyState, type ExchangeState } from './state.js';

// Start-up = snapshot + replay (ARCHITECTURE.md data flow, step 5). Opens the journal (verifying the
// whole hash chain), restores the newest sound snapshot that history has caught up with (and checks
// that the restored state hashes to the stored hash: a pair assertion across the disk), replays the
// commands after it (projecting into history whatever history lacks), checks conservation, and
// hands back a sequencer that continues from there. A fresh journal gets the configuration as its
// first command.

export interface OpenEngineOptions extends Omit<SequencerOptions, 'state' | 'journal' | 'clock' | 'beforeSnapshot'> {
  journalPath: string;
  /** The history database; omitted, no history is kept (benchmarks of the bare write path). */
  historyPath?: string;
  clock: Clock;
  /** Journaled as the first command of a new journal; ignored when the journal has one. */
  config: RawExchangeConfig;
  /** WAL bytes written between background checkpoints of the journal (journal.ts); default ~16 MiB. */
  checkpointEveryBytes?: number;
  /** The machine's boot id as history sees it (history.ts); read from /proc when omitted. Tests only. */
  historyBootId?: string;
}

export interface OpenedEngine {
  state: ExchangeState;
  journal: SqliteJournal;
  history: HistoryStore | undefined;
  sequencer: Sequencer;
  recovery: RecoveryReport;
  /** Waits for everything in flight, then closes history and the journal. */
  close(): Promise<void>;
}

export interface RecoveryReport {
  snapshotSequence: number;
  replayedCommands: number;
  replayMs: number;
  damagedSnapshots: number[];
  stateHash: string;
  /** History was found torn (left unsynced across a restart of the machine), deleted and rebuilt from the journal. */
  historyRebuilt: boolean;
}

const PROJECTION_CHUNK = 1_000;

export async function openEngine(options: OpenEngineOptions): Promise<OpenedEngine> {
  const journal = await SqliteJournal.open(options.journalPath, { checkpointEveryBytes: options.checkpointEveryBytes });
  let history: HistoryStore | undefined;
  try {
    history = options.historyPath === undefined ? undefined : await HistoryStore.open(options.historyPath, { bootId: options.historyBootId });
  } catch (error) {
    // The journal's connections would otherwise stay open for the life of the process.
    await journal.close();
    throw error;
  }
  try {
    const { state, recovery } = await recoverState(journal, history);
    const sequencer = new Sequencer({
      ...options,
      state,
      journal,
      clock: options.clock,
      onCommitted: (results, commands) => {
        history?.project(results);
        options.onCommitted?.(results, commands);
      },
      beforeSnapshot: history === undefined ? undefined : () => history.whenWritten(),
    });
    if (state.config === null) {
      const result = await sequencer.submit({ kind: 'init_exchange', config: options.config });
      const rejected = result.events.find((event) => event.kind === 'rejected');
      assert(rejected === undefined, `the configuration was refused: ${rejected?.kind === 'rejected' ? rejected.detail : ''}`);
    }
    const close = async (): Promise<void> => {
      await sequencer.whenIdle();
      await history?.close();
      await journal.close();
    };
    return { state, journal, history, sequencer, recovery, close };
  } catch (error) {
    await history?.close();
    await journal.close();
    throw error;
  }
}

/** Restores and replays; with `history`, replays from a point history has reached and fills it in. */
export async function recoverState(journal: SqliteJournal, history?: HistoryStore): Promise<{ state: ExchangeState; recovery: RecoveryReport }> {
  const startedMs = performance.now();
  const contents = await journal.load(history?.projectedSequence);
  let state = emptyState();
  if (contents.snapshot !== undefined) {
    state = restoreState(contents.snapshot.body);
    assert(hashText(serializeState(state)) === contents.snapshot.stateHash, `snapshot at ${contents.snapshot.sequence} does not restore to its hash`);
  }
  let unprojected: CommandResult[] = [];
  for await (const entries of entriesOf(journal, contents)) {
    for (const entry of entries) {
      const needsEvents = history !== undefined && entry.sequence > history.projectedSequence;
      const events = applyCommand(state, entry.command, entry.sequence, entry.timeMs, !needsEvents);
      if (!needsEvents) continue;
      unprojected.push({ sequence: entry.sequence, timeMs: entry.timeMs, events });
      if (unprojected.length === PROJECTION_CHUNK) {
        history!.project(unprojected);
        unprojected = [];
      }
    }
  }
  if (unprojected.length > 0) history!.project(unprojected);
  await history?.whenWritten();
  checkConservation(state);
  assert(state.sequence === contents.lastSequence, `replay ended at ${state.sequence}, journal at ${contents.lastSequence}`);
  return {
    state,
    recovery: {
      snapshotSequence: contents.snapshot?.sequence ?? 0,
      replayedCommands: contents.entryCount,
      replayMs: performance.now() - startedMs,
      damagedSnapshots: contents.damagedSnapshots,
      stateHash: hashText(serializeState(state)),
      historyRebuilt: history?.discarded ?? false,
    },
  };
}
