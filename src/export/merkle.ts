/**
 * RFC 6962 / RFC 9162 Merkle tree hashing (as in Certificate Transparency and transparency-dev/merkle).
 *
 * - leaf hash     = SHA-256(0x00 || leafData)
 * - interior node = SHA-256(0x01 || left || right)
 * - empty tree    = SHA-256("")
 * - a tree of n > 1 leaves splits at k, the largest power of two smaller than n (RFC 6962 §2.1):
 *   no padding, no duplicated leaves.
 *
 * Tree sizes and indices are plain numbers and must be safe integers (< 2^53).
 * Generators throw `LedgerError('INVALID_INPUT')` on bad arguments; verifiers never throw and
 * return false on any invalid input.
 */

import * as crypto from 'node:crypto';
import { types } from 'node:util';
import { LedgerError } from '../errors';

/** Size in bytes of every hash in the tree. */
export const HASH_SIZE = 32;

type OneShotBuffer = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer;
const oneShot: OneShotBuffer | undefined =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? (crypto as { hash: OneShotBuffer }).hash : undefined;

function sha256(data: Uint8Array): Buffer {
  return oneShot !== undefined ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
/** Scratch for leaves up to this size (one copy + one-shot hash beats a streaming Hash object). */
const LEAF_SCRATCH_MAX = 4096;
const leafScratch = Buffer.alloc(1 + LEAF_SCRATCH_MAX); // [0] stays 0x00
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE); // [0] stays 0x01
nodeScratch[0] = 0x01;

/** SHA-256 of the empty string: the root of the empty tree. */
const EMPTY_ROOT = sha256(new Uint8Array(0));

/** RFC 6962 leaf hash: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  const n = data.length;
  if (n <= LEAF_SCRATCH_MAX) {
    leafScratch.set(data, 1);
    return sha256(leafScratch.subarray(0, 1 + n));
  }
  return crypto.createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    nodeScratch.set(left, 1);
    nodeScratch.set(right, 1 + HASH_SIZE);
    return sha256(nodeScratch);
  }
  return crypto.createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * Streaming RFC 6962 tree root in O(log n) memory: keeps the roots of the maximal complete
 * subtrees (sizes = the 1-bits of the leaf count, largest first) and folds them right to left.
 */
export class MerkleTreeBuilder {
  /** Roots of complete subtrees, strictly decreasing sizes left to right. */
  private readonly stack: Buffer[] = [];
  private count = 0;

  /** Number of leaves pushed so far. */
  get size(): number {
    return this.count;
  }

  /** Appends a leaf given its data (hashed as SHA-256(0x00 || data)). */
  push(leafData: Uint8Array): this {
    this.add(leafHash(leafData));
    return this;
  }

  /** Appends a leaf given its 32-byte leaf hash (copied). */
  pushLeafHash(hash: Uint8Array): this {
    if (!isHash(hash)) {
      throw new LedgerError('INVALID_INPUT', `a leaf hash must be ${HASH_SIZE} bytes`, { path: `leafHashes/${this.count}` });
    }
    this.add(Buffer.from(hash));
    return this;
  }

  private add(h: Buffer): void {
    const stack = this.stack;
    // Each trailing 1-bit of the old count is a complete subtree of the new leaf's size: merge it.
    let n = this.count;
    while (n % 2 === 1) {
      h = nodeHash(stack.pop() as Buffer, h);
      n = (n - 1) / 2;
    }
    stack.push(h);
    this.count++;
  }

  /** RFC 6962 Merkle Tree Hash of the leaves pushed so far (SHA-256("") when empty). */
  root(): Buffer {
    const stack = this.stack;
    let i = stack.length - 1;
    if (i < 0) return Buffer.from(EMPTY_ROOT);
    let r = stack[i] as Buffer;
    if (i === 0) return Buffer.from(r);
    while (--i >= 0) r = nodeHash(stack[i] as Buffer, r);
    return r;
  }
}

/** RFC 6962 Merkle Tree Hash of a list of 32-byte leaf hashes. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  checkLeafHashes(leafHashes);
  return rangeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The subtrees whose roots form the RFC 6962 §2.1.1 audit path PATH(index, D[n]), as leaf ranges
 * [lo, hi), from the leaf's sibling up to the child of the root. This is the one place the split
 * rule (k = the largest power of two smaller than the range) is applied to inclusion proofs: the
 * in-memory prover below and the streaming prover of exports (proof.ts) both use it.
 */
export function inclusionRanges(index: number, n: number): Array<[number, number]> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(n) || index < 0 || index >= n) {
    throw new LedgerError('INVALID_INPUT', `leaf index ${String(index)} is outside the tree of size ${String(n)}`, { path: 'index' });
  }
  const topDown: Array<[number, number]> = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (index < lo + k) {
      topDown.push([lo + k, hi]);
      hi = lo + k;
    } else {
      topDown.push([lo, lo + k]);
      lo += k;
    }
  }
  return topDown.reverse();
}

/**
 * RFC 6962 §2.1.1 audit path PATH(index, D[n]) for the leaf at `index`, ordered from the leaf's
 * sibling up to the child of the root. O(n) hashing.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  checkLeafHashes(leafHashes);
  return inclusionRanges(index, leafHashes.length).map(([lo, hi]) => rangeRoot(leafHashes, lo, hi));
}

/**
 * RFC 6962 §2.1.2 consistency proof PROOF(m, D[n]) between the tree of the first `m` leaves and
 * the tree of all leaves. Requires 0 < m <= n (m = n gives the empty proof). O(n) hashing.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], m: number): Buffer[] {
  checkLeafHashes(leafHashes);
  const n = leafHashes.length;
  if (!Number.isSafeInteger(m) || m < 1 || m > n) {
    throw new LedgerError('INVALID_INPUT', `a consistency proof needs 0 < m <= ${n}, got m = ${String(m)}`, { path: 'm' });
  }
  // Iterative SUBPROOF(m, D[lo:hi], b); collected top-down, returned bottom-up.
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = n;
  let rel = m;
  let complete = true; // b in RFC 6962: the subtree is a prefix the verifier already knows.
  for (;;) {
    const size = hi - lo;
    if (rel === size) {
      if (!complete) topDown.push(rangeRoot(leafHashes, lo, hi));
      break;
    }
    const k = largestPowerOfTwoBelow(size);
    if (rel <= k) {
      topDown.push(rangeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeRoot(leafHashes, lo, lo + k));
      lo += k;
      rel -= k;
      complete = false;
    }
  }
  return topDown.reverse();
}

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2, as transparency-dev/merkle `VerifyInclusion`).
 * False on any invalid input: index >= treeSize, non-integer sizes, a leaf hash or proof element
 * that is not 32 bytes, a proof of the wrong length, or a root that does not match.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isIndex(index) || !isIndex(treeSize) || index >= treeSize) return false;
    if (!isHash(leafHash) || !isHash(root) || !Array.isArray(proof)) return false;
    let fn = index;
    let sn = treeSize - 1;
    let r: Uint8Array = leafHash;
    for (const p of proof) {
      if (sn === 0 || !isHash(p)) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && bytesEqual(r, root);
  } catch {
    return false;
  }
}

/**
 * Verifies a consistency proof between trees of size1 and size2 (RFC 9162 §2.1.4.2, with the
 * preconditions of transparency-dev/merkle `VerifyConsistency`): false when size2 < size1, when
 * size1 is 0 (a proof from the empty tree is meaningless), when size1 = size2 and the proof is
 * not empty or the roots differ, and on any malformed or non-matching proof.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    if (!isIndex(size1) || !isIndex(size2) || size2 < size1 || size1 === 0) return false;
    if (!Array.isArray(proof) || !types.isUint8Array(root1) || !types.isUint8Array(root2)) return false;
    if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2);
    if (proof.length === 0 || !isHash(root1) || !isHash(root2)) return false;
    for (const c of proof) if (!isHash(c)) return false;

    // Step 2: when size1 is a power of two, its root is the first node of the path.
    const path: readonly Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (fn % 2 === 1) {
      fn = (fn - 1) / 2;
      sn = Math.floor(sn / 2);
    }
    let fr: Uint8Array = path[0] as Uint8Array;
    let sr: Uint8Array = fr;
    for (let i = 1; i < path.length; i++) {
      const c = path[i] as Uint8Array;
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && bytesEqual(fr, root1) && bytesEqual(sr, root2);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

/** MTH(D[lo:hi]) with the stack-of-complete-subtrees method; no recursion. */
function rangeRoot(leafHashes: readonly Uint8Array[], lo: number, hi: number): Buffer {
  if (hi - lo === 1) return Buffer.from(leafHashes[lo] as Uint8Array);
  if (hi === lo) return Buffer.from(EMPTY_ROOT);
  const stack: Uint8Array[] = [];
  for (let i = lo; i < hi; i++) {
    let h = leafHashes[i] as Uint8Array;
    let c = i - lo;
    while (c % 2 === 1) {
      h = nodeHash(stack.pop() as Uint8Array, h);
      c = (c - 1) / 2;
    }
    stack.push(h);
  }
  let j = stack.length - 1;
  let r = stack[j] as Uint8Array;
  while (--j >= 0) r = nodeHash(stack[j] as Uint8Array, r);
  return Buffer.isBuffer(r) ? r : Buffer.from(r);
}

function checkLeafHashes(leafHashes: readonly Uint8Array[]): void {
  for (let i = 0; i < leafHashes.length; i++) {
    if (!isHash(leafHashes[i])) {
      throw new LedgerError('INVALID_INPUT', `leaf hash ${i} is not ${HASH_SIZE} bytes`, { path: `leafHashes/${i}` });
    }
  }
}

/** Largest power of two strictly smaller than n (n >= 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Realm-independent (a Buffer from Node core is not `instanceof` a jest sandbox's Uint8Array). */
function isHash(h: unknown): h is Uint8Array {
  return types.isUint8Array(h) && h.length === HASH_SIZE;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
