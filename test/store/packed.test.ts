/**
 * The packed encoding (src/store/packed.ts): lossless for every JSON value, JSON.stringify's
 * rules for what is not JSON, damage detected, and a dictionary that only grows at its end.
 */
import { createHash } from 'node:crypto';
import { isPackableUuid, pack, PACKED_NAMES, PACKED_SHAPES, PackedFormatError, packedNameIndex, unpack, uuidBytesInto, uuidText } from '../../src/store/packed';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

describe('pack / unpack', () => {
  const samples: unknown[] = [
    null,
    true,
    false,
    0,
    1,
    127,
    128,
    2 ** 31,
    2 ** 53 - 1,
    -1,
    -(2 ** 53 - 1),
    0.5,
    -12.25,
    1e300,
    2 ** 60,
    '',
    'a',
    'é ✓ 𝄞',
    '01a23c41-7ea1-7002-8b14-242086d53f46',
    '01A23C41-7EA1-7002-8B14-242086D53F46',
    '01a23c41-7ea1-7002-8b14-242086d53f4',
    'b9be7548054489f67da7d943739f2eb42dab37cd201778d4fc93093df6580796',
    'abc',
    'abcdef0123456789a',
    '2026-12-03T14:14:14.945Z',
    '2026-02-30T14:14:14.945Z',
    '0001-01-01T00:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
    [],
    {},
    [1, 'two', null, [3, { four: 4 }]],
    { rowId: 'x', unknownKey: { nested: ['deep'] }, '': 1, __proto__x: 2 },
    JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'),
    { a: 'same string, long enough', b: 'same string, long enough', c: ['same string, long enough'] },
    { h: 'b9be7548054489f67da7d943739f2eb42dab37cd201778d4fc93093df6580796', r: 'b9be7548054489f67da7d943739f2eb42dab37cd201778d4fc93093df6580796' },
  ];

  it.each(samples.map((s) => [JSON.stringify(s), s]))('round-trips %s', (_, value) => {
    expect(unpack(pack(value))).toStrictEqual(viaJson(value));
  });

  it('keeps "__proto__" an own property, as JSON.parse does', () => {
    const back = unpack(pack(JSON.parse('{"__proto__": {"polluted": true}}'))) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('follows JSON.stringify for what is not JSON', () => {
    const date = new Date('2026-12-03T14:14:14.945Z');
    const value = { u: undefined, f: () => 1, s: Symbol('x'), arr: [undefined, () => 1], nan: NaN, inf: -Infinity, date, boxed: [new Number(3), new String('s'), new Boolean(false)], custom: { toJSON: () => 'custom' }, gone: { toJSON: () => undefined }, list: [{ toJSON: () => undefined }] };
    expect(unpack(pack(value))).toStrictEqual(viaJson(value));
    expect(() => pack({ big: 1n })).toThrow(TypeError);
    expect(() => pack(undefined)).toThrow(TypeError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => pack(circular)).toThrow(/nested deeper/);
  });

  it('writes a value equal to a context value as a reference, and reads it back from the context', () => {
    const runId = '01a23c41-7e62-7000-a1f9-20ecbbe58b52';
    const metadata = { schemaVersion: 1, runId, seq: 100, recordedAt: '2026-12-03T14:14:14.945Z', correlationId: null, causationId: null };
    const withContext = pack(metadata, [runId, 100]);
    expect(withContext.length).toBeLessThanOrEqual(pack(metadata).length - 15);
    expect(unpack(withContext, [runId, 100])).toStrictEqual(metadata);
    // a context reference past the reader's context is damage, not a silent undefined
    expect(() => unpack(withContext, [])).toThrow(PackedFormatError);
  });

  it('is at least twice as small as JSON text for a typical event', () => {
    const data = {
      rowId: '01a23c41-7ea1-7000-b43b-8b78712b804c',
      sourceNodeId: '01a23c41-7e6f-7000-a490-54cd90a71afe',
      rowIndex: 43,
      sourceDataHash: 'b9be7548054489f67da7d943739f2eb42dab37cd201778d4fc93093df6580796',
      sourceDataRef: 'b9be7548054489f67da7d943739f2eb42dab37cd201778d4fc93093df6580796',
      quarantined: false,
    };
    expect(pack(data).length * 3).toBeLessThan(Buffer.byteLength(JSON.stringify(data)));
  });

  it('refuses damaged bytes with PackedFormatError instead of returning a wrong value', () => {
    const good = pack({ rowId: '01a23c41-7ea1-7000-b43b-8b78712b804c', list: [1, 2, 3], text: 'hello there, world' });
    for (let cut = 0; cut < good.length; cut++) expect(() => unpack(good.subarray(0, cut))).toThrow(PackedFormatError);
    expect(() => unpack(Buffer.concat([good, Buffer.from([0])]))).toThrow(/bytes after the value/);
    expect(() => unpack(Buffer.from([0xff]))).toThrow(/unknown tag/);
    expect(() => unpack(Buffer.from([11, 1, 0x7f, 0x7f, 0]))).toThrow(PackedFormatError);
    expect(() => unpack(Buffer.from([12, 0]))).toThrow(/back reference/);
  });
});

describe('UUIDs', () => {
  it('writes a UUID that begins as the one before it (or as a context UUID) in fewer bytes, and reads it back', () => {
    const ids = ['01a23c41-7ea1-7002-8b14-242086d53f46', '01a23c41-7ea1-7003-8a89-33be6ae5d0c1', '01a23c41-9f23-7000-bd58-2bcf3d0fcfed', 'ffa23c41-7ea1-7002-8b14-242086d53f46'];
    const value = { a: ids[0], list: [ids[1], ids[2], ids[3], ids[0]!.toUpperCase()], again: ids[1] };
    const packed = pack(value);
    expect(unpack(packed)).toStrictEqual(value);
    // an array of two UUIDs in full is 2 + 17 + 17 bytes; these two share their first 7 bytes
    expect(pack([ids[0], ids[1]]).length).toBe(2 + 17 + 2 + 9);
    expect(pack([ids[0], ids[3]]).length).toBe(2 + 17 + 17);
    const runId = '01a23c41-7e62-7000-a1f9-20ecbbe58b52';
    expect(pack({ tokenId: ids[0] }, [runId]).length).toBeLessThan(pack({ tokenId: ids[0] }).length);
    expect(unpack(pack({ tokenId: ids[0] }, [runId]), [runId])).toStrictEqual({ tokenId: ids[0] });
  });

  it('refuses a shortened UUID with nothing before it, or an impossible shared length', () => {
    expect(() => unpack(Buffer.from([14, 4, ...new Array<number>(12).fill(1)]))).toThrow(/there is none/);
    const packed = pack(['01a23c41-7ea1-7002-8b14-242086d53f46', '01a23c41-7ea1-7003-8a89-33be6ae5d0c1']);
    const near = packed.indexOf(14, 18);
    expect(near).toBeGreaterThan(0);
    const bad = Buffer.from(packed);
    bad[near + 1] = 16;
    expect(() => unpack(bad)).toThrow(PackedFormatError);
  });

  it('converts a lowercase UUID to 16 bytes and back', () => {
    const id = '01a23c41-7ea1-7002-8b14-242086d53f46';
    expect(isPackableUuid(id)).toBe(true);
    expect(isPackableUuid(id.toUpperCase())).toBe(false);
    for (const near of ['01a23c41-7ea1-7002-8b14-242086d53f4g', '01a23c41-7ea1-7002-8b14+242086d53f46', '01a23c417-ea1-7002-8b14-242086d53f46', `${id.slice(0, 35)}\u00e9`]) {
      expect(isPackableUuid(near)).toBe(false);
      expect(unpack(pack(near))).toBe(near);
    }
    const bytes = Buffer.alloc(16);
    expect(uuidBytesInto(id, bytes)).toBe(true);
    expect(bytes.toString('hex')).toBe(id.replace(/-/g, ''));
    expect(uuidText(bytes)).toBe(id);
  });
});

describe('PACKED_NAMES and PACKED_SHAPES', () => {
  it('packs an object of a known shape without its keys, and one with the same keys in another order with them', () => {
    const metadata = { schemaVersion: 1, runId: 'r', seq: 1, recordedAt: '2026-12-03T14:14:14.945Z', correlationId: null, causationId: null };
    const reordered = { runId: 'r', schemaVersion: 1, seq: 1, recordedAt: '2026-12-03T14:14:14.945Z', correlationId: null, causationId: null };
    expect(pack(metadata).length).toBeLessThan(pack(reordered).length - 4);
    expect(Object.keys(unpack(pack(reordered)) as object)).toEqual(Object.keys(reordered));
    expect(unpack(pack(metadata))).toStrictEqual(metadata);
    expect(new Set(PACKED_SHAPES.map((s) => s.join(','))).size).toBe(PACKED_SHAPES.length);
  });

  it('holds each name once, and event types as names', () => {
    expect(new Set(PACKED_NAMES).size).toBe(PACKED_NAMES.length);
    expect(packedNameIndex('RowCreated')).toBeDefined();
    expect(packedNameIndex('rowId')).toBeLessThan(127);
  });

  // Files written with a prefix of this list decode only while the prefix is unchanged: append new
  // names at the end, and add a row here with the new length and digest when releasing them.
  const RELEASED_SHAPES: ReadonlyArray<readonly [length: number, sha256: string]> = [[57, 'a83845c6943f757d79f651afa93de2de710388fa421568ac1c51fc1ac52371ec']];
  it.each(RELEASED_SHAPES)('keeps the first %d shapes as released', (length, digest) => {
    expect(PACKED_SHAPES.length).toBeGreaterThanOrEqual(length);
    expect(createHash('sha256').update(JSON.stringify(PACKED_SHAPES.slice(0, length))).digest('hex')).toBe(digest);
  });
  const RELEASED: ReadonlyArray<readonly [length: number, sha256: string]> = [[209, '0cfb145d876f4df24dce1acbf1f5fba6704b05095cf883c136ab2ee705ff09b4']];
  it.each(RELEASED)('keeps the first %d names as released', (length, digest) => {
    expect(PACKED_NAMES.length).toBeGreaterThanOrEqual(length);
    expect(createHash('sha256').update(JSON.stringify(PACKED_NAMES.slice(0, length))).digest('hex')).toBe(digest);
  });
});
