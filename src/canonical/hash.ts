/**
 * Content hashing: SHA-256 over RFC 8785 canonical JSON.
 */

import * as crypto from 'node:crypto';
import { canonicalize } from './jcs';

/** Names the hashing scheme (algorithm + canonical form) stored beside every hash. */
export const CANONICAL_VERSION = 'sha256-rfc8785-v1';

/** A lowercase hex SHA-256 digest. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

type OneShotHash = (algorithm: string, data: string | Uint8Array, outputEncoding: 'hex') => string;

/** `crypto.hash` (Node >= 20.12) skips the Hash object; fall back to createHash on older 20.x. */
const oneShot: OneShotHash | undefined =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? ((crypto as { hash: OneShotHash }).hash) : undefined;

/** SHA-256 as 64 lowercase hex characters; a string is hashed as its UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  if (oneShot !== undefined) return oneShot('sha256', data, 'hex');
  return typeof data === 'string'
    ? crypto.createHash('sha256').update(data, 'utf8').digest('hex')
    : crypto.createHash('sha256').update(data).digest('hex');
}

/** sha256Hex of the RFC 8785 canonical JSON of `value` (throws CANONICALIZATION_FAILED like canonicalize). */
export function stableHash(value: unknown): string {
  return sha256Hex(canonicalize(value));
}
