/**
 * Ids: full 128-bit RFC 9562 UUIDs. The ledger generates version 7 (a 48-bit
 * millisecond timestamp, a 12-bit sequence that keeps ids from one process
 * strictly increasing within a millisecond, then 62 random bits): ids sort by
 * creation time, so a store's unique index on event ids stays append-mostly
 * instead of touching a random page per insert.
 */
import { randomFillSync } from 'node:crypto';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

let lastMs = -1;
let sequence = 0;

/** The formatted time part ("tttttttt-tttt-7"), rebuilt only when the millisecond changes. */
let prefixMs = -1;
let prefix = '';

/** A new UUID version 7, lowercase. */
export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    sequence = 0;
  } else {
    // same millisecond (or the clock went back): keep ids increasing
    ms = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      lastMs++;
      ms = lastMs;
      sequence = 0;
    }
  }
  if (ms !== prefixMs) {
    prefixMs = ms;
    const hi = Math.floor(ms / 0x1000000); // top 24 bits of the 48-bit timestamp
    const lo = ms % 0x1000000; // low 24 bits
    prefix = HEX[(hi >>> 16) & 0xff]! + HEX[(hi >>> 8) & 0xff]! + HEX[hi & 0xff]! + HEX[(lo >>> 16) & 0xff]! + '-' + HEX[(lo >>> 8) & 0xff]! + HEX[lo & 0xff]! + '-7';
  }
  if (poolOffset + 8 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const o = poolOffset;
  poolOffset += 8;
  const p = pool;
  return (
    prefix +
    HEX[sequence >>> 8]![1]! +
    HEX[sequence & 0xff]! +
    '-' +
    HEX[0x80 | (p[o]! & 0x3f)]! +
    HEX[p[o + 1]!]! +
    '-' +
    HEX[p[o + 2]!]! +
    HEX[p[o + 3]!]! +
    HEX[p[o + 4]!]! +
    HEX[p[o + 5]!]! +
    HEX[p[o + 6]!]! +
    HEX[p[o + 7]!]!
  );
}
