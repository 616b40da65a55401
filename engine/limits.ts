import { assert } from './assert.js';

// Every hard bound of the engine, in one place (STYLE 6). Market parameters that operators tune
// live in config/exchange.json; these are the ceilings that keep memory and loops bounded, and the
// configuration is checked against them when it is loaded.

export const limits = Object.freeze({
  /** Accounts the engine will create; account ids are a dense index 1 … accountsMax. */
  accountsMax: 1_000_000,
  /** Resting orders in one book. */
  ordersPerBookMax: 1_000_000,
  /** Ceiling for the configured per-account open-order limit (book orders + untriggered stops). */
  openOrdersPerAccountMax: 10_000,
  /** Commands the sequencer holds in flight (queued + applied but not yet committed). */
  inflightCommandsMax: 200_000,
  /**
   * A backlog of this many queued commands may last at most `backlogAgeMsMax` before new commands
   * are refused (queue_full) until it falls below again. A backlog costs more than the wait: every
   * queued command survives the young-generation GC, so scavenges grow with the backlog, the engine
   * slows, and the backlog grows (bench/ENGINE.md, the open-loop collapse). Refusing early keeps the
   * engine at full speed for the commands it takes, and tells clients at once.
   */
  backlogCommandsSoftMax: 10_000,
  backlogAgeMsMax: 250,
  /**
   * Commands applied and journaled together in one batch (one SQLite transaction). Replies to a
   * committed batch wait while the next one is applied, so this bounds that wait (~10 ms at 1,024).
   */
  journalBatchCommandsMax: 1_024,
  /** A label (client order id) is at most this many characters. */
  labelLengthMax: 64,
  /** Labels remembered per account for idempotent retries after their order closed. */
  labelsRememberedPerAccountMax: 1_000,
  /** Stop orders one price change may trigger, including cascades. */
  triggerCascadeMax: 100_000,
  /** Prices in ticks and quantities in lots stay at or below these in every book. */
  priceTicksMax: 10_000_000,
  qtyLotsMax: 100_000_000,
  /**
   * Snapshot the whole state every this many commands. The trade: each snapshot stops the
   * sequencer for its capture (5-30 ms) and slows it while the text is rendered and written, and a
   * restart replays at most this many commands (380-550k/s: 2-3 s at 1,000,000). At 250,000 the
   * engine bench at W=200 gave 245k cmd/s with ack p99 5.1-5.2 ms; with no snapshots, 272-291k and
   * 3.7-4.1 ms (session 4): a snapshot every ~1 s at that rate was a 12% tax.
   */
  snapshotEveryCommands: 1_000_000,
});

assert(limits.priceTicksMax * limits.qtyLotsMax < 2 ** 53, 'ticks × lots must stay a safe integer (the book asserts it per instrument)');
assert(limits.ordersPerBookMax * limits.qtyLotsMax < 2 ** 53, 'a level total must stay a safe integer');
assert(limits.journalBatchCommandsMax <= limits.inflightCommandsMax, 'a batch must fit in flight');
