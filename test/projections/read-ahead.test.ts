/**
 * The shared read-ahead of persisted maps (src/projections/persisted.ts), over tables that read
 * every map of a key range at once: what it answers, how many queries it takes, and when it stops.
 */
import { randomUUID } from 'node:crypto';
import { openPersistedState, setReadAhead } from '../../src/projections/persisted';
import type { ProjectionMapRow, ProjectionRow, ProjectionTables } from '../../src/store/port';

/** Maps of RunState used below (their numbers in the tables): tokens and their outcomes. */
const TOKENS = 10;
const OUTCOMES_BY_TOKEN = 16;

/** Tables over a list of entries, in memory, counting the queries. */
function fakeTables(entries: Array<[number, string, unknown]>): ProjectionTables & { calls: Record<string, number> } {
  const calls: Record<string, number> = { get: 0, pageAll: 0, other: 0 };
  const sorted = [...entries].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] - b[0]));
  const find = (map: number, key: string | number): unknown => entries.find((e) => e[0] === map && e[1] === key)?.[2];
  const rows = (map: number): ProjectionRow[] => entries.filter((e) => e[0] === map).map(([, k, v], i) => [i + 1, k, v] as const);
  return {
    calls,
    get(map, key) {
      calls.get!++;
      return structuredClone(find(map, key));
    },
    has(map, key) {
      calls.other!++;
      return find(map, key) !== undefined;
    },
    count: (map) => rows(map).length,
    page(map, after, limit) {
      calls.other!++;
      return rows(map).filter((r) => r[0] > after).slice(0, limit);
    },
    pageFromKey() {
      throw new Error('not used when the tables read across maps');
    },
    pageByKey(map, after, limit) {
      calls.other!++;
      return rows(map)
        .filter((r) => after === null || r[1] > after)
        .sort((a, b) => (a[1] < b[1] ? -1 : 1))
        .slice(0, limit);
    },
    pageAllFromKey(from, limit): ProjectionMapRow[] {
      calls.pageAll!++;
      return sorted.filter((e) => e[1] >= from).slice(0, limit).map(([m, k, v]) => [m, k, structuredClone(v)] as const);
    },
  };
}

/** 3,000 tokens with time-ordered ids; every third has an outcome list. */
function run(): { tables: ReturnType<typeof fakeTables>; ids: string[] } {
  const ids = Array.from({ length: 3000 }, (_, i) => `0190${String(i).padStart(6, '0')}-${randomUUID().slice(11)}`);
  const entries: Array<[number, string, unknown]> = [];
  ids.forEach((id, i) => {
    entries.push([TOKENS, id, { tokenId: id, i }]);
    if (i % 3 === 0) entries.push([OUTCOMES_BY_TOKEN, id, [`o${i}`]]);
  });
  return { tables: fakeTables(entries), ids };
}

test('a walk in key order is answered by a few reads across maps: every value, present or absent, as the tables hold it', () => {
  const { tables, ids } = run();
  const { state } = openPersistedState('r', { version: 0, recordedAt: null, tables });
  setReadAhead(state, 32); // windows of 512 entries
  tables.calls.get = 0;
  ids.forEach((id, i) => {
    expect(state.tokens.get(id)).toEqual({ tokenId: id, i });
    expect(state.outcomesByToken.get(id)).toEqual(i % 3 === 0 ? [`o${i}`] : undefined);
  });
  expect(tables.calls.get).toBe(0);
  // 4,000 entries in windows of 512
  expect(tables.calls.pageAll).toBeLessThanOrEqual(9);
});

test('a row whose last facts lie ahead of the next rows is read from two windows, not read again and again', () => {
  const { tables, ids } = run();
  const { state } = openPersistedState('r', { version: 0, recordedAt: null, tables });
  setReadAhead(state, 32); // windows of 512 entries, about 384 tokens
  tables.calls.get = 0; // (opening read the run record)
  // every 37th lookup is followed by one 300 ids further on (a fact made while later rows were
  // recorded): those land past the end of what was read, not at it
  for (let i = 0; i < ids.length; i++) {
    expect(state.tokens.get(ids[i]!)).toEqual({ tokenId: ids[i], i });
    if (i % 37 === 0 && i + 300 < ids.length) expect(state.tokens.get(ids[i + 300]!)).toEqual({ tokenId: ids[i + 300], i: i + 300 });
  }
  expect(tables.calls.get).toBe(0);
  // 4,000 entries in windows of 512, each read once
  expect(tables.calls.pageAll).toBeLessThanOrEqual(9);
});

test('lookups in random order still read every value right, and the read-ahead turns itself off', () => {
  const { tables, ids } = run();
  const { state } = openPersistedState('r', { version: 0, recordedAt: null, tables });
  setReadAhead(state, 32);
  tables.calls.get = 0;
  const order = ids.map((id, i) => [id, i] as const).sort(() => Math.random() - 0.5);
  for (const [id, i] of order.slice(0, 600)) {
    expect(state.tokens.get(id)).toEqual({ tokenId: id, i });
    expect(state.outcomesByToken.get(id)).toEqual(i % 3 === 0 ? [`o${i}`] : undefined);
  }
  const reads = tables.calls.pageAll!;
  expect(reads).toBeLessThanOrEqual(5); // a window is worth it only while most of what it read is asked for
  expect(tables.calls.get).toBeGreaterThan(1000);
  for (const [id] of order.slice(600, 700)) state.tokens.get(id);
  expect(tables.calls.pageAll).toBe(reads);
});

test('turned off, the maps read point by point; keys that are not plain ASCII are never read ahead', () => {
  const { tables, ids } = run();
  const { state } = openPersistedState('r', { version: 0, recordedAt: null, tables });
  setReadAhead(state, 32);
  setReadAhead(state, 0);
  expect(state.tokens.get(ids[0]!)).toEqual({ tokenId: ids[0], i: 0 });
  expect(tables.calls.pageAll).toBe(0);
  setReadAhead(state, 32);
  expect(state.tokens.get('é-not-ascii')).toBeUndefined();
  expect(tables.calls.pageAll).toBe(0);
});
