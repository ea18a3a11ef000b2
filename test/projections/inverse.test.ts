/**
 * RunRecords, what the inverses read: entities by position, indexes in record order, the last
 * record of an id, values computed once, refusals as IMPORT_FAILED.
 */
import { isLedgerError } from '../../src/errors';
import { RunRecords } from '../../src/projections/inverse';

function records(): RunRecords {
  return new RunRecords(
    ['run', 'token', 'token_parent', 'token', 'token_parent', 'token_parent', 'token'],
    [
      { runId: 'r' },
      { tokenId: 'a', forkGroupId: 'g' },
      { tokenId: 'a', parentTokenId: 'p', ordinal: 0 },
      { tokenId: 'b', forkGroupId: null },
      { tokenId: 'b', parentTokenId: 'p', ordinal: 0 },
      { tokenId: 'b', parentTokenId: 'q', ordinal: 1 },
      { tokenId: 'a', forkGroupId: 'g' },
    ],
    (i) => `record ${i}`,
  );
}

test('entities by position, typed by their record type', () => {
  const r = records();
  expect(r.size).toBe(7);
  expect(r.run).toEqual({ runId: 'r' });
  expect(r.typeOf(2)).toBe('token_parent');
  expect(r.get(3, 'token').tokenId).toBe('b');
  expect(() => r.get(3, 'row')).toThrow(/record 3 is a token, not a row/);
});

test('positions and indexes in record order, groups in order of first appearance', () => {
  const r = records();
  expect(r.of('token')).toEqual([1, 3, 6]);
  expect(r.of('row')).toEqual([]);
  expect([...r.index('token', 'forkGroupId')]).toEqual([
    ['g', [1, 6]],
    [null, [3]],
  ]);
  expect(r.where('token_parent', 'tokenId', 'b')).toEqual([4, 5]);
  expect(r.where('token_parent', 'tokenId', 'z')).toEqual([]);
});

test('find: the last record with the id, as the needs of an event', () => {
  const r = records();
  expect(r.find('token', 'tokenId', 'a')).toEqual([6]);
  expect(r.find('token', 'tokenId', 'z')).toEqual([]);
  expect(r.find('token', 'tokenId', null)).toEqual([]);
});

test('memo computes once; fail refuses with IMPORT_FAILED', () => {
  const r = records();
  let made = 0;
  const make = (): number => ++made;
  expect([r.memo('x', make), r.memo('x', make)]).toEqual([1, 1]);
  let err: unknown;
  try {
    r.fail(`${r.describe(4)} is wrong`, { index: 4 });
  } catch (e) {
    err = e;
  }
  expect(isLedgerError(err, 'IMPORT_FAILED')).toBe(true);
  expect((err as Error).message).toBe('record 4 is wrong');
});

test('position 0 must be the run record', () => {
  expect(() => new RunRecords(['token'], [{}], String)).toThrow(/position 0 must be the run record/);
});
