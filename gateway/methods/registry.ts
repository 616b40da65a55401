import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { CommandResult, ExchangeState, HistoryStore, Instrument, Sequencer } from '../../engine/index.js';
import type { AuthService, Identity, Scope } from '../auth_types.js';
import type { MarketData } from '../market_data.js';
import type { AccountReadModel } from '../read_model.js';
import { rejectionError, WireError } from '../rpc.js';
import type { Subscriber, SubscriptionHub } from '../subscriptions.js';

// The method table shared by HTTP and WebSocket. Each method is a name, a TypeBox schema for its
// params (additionalProperties: false, every string and number bounded), the scope it needs, its
// rate-limit cost, and a handler. Schemas compile to Ajv validators once, at start-up.
//
// Query strings carry every value as text, JSON carries numbers and booleans natively; the wire
// types below accept both, and handlers turn them into exact integers (wire_numbers.ts).

export interface Connection extends Subscriber {
  accessToken: string | undefined;
  cancelOnDisconnect: boolean;
  setHeartbeat(intervalSeconds: number): void;
  disableHeartbeat(): void;
  close(code: number, reason: string): void;
}

export interface CallContext {
  transport: 'http' | 'ws';
  identity: Identity | undefined;
  connection: Connection | undefined;
  ip: string;
  nowMs: number;
}

export interface GatewayServices {
  state: ExchangeState;
  sequencer: Sequencer;
  history: HistoryStore | undefined;
  accounts: AccountReadModel;
  market: MarketData;
  hub: SubscriptionHub;
  auth: AuthService;
  nowMs: () => number;
  /** Set once SIGTERM arrived: new commands are refused. */
  closing: () => boolean;
}

export interface MethodSpec<P extends TObject = TObject> {
  name: string;
  params: P;
  /** Private methods: the scope the key must hold. */
  scope?: Scope;
  wsOnly?: boolean;
  /**
   * Order entry: on a WebSocket it starts as soon as it arrives instead of waiting for the replies
   * before it (the sequencer keeps arrival order), so one connection can have many in one batch.
   */
  pipelined?: boolean;
  /** Rate-limit credits: matching-engine requests cost more (Deribit's credit model). */
  cost: number;
  handler: (context: CallContext, params: Static<P>) => unknown;
}

export interface CompiledMethod extends MethodSpec {
  validate: ValidateFunction;
  isPrivate: boolean;
}

export const COST_READ = 1;
export const COST_MATCHING = 4;

/** Defines a method with its params typed from its schema. */
export function method<P extends TObject>(spec: MethodSpec<P>): MethodSpec {
  return spec as unknown as MethodSpec;
}

export function compileMethods(specs: MethodSpec[]): Map<string, CompiledMethod> {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, strict: false });
  const methods = new Map<string, CompiledMethod>();
  for (const spec of specs) {
    if (methods.has(spec.name)) throw new Error(`method ${spec.name} defined twice`);
    methods.set(spec.name, { ...spec, validate: ajv.compile(spec.params), isPrivate: spec.name.startsWith('private/') });
  }
  return methods;
}

/** The first schema violation, as -32602 naming the parameter. */
export function paramsError(errors: ErrorObject[] | null | undefined) {
  const error = errors?.[0];
  if (error === undefined) return WireError.invalidParams('params', 'invalid');
  if (error.keyword === 'additionalProperties') return WireError.invalidParams(String(error.params.additionalProperty), 'unknown parameter');
  if (error.keyword === 'required') return WireError.invalidParams(String(error.params.missingProperty), 'required');
  const param = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'params';
  return WireError.invalidParams(param, error.keyword === 'enum' || error.keyword === 'const' ? 'not an allowed value' : 'wrong type or out of range');
}

// ---------------------------------------------------------------------------------------------
// Wire types

export const Decimal = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Number()]);
export const BooleanLike = Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')]);
export const IntegerLike = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$' })]);
export const InstrumentName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_]+(-[A-Za-z0-9]+)*$' });
export const CurrencyName = Type.String({ minLength: 1, maxLength: 10, pattern: '^[A-Za-z0-9]+$' });
export const Label = Type.String({ maxLength: 64 });
export const OrderId = Type.String({ minLength: 1, maxLength: 20, pattern: '^[0-9]+$' });
/** One of a fixed set of strings, typed as their union. */
export function OneOf<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
}

export const Kind = OneOf(['future', 'option', 'spot', 'future_combo', 'option_combo', 'any']);
export const Count = IntegerLike;

/** Value of a BooleanLike param. */
export function isTrue(value: boolean | 'true' | 'false' | undefined): boolean {
  return value === true || value === 'true';
}

export function integerOf(value: number | string | undefined, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}

/** An IntegerLike parameter that may be absent. */
export function optionalInteger(value: number | string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

export function instrumentOf(services: GatewayServices, name: string): Instrument {
  const instrument = services.state.instruments.get(name);
  if (instrument === undefined) throw WireError.notFound('instrument');
  return instrument;
}

/** Submits a command and returns its committed result, or throws the engine's rejection. */
export async function submitOrThrow(services: GatewayServices, command: Parameters<Sequencer['submit']>[0]): Promise<CommandResult> {
  if (services.closing()) throw WireError.unavailable();
  const result = await services.sequencer.submit(command);
  for (const event of result.events) {
    if (event.kind === 'rejected') throw rejectionError(event.rejection, event.detail);
  }
  return result;
}

/** Instruments that match a Deribit currency filter: base, quote or settlement; 'any' for all. */
export function matchesCurrency(instrument: Instrument, currency: string | undefined): boolean {
  if (currency === undefined || currency.toLowerCase() === 'any') return true;
  const code = currency.toUpperCase();
  return instrument.baseCurrency === code || instrument.quoteCurrency === code || instrument.settlementCurrency === code;
}

export function matchesKind(instrument: Instrument, kind: string | undefined): boolean {
  return kind === undefined || kind === 'any' || instrument.kind === kind;
}

export type { TSchema };
