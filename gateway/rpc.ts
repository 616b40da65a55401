import type { Rejection } from '../engine/index.js';

// The JSON-RPC envelope in Deribit's dialect, and the one error type of the gateway. Every error
// that reaches the wire is an RpcError with a catalogued code and message; anything else (a bug) is
// logged server-side and answered as -32603 internal_error with no text from the exception.

export class RpcError extends Error {
  readonly code: number;
  readonly wireMessage: string;
  readonly data?: Record<string, unknown>;

  constructor(code: number, wireMessage: string, data?: Record<string, unknown>) {
    // An RpcError is an answer (a rejected order, a bad param), never logged, so it carries no
    // stack: capturing one (through every await above it) cost more than building the reply.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(wireMessage);
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.wireMessage = wireMessage;
    this.data = data;
  }
}

/** The gateway's own wire errors (the engine's are in engine/result_codes.ts). */
export const WireError = {
  parse: (reason: string): RpcError => new RpcError(-32700, 'Parse error', { reason }),
  invalidRequest: (reason: string): RpcError => new RpcError(-32600, 'Invalid Request', { reason }),
  tooLarge: (): RpcError => new RpcError(-32600, 'request entity too large', { reason: 'too_large' }),
  methodNotFound: (method: string): RpcError => new RpcError(-32601, 'Method not found', { reason: 'method_not_found', method }),
  invalidParams: (param: string, reason: string): RpcError => new RpcError(-32602, 'Invalid params', { reason, param }),
  internal: (): RpcError => new RpcError(-32603, 'internal_error', { reason: 'internal_error' }),
  unauthorized: (reason: string): RpcError => new RpcError(13009, 'unauthorized', { reason }),
  forbidden: (scope: string): RpcError => new RpcError(13021, 'forbidden', { reason: 'scope_required', scope }),
  tooManyRequests: (): RpcError => new RpcError(10028, 'too_many_requests', { reason: 'rate_limit' }),
  mustBeWebsocket: (): RpcError => new RpcError(10030, 'must_be_websocket_request', { reason: 'websocket_only' }),
  notFound: (what: string): RpcError => new RpcError(13020, 'not_found', { reason: 'not_found', what }),
  unavailable: (): RpcError => new RpcError(13028, 'temporarily_unavailable', { reason: 'shutting_down' }),
} as const;

/** An engine rejection as a wire error: Deribit's code and token, our reason and explanation. */
export function rejectionError(rejection: Rejection, detail: string): RpcError {
  return new RpcError(rejection.code, rejection.message, { reason: rejection.reason, detail });
}

export interface Envelope {
  jsonrpc: '2.0';
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  usIn: number;
  usOut: number;
  usDiff: number;
  testnet: false;
}

/** Microseconds since the epoch, as Deribit stamps usIn/usOut. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

export function successEnvelope(id: unknown, result: unknown, usIn: number): Envelope {
  const usOut = nowMicros();
  const envelope: Envelope = { jsonrpc: '2.0', result, usIn, usOut, usDiff: usOut - usIn, testnet: false };
  if (id !== undefined) envelope.id = id;
  return envelope;
}

export function errorEnvelope(id: unknown, error: RpcError, usIn: number): Envelope {
  const usOut = nowMicros();
  const envelope: Envelope = {
    jsonrpc: '2.0',
    error: error.data === undefined ? { code: error.code, message: error.wireMessage } : { code: error.code, message: error.wireMessage, data: error.data },
    usIn,
    usOut,
    usDiff: usOut - usIn,
    testnet: false,
  };
  if (id !== undefined) envelope.id = id;
  return envelope;
}
