import { Type } from '@sinclair/typebox';
import { gatewayLimits } from '../limits.js';
import { WireError } from '../rpc.js';
import { COST_READ, OneOf, method, type CallContext, type Connection, type GatewayServices, type MethodSpec } from './registry.js';

// Session methods: authentication, subscriptions, heartbeats, cancel-on-disconnect and logout.
// Subscriptions and heartbeats need a WebSocket; over HTTP they answer 10030.

const Channels = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: gatewayLimits.channelsPerSubscribeMax });
const Token = { access_token: Type.Optional(Type.String({ maxLength: 200 })) };

export function sessionMethods(services: GatewayServices): MethodSpec[] {
  const connectionOf = (context: CallContext): Connection => {
    if (context.connection === undefined) throw WireError.mustBeWebsocket();
    return context.connection;
  };

  return [
    method({
      name: 'public/auth',
      params: Type.Object({
        grant_type: OneOf(['client_signature', 'client_credentials', 'refresh_token']),
        client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        timestamp: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^[0-9]{1,16}$' })])),
        signature: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        nonce: Type.Optional(Type.String({ maxLength: 64 })),
        data: Type.Optional(Type.String({ maxLength: 1024 })),
        scope: Type.Optional(Type.String({ maxLength: 200 })),
        state: Type.Optional(Type.String({ maxLength: 200 })),
      }, { additionalProperties: false }),
      cost: COST_READ,
      handler: (context, params) => {
        const grant = grantOf(params);
        const tokens = services.auth.grant(grant, context.nowMs);
        if (context.connection !== undefined) {
          context.connection.identity = tokens.identity;
          context.connection.accessToken = tokens.accessToken;
        }
        return {
          access_token: tokens.accessToken,
          expires_in: tokens.expiresInSeconds,
          refresh_token: tokens.refreshToken,
          scope: tokens.scopeText,
          token_type: 'bearer',
          enabled_features: [],
        };
      },
    }),
    ...['public', 'private'].flatMap((scope) => [
      method({
        name: `${scope}/subscribe`,
        params: Type.Object({ channels: Channels, label: Type.Optional(Type.String({ maxLength: 64 })), ...Token }, { additionalProperties: false }),
        scope: scope === 'private' ? 'read' : undefined,
        wsOnly: true,
        cost: COST_READ,
        handler: (context, params) => services.hub.subscribe(connectionOf(context), params.channels),
      }),
      method({
        name: `${scope}/unsubscribe`,
        params: Type.Object({ channels: Channels, ...Token }, { additionalProperties: false }),
        scope: scope === 'private' ? 'read' : undefined,
        wsOnly: true,
        cost: COST_READ,
        handler: (context, params) => services.hub.unsubscribe(connectionOf(context), params.channels),
      }),
      method({
        name: `${scope}/unsubscribe_all`,
        params: Type.Object({ ...Token }, { additionalProperties: false }),
        scope: scope === 'private' ? 'read' : undefined,
        wsOnly: true,
        cost: COST_READ,
        handler: (context) => {
          services.hub.removeSubscriber(connectionOf(context));
          return 'ok';
        },
      }),
    ]),
    method({
      name: 'public/set_heartbeat',
      params: Type.Object({ interval: Type.Union([Type.Integer({ minimum: 10, maximum: 3600 }), Type.String({ pattern: '^[0-9]{2,4}$' })]) }, { additionalProperties: false }),
      wsOnly: true,
      cost: COST_READ,
      handler: (context, params) => {
        const interval = Number(params.interval);
        if (interval < 10 || interval > 3600) throw WireError.invalidParams('interval', 'must be 10 to 3600 seconds');
        connectionOf(context).setHeartbeat(interval);
        return 'ok';
      },
    }),
    method({
      name: 'public/disable_heartbeat',
      params: Type.Object({}, { additionalProperties: false }),
      wsOnly: true,
      cost: COST_READ,
      handler: (context) => {
        connectionOf(context).disableHeartbeat();
        return 'ok';
      },
    }),
    method({
      name: 'private/enable_cancel_on_disconnect',
      params: Type.Object({ scope: Type.Optional(OneOf(['connection', 'account'])), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      wsOnly: true,
      cost: COST_READ,
      handler: (context) => {
        connectionOf(context).cancelOnDisconnect = true;
        return 'ok';
      },
    }),
    method({
      name: 'private/disable_cancel_on_disconnect',
      params: Type.Object({ scope: Type.Optional(OneOf(['connection', 'account'])), ...Token }, { additionalProperties: false }),
      scope: 'trade',
      wsOnly: true,
      cost: COST_READ,
      handler: (context) => {
        connectionOf(context).cancelOnDisconnect = false;
        return 'ok';
      },
    }),
    method({
      name: 'private/get_cancel_on_disconnect',
      params: Type.Object({ scope: Type.Optional(OneOf(['connection', 'account'])), ...Token }, { additionalProperties: false }),
      scope: 'read',
      wsOnly: true,
      cost: COST_READ,
      handler: (context) => ({ scope: 'connection', enabled: connectionOf(context).cancelOnDisconnect }),
    }),
    method({
      name: 'private/logout',
      params: Type.Object({ invalidate_token: Type.Optional(Type.Union([Type.Boolean(), OneOf(['true', 'false'])])), ...Token }, { additionalProperties: false }),
      scope: 'read',
      wsOnly: true,
      cost: COST_READ,
      handler: (context) => {
        const connection = connectionOf(context);
        if (connection.accessToken !== undefined) services.auth.revoke(connection.accessToken);
        // Deribit closes the connection after logout; the reply goes first.
        setImmediate(() => connection.close(1000, 'logout'));
        return 'ok';
      },
    }),
  ];
}

function grantOf(params: Record<string, unknown>) {
  const text = (name: string): string => {
    const value = params[name];
    if (typeof value !== 'string') throw WireError.invalidParams(name, 'required for this grant_type');
    return value;
  };
  if (params.grant_type === 'client_signature') {
    if (params.timestamp === undefined) throw WireError.invalidParams('timestamp', 'required for this grant_type');
    return { grant_type: 'client_signature' as const, client_id: text('client_id'), timestamp: Number(params.timestamp), signature: text('signature'), nonce: typeof params.nonce === 'string' ? params.nonce : '', data: typeof params.data === 'string' ? params.data : '' };
  }
  if (params.grant_type === 'client_credentials') return { grant_type: 'client_credentials' as const, client_id: text('client_id'), client_secret: text('client_secret') };
  return { grant_type: 'refresh_token' as const, refresh_token: text('refresh_token') };
}
