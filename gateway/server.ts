import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AuthError, type Identity } from './auth_types.js';
import type { Dispatcher, Transport } from './dispatch.js';
import { JsonRefused, parseUntrustedJson } from './json_scan.js';
import { gatewayLimits } from './limits.js';
import type { Connection, GatewayServices } from './methods/registry.js';
import { errorEnvelope, nowMicros, RpcError, successEnvelope, WireError, type Envelope } from './rpc.js';
import { SLOW_CONSUMER_CLOSE_CODE } from './subscriptions.js';

// The transports. HTTP (Fastify): GET /api/v2/{public|private}/{method}?{query} (what CCXT sends),
// POST /api/v2/{scope}/{method} with JSON params, and POST /api/v2 with a JSON-RPC envelope.
// WebSocket (ws): /ws/api/v2, one JSON-RPC request per text frame, each connection's requests
// answered strictly in the order they arrived. Both hand requests to the one Dispatcher.

export interface ServerOptions {
  services: GatewayServices;
  dispatcher: Dispatcher;
  logger: Logger;
  /** Admin routes (loopback only, bearer admin token); see admin.ts. */
  registerAdmin?: (app: FastifyInstance) => void;
  /** Called when a connection closes with cancel-on-disconnect on. */
  onDisconnectCancel: (identity: Identity) => void;
  /** How often each WebSocket is pinged; a peer that has not answered the last ping by the next is dropped (default gatewayLimits.pingIntervalMs). */
  pingIntervalMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  sockets: WebSocketServer;
  connections: Set<WsConnection>;
}

let nextConnectionId = 1;

function noop(): void {}

function readId(request: unknown): unknown {
  const id = (request as { id?: unknown } | null)?.id;
  return typeof id === 'number' || typeof id === 'string' ? id : null;
}

export function buildServer(options: ServerOptions): RunningServer {
  const { logger } = options;
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // Per-request log lines would sit on the order-entry hot path: off.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: gatewayLimits.bodyBytesMax,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    trustProxy: false,
  });
  // Keep the raw body: a deri-hmac-sha256 signature covers the exact bytes received.
  app.removeContentTypeParser('application/json');
  // Decoded strictly: invalid UTF-8 is refused, never replaced, so what is verified is what was sent.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, utf8.decode(body as Buffer));
    } catch {
      done(Object.assign(new Error('invalid UTF-8'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const rpcError = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? WireError.tooLarge() : WireError.invalidRequest('unreadable request');
    if ((error.statusCode ?? 500) >= 500) logger.error({ err: error }, 'http transport error');
    void reply.code(error.statusCode === 413 ? 413 : 400).send(errorEnvelope(undefined, rpcError, nowMicros()));
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send(errorEnvelope(undefined, WireError.methodNotFound('unknown path'), nowMicros()));
  });

  app.get('/api/v2/:scope/:method', (request, reply) => handleHttp(options, request, reply, queryParams(request.query), undefined));
  app.post('/api/v2/:scope/:method', (request, reply) => handleHttpPost(options, request, reply, false));
  app.post('/api/v2', (request, reply) => handleHttpPost(options, request, reply, true));
  options.registerAdmin?.(app);

  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: gatewayLimits.frameBytesMax,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const connections = new Set<WsConnection>();
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!request.url?.startsWith('/ws/api/v2') || options.services.closing()) {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const connection = new WsConnection(ws, request.socket.remoteAddress ?? 'unknown', options, connections);
      connections.add(connection);
    });
  });
  return { app, sockets, connections };
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function handleHttpPost(options: ServerOptions, request: FastifyRequest, reply: FastifyReply, envelope: boolean): Promise<void> {
  const usIn = nowMicros();
  const rawBody = typeof request.body === 'string' ? request.body : '';
  let parsed: unknown;
  try {
    parsed = parseUntrustedJson(rawBody);
  } catch (error) {
    return sendHttp(reply, errorEnvelope(envelope ? null : undefined, jsonError(error), usIn));
  }
  if (envelope) {
    if (parsed === undefined) return sendHttp(reply, errorEnvelope(null, WireError.parse('malformed JSON'), usIn));
    let transport: Transport;
    try {
      transport = httpTransport(options, request, rawBody, isPrivateEnvelope(parsed));
    } catch (error) {
      return sendHttp(reply, errorEnvelope(idOf(parsed), authFailure(error), usIn));
    }
    const answer = await options.dispatcher.handle(parsed, transport, usIn);
    return sendHttp(reply, answer ?? successEnvelope(undefined, null, usIn));
  }
  const params = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  if (params === undefined) return sendHttp(reply, errorEnvelope(undefined, WireError.invalidParams('params', 'the body is a JSON object of params'), usIn));
  return handleHttp(options, request, reply, params, rawBody);
}

async function handleHttp(options: ServerOptions, request: FastifyRequest, reply: FastifyReply, params: Record<string, unknown> | RpcError, rawBody: string | undefined): Promise<void> {
  const usIn = nowMicros();
  const { scope, method } = request.params as { scope: string; method: string };
  if (params instanceof RpcError) return sendHttp(reply, errorEnvelope(undefined, params, usIn));
  const methodName = `${scope}/${method}`;
  try {
    const transport = httpTransport(options, request, rawBody ?? '', scope === 'private');
    const result = await options.dispatcher.call(methodName, params, transport);
    return sendHttp(reply, successEnvelope(undefined, result, usIn));
  } catch (error) {
    return sendHttp(reply, errorEnvelope(undefined, error instanceof RpcError ? error : authFailure(error), usIn));
  }
}

/** Verifies the Authorization header when the request needs it (or carries one). */
function httpTransport(options: ServerOptions, request: FastifyRequest, rawBody: string, isPrivate: boolean): Transport {
  const authorization = request.headers.authorization;
  const transport: Transport = { kind: 'http', ip: request.ip };
  if (!isPrivate && authorization === undefined) return transport;
  transport.httpIdentity = options.services.auth.authenticateHttp(
    { authorization, method: request.raw.method ?? '', rawTarget: request.raw.url ?? '', rawBody },
    options.services.nowMs(),
  );
  return transport;
}

/** Query values must be single strings: a repeated parameter has two meanings, so it is refused. */
function queryParams(query: unknown): Record<string, unknown> | RpcError {
  const params: Record<string, unknown> = Object.create(null);
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') return WireError.invalidParams(name, 'given more than once');
    params[name] = value;
  }
  return params;
}

function sendHttp(reply: FastifyReply, envelope: Envelope): void {
  const code = envelope.error === undefined ? 200 : httpStatusOf(envelope.error.code);
  void reply.code(code).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(envelope));
}

function httpStatusOf(code: number): number {
  if (code === 10028) return 429;
  if (code === 13009 || code === 13004) return 401;
  if (code === 13021) return 403;
  if (code === 13028) return 503;
  return 400;
}

function authFailure(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof AuthError) return new RpcError(error.code, error.wireMessage, { reason: error.reason });
  return WireError.unauthorized('malformed');
}

function isPrivateEnvelope(parsed: unknown): boolean {
  const method = (parsed as { method?: unknown } | null)?.method;
  return typeof method === 'string' && method.startsWith('private/');
}

function idOf(parsed: unknown): unknown {
  const id = (parsed as { id?: unknown } | null)?.id;
  return typeof id === 'number' || typeof id === 'string' ? id : null;
}

function jsonError(error: unknown): RpcError {
  if (error instanceof JsonRefused) return error.problem === 'syntax' ? WireError.parse('malformed JSON') : WireError.invalidRequest(error.message);
  return WireError.parse('malformed JSON');
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/** One WebSocket client: its identity, subscriptions' sink, and an ordered request queue. */
export class WsConnection implements Connection {
  readonly connectionId = nextConnectionId++;
  identity: Identity | undefined;
  accessToken: string | undefined;
  cancelOnDisconnect = false;
  /** Settles when every request received so far has been answered. */
  private queue: Promise<void> = Promise.resolve();
  /** Settles when the last non-pipelined request has been answered. */
  private barrier: Promise<void> = Promise.resolve();
  /** Whether `barrier` has settled: an order can then start at once, not a microtask turn later. */
  private barrierOpen = true;
  private readonly transport: Transport;
  private corked = false;
  private pending = 0;
  private refusedInRow = 0;
  private alive = true;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastMessageMs = Date.now();
  private readonly pingTimer: NodeJS.Timeout;
  /** Bound to this connection's id only (never to anything the client sent). */
  private readonly logger: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly ip: string,
    private readonly options: ServerOptions,
    private readonly registry: Set<WsConnection>,
  ) {
    this.logger = options.logger.child({ module: 'ws', connId: this.connectionId });
    this.logger.info({ ip }, 'connected');
    this.transport = { kind: 'ws', ip, connection: this };
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', (error) => {
      this.logger.warn({ err: error }, 'transport error');
      ws.terminate();
    });
    // Dead peers: a ping every interval; no pong by the next one ends the connection.
    this.pingTimer = setInterval(() => {
      if (!this.alive) return void ws.terminate();
      this.alive = false;
      ws.ping();
    }, options.pingIntervalMs ?? gatewayLimits.pingIntervalMs);
    this.pingTimer.unref();
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Every write, replies and feeds alike, goes through here, so no client can make the server
   * hold more than the hard limit for it: past it the connection is closed (4008).
   */
  send(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > gatewayLimits.bufferedBytesHardMax) {
      this.terminate(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer: too much unread');
      return;
    }
    this.corkUntilNextTurn();
    this.ws.send(text);
  }

  /** Replies and notifications written in one turn of the event loop leave in one socket write. */
  private corkUntilNextTurn(): void {
    if (this.corked) return;
    // ws has no cork of its own; its socket (a net.Socket) does.
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (socket === undefined) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  /** Resolves once every request received so far has been answered. */
  drained(): Promise<void> {
    return this.queue;
  }

  terminate(code: number, reason: string): void {
    this.close(code, reason);
    // A peer that does not read will not complete a close handshake either.
    setTimeout(() => this.ws.terminate(), 1_000).unref();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  setHeartbeat(intervalSeconds: number): void {
    this.disableHeartbeat();
    const intervalMs = intervalSeconds * 1000;
    this.heartbeatTimer = setInterval(() => {
      // Deribit: a client that answers no test_request within the interval is disconnected.
      if (Date.now() - this.lastMessageMs > 2 * intervalMs) return this.close(1000, 'heartbeat missed');
      this.send(JSON.stringify({ jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } }));
    }, intervalMs);
    this.heartbeatTimer.unref();
  }

  disableHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /**
   * Requests are answered in arrival order. Order entry (pipelined methods) starts at once, so the
   * sequencer receives a connection's orders in arrival order without waiting for each commit;
   * any other request (a read, auth, subscribe) waits until everything before it is answered, so
   * it sees the effect of the orders before it, and the requests after it wait for it in turn.
   */
  private onMessage(data: RawData, isBinary: boolean): void {
    const usIn = nowMicros();
    this.lastMessageMs = Date.now();
    const request = this.parse(isBinary ? undefined : data.toString());
    let answer: Promise<Envelope | undefined>;
    if (++this.pending > gatewayLimits.pendingRequestsPerConnectionMax) {
      // Overload gets a fast, explicit refusal (RELIABILITY 16), not an unbounded queue.
      answer = Promise.resolve(errorEnvelope(readId(request), new RpcError(10047, 'matching_engine_queue_full', { reason: 'too_many_requests_in_flight' }), usIn));
    } else if (request instanceof RpcError) {
      answer = this.queue.then(() => errorEnvelope(null, request, usIn));
    } else if (this.options.dispatcher.isPipelined(request)) {
      answer = this.barrierOpen ? this.options.dispatcher.handle(request, this.transport, usIn) : this.barrier.then(() => this.options.dispatcher.handle(request, this.transport, usIn));
    } else {
      answer = this.queue.then(() => this.options.dispatcher.handle(request, this.transport, usIn));
      this.closeBarrier(answer.then(noop, noop));
    }
    // Two handlers rather than .finally(): one promise per request fewer on the order path.
    this.queue = this.queue
      .then(() => answer)
      .then(
        (envelope) => {
          this.pending--;
          if (envelope === undefined) return;
          this.sendEnvelope(envelope);
          this.noteRateLimit(envelope.error?.code === 10028);
        },
        (error: unknown) => {
          this.pending--;
          throw error;
        },
      );
  }

  /** Orders wait for `barrier` until it settles (unless a newer barrier replaced it by then). */
  private closeBarrier(barrier: Promise<void>): void {
    this.barrier = barrier;
    this.barrierOpen = false;
    void barrier.then(() => {
      if (this.barrier === barrier) this.barrierOpen = true;
    });
  }

  /** The request, or the RpcError that refuses it. */
  private parse(text: string | undefined): unknown {
    try {
      if (text === undefined) throw WireError.invalidRequest('binary frames are not accepted');
      return parseUntrustedJson(text);
    } catch (error) {
      return error instanceof RpcError ? error : jsonError(error);
    }
  }

  /** A client that keeps sending past its rate limit is disconnected (1008), not just refused. */
  private noteRateLimit(limited: boolean): void {
    this.refusedInRow = limited ? this.refusedInRow + 1 : 0;
    if (this.refusedInRow >= gatewayLimits.rateLimitedRequestsInRowMax) this.close(1008, 'rate limit exceeded');
  }

  private sendEnvelope(envelope: Envelope): void {
    this.send(JSON.stringify(envelope));
  }

  private onClose(code: number, reason: string): void {
    this.logger.info({ code, reason, identified: this.identity !== undefined }, 'closed');
    clearInterval(this.pingTimer);
    this.disableHeartbeat();
    this.registry.delete(this);
    this.options.services.hub.removeSubscriber(this);
    if (this.cancelOnDisconnect && this.identity !== undefined) this.options.onDisconnectCancel(this.identity);
  }
}
