// Public surface of engine/: commands in, events out, one writer. Other folders import only this.
export type * from './commands.js';
export type * from './events.js';
export { Reject, type Rejection, type RejectName } from './result_codes.js';
export { limits } from './limits.js';
export { InvariantViolation, assert } from './assert.js';
export { parseScaled, formatScaled, decimalPlaces } from './decimal.js';
export { parseExchangeConfig, ConfigError, type RawExchangeConfig, type ExchangeConfig } from './config.js';
export { PERPETUAL_EXPIRATION_MS, spotName, strikeCode, type Instrument, type InstrumentKind, type InstrumentState } from './instruments.js';
export { emptyState, type ExchangeState, type Account, type Balance, type OrderRecord } from './state.js';
export { applyCommand } from './state_machine.js';
export { orderView } from './context.js';
export { checkConservation } from './ledger.js';
export { serializeState, restoreState, stateHash } from './snapshot.js';
export { SqliteJournal, JournalCorruptError, type JournalEntry, type JournalCorruption } from './journal.js';
export { Sequencer, type CommandResult, type SequencerOptions } from './sequencer.js';
export { openEngine, recoverState, type OpenedEngine, type RecoveryReport } from './recovery.js';
export { HistoryStore, type TradeQuery, type OrderQuery } from './history.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
