import { createHash } from 'node:crypto';
import { CANONICAL_VERSION, HASH_PATTERN, sha256Hex, stableHash } from '../../src/canonical/hash';
import { isLedgerError } from '../../src/errors';

describe('sha256Hex', () => {
  test('known answers (FIPS 180-2 / well-known digests)', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  test('strings are hashed as UTF-8', () => {
    expect(sha256Hex('é€😀')).toBe(sha256Hex(Buffer.from([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])));
  });

  test('a view into a larger buffer hashes only its own bytes', () => {
    const big = Buffer.from('xxabcxx');
    expect(sha256Hex(big.subarray(2, 5))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('output is 64 lowercase hex characters', () => {
    for (const s of ['', 'a', 'lineage']) expect(sha256Hex(s)).toMatch(HASH_PATTERN);
  });
});

describe('stableHash', () => {
  test('is SHA-256 of the RFC 8785 text', () => {
    const expected = createHash('sha256').update('{"a":[true,null],"b":1}', 'utf8').digest('hex');
    expect(stableHash({ b: 1, a: [true, null] })).toBe(expected);
    expect(stableHash({ b: 1, a: [true, null] })).toBe(sha256Hex('{"a":[true,null],"b":1}'));
  });

  test('does not depend on member insertion order, -0 vs 0 or number spelling', () => {
    expect(stableHash({ x: { q: 1, p: [0.5, 0] }, y: 'z' })).toBe(stableHash({ y: 'z', x: { p: [5e-1, -0], q: 1.0 } }));
  });

  test('distinguishes different values', () => {
    expect(stableHash({ a: 1 })).not.toBe(stableHash({ a: '1' }));
    expect(stableHash([1, 2])).not.toBe(stableHash([2, 1]));
  });

  test('propagates CANONICALIZATION_FAILED with the path', () => {
    let err: unknown;
    try {
      stableHash({ rows: [{ price: Number.NaN }] });
    } catch (e) {
      err = e;
    }
    expect(isLedgerError(err, 'CANONICALIZATION_FAILED')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ path: '/rows/0/price' });
  });
});

describe('constants', () => {
  test('CANONICAL_VERSION and HASH_PATTERN', () => {
    expect(CANONICAL_VERSION).toBe('sha256-rfc8785-v1');
    expect(HASH_PATTERN.test('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe(true);
    expect(HASH_PATTERN.test('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855')).toBe(false);
    expect(HASH_PATTERN.test('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85')).toBe(false);
    expect(HASH_PATTERN.test('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550')).toBe(false);
    expect(HASH_PATTERN.test('g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe(false);
  });
});
