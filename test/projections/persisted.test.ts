/**
 * The persisted projection (src/projections/persisted.ts) on the SQLite and PostgreSQL stores: whatever path
 * brought the tables to their state (recording, catch-up after a crash or after writers that
 * kept no projection, a rebuild, an upgrade from schema version 1), reading them gives exactly
 * the state that folding the run's events gives, and the same export.
 */
import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openLedger, Ledger } from '../../src/ledger';
import { runRecords } from '../../src/export/records';
import { isPersistedState, PersistedMap } from '../../src/projections/persisted';
import type { RunState } from '../../src/projections/state';
import { runStreamId } from '../../src/events/envelope';
import { openSqliteStore, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite';
import { rewriteAsLegacy, rewriteProjectionAsLayout1 } from '../support/legacy-sqlite';
import { openStore, parseStoreUrl } from '../../src/store/url';
import { redactUrl } from '../../src/store/postgres';
import { describePostgres, dropSchema, freshSchema, sql, urlWithSchema } from '../store/postgres/helpers';
import { PROJECTION_FOLD_VERSION, type EventStore } from '../../src/store/port';
import { recordReferenceRow, recordReferenceRun, registerReferenceGraph } from '../../src/workloads/reference';
import { recordDemoRun } from '../../src/workloads/demo';
import { PayloadStore } from '../../src/payloads/store';
import { comparable } from '../subscriptions/follow-support';
import { expectLedgerError, makeTempDir, removeDir } from '../store/sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-proj-');
});
afterEach(() => removeDir(dir));

const file = (name = 'l.db'): string => path.join(dir, name);

/** The run's state by folding every event in memory (the as-of path never reads the run's tables). */
async function folded(ledger: Ledger, runId: string): Promise<RunState> {
  const revision = await ledger.store.streamRevision(runStreamId(runId));
  const threshold = ledger.asOfOnDiskFromEvents;
  ledger.asOfOnDiskFromEvents = Infinity;
  try {
    return await ledger.loadRun(runId, { asOf: revision! });
  } finally {
    ledger.asOfOnDiskFromEvents = threshold;
  }
}

async function expectTablesMatchEvents(ledger: Ledger, runId: string): Promise<void> {
  const persisted = await ledger.loadRun(runId);
  expect(isPersistedState(persisted)).toBe(true);
  const replayed = await folded(ledger, runId);
  expect(isPersistedState(replayed)).toBe(false);
  expect(comparable(persisted)).toEqual(comparable(replayed));
  expect([...runRecords(persisted)]).toEqual([...runRecords(replayed)]);
}

/** The store, without its projections: a writer that keeps no projection (another tool, an older version). */
function withoutProjections(store: EventStore): EventStore {
  return new Proxy(store, { get: (t, p) => (p === 'projections' ? null : Reflect.get(t, p, t)) });
}

function projectionVersion(db: string, runId: string): number | undefined {
  const raw = new Database(db, { readonly: true });
  try {
    return raw.prepare('SELECT version FROM projection_runs WHERE stream_id = ?').pluck().get(runStreamId(runId)) as number | undefined;
  } finally {
    raw.close();
  }
}


/** A store the shared tests below run on. */
interface Backend {
  /** The store URL of the current test. */
  url(): string;
  /** How the store names itself in its errors. */
  where(): string;
  open(): Promise<EventStore>;
  /** The seq the tables of a run are at, read straight from the store (undefined: none). */
  projectionVersion(runId: string): Promise<number | undefined>;
  /** Damages every row entry of the tables, behind the ledger's back. */
  tamperRows(): Promise<void>;
  /** Replaces every row entry's value with text that is not JSON, behind the ledger's back. */
  breakRows(): Promise<void>;
  /** The fold version recorded for the projection rows (ledger_meta projection_fold), and setting it behind the ledger's back. */
  projectionFold(): Promise<string | undefined>;
  setProjectionFold(value: string): Promise<void>;
}

const sqliteBackend: Backend = {
  url: () => `sqlite:${file()}`,
  where: () => file(),
  open: () => openSqliteStore(file()),
  projectionVersion: async (runId) => projectionVersion(file(), runId),
  tamperRows: async () => {
    const raw = new Database(file());
    raw.prepare("UPDATE projection SET value = '{\"rowId\":\"tampered\"}' WHERE map = 8").run();
    raw.close();
  },
  breakRows: async () => {
    const raw = new Database(file());
    raw.prepare("UPDATE projection SET value = '{\"rowId\":' WHERE map = 8").run();
    raw.close();
  },
  projectionFold: async () => {
    const raw = new Database(file(), { readonly: true });
    try {
      return raw.prepare("SELECT value FROM ledger_meta WHERE key = 'projection_fold'").pluck().get() as string | undefined;
    } finally {
      raw.close();
    }
  },
  setProjectionFold: async (value) => {
    const raw = new Database(file());
    raw.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'projection_fold'").run(value);
    raw.close();
  },
};

function postgresBackend(): Backend {
  let schema = '';
  beforeEach(() => {
    schema = freshSchema();
  });
  afterEach(async () => dropSchema(schema));
  return {
    url: () => urlWithSchema(schema),
    where: () => {
      const parsed = parseStoreUrl(urlWithSchema(schema));
      return redactUrl(parsed.kind === 'postgres' ? parsed.connectionString : '');
    },
    open: () => openStore(urlWithSchema(schema)),
    projectionVersion: async (runId) => {
      const rows = await sql<{ version: string }>(`SELECT version FROM "${schema}".projection_runs WHERE stream_id = $1`, [runStreamId(runId)]);
      return rows[0] === undefined ? undefined : Number(rows[0].version);
    },
    tamperRows: async () => {
      await sql(`UPDATE "${schema}".projection SET value = '{"rowId":"tampered"}' WHERE map = 8`);
    },
    breakRows: async () => {
      await sql(`UPDATE "${schema}".projection SET value = '{"rowId":' WHERE map = 8`);
    },
    projectionFold: async () => (await sql<{ value: string }>(`SELECT value FROM "${schema}".ledger_meta WHERE key = 'projection_fold'`))[0]?.value,
    setProjectionFold: async (value) => {
      await sql(`UPDATE "${schema}".ledger_meta SET value = $1 WHERE key = 'projection_fold'`, [value]);
    },
  };
}

/** What every store with projection tables must do. */
function projectionSuite(b: Backend): void {
  test('a fact about an entity whose id this handle generated is found again once written to the tables and evicted from memory', async () => {
    const ledger = await openLedger({ store: b.url() });
    const run = await ledger.beginRun({ config: {} });
    const graph = await registerReferenceGraph(run);
    const first = await recordReferenceRow(run, graph, 0);
    // enough rows on the same handle for several table writes and cache generations of every collection
    for (let i = 1; i < 700; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => recordReferenceRow(run, graph, i + k)));
    await expect(run.recordTokenOutcome({ tokenId: first.sinkTokenId, outcome: 'completed', sinkName: 'out' })).rejects.toMatchObject({ code: 'TERMINAL_OUTCOME_EXISTS' });
    await expect(run.beginNodeState({ tokenId: first.sinkTokenId, nodeId: graph.sinkId, stepIndex: 9, inputData: {} })).rejects.toMatchObject({ code: 'TERMINAL_OUTCOME_EXISTS' });
    await ledger.close();
  }, 120_000);

  test('recording with rows in flight: the tables equal the fold of the events, after close and reopen', async () => {
    let ledger = await openLedger({ store: b.url() });
    const { runId } = await recordReferenceRun(ledger, { rows: 300, concurrency: 16 });
    await ledger.close();
    ledger = await openLedger({ store: b.url() });
    expect((await b.projectionVersion(runId))).toBe(await ledger.store.streamRevision(runStreamId(runId)));
    await expectTablesMatchEvents(ledger, runId);
    await ledger.close();
  });

  test('rows written by another version of the fold are deleted on open and rebuilt from the events on the first read', async () => {
    const first = await openLedger({ store: b.url() });
    const demo = await recordDemoRun(first);
    await first.close();
    expect(await b.projectionFold()).toBe(String(PROJECTION_FOLD_VERSION));
    // as a store written by an older fold would be: other rows, another version
    await b.tamperRows();
    await b.setProjectionFold(String(PROJECTION_FOLD_VERSION - 1));
    const ledger = await openLedger({ store: b.url() });
    expect(await b.projectionVersion(demo.runId)).toBeUndefined();
    expect(await b.projectionFold()).toBe(String(PROJECTION_FOLD_VERSION));
    await expectTablesMatchEvents(ledger, demo.runId);
    await ledger.close();
  });

  test('the demo run (fork, expand, coalesce, batches, errors, routing) projects exactly', async () => {
    const ledger = await openLedger({ store: b.url() });
    const demo = await recordDemoRun(ledger);
    await expectTablesMatchEvents(ledger, demo.runId);
    const state = await ledger.loadRun(demo.runId);
    expect(state.tokens).toBeInstanceOf(PersistedMap);
    await ledger.close();
  });

  test('a process that stops without closing leaves the tables behind; the next reader folds only the missing events', async () => {
    const first = await openLedger({ store: b.url() });
    const { runId } = await recordReferenceRun(first, { rows: 400, concurrency: 8, finish: false });
    // no close: the last window of projection changes was never written, earlier ones were
    const revision = (await first.store.streamRevision(runStreamId(runId)))!;
    const before = (await b.projectionVersion(runId))!;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(revision);
    const second = await openLedger({ store: b.url() });
    await expectTablesMatchEvents(second, runId);
    expect((await b.projectionVersion(runId))).toBe(revision);
    // the abandoned handle's later flush finds the tables already past it and writes nothing wrong
    await first.close();
    await expectTablesMatchEvents(second, runId);
    await second.close();
  });

  test('events written by a writer that keeps no projection are caught up on the next read', async () => {
    const store = await b.open();
    const blind = new Ledger(withoutProjections(store));
    const { runId } = await recordReferenceRun(blind, { rows: 50, concurrency: 4 });
    expect((await b.projectionVersion(runId))).toBeUndefined();
    const ledger = new Ledger(store);
    await expectTablesMatchEvents(ledger, runId);
    // and a live handle continues recording on the caught-up tables
    const run = await ledger.openRun(runId);
    await expect(run.complete({ status: 'completed' })).rejects.toMatchObject({ code: 'RUN_NOT_RUNNING' });
    await expectTablesMatchEvents(ledger, runId);
    await ledger.close();
  });

  test('rebuildProjection deletes the tables and folds them again from the events', async () => {
    const ledger = await openLedger({ store: b.url() });
    const { runId } = await recordReferenceRun(ledger, { rows: 40, concurrency: 4 });
    await b.tamperRows();
    await expect(ledger.explain({ runId, rowIndex: 0 })).rejects.toBeDefined();
    await ledger.rebuildProjection(runId);
    await expectTablesMatchEvents(ledger, runId);
    await ledger.close();
  });

  test('a rejected append leaves no fact in the tables; the live handle keeps working after a reopen', async () => {
    const a = await openLedger({ store: b.url() });
    const other2 = await openLedger({ store: b.url() });
    const run = await a.beginRun({ config: { p: 1 } });
    const node = await run.registerNode({ pluginName: 'src', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
    await a.close();
    // other2 records on its own handle; a's stale view conflicts
    const other = await other2.openRun(run.runId);
    await other.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: { x: 1 }, withToken: true });
    const c = await openLedger({ store: b.url() });
    const stale = await c.openRun(run.runId);
    await other.createRow({ sourceNodeId: node.nodeId, rowIndex: 1, data: { x: 2 }, withToken: true });
    await other2.close();
    await expectLedgerError(stale.createRow({ sourceNodeId: node.nodeId, rowIndex: 7, data: { x: 7 }, withToken: true }), 'CONCURRENCY_CONFLICT');
    await c.close();
    const d = await openLedger({ store: b.url() });
    const state = await d.loadRun(run.runId);
    expect([...state.rowByIndex.keys()].sort()).toEqual([0, 1]);
    await expectTablesMatchEvents(d, run.runId);
    await d.close();
  });

  test('the projection store refuses a write that does not continue the tables or runs past the events', async () => {
    const store = await b.open();
    const ledger = new Ledger(store);
    const { runId } = await recordReferenceRun(ledger, { rows: 5 });
    await ledger.loadRun(runId);
    const streamId = runStreamId(runId);
    const at = store.projections!.open(streamId).version;
    await expectLedgerError(async () => store.projections!.write(streamId, { fromVersion: at - 1, toVersion: at, recordedAt: null, entries: [] }), 'CONCURRENCY_CONFLICT');
    await expectLedgerError(async () => store.projections!.write(streamId, { fromVersion: at, toVersion: at + 5, recordedAt: null, entries: [[8, 'x', '{}']] }), 'INVALID_INPUT');
    expect(store.projections!.open(streamId).tables.get(8, 'x')).toBeUndefined();
    await ledger.close();
  });

  test('the tables read back decoded values: a new object per read, a stored null apart from a missing entry', async () => {
    const store = await b.open();
    const ledger = new Ledger(store);
    const { runId } = await recordReferenceRun(ledger, { rows: 2 });
    await ledger.loadRun(runId);
    const streamId = runStreamId(runId);
    const at = store.projections!.open(streamId).version;
    const map = 99; // a table the fold does not use
    store.projections!.write(streamId, {
      fromVersion: at,
      toVersion: at,
      recordedAt: null,
      entries: [
        [map, 'a', '{"x":[1,"two",null]}'],
        [map, 'b', 'null'],
        [map, 'c', '"text"'],
      ],
    });
    const tables = store.projections!.open(streamId).tables;
    expect(tables.get(map, 'a')).toEqual({ x: [1, 'two', null] });
    expect(tables.get(map, 'a')).not.toBe(tables.get(map, 'a'));
    expect(tables.get(map, 'b')).toBeNull();
    expect(tables.get(map, 'c')).toBe('text');
    expect(tables.get(map, 'd')).toBeUndefined();
    const rows = (page: ReadonlyArray<readonly [number, string | number, unknown]>): Array<[string | number, unknown]> => page.map(([, k, v]) => [k, v]);
    const all: Array<[string | number, unknown]> = [['a', { x: [1, 'two', null] }], ['b', null], ['c', 'text']];
    expect(rows(tables.page(map, 0, 10))).toEqual(all);
    expect(rows(tables.pageByKey(map, null, 10))).toEqual(all);
    expect(rows(tables.pageByKey(map, 'a', 10))).toEqual(all.slice(1));
    expect(rows(tables.pageFromKey(map, 'b', 10))).toEqual(all.slice(1));
    // what the fold wrote reads back as what the fold holds
    const state = await ledger.loadRun(runId);
    const [rowId] = [...state.rows.keys()];
    expect(tables.get(8, rowId!)).toEqual(JSON.parse(JSON.stringify(state.rows.get(rowId!))));
    await ledger.close();
  });

  test('a table value that is not JSON is STORE_CORRUPT naming the store, on every read path', async () => {
    const store = await b.open();
    const ledger = new Ledger(store);
    const { runId } = await recordReferenceRun(ledger, { rows: 3 });
    const rowIds = [...(await ledger.loadRun(runId)).rows.keys()];
    await ledger.close();
    await b.breakRows();
    const reopened = await b.open();
    const tables = reopened.projections!.open(runStreamId(runId)).tables;
    for (const read of [
      () => tables.get(8, rowIds[0]!),
      () => tables.page(8, 0, 10),
      () => tables.pageByKey(8, null, 10),
      () => tables.pageFromKey(8, rowIds[0]!, 10),
      ...(tables.pageAllFromKey !== undefined ? [() => tables.pageAllFromKey!(rowIds[0]!, 10)] : []),
    ]) {
      const error = await expectLedgerError(async () => read(), 'STORE_CORRUPT');
      expect(error.message.startsWith(`${b.where()}: `)).toBe(true);
    }
    expect(tables.has(8, rowIds[0]!)).toBe(true);
    const reader = new Ledger(reopened);
    await expectLedgerError(reader.explain({ runId, rowIndex: 0 }), 'STORE_CORRUPT');
    await reader.close();
  });

  test('export from the tables with random (version 4) ids, where key order does not follow creation order, equals the fold', async () => {
    const ledger = await openLedger({ store: b.url(), newId: () => randomUUID() });
    const { runId } = await recordReferenceRun(ledger, { rows: 150, concurrency: 8 });
    await ledger.close();
    const reader = await openLedger({ store: b.url() });
    await expectTablesMatchEvents(reader, runId);
    await reader.close();
  });

  test('a ledger reuses its read state while the run is unchanged, and opens a new one after an append', async () => {
    const ledger = await openLedger({ store: b.url() });
    const { runId, graph } = await recordReferenceRun(ledger, { rows: 3, finish: false });
    const first = await ledger.loadRun(runId);
    expect(await ledger.loadRun(runId)).toBe(first);
    const run = await ledger.openRun(runId);
    await run.createRow({ sourceNodeId: graph.sourceId, rowIndex: 3, data: { extra: true } });
    const second = await ledger.loadRun(runId);
    expect(second).not.toBe(first);
    expect(second.rows.size).toBe(4);
    expect(second.version).toBeGreaterThan(first.version);
    await ledger.close();
  });
}

describe('SQLite', () => projectionSuite(sqliteBackend));

describePostgres('PostgreSQL', () => projectionSuite(postgresBackend()));

async function allEvents(store: EventStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const page of store.readAll()) for (const e of page) out.push({ ...e, position: e.position.toString() });
  return out;
}

describe.each([1, 2] as const)('a file of schema version %d', (version) => {
  let runId: string;
  let events: unknown[];
  beforeEach(async () => {
    const ledger = await openLedger({ store: `sqlite:${file()}` });
    runId = (await recordReferenceRun(ledger, { rows: 20, concurrency: 2 })).runId;
    events = await allEvents(ledger.store);
    await ledger.close();
    rewriteAsLegacy(file(), version);
  });

  test('is read as it is by a read-only open (the run folded in memory, nothing written)', async () => {
    const bytes = fs.readFileSync(file());
    const store = await openSqliteStore(file(), { readonly: true });
    expect(await allEvents(store)).toEqual(events);
    await expect(store.verifyIntegrity('full')).resolves.toMatchObject({ events: events.length });
    const ro = new Ledger(store);
    const state = await ro.loadRun(runId);
    expect(isPersistedState(state)).toBe(false);
    expect(state.rows.size).toBe(20);
    await ro.close();
    expect(fs.readFileSync(file()).equals(bytes)).toBe(true);
  });

  test('is upgraded to the compact layout by a read-write open: the same events at the same positions, its runs projected on first read', async () => {
    const rw = await openLedger({ store: `sqlite:${file()}` });
    expect(await allEvents(rw.store)).toEqual(events);
    await expectTablesMatchEvents(rw, runId);
    await rw.close();
    const check = new Database(file(), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    expect(check.prepare("SELECT value FROM ledger_meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SQLITE_SCHEMA_VERSION));
    check.close();
  });

  test('a damaged event stops the upgrade with STORE_CORRUPT and leaves the file as it was', async () => {
    const raw = new Database(file());
    raw.prepare("UPDATE events SET data = '{\"cut' WHERE position = 7").run();
    raw.close();
    const e = await expectLedgerError(openSqliteStore(file()), 'STORE_CORRUPT');
    expect(e.message).toContain('position 7');
    const check = new Database(file(), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(version);
    expect(check.prepare('SELECT count(*) FROM events').pluck().get()).toBe(events.length);
    check.close();
  });
});

test('a read as of an earlier point of a large run folds into a scratch file, not memory: the same state and export as the in-memory fold; the file goes when the ledger closes', async () => {
  const ledger = await openLedger({ store: `sqlite:${file()}` });
  const demo = await recordDemoRun(ledger);
  const revision = (await ledger.store.streamRevision(runStreamId(demo.runId)))!;
  const asOf = Math.floor(revision / 2);
  const scratchRoot = path.join(dir, 'tmp');
  fs.mkdirSync(scratchRoot);
  ledger.scratchDir = scratchRoot;
  const scratchDirs = (): string[] => fs.readdirSync(scratchRoot).filter((f) => f.startsWith('lineage-ledger-scratch-'));
  const before = new Set(scratchDirs());
  ledger.asOfOnDiskFromEvents = Infinity;
  const inMemory = await ledger.loadRun(demo.runId, { asOf });
  const memRecords = [...runRecords(inMemory)];
  ledger.asOfOnDiskFromEvents = 0;
  const onDisk = await ledger.loadRun(demo.runId, { asOf });
  expect(isPersistedState(inMemory)).toBe(false);
  expect(isPersistedState(onDisk)).toBe(true);
  expect(onDisk.version).toBe(asOf);
  expect(comparable(onDisk)).toEqual(comparable(inMemory));
  expect([...runRecords(onDisk)]).toEqual(memRecords);
  // the same point again: the same scratch; the run's own tables are untouched (still at the last event)
  expect(await ledger.loadRun(demo.runId, { asOf })).toBe(onDisk);
  expect(projectionVersion(file(), demo.runId)).toBe(revision);
  const made = scratchDirs().filter((d) => !before.has(d));
  expect(made).toHaveLength(1);
  await expectLedgerError(ledger.loadRun(demo.runId, { asOf: '2000-01-01T00:00:00Z' }), 'RUN_NOT_FOUND');
  expect(scratchDirs().filter((d) => !before.has(d))).toEqual(made);
  await ledger.close();
  expect(scratchDirs().filter((d) => !before.has(d))).toEqual([]);
});

test('a read-only open of a file whose rows another fold version wrote does not use them: it folds in memory and writes nothing', async () => {
  const first = await openLedger({ store: `sqlite:${file()}` });
  const demo = await recordDemoRun(first);
  await first.close();
  await sqliteBackend.tamperRows();
  await sqliteBackend.setProjectionFold('1');
  const bytes = fs.readFileSync(file());
  const ro = new Ledger(await openSqliteStore(file(), { readonly: true }));
  const state = await ro.loadRun(demo.runId);
  expect(isPersistedState(state)).toBe(false);
  expect(comparable(state)).toEqual(comparable(await folded(ro, demo.runId)));
  await ro.close();
  expect(fs.readFileSync(file()).equals(bytes)).toBe(true);
});

describe('a file whose projection table has the first layout of version 3 (clustered by run, map, key)', () => {
  let runId: string;
  let explained: unknown;
  const layout = (): { pk: string; meta: unknown } => {
    const raw = new Database(file(), { readonly: true });
    try {
      const sql = raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'projection'").pluck().get() as string;
      return { pk: /PRIMARY KEY \(([^)]*)\)/.exec(sql)![1]!, meta: raw.prepare("SELECT value FROM ledger_meta WHERE key = 'projection_layout'").pluck().get() };
    } finally {
      raw.close();
    }
  };
  beforeEach(async () => {
    const ledger = await openLedger({ store: `sqlite:${file()}` });
    runId = (await recordDemoRun(ledger)).runId;
    const state = await ledger.loadRun(runId);
    explained = await ledger.explain({ runId, tokenId: [...state.tokens.keys()].at(-1)! });
    await ledger.close();
    expect(layout()).toEqual({ pk: 'run_key, key, map', meta: '2' });
    rewriteProjectionAsLayout1(file());
    expect(layout()).toEqual({ pk: 'run_key, map, key', meta: undefined });
  });

  test('a read-only open does not read it: the run is folded in memory, the same explanation, nothing written', async () => {
    const bytes = fs.readFileSync(file());
    const ro = new Ledger(await openSqliteStore(file(), { readonly: true }), undefined, undefined, PayloadStore.at(`${file()}.payloads`));
    expect(ro.store.projections ?? null).toBeNull();
    const state = await ro.loadRun(runId);
    expect(isPersistedState(state)).toBe(false);
    expect(await ro.explain({ runId, tokenId: (explained as { tokenId: string }).tokenId })).toEqual(explained);
    await ro.close();
    expect(fs.readFileSync(file()).equals(bytes)).toBe(true);
  });

  test('a read-write open makes the table again in the current layout, empty, and the first read rebuilds it from the events', async () => {
    const rw = await openLedger({ store: `sqlite:${file()}` });
    expect(layout()).toEqual({ pk: 'run_key, key, map', meta: '2' });
    expect(projectionVersion(file(), runId)).toBeUndefined();
    expect(await rw.explain({ runId, tokenId: (explained as { tokenId: string }).tokenId })).toEqual(explained);
    await expectTablesMatchEvents(rw, runId);
    await rw.close();
  });
});

test('a read-only store whose tables are behind folds the missing part in memory and writes nothing', async () => {
  const first = await openLedger({ store: `sqlite:${file()}` });
  const { runId } = await recordReferenceRun(first, { rows: 30, concurrency: 4, finish: false });
  const revision = (await first.store.streamRevision(runStreamId(runId)))!;
  await (first.store as unknown as { close(): Promise<void> }).close(); // the store closes; the handle's window is lost
  expect(projectionVersion(file(), runId) ?? -1).toBeLessThan(revision);
  const ro = new Ledger(await openSqliteStore(file(), { readonly: true }));
  const replayed = await folded(ro, runId);
  expect(comparable(await ro.loadRun(runId))).toEqual(comparable(replayed));
  await ro.close();
  expect(projectionVersion(file(), runId) ?? -1).toBeLessThan(revision);
});
