import { InvariantViolation } from './assert.js';
import type { Clock } from './clock.js';
import type { Command } from './commands.js';
import type { Event } from './events.js';
import { faultPoint } from './fault_points.js';
import type { JournalEntry, SqliteJournal } from './journal.js';
import { limits } from './limits.js';
import { Reject, type Rejection } from './result_codes.js';
import { captureState, renderSnapshot } from './snapshot.js';
import { applyCommand } from './state_machine.js';
import type { ExchangeState } from './state.js';

// The one writer (ARCHITECTURE.md data flow, steps 2 and 3). Commands queue up; on each turn of the
// event loop the sequencer takes a batch, stamps each command with the next sequence number and the
// clock's time (never earlier than the last), applies it, and appends the batch to the journal as
// one transaction. Nothing of a batch (replies, events for market data) is released until its
// COMMIT has returned. The next batch is applied while the previous one commits, so journaling
// overlaps matching, but at most `batchesInFlightMax` batches wait for their commit at once.
//
// A broken invariant while applying halts the engine: the batch in hand is not journaled, every
// waiting command is answered engine_halted, and nothing is accepted afterwards. A failed journal
// write halts it the same way.

export interface CommandResult {
  sequence: number;
  timeMs: number;
  events: Event[];
}

export interface SequencerOptions {
  state: ExchangeState;
  journal: SqliteJournal;
  clock: Clock;
  /** Commands per batch (one transaction); default limits.journalBatchCommandsMax. */
  batchCommandsMax?: number;
  /** Batches applied and waiting for their commit at once (pipelining depth). */
  batchesInFlightMax?: number;
  /** Write a snapshot every this many commands; 0 turns snapshots off. */
  snapshotEveryCommands?: number;
  /** Called with each committed batch's results, in order, after its commit. */
  onCommitted?: (results: CommandResult[], commands: Command[]) => void;
  /** Awaited before a snapshot is written (history must hold everything the snapshot covers). */
  beforeSnapshot?: () => Promise<void>;
  /** Called once if the engine halts. */
  onHalt?: (reason: string, cause: unknown) => void;
  /** Called when a snapshot could not be written (the journal still holds everything). */
  onSnapshotFailed?: (cause: unknown) => void;
  /**
   * Monotonic milliseconds for how long a backlog has lasted (limits.backlogAgeMsMax); default
   * performance.now. Not `clock`: that one stamps commands, and tests and replays drive it by hand.
   */
  waitClockMs?: () => number;
}

/** The smallest part a queue is split into to fill the pipeline (see nextBatchSize). */
const SPLIT_BATCH_MIN = 64;
/** Taken entries at the front of the queue array before it is compacted (see takeQueued). */
const QUEUE_COMPACT_MIN = 4_096;

interface Pending {
  command: Command;
  resolve: (result: CommandResult) => void;
}

export class Sequencer {
  private readonly state: ExchangeState;
  private readonly journal: SqliteJournal;
  private readonly clock: Clock;
  private readonly batchCommandsMax: number;
  private readonly batchesInFlightMax: number;
  private readonly snapshotEveryCommands: number;
  private readonly onCommitted: SequencerOptions['onCommitted'];
  private readonly onHalt: SequencerOptions['onHalt'];
  private readonly beforeSnapshot: SequencerOptions['beforeSnapshot'];
  private readonly onSnapshotFailed: SequencerOptions['onSnapshotFailed'];
  private readonly waitClockMs: () => number;
  /** Submitted, not yet taken: queue[queueHead …]; entries before queueHead are taken (and cleared). */
  private queue: (Pending | undefined)[] = [];
  private queueHead = 0;
  private scheduled = false;
  private batchesInFlight = 0;
  private commandsInFlight = 0;
  private lastSnapshotSequence: number;
  private tail: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];
  private snapshotWriting: Promise<void> = Promise.resolve();
  /** When the queue last reached limits.backlogCommandsSoftMax (waitClockMs), or -1 while it is below. */
  private backlogSinceMs = -1;

  constructor(options: SequencerOptions) {
    this.state = options.state;
    this.journal = options.journal;
    this.clock = options.clock;
    this.batchCommandsMax = options.batchCommandsMax ?? limits.journalBatchCommandsMax;
    this.batchesInFlightMax = options.batchesInFlightMax ?? 2;
    this.snapshotEveryCommands = options.snapshotEveryCommands ?? limits.snapshotEveryCommands;
    this.onCommitted = options.onCommitted;
    this.onHalt = options.onHalt;
    this.beforeSnapshot = options.beforeSnapshot;
    this.onSnapshotFailed = options.onSnapshotFailed;
    this.waitClockMs = options.waitClockMs ?? (() => performance.now());
    this.lastSnapshotSequence = options.state.sequence;
  }

  /** Queues a command; resolves once it is applied and durable (or at once with a rejection). */
  submit(command: Command): Promise<CommandResult> {
    if (this.state.haltedReason !== '') return Promise.resolve(this.refusal(Reject.engineHalted, this.state.haltedReason));
    if (this.queuedCount + this.commandsInFlight >= limits.inflightCommandsMax) return Promise.resolve(this.refusal(Reject.queueFull, 'too many commands in flight'));
    if (this.queuedCount >= limits.backlogCommandsSoftMax && this.backlogTooOld()) {
      return Promise.resolve(this.refusal(Reject.queueFull, `over ${limits.backlogCommandsSoftMax} commands have been queued for more than ${limits.backlogAgeMsMax} ms`));
    }
    return new Promise((resolve) => {
      this.queue.push({ command, resolve });
      this.schedule();
    });
  }

  get queuedCommands(): number {
    return this.queuedCount + this.commandsInFlight;
  }

  /** Resolves when everything submitted so far is committed and answered (and snapshots written). */
  async whenIdle(): Promise<void> {
    if (this.queuedCount > 0 || this.batchesInFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.snapshotWriting;
  }

  private schedule(): void {
    if (this.scheduled || this.batchesInFlight >= this.batchesInFlightMax || this.queuedCount === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runBatch();
    });
  }

  private runBatch(): void {
    if (this.queuedCount === 0 || this.batchesInFlight >= this.batchesInFlightMax) return;
    if (this.state.haltedReason !== '') return this.answerAllHalted();
    const taken = this.takeQueued(this.nextBatchSize());
    if (this.queuedCount < limits.backlogCommandsSoftMax) this.backlogSinceMs = -1;
    // One object per command is both its journal entry and its result (a third fewer allocations).
    const results = new Array<CommandResult & JournalEntry>(taken.length);
    try {
      for (let index = 0; index < taken.length; index++) {
        const command = taken[index].command;
        const sequence = this.state.sequence + 1;
        const timeMs = Math.max(this.clock.nowMs(), this.state.timeMs);
        const events = applyCommand(this.state, command, sequence, timeMs);
        results[index] = { sequence, timeMs, events, command };
      }
    } catch (error) {
      // The batch in hand is lost (never journaled); the state is not to be trusted any more.
      this.halt(error instanceof InvariantViolation ? error.message : 'apply failed', error);
      for (const pending of taken) pending.resolve(this.refusal(Reject.engineHalted, this.state.haltedReason));
      return this.answerAllHalted();
    }
    faultPoint('engine.after_apply');
    // Only the copy is taken here; the text and its hash are made later, in slices (renderSnapshot).
    const snapshot = this.snapshotDue() ? captureState(this.state) : undefined;
    this.batchesInFlight++;
    this.commandsInFlight += taken.length;
    const committed = this.journal.append(results);
    // Awaited in order below; marked handled now so an early failure is not an unhandled rejection.
    committed.catch(() => undefined);
    this.tail = this.tail.then(async () => {
      let batch: number;
      try {
        batch = await committed;
      } catch (error) {
        this.halt('journal write failed', error);
        for (const pending of taken) pending.resolve(this.refusal(Reject.engineHalted, this.state.haltedReason));
        this.answerAllHalted();
        return;
      } finally {
        this.batchesInFlight--;
        this.commandsInFlight -= taken.length;
      }
      faultPoint('gateway.before_reply');
      for (let index = 0; index < taken.length; index++) taken[index].resolve(results[index]);
      this.onCommitted?.(results, results.map((result) => result.command));
      if (snapshot !== undefined) {
        const sequence = results[results.length - 1].sequence;
        // One at a time, in order, so whenIdle waits for all of them.
        this.snapshotWriting = this.snapshotWriting.then(() => this.writeSnapshot(sequence, batch, snapshot));
      }
      this.schedule();
      this.notifyIdle();
    });
    this.schedule();
  }

  /**
   * How many queued commands the next batch takes. A queue that arrived at once (a client's window
   * refilled by one batch's replies) is shared out over the free pipeline slots, so the first part
   * commits while the next is applied, instead of one batch applying while the fsync thread idles
   * and then committing while the JS thread idles. Below SPLIT_BATCH_MIN commands a part is not
   * worth its own commit (each costs ~0.2 ms of CPU on SQLite's thread), and under overload the
   * batch cap rules as before. Measured on the engine bench at 250 in flight: 201-228k cmd/s with
   * p50 0.9-1.1 ms before, 240k+ with p50 0.7-0.8 ms after (bench/ENGINE.md).
   */
  private nextBatchSize(): number {
    const freeSlots = this.batchesInFlightMax - this.batchesInFlight;
    const queued = this.queuedCount;
    if (freeSlots < 2 || queued < 2 * SPLIT_BATCH_MIN) return Math.min(queued, this.batchCommandsMax);
    return Math.min(Math.ceil(queued / freeSlots), this.batchCommandsMax);
  }

  private get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * The next `size` queued commands, oldest first. The queue moves a head index instead of copying
   * what is left after every batch (slicing the rest each time made a backlog of n commands cost
   * O(n²) to drain); the taken prefix is dropped once it is at least half the array.
   */
  private takeQueued(size: number): Pending[] {
    const start = this.queueHead;
    const end = Math.min(this.queue.length, start + size);
    const taken = this.queue.slice(start, end) as Pending[];
    if (end === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
      return taken;
    }
    this.queue.fill(undefined, start, end);
    this.queueHead = end;
    if (this.queueHead >= QUEUE_COMPACT_MIN && 2 * this.queueHead >= this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return taken;
  }

  /** Off the release path: a slow snapshot write delays no reply. A failed one is only logged by the caller. */
  private async writeSnapshot(sequence: number, batch: number, tree: Record<string, unknown>): Promise<void> {
    try {
      const { body, stateHash } = await renderSnapshot(tree);
      await this.beforeSnapshot?.();
      await this.journal.writeSnapshot({ sequence, batch, stateHash, body });
    } catch (error) {
      this.onSnapshotFailed?.(error);
    }
  }

  private snapshotDue(): boolean {
    if (this.snapshotEveryCommands <= 0 || this.state.sequence - this.lastSnapshotSequence < this.snapshotEveryCommands) return false;
    this.lastSnapshotSequence = this.state.sequence;
    return true;
  }

  private halt(reason: string, cause: unknown): void {
    if (this.state.haltedReason !== '') return;
    this.state.haltedReason = reason;
    this.onHalt?.(reason, cause);
  }

  private answerAllHalted(): void {
    const waiting = this.takeQueued(this.queuedCount);
    for (const pending of waiting) pending.resolve(this.refusal(Reject.engineHalted, this.state.haltedReason));
    this.notifyIdle();
  }

  /** Whether the queue has stayed at or over the soft maximum for longer than allowed (starts the timer when it has just reached it). */
  private backlogTooOld(): boolean {
    const nowMs = this.waitClockMs();
    if (this.backlogSinceMs < 0) {
      this.backlogSinceMs = nowMs;
      return false;
    }
    return nowMs - this.backlogSinceMs > limits.backlogAgeMsMax;
  }

  private notifyIdle(): void {
    if (this.queuedCount > 0 || this.batchesInFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private refusal(rejection: Rejection, detail: string): CommandResult {
    return { sequence: 0, timeMs: 0, events: [{ kind: 'rejected', rejection, detail }] };
  }
}
