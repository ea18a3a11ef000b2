/**
 * io-ts building blocks shared by events, commands and projection entities.
 *
 * `struct` is the one object combinator used everywhere: it checks required and
 * optional properties and rejects unknown keys (io-ts' own `t.exact` strips them
 * silently and only one level deep). Every failure is reported with its path.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import { ledgerError, LedgerErrorCode } from '../errors';
import { EXPORTABLE, MAX_DEPTH } from '../canonical/jcs';

// ---------------------------------------------------------------------------
// JSON values

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** True when `v` is a JSON value the ledger accepts (fast path: no allocation). */
export function isJsonValue(v: unknown, depth = 0): boolean {
  switch (typeof v) {
    case 'string':
      return EXPORTABLE.string(v);
    case 'boolean':
      return true;
    case 'number':
      return EXPORTABLE.number(v);
    case 'object': {
      if (v === null) return true;
      if (depth > EXPORTABLE.valueDepth) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isJsonValue(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) if (!EXPORTABLE.string(k) || !isJsonValue((v as Record<string, unknown>)[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Returns null when `v` is a JSON value the ledger accepts, else [path, problem]. */
export function jsonProblem(v: unknown, path = ''): [string, string] | null {
  if (isJsonValue(v)) return null;
  return jsonProblemAt(v, path, 0);
}

function jsonProblemAt(v: unknown, path: string, depth: number): [string, string] | null {
  switch (typeof v) {
    case 'string':
      return EXPORTABLE.string(v) ? null : [path, 'a string with a lone UTF-16 surrogate (not valid Unicode; it cannot be exported)'];
    case 'boolean':
      return null;
    case 'number':
      if (!Number.isFinite(v)) return [path, `${String(v)} is not allowed (no NaN or Infinity in audit data)`];
      if (!EXPORTABLE.number(v)) return [path, 'an integer beyond ±(2^53-1); write it as a string'];
      return null;
    case 'object': {
      if (v === null) return null;
      if (depth > EXPORTABLE.valueDepth) return [path, `nested more than ${EXPORTABLE.valueDepth} levels deep (or a cycle)`];
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = jsonProblemAt(v[i], `${path}[${i}]`, depth + 1);
          if (p !== null) return p;
        }
        return null;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        return [path, `a ${name} is not a plain JSON value`];
      }
      for (const k of Object.keys(v)) {
        if (!EXPORTABLE.string(k)) return [path, 'a member name with a lone UTF-16 surrogate (not valid Unicode; it cannot be exported)'];
        const p = jsonProblemAt((v as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`, depth + 1);
        if (p !== null) return p;
      }
      return null;
    }
    case 'undefined':
      return [path, 'undefined is not a JSON value (use null for an absent value)'];
    default:
      return [path, `a ${typeof v} is not a JSON value`];
  }
}
function joinPath(c: t.Context, extra: string): string {
  const base = contextPath(c);
  if (extra === '') return base;
  if (base === '') return extra;
  return extra.startsWith('[') ? `${base}${extra}` : `${base}.${extra}`;
}

export const JsonValue = new t.Type<Json, Json, unknown>(
  'JsonValue',
  (u): u is Json => isJsonValue(u),
  (u, c) => {
    const p = jsonProblem(u);
    return p === null ? t.success(u as Json) : t.failure(u, c, `${joinPath(c, p[0]) || '(root)'}: ${p[1]}`);
  },
  t.identity,
);

export const JsonObjectC = new t.Type<JsonObject, JsonObject, unknown>(
  'JsonObject',
  (u): u is JsonObject => typeof u === 'object' && u !== null && !Array.isArray(u) && isJsonValue(u),
  (u, c) => {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c, `${contextPath(c) || '(root)'}: expected a JSON object`);
    return JsonValue.validate(u, c) as t.Validation<JsonObject>;
  },
  t.identity,
);

// ---------------------------------------------------------------------------
// Scalars

export function refined<A>(name: string, test: (u: unknown) => u is A, describe: string): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(
    name,
    test,
    (u, c) => (test(u) ? t.success(u) : t.failure(u, c, `${contextPath(c) || '(root)'}: expected ${describe}, got ${show(u)}`)),
    t.identity,
  );
}

const HASH_RE = /^[0-9a-f]{64}$/;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for a lowercase RFC 9562 UUID (versions 1-8, RFC variant). */
export function isUuid(u: unknown): u is string {
  return typeof u === 'string' && u.length === 36 && UUID_RE.test(u);
}

/**
 * The one rule for entity ids (runs, nodes, edges, rows, tokens, states, groups, calls,
 * operations, batches, outcomes, errors, artifacts, checkpoints, ...): 1 to 64 characters from
 * `A-Z a-z 0-9 _ . : -`, the first a letter or digit. The ledger generates lowercase UUIDv7s,
 * which fit it; a caller may choose its own keys (ELSPETH's node ids `transform_upper_3f2a9c1b7d4e`,
 * its 32-hex run and token ids, `out_02bf3ffba302`, `cp-<32 hex>`). ASCII only, so every store
 * orders and compares ids the same way, and no separator used in composite keys (U+0000) or
 * path (`/`) can occur in one.
 */
export const ID_MAX_LENGTH = 64;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** The `Id` rule as a JSON Schema / ECMAScript pattern. */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';

/** True for an entity id (see `Id`): a lowercase UUID or a caller key. */
export function isId(u: unknown): u is string {
  return typeof u === 'string' && u.length <= ID_MAX_LENGTH && ID_RE.test(u);
}

/** An entity id: a generated lowercase UUIDv7, or a caller key (see `isId`). */
export const Id = refined('Id', isId, `an id (1-${ID_MAX_LENGTH} characters from A-Z a-z 0-9 _ . : -, starting with a letter or digit)`);
/** An event id: always a lowercase UUID (EventStoreDB stores event ids as UUIDs). */
export const Uuid = refined('Uuid', isUuid, 'a lowercase UUID');
/** A SHA-256 digest as 64 lowercase hex characters (never truncated). */
/**
 * A hex digest as given by a system whose hashes are not all full SHA-256: 16 to 64 lowercase hex
 * characters. Only where ELSPETH's Landscape writes shorter ones (an outcome's error_hash is the
 * first 16 hex of a SHA-256, schema and schema-contract hashes are 32), so an imported run keeps
 * them as they were. The ledger's own content hashes are always `Hash`.
 */
export const DIGEST_PATTERN = '^[0-9a-f]{16,64}$';
const DIGEST_RE = /^[0-9a-f]{16,64}$/;
export const Digest = refined('Digest', (u): u is string => typeof u === 'string' && DIGEST_RE.test(u), 'a hex digest (16 to 64 lowercase hex characters)');
export const Hash = refined('Hash', (u): u is string => typeof u === 'string' && HASH_RE.test(u), 'a SHA-256 hex digest (64 lowercase hex characters)');
/** An ISO-8601 UTC timestamp with an explicit offset (Z or +00:00). */
export const Timestamp = refined(
  'Timestamp',
  (u): u is string => typeof u === 'string' && TIMESTAMP_RE.test(u) && !Number.isNaN(Date.parse(u)),
  'an ISO-8601 timestamp with an offset (e.g. 2026-01-02T03:04:05.678Z)',
);
export const NonEmptyString = refined(
  'NonEmptyString',
  (u): u is string => typeof u === 'string' && u.length > 0 && EXPORTABLE.string(u),
  'a non-empty string of valid Unicode (no lone surrogate)',
);
export const Str = refined('string', (u): u is string => typeof u === 'string' && EXPORTABLE.string(u), 'a string of valid Unicode (no lone surrogate)');
export const Bool = refined('boolean', (u): u is boolean => typeof u === 'boolean', 'a boolean');
export const NonNegativeInt = refined(
  'NonNegativeInt',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0,
  'a non-negative integer',
);
export const PositiveInt = refined('PositiveInt', (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u > 0, 'a positive integer');
export const Int = refined('Int', (u): u is number => typeof u === 'number' && Number.isSafeInteger(u), 'an integer');
export const NonNegativeNumber = refined(
  'NonNegativeNumber',
  (u): u is number => typeof u === 'number' && EXPORTABLE.number(u) && u >= 0,
  'a finite non-negative number (an integer at most 2^53-1)',
);

/** A string enumeration; `.values` lists the allowed strings (read by the JSON Schema generator). */
export function literalUnion<const V extends readonly [string, ...string[]]>(
  name: string,
  values: V,
): t.Type<V[number], V[number], unknown> & { readonly values: V } {
  const set = new Set<string>(values);
  return Object.assign(refined(name, (u): u is V[number] => typeof u === 'string' && set.has(u), `one of ${values.join(', ')}`), { values });
}

/** `codec` or null; `.inner` is `codec` (read by the JSON Schema generator). */
export function nullable<C extends t.Mixed>(codec: C): t.Type<t.TypeOf<C> | null, t.OutputOf<C> | null, unknown> & { readonly inner: C } {
  const type = new t.Type<t.TypeOf<C> | null, t.OutputOf<C> | null, unknown>(
    `${codec.name} | null`,
    (u): u is t.TypeOf<C> | null => u === null || codec.is(u),
    (u, c) => (u === null ? t.success(null) : codec.validate(u, c)),
    (a) => (a === null ? null : codec.encode(a)),
  );
  return Object.assign(type, { inner: codec });
}

/** An array of `codec` (non-empty with `nonEmpty`); `.item` and `.nonEmpty` are read by the JSON Schema generator. */
export function arrayOf<C extends t.Mixed>(
  codec: C,
  opts: { nonEmpty?: boolean; maxLength?: number } = {},
): t.Type<Array<t.TypeOf<C>>, Array<t.OutputOf<C>>, unknown> & { readonly item: C; readonly nonEmpty: boolean } {
  const max = opts.maxLength ?? Number.POSITIVE_INFINITY;
  const type = new t.Type<Array<t.TypeOf<C>>, Array<t.OutputOf<C>>, unknown>(
    `Array<${codec.name}>`,
    (u): u is Array<t.TypeOf<C>> => Array.isArray(u) && (opts.nonEmpty !== true || u.length > 0) && u.length <= max && u.every((x) => codec.is(x)),
    (u, c) => {
      if (Array.isArray(u) && (opts.nonEmpty !== true || u.length > 0) && u.length <= max && u.every((x) => codec.is(x))) return t.success(u as Array<t.TypeOf<C>>);
      if (!Array.isArray(u)) return t.failure(u, c, `${contextPath(c) || '(root)'}: expected an array, got ${show(u)}`);
      if (opts.nonEmpty === true && u.length === 0) return t.failure(u, c, `${contextPath(c) || '(root)'}: expected a non-empty array`);
      if (u.length > max) return t.failure(u, c, `${contextPath(c) || '(root)'}: at most ${max.toLocaleString('en-US')} items, got ${u.length.toLocaleString('en-US')}`);
      for (let i = 0; i < u.length; i++) {
        const r = codec.validate(u[i], appendContext(c, String(i), codec, u[i]));
        if (isLeft(r)) return r;
      }
      // every codec here is an identity on valid input: return the value itself, no copy
      return t.success(u as Array<t.TypeOf<C>>);
    },
    (a) => a.map((x) => codec.encode(x)),
  );
  return Object.assign(type, { item: codec, nonEmpty: opts.nonEmpty === true });
}

// ---------------------------------------------------------------------------
// Objects

export type Props = Record<string, t.Mixed>;
type Optionalize<O extends Props> = { [K in keyof O]?: t.TypeOf<O[K]> };
export type StructType<R extends Props, O extends Props> = { [K in keyof R]: t.TypeOf<R[K]> } & Optionalize<O>;

export interface StructCodec<R extends Props, O extends Props = Record<never, never>>
  extends t.Type<StructType<R, O>, StructType<R, O>, unknown> {
  readonly required: R;
  readonly optional: O;
  /** Every key, required first, in declaration order. */
  readonly keys: readonly string[];
}

/**
 * An object codec: required properties must be present (null only where the
 * property's codec allows it), optional ones may be absent or undefined, and any
 * other key is an error. Validation stops at the first error and reports its full
 * path. Every codec built from these blocks is an identity on valid input:
 * decoding returns the input value itself (no copy), so a valid value costs one
 * allocation-free `is` check.
 */
export function struct<R extends Props, O extends Props = Record<never, never>>(name: string, required: R, optional?: O): StructCodec<R, O> {
  const opt = (optional ?? {}) as O;
  const reqKeys = Object.keys(required);
  const optKeys = Object.keys(opt);
  const allowed = new Set([...reqKeys, ...optKeys]);
  const is = (u: unknown): u is StructType<R, O> => {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return false;
    const o = u as Record<string, unknown>;
    for (const k of reqKeys) {
      const v = o[k];
      if (v === undefined || !required[k]!.is(v)) return false;
    }
    for (const k of optKeys) if (o[k] !== undefined && !opt[k]!.is(o[k])) return false;
    for (const k in o) if (!allowed.has(k)) return false;
    return true;
  };
  const codec = new t.Type<StructType<R, O>, StructType<R, O>, unknown>(
    name,
    is,
    (u, c) => {
      // fast path: a valid value allocates nothing; the slow path below finds the first error and its path
      if (is(u)) return t.success(u);
      if (typeof u !== 'object' || u === null || Array.isArray(u)) {
        return t.failure(u, c, `${contextPath(c) || '(root)'}: expected an object (${name}), got ${show(u)}`);
      }
      const o = u as Record<string, unknown>;
      for (const k of reqKeys) {
        const v = o[k];
        const p = required[k]!;
        if (v === undefined) {
          return t.failure(v, appendContext(c, k, p, v), `${joinPath(c, k)}: is required (${p.name})`);
        }
        const r = p.validate(v, appendContext(c, k, p, v));
        if (isLeft(r)) return r;
      }
      for (const k of optKeys) {
        const v = o[k];
        if (v === undefined) continue;
        const p = opt[k]!;
        const r = p.validate(v, appendContext(c, k, p, v));
        if (isLeft(r)) return r;
      }
      for (const k in o) {
        if (!allowed.has(k)) {
          return t.failure(o[k], appendContext(c, k, t.never, o[k]), `${joinPath(c, k)}: unknown field (allowed: ${[...allowed].join(', ')})`);
        }
      }
      // every codec here is an identity on valid input: return the value itself, no copy
      return t.success(o as StructType<R, O>);
    },
    t.identity,
  );
  return Object.assign(codec, { required, optional: opt, keys: [...reqKeys, ...optKeys] });
}

// ---------------------------------------------------------------------------
// Errors and decoding

function appendContext(c: t.Context, key: string, type: t.Decoder<unknown, unknown>, actual: unknown): t.Context {
  return [...c, { key, type, actual }];
}

function contextPath(c: t.Context): string {
  let out = '';
  for (let i = 1; i < c.length; i++) {
    const k = c[i]!.key;
    if (k === '') continue;
    if (/^\d+$/.test(k)) out += `[${k}]`;
    else out += out === '' ? k : `.${k}`;
  }
  return out;
}

/**
 * What kind of value was found, never the value itself: an error must say what was wrong
 * and where, and must not carry a secret or row data passed by mistake into logs.
 */
function show(u: unknown): string {
  if (u === undefined) return 'undefined';
  if (u === null) return 'null';
  if (typeof u === 'number') return Number.isFinite(u) ? (Number.isSafeInteger(u) || !Number.isInteger(u) ? 'a number' : 'an unsafe integer') : String(u);
  if (typeof u === 'string') return `a string of ${u.length} characters`;
  if (Array.isArray(u)) return `an array of ${u.length} items`;
  if (typeof u === 'object') return 'an object';
  return `a ${typeof u}`;
}

const MAX_INPUT_DEPTH = MAX_DEPTH + 8;

/**
 * A plain-data copy of a command's input, each property read exactly once: a getter or a
 * proxy cannot answer the validation one way and the recorder another, and one that throws
 * is an INVALID_INPUT rather than an escaped error. Objects that are not plain (Date, Map,
 * class instances) are kept as they are, for the codecs to refuse; a cycle is refused here.
 */
function snapshotInput(u: unknown, seen: Set<object>, depth: number): unknown {
  if (u === null || typeof u !== 'object') return u;
  if (seen.has(u)) throw new InputUnreadable('it contains a cycle');
  if (depth > MAX_INPUT_DEPTH) throw new InputUnreadable(`it is nested more than ${MAX_INPUT_DEPTH} levels deep`);
  if (Array.isArray(u)) {
    seen.add(u);
    const out: unknown[] = new Array(u.length);
    for (let i = 0; i < out.length; i++) out[i] = snapshotInput(u[i], seen, depth + 1);
    seen.delete(u);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(u);
  if (proto !== Object.prototype && proto !== null) return u;
  seen.add(u);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(u)) {
    // defineProperty: a "__proto__" key stays a plain key, never the copy's prototype
    Object.defineProperty(out, k, { value: snapshotInput((u as Record<string, unknown>)[k], seen, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  seen.delete(u);
  return out;
}

class InputUnreadable extends Error {}

/** The first error of an io-ts validation as a path and message. */
export function firstError(errors: t.Errors): { path: string; message: string } {
  const e = errors[0];
  if (e === undefined) return { path: '', message: 'invalid value' };
  const path = contextPath(e.context);
  const message = e.message ?? `${path || '(root)'}: expected ${e.context[e.context.length - 1]?.type.name ?? 'a valid value'}, got ${show(e.value)}`;
  return { path, message };
}

/** Decodes `u` with `codec` or throws a LedgerError (INVALID_INPUT by default) naming the path of the first bad field. */
export function decodeOrThrow<A>(codec: t.Decoder<unknown, A>, u: unknown, what: string, code: LedgerErrorCode = 'INVALID_INPUT'): A {
  let r: ReturnType<typeof codec.decode>;
  try {
    r = codec.decode(snapshotInput(u, new Set(), 0));
  } catch (e) {
    const why = e instanceof InputUnreadable ? e.message : 'a property getter or proxy threw while it was read';
    throw ledgerError(code, `invalid ${what}: it cannot be read as plain data (${why})`, { path: '', what });
  }
  if (isLeft(r)) {
    const { path, message } = firstError(r.left);
    throw ledgerError(code, `invalid ${what}: ${message}`, { path, what });
  }
  return r.right;
}

