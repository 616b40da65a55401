import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from './auth_types.js';
import type { KeyStore } from './key_store.js';
import type { GatewayServices } from './methods/registry.js';
import { submitOrThrow } from './methods/registry.js';
import { RpcError } from './rpc.js';
import { amountToUnits } from './wire_numbers.js';

// The operator's routes: create accounts and API keys, credit test deposits until on-chain
// settlement exists (USDAI directly; GPU-hour credits through a bonded house provider). They answer only clients on the loopback interface that present the admin
// token (written to DATA_DIR/admin-token at first start, readable by the operator only). The admin
// CLI (bin/admin.ts) is their client. Every change still goes through the engine as a command.

const ScopeList = Type.Array(Type.Unsafe<Scope>({ type: 'string', enum: ['read', 'trade', 'wallet'] }), { minItems: 1, maxItems: 3, uniqueItems: true });
const schemas = {
  account: Type.Object({ owner: Type.String({ minLength: 1, maxLength: 128 }), kind: Type.Optional(Type.Unsafe<'trader' | 'provider'>({ type: 'string', enum: ['trader', 'provider'] })) }, { additionalProperties: false }),
  key: Type.Object({ account_id: Type.Integer({ minimum: 1 }), scopes: Type.Optional(ScopeList) }, { additionalProperties: false }),
  deposit: Type.Object({ account_id: Type.Integer({ minimum: 1 }), currency: Type.String({ minLength: 1, maxLength: 10 }), amount: Type.String({ minLength: 1, maxLength: 40 }), deposit_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false }),
  capacity: Type.Object({ provider_account_id: Type.Integer({ minimum: 1 }), sku: Type.String({ minLength: 1, maxLength: 10 }), gpu_hours: Type.Integer({ minimum: 1 }), reference_price: Type.String({ minLength: 1, maxLength: 40 }), capacity_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false }),
};

export interface AdminOptions {
  services: GatewayServices;
  keys: KeyStore;
  adminToken: string;
}

export function registerAdminRoutes(app: FastifyInstance, options: AdminOptions): void {
  const ajv = new Ajv({ strict: false });
  const validators = {
    account: ajv.compile(schemas.account),
    key: ajv.compile(schemas.key),
    deposit: ajv.compile(schemas.deposit),
    capacity: ajv.compile(schemas.capacity),
  };
  let depositCounter = 0;
  const route = <K extends keyof typeof schemas>(path: string, kind: K, run: (body: Static<(typeof schemas)[K]>) => Promise<unknown>) => {
    app.post(path, async (request: FastifyRequest, reply: FastifyReply) => {
      if (!isLoopback(request.ip) || !hasToken(request.headers.authorization, options.adminToken)) return reply.code(403).send({ error: 'forbidden' });
      let body: unknown;
      try {
        body = JSON.parse(typeof request.body === 'string' ? request.body : '');
      } catch {
        return reply.code(400).send({ error: 'the body must be JSON' });
      }
      if (!validators[kind](body)) return reply.code(400).send({ error: 'invalid', details: validators[kind].errors?.[0]?.instancePath || validators[kind].errors?.[0]?.message });
      try {
        return reply.send({ result: await run(body as Static<(typeof schemas)[K]>) });
      } catch (error) {
        if (error instanceof RpcError) return reply.code(400).send({ error: error.wireMessage, data: error.data });
        throw error;
      }
    });
  };

  route('/admin/accounts', 'account', async (body) => {
    const result = await submitOrThrow(options.services, { kind: 'create_account', owner: body.owner, accountKind: body.kind ?? 'trader' });
    const created = result.events.find((event) => event.kind === 'account_created');
    return { account_id: created?.kind === 'account_created' ? created.accountId : undefined };
  });
  route('/admin/keys', 'key', async (body) => {
    if (!options.services.accounts.hasAccount(body.account_id)) throw new RpcError(13020, 'not_found', { reason: 'account_not_found' });
    const key = await options.keys.createKey({ accountId: body.account_id, scopes: body.scopes ?? ['read', 'trade'], nowMs: options.services.nowMs() });
    return { client_id: key.clientId, client_secret: key.clientSecret };
  });
  route('/admin/deposits', 'deposit', async (body) => {
    const config = options.services.state.config!;
    const currency = config.raw.currencies[body.currency];
    if (currency === undefined || !Object.hasOwn(config.raw.currencies, body.currency)) throw new RpcError(11029, 'invalid_arguments', { reason: 'unknown_currency' });
    const units = amountToUnits(body.amount, currency.decimals);
    if (units === undefined || units <= 0n) throw new RpcError(-32602, 'Invalid params', { reason: 'amount', param: 'amount' });
    const id = body.deposit_id ?? `admin:${options.services.nowMs()}:${++depositCounter}`;
    if (currency.kind === 'settlement') {
      await submitOrThrow(options.services, { kind: 'credit_deposit', depositId: id, accountId: body.account_id, currency: body.currency, amountUnits: units.toString() });
    } else {
      await grantTestCredits(options.services, body.account_id, body.currency, units, id);
    }
    return { deposit_id: id };
  });
  route('/admin/capacity', 'capacity', async (body) => {
    const spot = options.services.state.instruments.get(`${body.sku}_${options.services.state.config!.settlementCurrency}`);
    const priceUnits = amountToUnits(body.reference_price, 6);
    if (spot === undefined || priceUnits === undefined || priceUnits % spot.tickScaled !== 0n) throw new RpcError(-32602, 'Invalid params', { reason: 'sku or reference_price', param: 'reference_price' });
    const capacityId = body.capacity_id ?? `admin:${options.services.nowMs()}:${++depositCounter}`;
    await submitOrThrow(options.services, { kind: 'credit_capacity', capacityId, providerAccountId: body.provider_account_id, sku: body.sku, gpuHours: body.gpu_hours, referencePriceTicks: Number(priceUnits / spot.tickScaled) });
    return { capacity_id: capacityId };
  });
}

const HOUSE_PROVIDER = 'house-provider';

/**
 * Test GPU-hour credits for an account, the way credits really enter (CONTRACTS.md): the house
 * provider account is credited with capacity against a USDAI bond (funded by a test deposit of
 * exactly that bond, at the SKU's reference price), then transfers the credits. Every step is an
 * engine command; nothing is minted outside the rules.
 */
async function grantTestCredits(services: GatewayServices, accountId: number, sku: string, units: bigint, id: string): Promise<void> {
  const config = services.state.config!;
  const spot = services.state.instruments.get(`${sku}_${config.settlementCurrency}`);
  const reference = config.skus.find((candidate) => candidate.name === sku);
  if (spot === undefined || reference === undefined || units % spot.baseUnitsPerLot !== 0n) throw new RpcError(-32602, 'Invalid params', { reason: 'whole GPU-hours of a listed SKU', param: 'amount' });
  const gpuHours = Number(units / spot.baseUnitsPerLot);
  const referencePriceTicks = Number(reference.referencePriceScaled / spot.tickScaled);
  let providerId = services.state.accountIdByOwner.get(HOUSE_PROVIDER);
  if (providerId === undefined) {
    const created = await submitOrThrow(services, { kind: 'create_account', owner: HOUSE_PROVIDER, accountKind: 'provider' });
    const event = created.events.find((candidate) => candidate.kind === 'account_created');
    providerId = event?.kind === 'account_created' ? event.accountId : undefined;
    if (providerId === undefined) throw new RpcError(-32603, 'internal_error', { reason: 'internal_error' });
  }
  const notionalUnits = spot.quoteUnitsPerTickLot * BigInt(referencePriceTicks) * BigInt(gpuHours);
  const bondUnits = (notionalUnits * BigInt(config.raw.providers.bondPercent) + 99n) / 100n;
  if (bondUnits > 0n) await submitOrThrow(services, { kind: 'credit_deposit', depositId: `${id}:bond`, accountId: providerId, currency: config.settlementCurrency, amountUnits: bondUnits.toString() });
  await submitOrThrow(services, { kind: 'credit_capacity', capacityId: `${id}:capacity`, providerAccountId: providerId, sku, gpuHours, referencePriceTicks });
  await submitOrThrow(services, { kind: 'transfer', transferId: `${id}:transfer`, fromAccountId: providerId, toAccountId: accountId, currency: sku, amountUnits: units.toString() });
}

function isLoopback(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

function hasToken(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
