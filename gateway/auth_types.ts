// The contract between the JSON-RPC layer and authentication (gateway/auth.ts implements it).

export type Scope = 'read' | 'trade' | 'wallet';

/** Who a request acts for, once authenticated. */
export interface Identity {
  accountId: number;
  clientId: string;
  scopes: ReadonlySet<Scope>;
}

/** `public/auth` parameters, already schema-checked (types right, no unknown fields). */
export type AuthGrant =
  | { grant_type: 'client_signature'; client_id: string; timestamp: number; signature: string; nonce: string; data: string }
  | { grant_type: 'client_credentials'; client_id: string; client_secret: string }
  | { grant_type: 'refresh_token'; refresh_token: string };

export interface GrantedTokens {
  identity: Identity;
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
  /** Deribit's scope text, e.g. "connection mainaccount trade:read_write wallet:read account:read". */
  scopeText: string;
}

export interface HttpRequestToVerify {
  /** The Authorization header as received (undefined when absent). */
  authorization: string | undefined;
  /** Upper-case HTTP method. */
  method: string;
  /** The raw request target exactly as received: path + '?' + raw query (no re-encoding). */
  rawTarget: string;
  /** The raw request body ('' for GET). */
  rawBody: string;
}

/** Thrown by the auth service; the JSON-RPC layer turns it into the wire error. */
export class AuthError extends Error {
  constructor(
    /** 13009 unauthorized (bad/expired/replayed signature or token), 13004 invalid_credentials. */
    readonly code: 13009 | 13004,
    readonly wireMessage: 'unauthorized' | 'invalid_credentials',
    /** A stable reason for data.reason: missing, malformed, unknown_key, bad_signature, stale_timestamp, future_timestamp, replayed, expired_token, … */
    readonly reason: string,
  ) {
    super(`${wireMessage}: ${reason}`);
  }
}

export interface AuthService {
  /** Verifies an HTTP request's Authorization (deri-hmac-sha256, Bearer or Basic). Throws AuthError. */
  authenticateHttp(request: HttpRequestToVerify, nowMs: number): Identity;
  /** `public/auth`: checks the grant and issues tokens. Throws AuthError. */
  grant(grant: AuthGrant, nowMs: number): GrantedTokens;
  /** The identity behind a live access token, or undefined (unknown or expired). */
  identityOfToken(accessToken: string, nowMs: number): Identity | undefined;
  /** `private/logout`: the token (and its refresh token) stop working. */
  revoke(accessToken: string): void;
}
