/**
 * RFC 6962 / RFC 9162 Merkle tree tests.
 *
 * Expected hashes come from independent sources only: SHA-256("") and the empty-leaf hash, the
 * transparency-dev/merkle reference tree (its 8 standard leaves, the roots of sizes 1..8 and its
 * published inclusion/consistency proofs, copied from its proof/verify_test.go), a small recursive
 * implementation of the RFC 6962 §2.1 definitions written here, and the proof vectors of
 * transparency-dev/merkle in the shared folder ../shared/testdata/rfc6962 (skipped when absent).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  MerkleTreeBuilder,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/export/merkle';
import { isLedgerError } from '../../src/errors';

const VECTORS = path.resolve(__dirname, '../../../shared/testdata/rfc6962');

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_LEAF = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d';

// transparency-dev/merkle proof/verify_test.go: the RFC 6962 / CT reference tree.
const REF_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(hex);
const REF_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
/** [leaf (1-based as in verify_test.go), tree size, proof]. */
const REF_INCLUSION: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    2,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
/** [size1, size2, proof]. */
const REF_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

// ---- An independent, deliberately naive transcription of the RFC 6962 §2.1 definitions. ----

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const refLeaf = (d: Uint8Array): Buffer => sha(Buffer.from([0]), d);
const refNode = (l: Uint8Array, r: Uint8Array): Buffer => sha(Buffer.from([1]), l, r);
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[n]) over leaf hashes. */
function refMth(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0]!;
  const k = split(d.length);
  return refNode(refMth(d.slice(0, k)), refMth(d.slice(k)));
}
/** PATH(m, D[n]). */
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
/** SUBPROOF(m, D[n], b). */
function refSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = split(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

/** Distinct leaf data for tests: 4-byte big-endian index plus a tag. */
const leafData = (i: number): Buffer => Buffer.concat([Buffer.from('leaf-'), Buffer.from(Uint32Array.of(i).buffer).reverse()]);
const leafHashesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => refLeaf(leafData(i)));

const flipBit = (proof: Buffer[], i: number, mask = 0x08): Buffer[] =>
  proof.map((p, j) => {
    if (j !== i) return p;
    const c = Buffer.from(p);
    c[0] = c[0]! ^ mask;
    return c;
  });

function invalidInput(fn: () => unknown): boolean {
  try {
    fn();
  } catch (e) {
    return isLedgerError(e, 'INVALID_INPUT');
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

describe('hashing known answers', () => {
  test('empty tree root is SHA-256 of the empty string', () => {
    expect(toHex(merkleRoot([]))).toBe(EMPTY_SHA256);
    expect(toHex(new MerkleTreeBuilder().root())).toBe(EMPTY_SHA256);
  });

  test('leaf hash of the empty leaf', () => {
    expect(toHex(leafHash(new Uint8Array(0)))).toBe(EMPTY_LEAF);
  });

  test('leaf and node hashes use the 0x00 / 0x01 prefixes', () => {
    const a = hex('00'.repeat(32));
    const b = hex('ff'.repeat(32));
    expect(toHex(nodeHash(a, b))).toBe(toHex(sha(Buffer.from([1]), a, b)));
    expect(toHex(nodeHash(a, b))).not.toBe(toHex(nodeHash(b, a)));
    expect(toHex(leafHash(Buffer.from('abc')))).toBe(toHex(sha(Buffer.from([0]), Buffer.from('abc'))));
    // Leaves larger than the internal scratch buffer take the streaming path.
    const big = Buffer.alloc(100_000, 7);
    expect(toHex(leafHash(big))).toBe(toHex(sha(Buffer.from([0]), big)));
    // Non-32-byte children are hashed generically.
    expect(toHex(nodeHash(Buffer.from('x'), Buffer.from('yz')))).toBe(toHex(sha(Buffer.from([1]), Buffer.from('xyz'))));
  });

  test('leafHash does not depend on previous calls (scratch reuse)', () => {
    const long = leafHash(Buffer.from('a much longer leaf value'));
    const short = leafHash(Buffer.from('ab'));
    expect(toHex(short)).toBe(toHex(sha(Buffer.from([0]), Buffer.from('ab'))));
    expect(toHex(long)).toBe(toHex(sha(Buffer.from([0]), Buffer.from('a much longer leaf value'))));
  });
});

describe('RFC 6962 reference tree (transparency-dev/merkle)', () => {
  const hashes = REF_LEAVES.map((l) => leafHash(l));

  test('leaf 0 (the empty leaf) hashes to the size-1 root', () => {
    expect(toHex(hashes[0]!)).toBe(REF_ROOTS[0]);
  });

  test.each(REF_ROOTS.map((r, i) => [i + 1, r] as const))('root of size %i is %s', (n, root) => {
    expect(toHex(merkleRoot(hashes.slice(0, n)))).toBe(root);
    const b = new MerkleTreeBuilder();
    for (const l of REF_LEAVES.slice(0, n)) b.push(l);
    expect(b.size).toBe(n);
    expect(toHex(b.root())).toBe(root);
  });

  test('the streaming builder reports every intermediate root', () => {
    const b = new MerkleTreeBuilder();
    REF_LEAVES.forEach((l, i) => {
      b.push(l);
      expect(toHex(b.root())).toBe(REF_ROOTS[i]);
    });
  });

  test.each(REF_INCLUSION)('published inclusion proof: leaf %i of %i', (leaf, size, proof) => {
    const generated = inclusionProof(hashes.slice(0, size), leaf - 1);
    expect(generated.map(toHex)).toEqual(proof);
    expect(verifyInclusion(hashes[leaf - 1]!, leaf - 1, size, proof.map(hex), hex(REF_ROOTS[size - 1]!))).toBe(true);
  });

  test.each(REF_CONSISTENCY)('published consistency proof: %i → %i', (size1, size2, proof) => {
    const generated = consistencyProof(hashes.slice(0, size2), size1);
    expect(generated.map(toHex)).toEqual(proof);
    expect(verifyConsistency(size1, size2, proof.map(hex), hex(REF_ROOTS[size1 - 1]!), hex(REF_ROOTS[size2 - 1]!))).toBe(
      true,
    );
  });

  test('every consistency proof between reference sizes 1..8 verifies', () => {
    for (let m = 1; m <= 8; m++) {
      for (let n = m; n <= 8; n++) {
        const proof = consistencyProof(hashes.slice(0, n), m);
        expect(verifyConsistency(m, n, proof, hex(REF_ROOTS[m - 1]!), hex(REF_ROOTS[n - 1]!))).toBe(true);
      }
    }
  });
});

describe('MerkleTreeBuilder and merkleRoot', () => {
  test('equal each other and the recursive RFC 6962 definition for every n in 0..70', () => {
    const all = leafHashesOf(70);
    const b = new MerkleTreeBuilder();
    const b2 = new MerkleTreeBuilder();
    for (let n = 0; n <= 70; n++) {
      if (n > 0) {
        b.push(leafData(n - 1));
        b2.pushLeafHash(all[n - 1]!);
      }
      const expected = toHex(refMth(all.slice(0, n)));
      expect(b.size).toBe(n);
      expect(toHex(b.root())).toBe(expected);
      expect(toHex(b2.root())).toBe(expected);
      expect(toHex(merkleRoot(all.slice(0, n)))).toBe(expected);
    }
  });

  test('is not a padded or duplicated-last-leaf tree', () => {
    const h = leafHashesOf(3);
    expect(toHex(merkleRoot(h))).toBe(toHex(refNode(refNode(h[0]!, h[1]!), h[2]!)));
    expect(toHex(merkleRoot(h))).not.toBe(toHex(refNode(refNode(h[0]!, h[1]!), refNode(h[2]!, h[2]!))));
  });

  test('root() is repeatable and returned buffers are not aliased to internal state', () => {
    const b = new MerkleTreeBuilder().push(Buffer.from('a'));
    const r1 = b.root();
    r1.fill(0);
    expect(toHex(b.root())).toBe(toHex(refLeaf(Buffer.from('a'))));
    const input = Buffer.from(refLeaf(Buffer.from('b')));
    const b2 = new MerkleTreeBuilder().pushLeafHash(input);
    input.fill(0);
    expect(toHex(b2.root())).toBe(toHex(refLeaf(Buffer.from('b'))));
  });

  test('pushLeafHash and merkleRoot reject hashes that are not 32 bytes', () => {
    expect(invalidInput(() => new MerkleTreeBuilder().pushLeafHash(new Uint8Array(31)))).toBe(true);
    expect(invalidInput(() => merkleRoot([leafHash(Buffer.from('a')), new Uint8Array(33)]))).toBe(true);
  });

  test('100,000 leaves: streaming root equals merkleRoot, and a proof verifies', () => {
    const n = 100_000;
    const hashes: Buffer[] = new Array<Buffer>(n);
    const b = new MerkleTreeBuilder();
    for (let i = 0; i < n; i++) {
      const d = leafData(i);
      b.push(d);
      hashes[i] = leafHash(d);
    }
    const root = b.root();
    expect(toHex(root)).toBe(toHex(merkleRoot(hashes)));
    const i = 77_777;
    expect(verifyInclusion(hashes[i]!, i, n, inclusionProof(hashes, i), root)).toBe(true);
    const m = 65_537;
    expect(verifyConsistency(m, n, consistencyProof(hashes, m), merkleRoot(hashes.slice(0, m)), root)).toBe(true);
  });
});

describe('inclusion proofs', () => {
  test('generated for every index of trees 1..40: match PATH(m, D[n]) and verify', () => {
    const all = leafHashesOf(40);
    for (let n = 1; n <= 40; n++) {
      const d = all.slice(0, n);
      const root = refMth(d);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(d, m);
        expect(proof.map(toHex)).toEqual(refPath(m, d).map(toHex));
        expect(verifyInclusion(d[m]!, m, n, proof, root)).toBe(true);
      }
    }
  });

  test('tampered proofs, leaves, indices and roots are rejected for every index of trees 1..24', () => {
    const all = leafHashesOf(24);
    const other = refLeaf(Buffer.from('not in the tree'));
    for (let n = 1; n <= 24; n++) {
      const d = all.slice(0, n);
      const root = refMth(d);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(d, m);
        const leaf = d[m]!;
        for (let i = 0; i < proof.length; i++) {
          expect(verifyInclusion(leaf, m, n, flipBit(proof, i), root)).toBe(false);
        }
        expect(verifyInclusion(other, m, n, proof, root)).toBe(false); // wrong leaf
        expect(verifyInclusion(leaf, m ^ 1, n, proof, root)).toBe(false); // sibling's index
        expect(verifyInclusion(leaf, m, n, proof, flipBit([root], 0)[0]!)).toBe(false); // wrong root
        expect(verifyInclusion(leaf, m, n, [...proof, other], root)).toBe(false); // too long
        expect(verifyInclusion(leaf, m, n, [other, ...proof], root)).toBe(false); // preceding element
        if (proof.length > 0) expect(verifyInclusion(leaf, m, n, proof.slice(0, -1), root)).toBe(false); // too short
        expect(verifyInclusion(leaf, n, n, proof, root)).toBe(false); // index == size
        expect(verifyInclusion(leaf, m, m, proof, root)).toBe(false); // size <= index
      }
    }
  });

  test('a leaf hash or proof element that is not 32 bytes is rejected even when the hashes would chain to the root', () => {
    const h1 = refLeaf(Buffer.from('right'));
    for (const len of [0, 31, 33, 64]) {
      const odd = Buffer.alloc(len, 0xab);
      expect(verifyInclusion(odd, 0, 2, [h1], refNode(odd, h1))).toBe(false);
      const h0 = refLeaf(Buffer.from('left'));
      expect(verifyInclusion(h0, 0, 2, [odd], refNode(h0, odd))).toBe(false);
    }
  });

  test('inclusionProof rejects an index outside the tree', () => {
    const d = leafHashesOf(5);
    for (const bad of [-1, 5, 6, 1.5, Number.NaN]) expect(invalidInput(() => inclusionProof(d, bad))).toBe(true);
    expect(invalidInput(() => inclusionProof([], 0))).toBe(true);
  });
});

describe('consistency proofs', () => {
  test('generated for every 1 <= m <= n <= 40: match PROOF(m, D[n]) and verify', () => {
    const all = leafHashesOf(40);
    const roots = Array.from({ length: 41 }, (_, n) => refMth(all.slice(0, n)));
    for (let n = 1; n <= 40; n++) {
      const d = all.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(d, m);
        expect(proof.map(toHex)).toEqual(refSubproof(m, d, true).map(toHex));
        expect(verifyConsistency(m, n, proof, roots[m]!, roots[n]!)).toBe(true);
      }
    }
  });

  test('tampered proofs and roots are rejected for every 1 <= m < n <= 24', () => {
    const all = leafHashesOf(24);
    const roots = Array.from({ length: 25 }, (_, n) => refMth(all.slice(0, n)));
    const other = refLeaf(Buffer.from('other'));
    for (let n = 2; n <= 24; n++) {
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(all.slice(0, n), m);
        const r1 = roots[m]!;
        const r2 = roots[n]!;
        for (let i = 0; i < proof.length; i++) {
          expect(verifyConsistency(m, n, flipBit(proof, i, 0x10), r1, r2)).toBe(false);
        }
        expect(verifyConsistency(m, n, proof, other, r2)).toBe(false);
        expect(verifyConsistency(m, n, proof, r1, other)).toBe(false);
        expect(verifyConsistency(m, n, proof, r2, r1)).toBe(false); // swapped roots
        expect(verifyConsistency(m, n, [], r1, r2)).toBe(false);
        expect(verifyConsistency(m, n, proof.slice(0, -1), r1, r2)).toBe(false);
        expect(verifyConsistency(m, n, [...proof, other], r1, r2)).toBe(false);
        expect(verifyConsistency(m, n, [other, ...proof], r1, r2)).toBe(false);
        expect(verifyConsistency(n, m, proof, r2, r1)).toBe(false); // size2 < size1
        expect(verifyConsistency(0, n, proof, r1, r2)).toBe(false);
      }
    }
  });

  test('equal sizes: consistent iff the proof is empty and the roots are equal', () => {
    const r = refMth(leafHashesOf(5));
    expect(consistencyProof(leafHashesOf(5), 5)).toEqual([]);
    expect(verifyConsistency(5, 5, [], r, Buffer.from(r))).toBe(true);
    expect(verifyConsistency(5, 5, [r], r, r)).toBe(false);
    expect(verifyConsistency(5, 5, [], r, refMth(leafHashesOf(4)))).toBe(false);
    // A proof from the empty tree is meaningless (transparency-dev/merkle rejects it).
    expect(verifyConsistency(0, 0, [], hex(EMPTY_SHA256), hex(EMPTY_SHA256))).toBe(false);
  });

  test('consistencyProof rejects m outside 1..n', () => {
    const d = leafHashesOf(5);
    for (const bad of [0, -1, 6, 2.5, Number.NaN]) expect(invalidInput(() => consistencyProof(d, bad))).toBe(true);
  });
});

describe('verifiers never throw', () => {
  const d = leafHashesOf(6);
  const root = refMth(d);
  const proof = inclusionProof(d, 2);
  const junk: unknown[] = [undefined, null, 'abc', 42, {}, [1, 2], new Uint8Array(0), new Uint8Array(31), Number.NaN];
  // eslint-disable-next-line no-loss-of-precision -- deliberately unrepresentable (2^64 - 1, as in the vectors)
  const badNumbers = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, 18446744073709551615];

  test('verifyInclusion returns false on junk', () => {
    const call = (...a: unknown[]): boolean =>
      (verifyInclusion as (...x: unknown[]) => boolean)(...a);
    for (const j of junk) {
      expect(call(j, 2, 6, proof, root)).toBe(false);
      expect(call(d[2], j, 6, proof, root)).toBe(false);
      expect(call(d[2], 2, j, proof, root)).toBe(false);
      expect(call(d[2], 2, 6, j, root)).toBe(false);
      expect(call(d[2], 2, 6, [j, ...proof.slice(1)], root)).toBe(false);
      expect(call(d[2], 2, 6, proof, j)).toBe(false);
    }
    for (const x of badNumbers) {
      expect(call(d[2], x, 6, proof, root)).toBe(false);
      expect(call(d[2], 2, x, proof, root)).toBe(false);
    }
    expect(call(d[2], 2, 6, proof, root)).toBe(true);
  });

  test('verifyConsistency returns false on junk', () => {
    const p = consistencyProof(d, 3);
    const r1 = refMth(d.slice(0, 3));
    const call = (...a: unknown[]): boolean =>
      (verifyConsistency as (...x: unknown[]) => boolean)(...a);
    for (const j of junk) {
      expect(call(j, 6, p, r1, root)).toBe(false);
      expect(call(3, j, p, r1, root)).toBe(false);
      expect(call(3, 6, j, r1, root)).toBe(false);
      expect(call(3, 6, [j, ...p.slice(1)], r1, root)).toBe(false);
      expect(call(3, 6, p, j, root)).toBe(false);
      expect(call(3, 6, p, r1, j)).toBe(false);
    }
    for (const x of badNumbers) {
      expect(call(x, 6, p, r1, root)).toBe(false);
      expect(call(3, x, p, r1, root)).toBe(false);
    }
    expect(call(3, 6, p, r1, root)).toBe(true);
  });
});

// ---- transparency-dev/merkle proof vectors from the shared folder. ----

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function jsonFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? jsonFiles(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : []))
    .sort();
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/**
 * Integers in the file text that JSON.parse cannot hold exactly (the generator writes uint64
 * values; "leafIdx sub @1" of leaf 0 wraps around to 2^64-1).
 */
function unsafeIntegersInText(text: string): string[] {
  return [...text.matchAll(/:\s*(\d{16,})/g)].map((m) => m[1]!).filter((s) => BigInt(s) > BigInt(Number.MAX_SAFE_INTEGER));
}

if (!fs.existsSync(VECTORS)) {
  console.warn(`RFC 6962 proof-vector tests skipped: test-vector folder not found: ${VECTORS}`);
  describe('transparency-dev/merkle proof vectors', () => {
    test.skip(`skipped: test-vector folder not found: ${VECTORS}`, () => undefined);
  });
} else {
  const load = <T>(kind: string): [string, T, string[]][] =>
    jsonFiles(path.join(VECTORS, kind)).map((f) => {
      const text = fs.readFileSync(f, 'utf8');
      return [path.relative(VECTORS, f), JSON.parse(text) as T, unsafeIntegersInText(text)];
    });
  const inclusion = load<InclusionVector>('inclusion');
  const consistency = load<ConsistencyVector>('consistency');

  describe('transparency-dev/merkle proof vectors', () => {
    test('all vector files are present (98 inclusion, 98 consistency)', () => {
      expect(inclusion).toHaveLength(98);
      expect(consistency).toHaveLength(98);
      expect(inclusion.filter(([, v]) => !v.wantErr).length).toBeGreaterThanOrEqual(6);
      expect(consistency.filter(([, v]) => !v.wantErr).length).toBeGreaterThanOrEqual(6);
    });

    test.each(
      inclusion.map(([file, v, unsafe]) => [
        file,
        v.wantErr ? 'rejected' : 'accepted',
        unsafe.length > 0 ? ` (leafIdx ${unsafe.join(',')} = uint64 wrap of -1, beyond 2^53: parsed inexactly, must be rejected)` : '',
        v,
      ]),
    )('inclusion %s: %s%s', (_file, _want, _note, v) => {
      const ok = verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
      expect(ok).toBe(!v.wantErr);
    });

    test.each(
      consistency.map(([file, v, unsafe]) => [
        file,
        v.wantErr ? 'rejected' : 'accepted',
        unsafe.length > 0 ? ` (sizes beyond 2^53: ${unsafe.join(',')})` : '',
        v,
      ]),
    )('consistency %s: %s%s', (_file, _want, _note, v) => {
      const ok = verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
      expect(ok).toBe(!v.wantErr);
    });
  });
}
