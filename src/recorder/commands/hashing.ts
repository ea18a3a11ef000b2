/**
 * Hashing of caller data, shared by the deciders: canonical hashes of JSON values, payload
 * bodies for the payload store, and stable hashes of external (tier-3) data that may not be
 * canonical JSON.
 */
import { sha256Hex, stableHash } from '../../canonical/hash';
import { canonicalBytes, EXPORTABLE } from '../../canonical/jcs';
import { Json, jsonProblem } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { DecideContext, PayloadBody } from './command';

/** SHA-256 of canonical JSON; a value that is not canonical JSON is INVALID_INPUT naming the field. */
export function hashOf(value: unknown, field: string): string {
  try {
    return stableHash(value);
  } catch (e) {
    const problem = jsonProblem(value, field);
    const where = problem !== null ? `${problem[0]}: ${problem[1]}` : `${field}: ${(e as Error).message}`;
    throw ledgerError('INVALID_INPUT', `cannot hash ${field}: ${where}`, { path: problem?.[0] ?? field });
  }
}

/**
 * Hash of a payload and, when the context stores payloads, its body: the canonical JSON bytes
 * the hash is computed over, so the reference (the store's name for the body) equals the hash.
 */
export function payloadOf(value: unknown, field: string, ctx: DecideContext, bodies: PayloadBody[]): { hash: string; ref: string | null } {
  if (ctx.storePayloads !== true) return { hash: hashOf(value, field), ref: null };
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(value);
  } catch {
    hashOf(value, field); // throws INVALID_INPUT naming the field
    throw ledgerError('INVALID_INPUT', `cannot hash ${field}`, { path: field });
  }
  const hash = sha256Hex(bytes);
  bodies.push({ hash, bytes });
  return { hash, ref: hash };
}

/**
 * Hash for external (tier-3) data that may not be canonical JSON (quarantined
 * rows, validation and transform errors): canonical when possible, otherwise a
 * deterministic tagged rendering, so the hash is stable across processes.
 */
export function tier3Hash(value: unknown): string {
  if (jsonProblem(value) === null) return stableHash(value);
  return sha256Hex(`non-canonical-v1:${stableHash(tier3Json(value))}`);
}

/** Lone UTF-16 surrogates (not valid Unicode, so never exportable) become U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wellFormed = (s: string): string => (EXPORTABLE.string(s) ? s : s.replace(LONE_SURROGATE, '\uFFFD'));

/**
 * A JSON rendering of arbitrary data that keeps what is there and names what is not JSON. The
 * result always meets EXPORTABLE: strings and member names are made well-formed (a string that
 * had to be repaired is tagged), nesting stops at the exportable depth, and a `__proto__`
 * member stays an ordinary member.
 */
export function tier3Json(value: unknown, depth = 0): Json {
  if (depth >= EXPORTABLE.valueDepth) return { __non_canonical__: 'depth' };
  switch (typeof value) {
    case 'string':
      return EXPORTABLE.string(value) ? value : { __non_canonical__: 'string', value: wellFormed(value) };
    case 'boolean':
      return value;
    case 'number':
      if (!EXPORTABLE.number(value)) return { __non_canonical__: 'number', value: String(value) };
      return value;
    case 'bigint':
      return { __non_canonical__: 'bigint', value: value.toString() };
    case 'undefined':
      return { __non_canonical__: 'undefined' };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return Array.from(value, (v) => tier3Json(v, depth + 1));
      if (value instanceof Date) return { __non_canonical__: 'date', value: Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString() };
      const proto = Object.getPrototypeOf(value) as unknown;
      const out: Record<string, Json> = {};
      const put = (k: string, v: Json) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      if (proto !== Object.prototype && proto !== null) put('__non_canonical__', (value as { constructor?: { name?: string } }).constructor?.name ?? 'object');
      for (const k of Object.keys(value)) put(wellFormed(k), tier3Json((value as Record<string, unknown>)[k], depth + 1));
      return out;
    }
    default:
      return { __non_canonical__: typeof value };
  }
}

/** The value itself when it is canonical JSON, its tagged rendering otherwise. */
export function asJsonOrTagged(value: unknown): Json {
  return jsonProblem(value) === null ? (value as Json) : tier3Json(value);
}
