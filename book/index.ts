// Public surface of book/: one instrument's price-time order book. Imports nothing outside book/.
export { OrderBook, BookInvariantError } from './order_book.js';
export { BookReport } from './report.js';
export { Fnv64 } from './_fnv64.js';
export {
  Side,
  OrderType,
  TimeInForce,
  PostOnly,
  SelfTradePrevention,
  DoneReason,
  BookResultCode,
  NO_PRICE,
  ANONYMOUS_ACCOUNT,
  blankOrderSpec,
  type BookLimits,
  type OrderSpec,
  type LevelView,
  type RestingOrderView,
} from './types.js';
