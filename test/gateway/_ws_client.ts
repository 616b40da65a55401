import WebSocket from 'ws';

// A small promise-based JSON-RPC client for the gateway's WebSocket (and two HTTP helpers), for
// the wire, flow-control and shutdown tests.
//
// Replies are matched to requests by arrival order, not by id: the server answers each
// connection's requests strictly in the order they arrived (reference §2.3), and a refused frame
// is answered with `id: null`, which no id-based matching could route. Every frame sent with
// `expectReply` puts one waiter at the back of a FIFO; every incoming message that is not a
// subscription/heartbeat notification resolves the waiter at the front. A reply nobody waited
// for (say, to a notification, which must get none) lands in `unexpected`, so a test can assert
// that list stays empty. Subscription notifications go to `notifications` (and to listeners).

export interface RpcError {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export interface Envelope {
  jsonrpc?: unknown;
  id?: unknown;
  result?: unknown;
  error?: RpcError;
  method?: string;
  params?: { channel?: string; data?: unknown; type?: string };
  [key: string]: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

interface Waiter {
  sentId: unknown;
  resolve: (envelope: Envelope) => void;
  reject: (error: Error) => void;
}

export class WsRpcClient {
  readonly notifications: Envelope[] = [];
  /** Replies that arrived while no request was waiting (e.g. a reply to a notification). */
  readonly unexpected: Envelope[] = [];
  /** Messages that were not JSON at all. */
  readonly garbage: string[] = [];
  /** Resolves once the connection closed, with the close code the client saw. */
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly listeners = new Set<(envelope: Envelope) => void>();
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const waiter of this.waiters.splice(0)) waiter.reject(new ConnectionClosed(this.closeInfo));
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(isBinary ? Buffer.from(data as Buffer).toString('latin1') : data.toString()));
    // Errors (e.g. ECONNRESET after the server terminated us) end in 'close' anyway.
    ws.on('error', () => undefined);
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WsRpcClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, ...options });
      const client = new WsRpcClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
    });
  }

  /** Connects and authenticates with client_credentials (grant of reference §3.2). */
  static async connectAuthed(url: string, key: { clientId: string; clientSecret: string }): Promise<WsRpcClient> {
    const client = await WsRpcClient.connect(url);
    await client.result('public/auth', { grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.clientSecret });
    return client;
  }

  /** Sends a request with a fresh integer id; resolves with the whole reply envelope. */
  call(method: string, params?: Record<string, unknown>): Promise<Envelope> {
    const id = this.nextId++;
    const request: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) request.params = params;
    return this.sendExpectingReply(JSON.stringify(request), id);
  }

  /** `call`, returning `result` or throwing a CallFailed that carries the error object. */
  async result<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T> {
    const reply = await this.call(method, params);
    if (reply.error !== undefined) throw new CallFailed(method, reply.error);
    return reply.result as T;
  }

  /** Sends raw text (or bytes) as one frame and waits for the one reply it must get. */
  sendExpectingReply(data: string | Buffer, sentId?: unknown, options: { binary?: boolean } = {}): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new ConnectionClosed(this.closeInfo ?? { code: -1, reason: 'not open' }));
      this.waiters.push({ sentId, resolve, reject });
      this.ws.send(data, { binary: options.binary ?? false });
    });
  }

  /** Sends a frame that must get no reply (a notification), or one that ends the connection. */
  sendNoReply(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.ws.send(data, { binary: options.binary ?? false });
  }

  /** Sends a frame that the server must answer by closing the connection; resolves the close. */
  async sendExpectingClose(data: string | Buffer, timeoutMs = 5_000): Promise<CloseInfo | 'timeout' | Envelope> {
    const reply = this.sendExpectingReply(data).catch(() => undefined);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const first = await Promise.race([this.closed, reply, timeout]);
    return first ?? (await Promise.race([this.closed, timeout]));
  }

  onNotification(listener: (envelope: Envelope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the first notification (already received or future) that `matches`. */
  waitForNotification(matches: (envelope: Envelope) => boolean, timeoutMs = 5_000): Promise<Envelope> {
    const seen = this.notifications.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error('no matching notification'));
      }, timeoutMs);
      const stop = this.onNotification((envelope) => {
        if (!matches(envelope)) return;
        clearTimeout(timer);
        stop();
        resolve(envelope);
      });
    });
  }

  /** Requests still waiting for their reply. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Stops reading from the socket (the kernel buffers fill, then the server's queue grows). */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(code = 1000): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): Promise<CloseInfo> {
    this.ws.terminate();
    return this.closed;
  }

  private onMessage(text: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      this.garbage.push(text.slice(0, 200));
      return;
    }
    if (envelope.method === 'subscription' || envelope.method === 'heartbeat') {
      this.notifications.push(envelope);
      for (const listener of this.listeners) listener(envelope);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      this.unexpected.push(envelope);
      return;
    }
    waiter.resolve(envelope);
  }
}

export class ConnectionClosed extends Error {
  constructor(readonly info: CloseInfo) {
    super(`connection closed (${info.code} ${info.reason})`);
  }
}

export class CallFailed extends Error {
  constructor(
    readonly method: string,
    readonly error: RpcError,
  ) {
    super(`${method} failed: ${error.code} ${error.message} ${JSON.stringify(error.data ?? {})}`);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpReply {
  status: number;
  contentType: string;
  /** The parsed body, or undefined when it was not JSON. */
  body: Envelope | undefined;
  text: string;
}

/** One HTTP request to the gateway; the body is sent as given (string or raw bytes). */
export async function httpRequest(url: string, options: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<HttpReply> {
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: options.body === undefined ? options.headers : { 'content-type': 'application/json', ...options.headers },
    body: options.body,
  });
  const text = await response.text();
  let body: Envelope | undefined;
  try {
    body = JSON.parse(text) as Envelope;
  } catch {
    body = undefined;
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body, text };
}

export function basicAuth(key: { clientId: string; clientSecret: string }): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${key.clientId}:${key.clientSecret}`, 'utf8').toString('base64')}` };
}
