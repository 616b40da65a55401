// Every bound of the gateway in one place (STYLE 6), with the relations between them asserted at
// start-up. The engine's own bounds are in engine/limits.ts.

export const gatewayLimits = Object.freeze({
  /** One WebSocket frame or HTTP body. Deribit's own limit is 32 kB; CCXT never sends more. */
  frameBytesMax: 32 * 1024,
  /** Fastify's body limit: the same as a frame (a JSON-RPC POST is one request). */
  bodyBytesMax: 32 * 1024,
  /** Nesting of arrays and objects in one request. */
  jsonDepthMax: 16,
  /** Channels one connection may hold. */
  subscriptionsPerConnectionMax: 1_000,
  /** Channels in one subscribe request. */
  channelsPerSubscribeMax: 500,
  /** A WebSocket client refused this many times in a row for its rate limit is disconnected (1008). */
  rateLimitedRequestsInRowMax: 200,
  /** Requests one WebSocket connection may have queued (each connection is processed in order). */
  pendingRequestsPerConnectionMax: 1_000,
  /** Above this many bytes queued for a client, conflated updates are held back until it drains. */
  bufferedBytesSoftMax: 1 * 1024 * 1024,
  /** Above this, or stale for longer than staleMsMax, the connection is closed (code 4008). */
  bufferedBytesHardMax: 8 * 1024 * 1024,
  staleMsMax: 10_000,
  /** Ping every interval; a connection that did not answer the previous ping is ended. */
  pingIntervalMs: 15_000,
  /** Book level updates kept per instrument for catching up conflated subscribers. */
  bookLogEntriesMax: 200_000,
  /** Public trades kept in memory per instrument for get_last_trades and the trades channel. */
  recentTradesPerInstrumentMax: 1_000,
  /** Items one list query may return (Deribit: count ≤ 1000). */
  queryCountMax: 1_000,
  /** Access tokens live this long; refresh tokens twice as long. */
  accessTokenTtlMs: 8 * 3600_000,
  /** A signed HTTP request's timestamp may be this far from the server's clock, either way. */
  signatureWindowMs: 60_000,
  /** Signatures remembered to refuse replays (per window); about 111 bytes each. */
  signaturesRememberedMax: 200_000,
  /** Graceful shutdown must finish within this. */
  shutdownMsMax: 10_000,
});

if (gatewayLimits.frameBytesMax > gatewayLimits.bodyBytesMax) throw new Error('frameBytesMax must not exceed bodyBytesMax');
if (gatewayLimits.bufferedBytesSoftMax >= gatewayLimits.bufferedBytesHardMax) throw new Error('soft buffer limit must be below the hard one');
