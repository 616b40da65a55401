// Public surface of gateway/: the exchange process (engine + HTTP/WebSocket JSON-RPC).
export { startExchange, type ExchangeOptions, type RunningExchange } from './exchange.js';
export { gatewayLimits } from './limits.js';
export { KeyStore } from './key_store.js';
export { SLOW_CONSUMER_CLOSE_CODE } from './subscriptions.js';
