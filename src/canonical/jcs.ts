/**
 * RFC 8785 JSON Canonicalization Scheme (JCS), own implementation.
 *
 * - Object members are sorted by their names' UTF-16 code units (JS default string order).
 * - Numbers are written with the ECMAScript Number-to-String algorithm (`String(n)`), which is
 *   exactly the serialization RFC 8785 §3.2.2.3 prescribes (`-0` becomes `0`).
 * - Strings are escaped as RFC 8785 §3.2.2.2 requires, which is what `JSON.stringify` does for
 *   well-formed strings; lone surrogates are rejected first.
 *
 * Project rules on top of RFC 8785 (each violation throws `LedgerError('CANONICALIZATION_FAILED')`
 * with `details.path`, a JSON pointer to the offending value):
 * - only JSON values: plain objects (prototype `Object.prototype` of any realm, or `null`), arrays
 *   (not subclasses), strings, finite numbers, booleans and `null`; `undefined` is rejected
 *   everywhere, also as a property value and as an array hole; `toJSON` is not honoured (Date,
 *   Map, Set, class instances, typed arrays, boxed primitives, bigint, functions, symbols throw);
 * - members are the own enumerable string-keyed properties (as JSON.stringify; symbol keys are
 *   not data and are ignored);
 * - integers outside the IEEE-754 safe range (|n| > 2^53 - 1) are rejected: write them as strings;
 * - cycles are rejected, and so is nesting deeper than {@link MAX_DEPTH}.
 */

import { LedgerError } from '../errors';

/** Deepest nesting of arrays/objects accepted (the root value is depth 0). */
export const MAX_DEPTH = 1000;

/** Any UTF-16 surrogate code unit; when present, pairing is checked code unit by code unit. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The rules a recorded value must meet to be exportable, shared by the recorder's input codecs
 * (src/events/codecs.ts) and this writer, so that nothing accepted on write fails on export.
 */
export const EXPORTABLE = {
  /** A string with no lone surrogate (RFC 8785 writes well-formed strings only). */
  string: (s: string): boolean => !SURROGATE.test(s) || loneSurrogateIndex(s) < 0,
  /** A finite number, and an integer only within ±(2^53-1). */
  number: (n: number): boolean => Number.isFinite(n) && (!Number.isInteger(n) || Number.isSafeInteger(n)),
  /** Deepest nesting of a recorded JSON value: the export record wraps it in a few more levels. */
  valueDepth: MAX_DEPTH - 8,
} as const;
/** Anything JSON.stringify would escape (controls, quote, backslash) or a surrogate. */
// eslint-disable-next-line no-control-regex
const NEEDS_CARE = /[\u0000-\u001F"\\\uD800-\uDFFF]/;

/**
 * Member-name cache. Records on the hot path come in a few shapes, and sorting + escaping the
 * names costs more than writing the values, so each own-key sequence (exact order, compared
 * with ===) maps to its sorted names and their ready-made `{"name":` / `,"name":` heads.
 * Bounded: at most SHAPE_BUCKETS first-key buckets of SHAPES_PER_BUCKET shapes of up to
 * SHAPE_MAX_KEYS names; the whole cache is dropped when full.
 */
interface Shape {
  readonly keys: readonly string[];
  readonly sorted: readonly string[];
  readonly heads: readonly string[];
}
const SHAPE_MAX_KEYS = 64;
const SHAPES_PER_BUCKET = 4;
const SHAPE_BUCKETS = 4096;
const shapeCache = new Map<string, Shape[]>();

function findShape(keys: readonly string[]): Shape | undefined {
  const bucket = shapeCache.get(keys[0] as string);
  if (bucket === undefined) return undefined;
  const len = keys.length;
  outer: for (let b = 0; b < bucket.length; b++) {
    const shape = bucket[b] as Shape;
    const cached = shape.keys;
    if (cached.length !== len) continue;
    for (let i = 1; i < len; i++) if (cached[i] !== keys[i]) continue outer;
    return shape;
  }
  return undefined;
}

function rememberShape(shape: Shape): void {
  const first = shape.keys[0] as string;
  let bucket = shapeCache.get(first);
  if (bucket === undefined) {
    if (shapeCache.size >= SHAPE_BUCKETS) shapeCache.clear();
    bucket = [];
    shapeCache.set(first, bucket);
  }
  if (bucket.length >= SHAPES_PER_BUCKET) bucket.shift();
  bucket.push(shape);
}

/**
 * Canonical JSON text (RFC 8785) of a JSON value.
 * @throws LedgerError CANONICALIZATION_FAILED when the value is not representable.
 */
export function canonicalize(value: unknown): string {
  const w = new Writer();
  w.write(value, 0);
  return w.out;
}

/** UTF-8 bytes of {@link canonicalize}. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

class Writer {
  out = '';
  /** segments[d] is the key or index leading to the value at depth d (segments[0] unused). */
  private readonly segments: (string | number)[] = [''];
  /** ancestors[d] is the container being written at depth d. */
  private readonly ancestors: object[] = [];

  write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.out += this.str(value, depth);
        return;
      case 'number':
        this.out += this.num(value, depth);
        return;
      case 'boolean':
        this.out += value ? 'true' : 'false';
        return;
      case 'object':
        if (value === null) {
          this.out += 'null';
          return;
        }
        if (Array.isArray(value)) {
          this.array(value, depth);
          return;
        }
        this.object(value, depth);
        return;
      case 'undefined':
        throw this.fail(depth, 'undefined');
      case 'bigint':
        throw this.fail(depth, 'a bigint (write large integers as strings)');
      case 'function':
        throw this.fail(depth, 'a function');
      case 'symbol':
        throw this.fail(depth, 'a symbol');
      default:
        throw this.fail(depth, `a value of type ${typeof value}`);
    }
  }

  private num(n: number, depth: number): string {
    if (!Number.isFinite(n)) throw this.fail(depth, String(n));
    if (Number.isInteger(n) && !Number.isSafeInteger(n)) {
      throw this.fail(
        depth,
        `the integer ${String(n)}: integers beyond ±(2^53-1) lose precision as IEEE-754 doubles and must be written as strings`,
      );
    }
    return String(n);
  }

  private str(s: string, depth: number, key?: string): string {
    // Fast path: nothing to escape and no surrogates.
    if (!NEEDS_CARE.test(s)) return '"' + s + '"';
    if (SURROGATE.test(s)) {
      const bad = loneSurrogateIndex(s);
      if (bad >= 0) {
        const cu = s.charCodeAt(bad).toString(16).toUpperCase();
        const what = key === undefined ? 'string' : 'member name';
        throw this.fail(depth, `a ${what} with a lone surrogate U+${cu} at index ${bad}`);
      }
    }
    // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 for well-formed strings.
    return JSON.stringify(s);
  }

  private enter(container: object, depth: number): void {
    if (depth >= MAX_DEPTH) throw this.fail(depth, `nesting deeper than ${MAX_DEPTH} levels`);
    const anc = this.ancestors;
    for (let i = 0; i < depth; i++) {
      if (anc[i] === container) throw this.fail(depth, 'a cycle (the value contains itself)');
    }
    anc[depth] = container;
  }

  private array(a: readonly unknown[], depth: number): void {
    const proto: unknown = Object.getPrototypeOf(a);
    // Array.prototype is itself an array (in every realm); a subclass prototype is not.
    if (proto !== Array.prototype && !Array.isArray(proto)) {
      throw this.fail(depth, `an instance of ${describeClass(a)} (an Array subclass)`);
    }
    this.enter(a, depth);
    const len = a.length;
    if (len === 0) {
      this.out += '[]';
      return;
    }
    const child = depth + 1;
    const segs = this.segments;
    this.out += '[';
    for (let i = 0; i < len; i++) {
      if (i > 0) this.out += ',';
      segs[child] = i;
      this.write(a[i], child);
    }
    this.out += ']';
  }

  private object(o: object, depth: number): void {
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null && !isForeignObjectPrototype(proto)) {
      const cls = describeClass(o);
      throw this.fail(
        depth,
        cls === 'Object'
          ? 'an object with a non-plain prototype (only plain objects are JSON)'
          : `an instance of ${cls} (only plain objects are JSON)`,
      );
    }
    this.enter(o, depth);
    const keys = Object.keys(o);
    const len = keys.length;
    if (len === 0) {
      this.out += '{}';
      return;
    }
    const child = depth + 1;
    const cacheable = len <= SHAPE_MAX_KEYS;
    const shape = (cacheable ? findShape(keys) : undefined) ?? this.makeShape(keys, child, cacheable);
    const sorted = shape.sorted;
    const heads = shape.heads;
    const rec = o as Record<string, unknown>;
    const segs = this.segments;
    for (let i = 0; i < len; i++) {
      const k = sorted[i] as string;
      segs[child] = k;
      this.out += heads[i] as string;
      this.write(rec[k], child);
    }
    this.out += '}';
  }

  /** Sorts and escapes the member names of an object (reporting a bad name at its own path). */
  private makeShape(keys: string[], child: number, cache: boolean): Shape {
    const sorted = keys.slice().sort();
    const heads: string[] = new Array<string>(sorted.length);
    for (let i = 0; i < sorted.length; i++) {
      const k = sorted[i] as string;
      this.segments[child] = k;
      heads[i] = (i === 0 ? '{' : ',') + this.str(k, child, k) + ':';
    }
    const shape: Shape = { keys, sorted, heads };
    if (cache) rememberShape(shape);
    return shape;
  }

  private fail(depth: number, what: string): LedgerError {
    const path = pointer(this.segments, depth);
    return new LedgerError('CANONICALIZATION_FAILED', `cannot canonicalize ${what} at ${path === '' ? 'the root' : path}`, {
      path,
    });
  }
}

/** JSON pointer (RFC 6901) of segments[1..depth]; the root is ''. */
function pointer(segments: readonly (string | number)[], depth: number): string {
  let p = '';
  for (let i = 1; i <= depth; i++) {
    const s = segments[i];
    p += '/' + (typeof s === 'number' ? String(s) : String(s).replace(/~/g, '~0').replace(/\//g, '~1'));
  }
  return p;
}

/** Index of the first unpaired surrogate code unit in `s`, or -1 when `s` is well-formed UTF-16. */
function loneSurrogateIndex(s: string): number {
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      // High surrogate: must be followed by a low one.
      const next = i + 1 < len ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/**
 * True for `Object.prototype` of another realm (vm context, jest sandbox, objects built by native
 * addons): a prototype-less object whose `constructor` is named `Object`.
 */
function isForeignObjectPrototype(proto: unknown): boolean {
  if (typeof proto !== 'object' || proto === null || Object.getPrototypeOf(proto) !== null) return false;
  const ctor: unknown = (proto as { constructor?: unknown }).constructor;
  return typeof ctor === 'function' && ctor.name === 'Object' && ctor.prototype === proto;
}

function describeClass(o: object): string {
  const ctor: unknown = (o as { constructor?: unknown }).constructor;
  if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') return ctor.name;
  return Object.prototype.toString.call(o);
}
