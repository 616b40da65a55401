// Every expected rejection, as a value with a stable numeric code: Deribit's code where Deribit has
// one (so CCXT maps it to the right exception), with Deribit's short message token; `reason` is our
// own stable name, unique per entry, sent as `data.reason`. docs/errors.md lists each of them and a
// test keeps the two in step. Handlers return these; they never throw them.

export interface Rejection {
  readonly code: number;
  readonly message: string;
  readonly reason: string;
}

function rejection(code: number, message: string, reason: string = message): Rejection {
  return Object.freeze({ code, message, reason });
}

export const Reject = {
  qtyTooLow: rejection(10002, 'qty_too_low'),
  orderNotFound: rejection(10004, 'order_not_found'),
  priceTooLow: rejection(10005, 'price_too_low'),
  priceTooHigh: rejection(10007, 'price_too_high'),
  notEnoughFunds: rejection(10009, 'not_enough_funds'),
  alreadyClosed: rejection(10010, 'already_closed'),
  bookClosed: rejection(10012, 'book_closed'),
  invalidInstrument: rejection(10020, 'invalid_or_unsupported_instrument'),
  invalidAmount: rejection(10021, 'invalid_amount'),
  invalidPrice: rejection(10023, 'invalid_price'),
  tooManyRequests: rejection(10028, 'too_many_requests'),
  priceWrongTick: rejection(10043, 'price_wrong_tick'),
  triggerPriceWrongTick: rejection(10044, 'trigger_price_wrong_tick'),
  queueFull: rejection(10047, 'matching_engine_queue_full'),
  invalidArguments: rejection(11029, 'invalid_arguments'),
  derivativesNotTradable: rejection(11030, 'other_reject', 'derivatives_not_tradable_yet'),
  tooManyOpenOrders: rejection(11030, 'other_reject', 'too_many_open_orders'),
  duplicateLabel: rejection(11030, 'other_reject', 'duplicate_label'),
  bookFull: rejection(11030, 'other_reject', 'book_full'),
  alreadyApplied: rejection(11030, 'other_reject', 'already_applied'),
  invalidState: rejection(11030, 'other_reject', 'invalid_state'),
  engineHalted: rejection(11051, 'system_maintenance', 'engine_halted'),
  postOnlyReject: rejection(11054, 'post_only_reject'),
  accountNotFound: rejection(13020, 'not_found', 'account_not_found'),
  accountExists: rejection(11030, 'other_reject', 'account_exists'),
  withdrawalNotFound: rejection(13020, 'not_found', 'withdrawal_not_found'),
  redemptionNotFound: rejection(13020, 'not_found', 'redemption_not_found'),
  unknownCurrency: rejection(11029, 'invalid_arguments', 'unknown_currency'),
  notDepositable: rejection(11029, 'invalid_arguments', 'not_depositable'),
} as const satisfies Record<string, Rejection>;

export type RejectName = keyof typeof Reject;
