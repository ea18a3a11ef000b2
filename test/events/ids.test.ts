/** UUIDv7 generation (src/events/ids.ts): format, order within a millisecond, sequence overflow, a clock that goes back. */
import { uuidv7 } from '../../src/events/ids';

const FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

// far from the real clock, so that this file's ids are independent of when it runs
const T = 2_000_000_000_000;

test('the format: lowercase, version 7, RFC 9562 variant, the millisecond in the first 48 bits', () => {
  const id = uuidv7(T);
  expect(id).toMatch(FORMAT);
  expect(msOf(id)).toBe(T);
  expect(msOf(uuidv7(T + 5))).toBe(T + 5);
});

test('ids of one millisecond strictly increase, past the 12-bit sequence (then the time part moves on)', () => {
  const base = T + 1000;
  const ids = Array.from({ length: 10_000 }, () => uuidv7(base));
  for (const id of ids) expect(id).toMatch(FORMAT);
  for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
  // 4,096 ids fit in one millisecond; the rest borrow the following ones
  expect(msOf(ids[0]!)).toBe(base);
  expect(msOf(ids[4095]!)).toBe(base);
  expect(msOf(ids[4096]!)).toBe(base + 1);
  expect(msOf(ids[9999]!)).toBe(base + 2);
});

test('a clock that goes back does not make ids go back', () => {
  const later = uuidv7(T + 10_000);
  const earlier = uuidv7(T + 9_000);
  expect(earlier > later).toBe(true);
  expect(msOf(earlier)).toBe(T + 10_000);
  // the random part differs between ids
  expect(uuidv7(T + 20_000).slice(19)).not.toBe(uuidv7(T + 30_000).slice(19));
});
