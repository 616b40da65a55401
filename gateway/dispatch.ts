import type { Logger } from 'pino';
import { AuthError, type Identity } from './auth_types.js';
import type { CallContext, CompiledMethod, Connection, GatewayServices } from './methods/registry.js';
import { paramsError } from './methods/registry.js';
import type { CreditLimiter } from './rate_limit.js';
import { errorEnvelope, RpcError, successEnvelope, WireError, type Envelope } from './rpc.js';

// One JSON-RPC request through the one pipeline that HTTP and WebSocket share:
// envelope checks → method lookup → transport check → rate limit → authentication and scope →
// params schema → handler. Every failure is an RpcError with a catalogued code; an unexpected
// exception is logged with its stack server-side and answered -32603 with no text from it.

export interface Transport {
  kind: 'http' | 'ws';
  ip: string;
  /** HTTP: the identity the Authorization header proved (verified before dispatch), if any. */
  httpIdentity?: Identity;
  connection?: Connection;
}

export interface DispatchOptions {
  methods: Map<string, CompiledMethod>;
  services: GatewayServices;
  limiterByKey: CreditLimiter;
  limiterByAddress: CreditLimiter;
  logger: Logger;
}

const ID_TEXT_LENGTH_MAX = 64;

export class Dispatcher {
  constructor(private readonly options: DispatchOptions) {}

  /**
   * Answers one request object (already parsed). Returns undefined for a notification (no `id`
   * on a WebSocket), which gets no reply.
   */
  async handle(request: unknown, transport: Transport, usIn: number): Promise<Envelope | undefined> {
    const envelope = checkEnvelope(request);
    if (envelope instanceof RpcError) return errorEnvelope(readableId(request), envelope, usIn);
    const { id, methodName, params } = envelope;
    const isNotification = transport.kind === 'ws' && id === undefined;
    try {
      const result = await this.call(methodName, params, transport);
      return isNotification ? undefined : successEnvelope(id, result, usIn);
    } catch (error) {
      return isNotification ? undefined : errorEnvelope(id, this.toRpcError(error, methodName), usIn);
    }
  }

  /** Whether a request may start before the replies to earlier requests on its connection. */
  isPipelined(request: unknown): boolean {
    const method = (request as { method?: unknown } | null)?.method;
    return typeof method === 'string' && this.options.methods.get(method)?.pipelined === true;
  }

  /** Runs a method directly (the HTTP path, where the method comes from the URL). */
  async call(methodName: string, params: Record<string, unknown>, transport: Transport): Promise<unknown> {
    const { methods, services } = this.options;
    const method = methods.get(methodName);
    if (method === undefined) throw WireError.methodNotFound(methodName);
    if (method.wsOnly && transport.kind !== 'ws') throw WireError.mustBeWebsocket();
    const nowMs = services.nowMs();
    const identity = method.isPrivate ? this.identityFor(method, params, transport, nowMs) : transport.connection?.identity ?? transport.httpIdentity;
    this.spendCredits(method, identity, transport, nowMs);
    if (!method.validate(params)) throw paramsError(method.validate.errors);
    const context: CallContext = { transport: transport.kind, identity, connection: transport.connection, ip: transport.ip, nowMs };
    return await method.handler(context, params);
  }

  private identityFor(method: CompiledMethod, params: Record<string, unknown>, transport: Transport, nowMs: number): Identity {
    let identity = transport.connection?.identity ?? transport.httpIdentity;
    const token = params.access_token;
    if (identity === undefined && typeof token === 'string') identity = this.options.services.auth.identityOfToken(token, nowMs);
    if (identity === undefined) throw WireError.unauthorized(typeof token === 'string' ? 'invalid_token' : 'authorization_required');
    if (method.scope !== undefined && !identity.scopes.has(method.scope)) throw WireError.forbidden(method.scope);
    return identity;
  }

  private spendCredits(method: CompiledMethod, identity: Identity | undefined, transport: Transport, nowMs: number): void {
    const { limiterByKey, limiterByAddress } = this.options;
    // Each limiter has its own buckets, so the bare client id and address are the keys: the same
    // strings every request of a connection, with no new string to build and hash per request.
    if (identity !== undefined && !limiterByKey.take(identity.clientId, method.cost, nowMs)) throw WireError.tooManyRequests();
    if (!limiterByAddress.take(transport.ip, method.cost, nowMs)) throw WireError.tooManyRequests();
  }

  private toRpcError(error: unknown, methodName: string): RpcError {
    if (error instanceof RpcError) return error;
    if (error instanceof AuthError) return new RpcError(error.code, error.wireMessage, { reason: error.reason });
    this.options.logger.error({ err: error, method: methodName }, 'method failed');
    return WireError.internal();
  }
}

interface CheckedEnvelope {
  id: unknown;
  methodName: string;
  params: Record<string, unknown>;
}

/** The JSON-RPC 2.0 envelope rules (a batch is not supported, as on Deribit). */
export function checkEnvelope(request: unknown): CheckedEnvelope | RpcError {
  if (Array.isArray(request)) return WireError.invalidRequest('batch requests are not supported');
  if (typeof request !== 'object' || request === null) return WireError.invalidRequest('a request is a JSON object');
  const { jsonrpc, id, method, params } = request as Record<string, unknown>;
  if (jsonrpc !== '2.0') return WireError.invalidRequest('jsonrpc must be "2.0"');
  if (!isValidId(id)) return WireError.invalidRequest('id must be an integer, a short string or null');
  if (typeof method !== 'string' || method.length === 0 || method.length > 64) return WireError.invalidRequest('method must be a string');
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    return new RpcError(-32602, 'Invalid params', { reason: 'params must be an object', param: 'params' });
  }
  return { id, methodName: method, params: (params ?? {}) as Record<string, unknown> };
}

/** The request's id when it is a valid one (JSON-RPC: null only when it cannot be read). */
function readableId(request: unknown): unknown {
  const id = typeof request === 'object' && request !== null && !Array.isArray(request) ? (request as Record<string, unknown>).id : undefined;
  return id !== undefined && isValidId(id) ? id : null;
}

function isValidId(id: unknown): boolean {
  if (id === undefined || id === null) return true;
  if (typeof id === 'number') return Number.isSafeInteger(id);
  return typeof id === 'string' && id.length <= ID_TEXT_LENGTH_MAX;
}
