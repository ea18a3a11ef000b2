/**
 * Known-answer tests for the RFC 8785 canonicalizer. These run without the shared test-vector
 * folder: expected strings come from the RFC 8785 text (§3.2.2, §3.2.3, Appendix B) and from the
 * JSON escaping rules it prescribes, never from running the code under test.
 */
import * as vm from 'node:vm';
import fc from 'fast-check';
import { canonicalBytes, canonicalize, MAX_DEPTH } from '../../src/canonical/jcs';
import { isLedgerError, LedgerError } from '../../src/errors';

/** The LedgerError thrown by fn (fails the test when fn does not throw one). */
function thrown(fn: () => unknown): LedgerError {
  try {
    fn();
  } catch (e) {
    if (isLedgerError(e)) return e;
    throw new Error(`expected a LedgerError, got ${String(e)}`);
  }
  throw new Error('expected a throw');
}

function expectRejected(value: unknown, path: string, messagePart?: string | RegExp): LedgerError {
  const e = thrown(() => canonicalize(value));
  expect(e.code).toBe('CANONICALIZATION_FAILED');
  expect(e.details).toEqual({ path });
  expect(e.message).toContain(path === '' ? 'the root' : path);
  if (messagePart !== undefined) expect(e.message).toMatch(messagePart);
  return e;
}

function ieee754(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonicalize: numbers (RFC 8785 §3.2.2.3, ECMAScript Number::toString)', () => {
  test.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [1e-7, '1e-7'],
    [-1e-7, '-1e-7'],
    [0.000001, '0.000001'],
    [1.5e-7, '1.5e-7'],
    [333333333.3333333, '333333333.3333333'],
    // eslint-disable-next-line no-loss-of-precision -- the RFC's case: this literal rounds to the double above
    [333333333.33333329, '333333333.3333333'],
    [4.5, '4.5'],
    [4.50, '4.5'],
    [2e-3, '0.002'],
    [1e-27, '1e-27'],
    [5e-324, '5e-324'],
    [-5e-324, '-5e-324'],
    [9007199254740991, '9007199254740991'],
    [-9007199254740991, '-9007199254740991'],
    [4503599627370495.5, '4503599627370495.5'],
    // eslint-disable-next-line no-loss-of-precision -- written as in the RFC's table
    [1424953923781206.2, '1424953923781206.2'],
    [56.0, '56'],
  ])('%p → %s', (n, expected) => {
    expect(canonicalize(n)).toBe(expected);
  });

  // RFC 8785 Appendix B: IEEE-754 bit patterns and their serialization. Integers beyond 2^53-1 are
  // rejected by the project rule ("integers above 2^53 as strings"); for those rows we check the
  // rejection and that the ES algorithm would give the RFC's text (so only the rule differs).
  const appendixB: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  const accepted = appendixB.filter(([hex]) => !Number.isInteger(ieee754(hex)) || Number.isSafeInteger(ieee754(hex)));
  const unsafe = appendixB.filter((row) => !accepted.includes(row));

  test('Appendix B has 13 rows inside the accepted range and 11 unsafe integers', () => {
    expect(accepted).toHaveLength(13);
    expect(unsafe.map(([, text]) => text)).toEqual([
      '1.7976931348623157e+308',
      '-1.7976931348623157e+308',
      '9007199254740992',
      '-9007199254740992',
      '295147905179352830000',
      '9.999999999999997e+22',
      '1e+23',
      '1.0000000000000001e+23',
      '999999999999999700000',
      '999999999999999900000',
      '1e+21',
    ]);
  });

  test.each(accepted)('Appendix B 0x%s → %s', (hex, expected) => {
    expect(canonicalize(ieee754(hex))).toBe(expected);
    expect(canonicalize([ieee754(hex)])).toBe(`[${expected}]`);
  });

  test.each(unsafe)(
    'Appendix B 0x%s (RFC 8785 text %s) is an integer beyond 2^53-1: rejected by the project rule',
    (hex, rfcText) => {
      const n = ieee754(hex);
      expectRejected({ n }, '/n', /2\^53-1.*strings/);
      // Only the project rule differs from RFC 8785: the ES serialization is the RFC's text.
      expect(String(n)).toBe(rfcText);
    },
  );

  test.each([
    ['1e21', 1e21],
    ['1e30', 1e30],
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['Number.MAX_VALUE', Number.MAX_VALUE],
    ['-Number.MAX_VALUE', -Number.MAX_VALUE],
  ])('unsafe integer %s rejected (project rule: integers above 2^53 as strings)', (_name, n) => {
    expectRejected({ rows: [{ qty: n }] }, '/rows/0/qty', 'integer');
  });

  test.each([
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['-Infinity', Number.NEGATIVE_INFINITY, '-Infinity'],
    ['Appendix B 7fffffffffffffff (NaN)', ieee754('7fffffffffffffff'), 'NaN'],
    ['Appendix B 7ff0000000000000 (Infinity)', ieee754('7ff0000000000000'), 'Infinity'],
  ])('%s rejected with its path', (_name, n, word) => {
    const rows = [{}, {}, {}, { price: n }];
    const e = expectRejected({ rows }, '/rows/3/price');
    expect(e.message).toBe(`cannot canonicalize ${word} at /rows/3/price`);
  });

  test('NaN at the root has the empty pointer', () => {
    const e = expectRejected(Number.NaN, '');
    expect(e.message).toBe('cannot canonicalize NaN at the root');
  });
});

describe('canonicalize: strings (RFC 8785 §3.2.2.2)', () => {
  const SHORT: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };
  const controls = Array.from({ length: 0x20 }, (_, c) => c);

  test.each(controls.map((c) => [c.toString(16).padStart(4, '0'), c] as const))('control character U+%s is escaped', (hex, c) => {
    const expected = SHORT[c] ?? `\\u${hex}`;
    expect(canonicalize(String.fromCharCode(c))).toBe(`"${expected}"`);
  });

  test('all 32 control characters in one string', () => {
    const s = String.fromCharCode(...controls);
    expect(canonicalize(s)).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
    );
  });

  test('quote and backslash escaped; solidus, DEL, U+2028/2029, non-ASCII and astral characters literal', () => {
    expect(canonicalize('"')).toBe('"\\""');
    expect(canonicalize('\\')).toBe('"\\\\"');
    expect(canonicalize('/')).toBe('"/"');
    expect(canonicalize('</script>')).toBe('"</script>"');
    expect(canonicalize('\u007f')).toBe('"\u007f"');
    expect(canonicalize('\u0080')).toBe('"\u0080"');
    expect(canonicalize('\u2028\u2029')).toBe('"\u2028\u2029"');
    expect(canonicalize('\u20ac\u00f6\ufb33')).toBe('"\u20ac\u00f6\ufb33"');
    expect(canonicalize('\ud83d\ude00')).toBe('"\ud83d\ude00"');
    expect(canonicalize('\ufeff\uffff')).toBe('"\ufeff\uffff"');
  });

  test('RFC 8785 §3.2.2 sample string', () => {
    // "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/" → "€$\u000f\nA'B\"\\\\\"/"
    const input = JSON.parse('"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/"') as string;
    expect(canonicalize(input)).toBe('"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
  });

  test('Unicode is not normalized (A + U+030A stays two code points)', () => {
    expect(canonicalize('A\u030a')).toBe('"A\u030a"');
    expect(canonicalize('A\u030a')).not.toBe(canonicalize('\u00c5'));
  });

  test.each([
    ['lone high surrogate', '\ud800', 'U+D800 at index 0'],
    ['lone low surrogate', '\udc00', 'U+DC00 at index 0'],
    ['high surrogate at the end', 'abc\udbff', 'U+DBFF at index 3'],
    ['low surrogate after text', 'a\udfffb', 'U+DFFF at index 1'],
    ['reversed pair (low then high)', '\ude00\ud83d', 'U+DE00 at index 0'],
    ['high followed by a non-surrogate', '\ud83dx', 'U+D83D at index 0'],
    ['two highs then one low', '\ud83d\ud83d\ude00', 'U+D83D at index 0'],
    ['valid pair then lone low', '\ud83d\ude00\ude00', 'U+DE00 at index 2'],
  ])('%s rejected', (_name, s, where) => {
    expectRejected({ a: [s] }, '/a/0', where);
    expectRejected(s, '', 'lone surrogate');
  });

  test('lone surrogate in a member name rejected at that member', () => {
    const e = expectRejected({ ok: 1, ['k\udc00']: 1 }, '/k\udc00', 'member name with a lone surrogate');
    expect(e.message).toContain('U+DC00');
  });

  test('well-formed surrogate pairs accepted anywhere', () => {
    expect(canonicalize({ '\ud83d\ude02': ['\ud800\udc00', '\udbff\udfff'] })).toBe(
      '{"\ud83d\ude02":["\ud800\udc00","\udbff\udfff"]}',
    );
  });
});

describe('canonicalize: member order (RFC 8785 §3.2.3, UTF-16 code units)', () => {
  test('RFC 8785 §3.2.3 sorting example', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // RFC: "\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test('surrogate pairs sort by code unit, before U+E000..U+FFFF (not by code point)', () => {
    expect(canonicalize({ '\uffff': 1, '\ud83d\ude00': 2, '\ue000': 3 })).toBe('{"\ud83d\ude00":2,"\ue000":3,"\uffff":1}');
  });

  test('integer-like keys are sorted as strings, not in JS property order', () => {
    expect(canonicalize({ b: 0, 10: 1, 2: 2, 1: 3, '': 4, a: 5, A: 6, '-1': 7 })).toBe(
      '{"":4,"-1":7,"1":3,"10":1,"2":2,"A":6,"a":5,"b":0}',
    );
  });

  test('locale is ignored (French example)', () => {
    expect(canonicalize({ sin: 4, 'pêche': 3, 'péché': 2, peach: 1 })).toBe('{"peach":1,"péché":2,"pêche":3,"sin":4}');
  });

  test('insertion order does not matter', () => {
    expect(canonicalize({ z: 1, a: { y: 2, b: 3 } })).toBe(canonicalize({ a: { b: 3, y: 2 }, z: 1 }));
  });
});

describe('canonicalize: structures', () => {
  test('literals and empty containers', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize(false)).toBe('false');
    expect(canonicalize('')).toBe('""');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize({})).toBe('{}');
    expect(canonicalize([[], {}, [{}]])).toBe('[[],{},[{}]]');
  });

  test('nested objects and arrays', () => {
    const value = {
      run: { id: 'r-1', tags: ['b', 'a'], meta: { z: null, a: [1, 2.5, -0, { y: false, x: true }] } },
      rows: [{ price: 1.25, qty: 3, sku: 'A/1' }, []],
      '': 'empty',
    };
    expect(canonicalize(value)).toBe(
      '{"":"empty","rows":[{"price":1.25,"qty":3,"sku":"A/1"},[]],' +
        '"run":{"id":"r-1","meta":{"a":[1,2.5,0,{"x":true,"y":false}],"z":null},"tags":["b","a"]}}',
    );
  });

  test('RFC 8785 arrays sample', () => {
    expect(canonicalize([56, { d: true, 10: null, 1: [] }])).toBe('[56,{"1":[],"10":null,"d":true}]');
  });

  test('objects with a null prototype are plain objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalize({ o })).toBe('{"o":{"a":2,"b":1}}');
  });

  test('plain objects and arrays from another realm are accepted', () => {
    const foreign: unknown = vm.runInNewContext('({ b: [1, { d: 2, c: 3 }], a: "x" })');
    expect(canonicalize(foreign)).toBe('{"a":"x","b":[1,{"c":3,"d":2}]}');
  });

  test('an own "__proto__" member (as JSON.parse creates it) is an ordinary member', () => {
    const parsed: unknown = JSON.parse('{"b":1,"__proto__":{"x":[]},"a":2}');
    expect(canonicalize(parsed)).toBe('{"__proto__":{"x":[]},"a":2,"b":1}');
  });

  test('shared (non-cyclic) references are written twice', () => {
    const shared = { x: 1 };
    const arr = [1];
    expect(canonicalize({ a: shared, b: shared, c: [arr, arr] })).toBe('{"a":{"x":1},"b":{"x":1},"c":[[1],[1]]}');
  });

  test('canonicalBytes is the UTF-8 of canonicalize', () => {
    const value = { '\u20ac': '\ud83d\ude00', a: 'é' };
    const bytes = canonicalBytes(value);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes.toString('hex')).toBe(
      // {"a":"é","€":"😀"}
      '7b2261223a22c3a9222c22e282ac223a22f09f9880227d',
    );
  });

  test(`nesting up to ${MAX_DEPTH} levels is accepted, deeper is rejected`, () => {
    let ok: unknown = 0;
    for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
    expect(canonicalize(ok)).toBe('['.repeat(MAX_DEPTH) + '0' + ']'.repeat(MAX_DEPTH));
    const tooDeep = [ok];
    const e = thrown(() => canonicalize(tooDeep));
    expect(e.code).toBe('CANONICALIZATION_FAILED');
    expect(e.message).toContain(`deeper than ${MAX_DEPTH}`);
    expect(e.details?.path).toBe('/0'.repeat(MAX_DEPTH));
  });
});

describe('canonicalize: non-JSON values are rejected', () => {
  test('undefined at the root, as a property value, in an array and as an array hole', () => {
    expectRejected(undefined, '', 'undefined');
    expectRejected({ a: 1, b: undefined }, '/b', 'undefined');
    expectRejected({ rows: [1, undefined] }, '/rows/1', 'undefined');
    // eslint-disable-next-line no-sparse-arrays
    expectRejected([1, , 3], '/1', 'undefined');
    expectRejected(new Array(2), '/0', 'undefined');
  });

  test('functions, symbols and bigints', () => {
    expectRejected({ f: () => 1 }, '/f', 'function');
    expectRejected({ s: Symbol('x') }, '/s', 'symbol');
    expectRejected({ n: 10n }, '/n', 'bigint');
    // toJSON is not honoured: it is just a function-valued member.
    expectRejected({ toJSON: () => 'x' }, '/toJSON', 'function');
  });

  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  class MyArray extends Array<number> {}

  test.each([
    ['Date', new Date(0), 'Date'],
    ['Map', new Map([['a', 1]]), 'Map'],
    ['Set', new Set([1]), 'Set'],
    ['class instance', new Point(1, 2), 'Point'],
    ['RegExp', /x/, 'RegExp'],
    ['Buffer', Buffer.from('ab'), 'Buffer'],
    ['Uint8Array', new Uint8Array(2), 'Uint8Array'],
    ['boxed String', new String('x'), 'String'],
    ['boxed Number', new Number(1), 'Number'],
    ['Error', new Error('x'), 'Error'],
    ['Promise', Promise.resolve(1), 'Promise'],
    ['Array subclass', MyArray.from([1]), 'MyArray'],
    ['object inheriting from a plain object', Object.create({ inherited: 1 }) as object, 'non-plain prototype'],
    ['Date from another realm', vm.runInNewContext('new Date(0)') as object, 'Date'],
  ])('%s rejected with its path', (_name, v, className) => {
    expectRejected({ data: { v } }, '/data/v', className);
  });

  test('cycles are rejected, not a stack overflow', () => {
    const self: Record<string, unknown> = { a: 1 };
    self.me = self;
    expectRejected(self, '/me', 'cycle');

    const arr: unknown[] = [1];
    arr.push([arr]);
    expectRejected(arr, '/1/0', 'cycle');

    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 50; i++) {
      const next: Record<string, unknown> = {};
      cur.n = next;
      cur = next;
    }
    cur.back = deep;
    expectRejected(deep, '/n'.repeat(50) + '/back', 'cycle');
  });

  test('paths escape "~" and "/" as in JSON Pointer', () => {
    expectRejected({ 'a/b': { '~c': Number.NaN } }, '/a~1b/~0c', 'NaN');
  });
});

describe('canonicalize: properties', () => {
  /**
   * Independent, naive oracle: JSON.stringify for scalars (RFC 8785 number and string forms for
   * safe JSON data) and explicit assembly of arrays and of objects in code-unit key order (an
   * object cannot carry that order itself: integer-like keys always enumerate first).
   */
  function oracle(v: unknown): string {
    if (Array.isArray(v)) return '[' + v.map(oracle).join(',') + ']';
    if (v !== null && typeof v === 'object') {
      const r = v as Record<string, unknown>;
      return '{' + Object.keys(r).sort().map((k) => JSON.stringify(k) + ':' + oracle(r[k])).join(',') + '}';
    }
    return JSON.stringify(v);
  }
  const safeNumber = fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((n) => !Number.isInteger(n) || Number.isSafeInteger(n));
  const str = fc.string({ unit: 'binary', maxLength: 12 });
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      safeNumber,
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      str,
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(str, tie('json'), { maxKeys: 5 }),
    ),
  }));

  test('objects sharing member-name sequences (cached shapes) stay correct', () => {
    const names = ['a', 'b', 'B', '1', '10', 'é', '\u20ac', '\ud83d\ude00', '\n', '"q"', ''];
    const small = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.constantFrom(null, true, 'x', 'y\u0001'),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom(...names), tie('v'), { maxKeys: 6 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.array(small, { maxLength: 8 }), (vs) => {
        for (const v of vs) expect(canonicalize(v)).toBe(oracle(v));
      }),
      { numRuns: 500 },
    );
  });

  test('many distinct shapes, reordered keys and wide objects stay correct', () => {
    for (let i = 0; i < 20_000; i++) {
      const o = { [`k${i}`]: i, a: 1, [`z${i % 7}`]: [i] };
      expect(canonicalize(o)).toBe(oracle(o));
    }
    const fwd: Record<string, number> = {};
    const rev: Record<string, number> = {};
    for (let i = 0; i < 200; i++) fwd[`m${i}`] = i;
    for (let i = 199; i >= 0; i--) rev[`m${i}`] = i;
    expect(canonicalize(fwd)).toBe(oracle(fwd));
    expect(canonicalize(rev)).toBe(canonicalize(fwd));
    expect(canonicalize({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalize({ a: 2, b: 1 })).toBe('{"a":2,"b":1}');
    expect(canonicalize({ b: 'x', a: [] })).toBe('{"a":[],"b":"x"}');
  });

  test('matches JSON.stringify with sorted keys, and is idempotent', () => {
    fc.assert(
      fc.property(json, (v) => {
        const c = canonicalize(v);
        expect(c).toBe(oracle(v));
        expect(canonicalize(JSON.parse(c))).toBe(c);
      }),
      { numRuns: 500 },
    );
  });
});
