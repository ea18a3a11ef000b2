import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { isLedgerError } from '../../src/errors';
import { collectPages, ProposedEvent, StoredEvent } from '../../src/store/port';
import { openSqliteStore, SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION, SQLITE_STATEMENTS, SqliteEventStore } from '../../src/store/sqlite';
import { createWriter, Writer } from '../../src/store/sqlite/writer';
import { projectionValueColumn } from '../../src/store/sqlite/schema';
import { describeEventStoreContract, ev } from './contract';
import { expectLedgerError, makeTempDir, removeDir, snapshot } from './sqlite/helpers';

describeEventStoreContract('sqlite (file)', async () => {
  const dir = makeTempDir();
  const store = await openSqliteStore(path.join(dir, 'store.db'));
  return { store, cleanup: async () => removeDir(dir) };
});

describeEventStoreContract('sqlite (:memory:)', async () => ({ store: await openSqliteStore(':memory:') }));

let dir: string;
let file: string;
const open: SqliteEventStore[] = [];

beforeEach(() => {
  dir = makeTempDir();
  file = path.join(dir, 'store.db');
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  removeDir(dir);
});

async function openStore(p = file, options: Parameters<typeof openSqliteStore>[1] = {}): Promise<SqliteEventStore> {
  const s = await openSqliteStore(p, options);
  open.push(s);
  return s;
}

function events(n: number, type = 'E', prefix: string = randomUUID()): ProposedEvent[] {
  return Array.from({ length: n }, (_, i) => ({ eventId: `${prefix}-${i}`, type, data: { i, text: `event ${i}` }, metadata: { by: 'test' } }));
}

async function all(store: SqliteEventStore): Promise<StoredEvent[]> {
  return collectPages(store.readAll());
}

/** A closed store file with `streams` streams of `perStream` events each. */
async function makeStoreFile(p: string, streams: number, perStream: number): Promise<void> {
  const s = await openSqliteStore(p);
  await Promise.all(Array.from({ length: streams }, (_, i) => s.append(`s${i}`, events(perStream, 'E', `s${i}`), 'no_stream')));
  await s.close();
}

describe('SQLite store: files', () => {
  test('persists streams, events and positions across close and reopen', async () => {
    const a = await openStore();
    const r1 = await a.append('one', events(3), 'no_stream');
    const r2 = await a.append('two', events(2), 'no_stream');
    await a.append('one', events(1), r1.nextExpectedRevision);
    const before = await all(a);
    await a.close();

    const b = await openStore();
    expect(await all(b)).toEqual(before);
    expect(await b.listStreams()).toEqual([
      { streamId: 'one', revision: 3 },
      { streamId: 'two', revision: 1 },
    ]);
    expect(await b.streamRevision('one')).toBe(3);
    expect(before.map((e) => e.position)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(r2.position).toBe(5n);
    const r3 = await b.append('two', events(1), 1);
    expect(r3).toEqual({ nextExpectedRevision: 2, position: 7n });
  });

  test('a new file is initialised as a WAL-mode ledger with the application id and schema version', async () => {
    const s = await openStore();
    await s.close();
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('application_id', { simple: true })).toBe(SQLITE_APPLICATION_ID);
      expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare("SELECT value FROM ledger_meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SQLITE_SCHEMA_VERSION));
    } finally {
      db.close();
    }
  });

  test('a zero-length file is initialised; with create: false it is refused', async () => {
    fs.writeFileSync(file, '');
    await expectLedgerError(openSqliteStore(file, { create: false }), 'NOT_A_LEDGER');
    await expectLedgerError(openSqliteStore(file, { readonly: true }), 'NOT_A_LEDGER');
    expect(fs.statSync(file).size).toBe(0);
    const s = await openStore();
    await s.append('x', events(1), 'no_stream');
    expect(await s.streamRevision('x')).toBe(0);
  });

  test('create: false and readonly refuse a missing file with NOT_FOUND and create nothing', async () => {
    const e = await expectLedgerError(openSqliteStore(file, { create: false }), 'NOT_FOUND');
    expect(e.message).toContain(file);
    await expectLedgerError(openSqliteStore(file, { readonly: true }), 'NOT_FOUND');
    await expectLedgerError(openSqliteStore(path.join(dir, 'no-such-dir', 'x.db')), 'NOT_FOUND');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a store with a newer schema version is refused without being changed', async () => {
    await makeStoreFile(file, 2, 3);
    // user_version newer
    const newer = path.join(dir, 'newer.db');
    fs.copyFileSync(file, newer);
    const raw = new Database(newer);
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'").run(String(SQLITE_SCHEMA_VERSION + 1));
    raw.close();
    const before = snapshot(newer);
    const e = await expectLedgerError(openSqliteStore(newer), 'STORE_VERSION_UNSUPPORTED');
    expect(e.message).toContain(`schema version ${SQLITE_SCHEMA_VERSION + 1}`);
    expect(e.message).toContain(`supports schema version ${SQLITE_SCHEMA_VERSION}`);
    expect(e.message).toContain(newer);
    expect(snapshot(newer)).toEqual(before);

    // only ledger_meta newer (user_version left alone)
    const metaOnly = path.join(dir, 'meta-only.db');
    fs.copyFileSync(file, metaOnly);
    const raw2 = new Database(metaOnly);
    raw2.prepare("UPDATE ledger_meta SET value = '7' WHERE key = 'schema_version'").run();
    raw2.close();
    const before2 = snapshot(metaOnly);
    const e2 = await expectLedgerError(openSqliteStore(metaOnly), 'STORE_VERSION_UNSUPPORTED');
    expect(e2.message).toContain('schema version 7');
    expect(snapshot(metaOnly)).toEqual(before2);
  });

  test.each([
    ['rollback-journal database with a table', 'delete', 0],
    ['WAL-mode database with a table', 'wal', 0],
    ['database with another application id', 'delete', 0x12345678],
    ['WAL-mode database with another application id', 'wal', 0x12345678],
  ])('a SQLite %s is NOT_A_LEDGER and stays byte-identical, with no -wal/-shm left behind', async (_label, mode, appId) => {
    const foreign = path.join(dir, 'foreign.db');
    const raw = new Database(foreign);
    raw.pragma(`journal_mode = ${mode}`);
    raw.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    raw.prepare('INSERT INTO customers (name) VALUES (?)').run('Ada');
    if (appId !== 0) raw.pragma(`application_id = ${appId}`);
    raw.close();
    const before = snapshot(foreign);
    for (const options of [{}, { readonly: true }, { create: false }]) {
      const e = await expectLedgerError(openSqliteStore(foreign, options), 'NOT_A_LEDGER');
      expect(e.message).toContain(foreign);
      expect(snapshot(foreign)).toEqual(before);
    }
  });

  test('a file that is not SQLite at all is NOT_A_LEDGER and unchanged', async () => {
    const random = path.join(dir, 'random.db');
    fs.writeFileSync(random, randomBytes(64 * 1024));
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'hello\n');
    for (const f of [random, text]) {
      const before = snapshot(f);
      const e = await expectLedgerError(openSqliteStore(f), 'NOT_A_LEDGER');
      expect(e.message).toContain(f);
      expect(snapshot(f)).toEqual(before);
    }
  });

  test('a truncated ledger file is STORE_CORRUPT, wherever it is cut', async () => {
    await makeStoreFile(file, 20, 100);
    const full = fs.readFileSync(file);
    expect(full.length).toBeGreaterThan(16 * 4096);
    const cuts = [10, 99, 100, 512, 4096, 4097, 8192, Math.floor(full.length / 2), full.length - 4096, full.length - 100, full.length - 1];
    for (const n of cuts) {
      const cut = path.join(dir, `cut-${n}.db`);
      fs.writeFileSync(cut, full.subarray(0, n));
      const before = snapshot(cut);
      const e = await expectLedgerError(async () => {
        // Reaching the reads would mean the cut went unnoticed on open; they must fail too, never return fewer events.
        const s = await openSqliteStore(cut);
        try {
          await collectPages(s.readAll());
        } finally {
          await s.close();
        }
      }, 'STORE_CORRUPT');
      expect(e.message).toContain(cut);
      expect(fs.readFileSync(cut)).toEqual(before.bytes);
    }
  });

  test('damage found while reading or appending is STORE_CORRUPT, never a raw SqliteError', async () => {
    await makeStoreFile(file, 20, 100);
    const pages = (name: string, type?: string): number[] => {
      const db = new Database(file, { readonly: true });
      try {
        return db
          .prepare(`SELECT pageno FROM dbstat WHERE name = ?${type ? ' AND pagetype = ?' : ''} ORDER BY pageno`)
          .pluck()
          .all(...(type ? [name, type] : [name])) as number[];
      } finally {
        db.close();
      }
    };
    const pageSize = 4096;
    const eventLeaves = pages('events', 'leaf');
    const eventIdIndex = pages('events_by_event_id');
    expect(eventLeaves.length).toBeGreaterThan(4);
    const fd = fs.openSync(file, 'r+');
    const leaf = eventLeaves[Math.floor(eventLeaves.length / 2)]!;
    fs.writeSync(fd, randomBytes(pageSize), 0, pageSize, (leaf - 1) * pageSize);
    for (const p of eventIdIndex) fs.writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (p - 1) * pageSize);
    fs.closeSync(fd);

    const s = await openStore(); // the header and schema are intact: damage shows up on use
    await expectLedgerError(collectPages(s.readAll()), 'STORE_CORRUPT');
    await expectLedgerError(s.append('new-stream', events(2), 'no_stream'), 'STORE_CORRUPT');
    expect(await s.streamRevision('new-stream')).toBeNull(); // the failed append left nothing behind
    expect((await s.listStreams()).length).toBe(20);
    await expectLedgerError(s.verifyIntegrity('quick'), 'STORE_CORRUPT');
    await s.close();
    await expectLedgerError(openSqliteStore(file, { verifyOnOpen: 'quick' }), 'STORE_CORRUPT');
  });

  test('a row whose body was damaged is STORE_CORRUPT on read; verifyIntegrity("full") finds it, "quick" does not', async () => {
    await makeStoreFile(file, 2, 5);
    const raw = new Database(file);
    // the packed body cut short, as a damaged page would leave it
    raw.prepare('UPDATE events SET body = substr(body, 1, length(body) - 3) WHERE position = 4').run();
    raw.close();
    const s = await openStore();
    const e = await expectLedgerError(collectPages(s.readAll()), 'STORE_CORRUPT');
    expect(e.message).toContain('position 4');
    await expectLedgerError(collectPages(s.readStream('s0')), 'STORE_CORRUPT');
    await expect(s.verifyIntegrity('quick')).resolves.toEqual({ level: 'quick', events: 10, streams: 2 });
    await expectLedgerError(s.verifyIntegrity('full'), 'STORE_CORRUPT');
  });

  test('verifyIntegrity finds revisions that are not dense and a streams table that disagrees', async () => {
    await makeStoreFile(file, 3, 4);
    const raw = new Database(file);
    raw.prepare("DELETE FROM events WHERE stream_key = (SELECT stream_key FROM streams WHERE stream_id = 's1') AND revision = 2").run();
    raw.prepare("UPDATE streams SET revision = 9 WHERE stream_id = 's2'").run();
    raw.close();
    const s = await openStore();
    const e = await expectLedgerError(s.verifyIntegrity(), 'STORE_CORRUPT');
    const problems = (e.details as { problems: string[] }).problems;
    expect(problems.some((p) => p.includes('stream s1') && p.includes('not dense'))).toBe(true);
    expect(problems.some((p) => p.includes('stream s2') && p.includes('revision 9'))).toBe(true);
  });

  test('a healthy store passes verifyIntegrity at both levels and verifyOnOpen', async () => {
    await makeStoreFile(file, 4, 25);
    const s = await openStore(file, { verifyOnOpen: 'full' });
    await expect(s.verifyIntegrity('quick')).resolves.toEqual({ level: 'quick', events: 100, streams: 4 });
    await expect(s.verifyIntegrity('full')).resolves.toEqual({ level: 'full', events: 100, streams: 4 });
  });

  test('reads by stream and in global order use an index / the primary key, never a sort or a full scan', async () => {
    await makeStoreFile(file, 3, 10);
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string, ...params: unknown[]): string =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      const byStream = plan(SQLITE_STATEMENTS.readStream, 1, 0, 10);
      expect(byStream).toMatch(/^SEARCH events USING INDEX events_by_stream \(stream_key=\? AND revision>\?\)$/);
      const global = plan(SQLITE_STATEMENTS.readAll, 0, 10);
      expect(global).toMatch(/^SEARCH e USING INTEGER PRIMARY KEY \(rowid>\?\) \| SEARCH s USING INTEGER PRIMARY KEY \(rowid=\?\)$/);
      const current = plan(SQLITE_STATEMENTS.streamRevision, 's1');
      expect(current).toMatch(/^SEARCH streams USING INDEX sqlite_autoindex_streams_1 \(stream_id=\?\)$/);
      const stream = plan(SQLITE_STATEMENTS.stream, 's1');
      expect(stream).toMatch(/^SEARCH streams USING INDEX sqlite_autoindex_streams_1 \(stream_id=\?\)$/);
      const list = plan(SQLITE_STATEMENTS.listStreams);
      expect(list).toMatch(/^SCAN streams$/);
      for (const p of [byStream, global, current, stream, list]) expect(p).not.toContain('TEMP B-TREE');
    } finally {
      db.close();
    }
  });
});

describe('SQLite store: the compact layout', () => {
  test('events read back exactly as appended, whatever their ids, types and JSON', async () => {
    const s = await openStore();
    const odd: ProposedEvent[] = [
      { eventId: 'not-a-uuid', type: 'NotInTheNames', data: { 'a key': [1, -2, 0.5, null, true, 'é'], nested: { deep: { deeper: [] } } }, metadata: { seq: 0, extra: 'x' } },
      { eventId: randomUUID().toUpperCase(), type: 'RowCreated', data: { rowId: randomUUID(), when: '2026-12-03T14:14:14.945Z' }, metadata: { runId: 'stream-suffix' } },
      { eventId: randomUUID(), type: 'RowCreated', data: {}, metadata: {} },
    ];
    await s.append('run-stream-suffix', odd, 'no_stream');
    const back = await collectPages(s.readStream('run-stream-suffix'));
    expect(back.map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata }))).toEqual(odd);
    // an id already stored, in either form, is a duplicate
    await expectLedgerError(s.append('other', [{ ...odd[0]!, data: {} }], 'no_stream'), 'DUPLICATE_EVENT_ID');
    await expectLedgerError(s.append('other', [{ ...odd[2]!, data: {} }], 'no_stream'), 'DUPLICATE_EVENT_ID');
    expect(await s.streamRevision('other')).toBeNull();
    await s.close();
  });

  test('the key-ordered reads of the projection tables follow compareKeys: numbers, then text, then UUIDs', async () => {
    const s = await openStore();
    await s.append('run-r', [ev('A')], 'no_stream');
    const uuids = [randomUUID(), randomUUID(), randomUUID()];
    const keys: (string | number)[] = [...uuids, 'zeta', 'alpha', 'ffffffff', 10, 2, uuids[0]!.toUpperCase()];
    s.projections!.write('run-r', { fromVersion: -1, toVersion: 0, recordedAt: null, entries: keys.map((k, i) => [99, k, JSON.stringify({ i, k })] as const) });
    const tables = s.projections!.open('run-r').tables;
    const compare = tables.compareKeys!;
    const sorted = [...keys].sort(compare);
    expect(tables.pageByKey(99, null, 100).map((r) => r[1])).toEqual(sorted);
    for (const from of keys) expect(tables.pageFromKey(99, from, 100).map((r) => r[1])).toEqual(sorted.filter((k) => compare(k, from) >= 0));
    for (const after of keys) expect(tables.pageByKey(99, after, 100).map((r) => r[1])).toEqual(sorted.filter((k) => compare(k, after) > 0));
    expect(tables.page(99, 0, 100).map((r) => r[1])).toEqual(keys); // insertion order
    for (const k of keys) expect(tables.get(99, k)).toEqual({ i: keys.indexOf(k), k });
    await s.close();
  });

  test('a read across maps (pageAllFromKey) gives the entries of every map in order of key, then map', async () => {
    const s = await openStore();
    await s.append('run-r', [ev('A')], 'no_stream');
    const uuids = [randomUUID(), randomUUID(), randomUUID()];
    const keys: (string | number)[] = [...uuids, 'zeta', 'alpha', 7, 3];
    // map 97 has every key, map 98 every other one, map 99 none but the last UUID
    const entries: (readonly [number, string | number, string])[] = [];
    keys.forEach((k, i) => {
      entries.push([97, k, JSON.stringify({ m: 97, i })]);
      if (i % 2 === 0) entries.push([98, k, JSON.stringify({ m: 98, i })]);
    });
    entries.push([99, uuids[2]!, '"last"']);
    s.projections!.write('run-r', { fromVersion: -1, toVersion: 0, recordedAt: null, entries });
    const tables = s.projections!.open('run-r').tables;
    const compare = tables.compareKeys!;
    const expected = entries
      .map(([m, k]) => [m, k, m === 99 ? 'last' : { m, i: keys.indexOf(k) }] as const)
      .sort((a, b) => compare(a[1], b[1]) || a[0] - b[0]);
    expect(tables.pageAllFromKey!(3, 100)).toEqual(expected);
    for (const from of keys) {
      expect(tables.pageAllFromKey!(from, 100)).toEqual(expected.filter(([, k]) => compare(k, from) >= 0));
      expect(tables.pageAllFromKey!(from, 2)).toEqual(expected.filter(([, k]) => compare(k, from) >= 0).slice(0, 2));
    }
    await s.close();
  });

  test('reads inside snapshot() see one committed state, though another connection commits meanwhile', async () => {
    const s = await openStore();
    await s.append('run-r', [ev('A')], 'no_stream');
    s.projections!.write('run-r', { fromVersion: -1, toVersion: 0, recordedAt: null, entries: [[99, 'k', '"before"']] });
    const tables = s.projections!.open('run-r').tables;
    const other = new Database(file);
    try {
      const change = other.prepare('UPDATE projection SET value = ? WHERE map = 99');
      // the other connection writes the encoding the store writes
      const packed = (v: string): Buffer => projectionValueColumn(JSON.stringify(v), 'k');
      const seen = tables.snapshot!(() => {
        const first = tables.get(99, 'k');
        change.run(packed('during'));
        return [first, tables.get(99, 'k')];
      });
      expect(seen).toEqual(['before', 'before']);
      expect(tables.get(99, 'k')).toBe('during');
      // a snapshot inside a snapshot just runs; a read that throws ends the snapshot
      expect(tables.snapshot!(() => tables.snapshot!(() => tables.get(99, 'k')))).toBe('during');
      expect(() => tables.snapshot!(() => {
        throw new Error('boom');
      })).toThrow('boom');
      change.run(packed('after'));
      expect(tables.get(99, 'k')).toBe('after');
    } finally {
      other.close();
      await s.close();
    }
  });
});

describe('SQLite store: group commit', () => {
  test('many concurrent appends resolve, and share far fewer transactions than appends', async () => {
    const s = await openStore();
    const before = s.stats.commits;
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => s.append(`g${i % 30}`, events(3), 'any')));
    expect(results).toHaveLength(300);
    const commits = s.stats.commits - before;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThan(10);
    expect(s.stats.largestBatch).toBeGreaterThan(100);
    const stored = await all(s);
    expect(stored).toHaveLength(900);
    // every append's events are contiguous, and the results report their last position
    for (const r of results) expect(stored[Number(r.position) - 1]!.position).toBe(r.position);
    for (let i = 0; i < 30; i++) expect((await collectPages(s.readStream(`g${i}`))).map((e) => e.revision)).toEqual(Array.from({ length: 30 }, (_, k) => k));
  });

  test('a conflict or duplicate inside a batch fails only that append', async () => {
    const s = await openStore();
    await s.append('existing', events(2, 'E', 'old'), 'no_stream');
    const before = s.stats.commits;
    const a = events(2, 'A');
    const outcomes = await Promise.allSettled([
      s.append('sa', a, 'no_stream'),
      s.append('existing', events(1, 'Conflict'), 0), // stream is at 1
      s.append('sb', events(2, 'B'), 'no_stream'),
      s.append('sc', [ev('Dup'), a[0]!], 'no_stream'), // id already written earlier in this batch
      s.append('existing', events(1, 'C'), 1),
      s.append('sd', [...events(1, 'D'), { ...a[1]!, type: 'D' }], 'no_stream'),
      s.append('sa', events(1, 'A2'), 1), // sees sa written earlier in the batch
    ]);
    expect(s.stats.commits - before).toBe(1);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    const reason = (i: number): unknown => (outcomes[i] as PromiseRejectedResult).reason;
    expect(isLedgerError(reason(1), 'CONCURRENCY_CONFLICT')).toBe(true);
    expect(isLedgerError(reason(3), 'DUPLICATE_EVENT_ID')).toBe(true);
    expect(isLedgerError(reason(5), 'DUPLICATE_EVENT_ID')).toBe(true);
    expect((reason(5) as { details: { eventId: string } }).details.eventId).toBe(a[1]!.eventId);
    const stored = await all(s);
    expect(stored.map((e) => `${e.streamId}:${e.type}`)).toEqual(['existing:E', 'existing:E', 'sa:A', 'sa:A', 'sb:B', 'sb:B', 'existing:C', 'sa:A2']);
    expect(await s.streamRevision('sc')).toBeNull();
    expect(await s.streamRevision('sd')).toBeNull();
    expect((await s.listStreams()).map((x) => x.streamId)).toEqual(['existing', 'sa', 'sb']);
  });

  test('when the COMMIT fails every append of the batch rejects with a typed error, nothing is written, and the store goes on', async () => {
    const s = await openStore();
    await s.append('kept', events(1), 'no_stream');
    // The store's writer is replaced by one whose "commit" statement fails at run time (the
    // table it writes is dropped after it was prepared), so the transaction must be rolled back.
    const internals = s as unknown as { writer: Writer; db: Database.Database };
    const real = internals.writer;
    internals.db.exec('CREATE TABLE doomed (x)');
    internals.writer = createWriter(internals.db, { ...SQLITE_STATEMENTS, commit: 'INSERT INTO doomed VALUES (1)' } as unknown as typeof SQLITE_STATEMENTS);
    internals.db.exec('DROP TABLE doomed');
    const outcomes = await Promise.allSettled([s.append('x', events(2), 'no_stream'), s.append('kept', events(1), 0), s.append('y', events(1), 'no_stream')]);
    internals.writer = real;
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(isLedgerError((o as PromiseRejectedResult).reason, 'STORE_UNAVAILABLE')).toBe(true);
      expect((o as PromiseRejectedResult).reason.message).toContain('doomed');
    }
    expect(internals.db.inTransaction).toBe(false);
    expect((await all(s)).map((e) => e.streamId)).toEqual(['kept']);
    expect(await s.streamRevision('x')).toBeNull();
    // the store still works afterwards, and the real writer's cached revision of 'kept' is still right
    await s.append('kept', events(1), 0);
    await s.append('x', events(1), 'no_stream');
    expect(await s.streamRevision('kept')).toBe(1);
    expect(await s.streamRevision('x')).toBe(0);
  });

  test('close() waits for queued appends, which are then durable; later calls are STORE_CLOSED', async () => {
    const s = await openStore();
    const pending = Array.from({ length: 50 }, (_, i) => s.append(`c${i}`, events(2), 'no_stream'));
    await s.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(50);
    await expectLedgerError(s.append('late', events(1), 'no_stream'), 'STORE_CLOSED');
    await expectLedgerError(collectPages(s.readAll()), 'STORE_CLOSED');
    await expectLedgerError(collectPages(s.readStream('c1')), 'STORE_CLOSED');
    await expectLedgerError(s.listStreams(), 'STORE_CLOSED');
    await expectLedgerError(s.streamRevision('c1'), 'STORE_CLOSED');
    await expect(s.close()).resolves.toBeUndefined();
    const again = await openStore();
    expect(await all(again)).toHaveLength(100);
  });
});

describe('SQLite store: failures write nothing', () => {
  test('a duplicate event id anywhere in the store, or twice in one append, is DUPLICATE_EVENT_ID', async () => {
    const s = await openStore();
    const first = events(2);
    await s.append('a', first, 'no_stream');
    await expectLedgerError(s.append('b', [ev(), first[1]!], 'no_stream'), 'DUPLICATE_EVENT_ID');
    await expectLedgerError(s.append('a', [ev(), first[0]!], 1), 'DUPLICATE_EVENT_ID');
    const twice = ev();
    await expectLedgerError(s.append('c', [twice, ev(), twice], 'no_stream'), 'DUPLICATE_EVENT_ID');
    expect((await all(s)).map((e) => e.eventId)).toEqual(first.map((e) => e.eventId));
    expect(await s.listStreams()).toEqual([{ streamId: 'a', revision: 1 }]);
  });

  test('with "any", an exact repeat is idempotent and a partial one is DUPLICATE_EVENT_ID (as in the memory adapter)', async () => {
    const s = await openStore();
    const batch = events(2);
    await s.append('a', batch, 'any');
    await expect(s.append('a', batch, 'any')).resolves.toEqual({ nextExpectedRevision: 1, position: 2n });
    await expectLedgerError(s.append('a', [batch[1]!, ...events(1)], 'any'), 'DUPLICATE_EVENT_ID');
    await expectLedgerError(s.append('b', batch, 'any'), 'DUPLICATE_EVENT_ID');
    // a retry of an earlier (not the last) append at its exact expected revision is still recognised
    await s.append('a', events(1), 1);
    await expect(s.append('a', batch, 'no_stream')).resolves.toEqual({ nextExpectedRevision: 1, position: 2n });
    expect(await all(s)).toHaveLength(3);
  });

  test('empty appends: INVALID_INPUT on a missing stream, the current revision otherwise', async () => {
    const s = await openStore();
    await expectLedgerError(s.append('none', [], 'any'), 'INVALID_INPUT');
    await expectLedgerError(s.append('none', [], 'no_stream'), 'INVALID_INPUT');
    await expectLedgerError(s.append('none', [], 'stream_exists'), 'CONCURRENCY_CONFLICT');
    await s.append('x', events(3), 'no_stream');
    await expect(s.append('x', [], 2)).resolves.toEqual({ nextExpectedRevision: 2, position: 3n });
    await expect(s.append('x', [], 'any')).resolves.toEqual({ nextExpectedRevision: 2, position: 3n });
    await expectLedgerError(s.append('x', [], 1), 'CONCURRENCY_CONFLICT');
    expect(await all(s)).toHaveLength(3);
    expect(await s.listStreams()).toEqual([{ streamId: 'x', revision: 2 }]);
  });

  test('data that cannot be written as JSON is INVALID_INPUT', async () => {
    const s = await openStore();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectLedgerError(s.append('x', [ev('A', { n: 10n })], 'no_stream'), 'INVALID_INPUT');
    await expectLedgerError(s.append('x', [ev('A'), ev('B', cyclic)], 'no_stream'), 'INVALID_INPUT');
    await expectLedgerError(s.append('x', [{ eventId: 5, type: 'A', data: {}, metadata: {} } as unknown as ProposedEvent], 'no_stream'), 'INVALID_INPUT');
    expect(await all(s)).toEqual([]);
  });

  test('later changes to the caller\'s objects do not reach the store', async () => {
    const s = await openStore();
    const data: Record<string, unknown> = { n: 1 };
    const pending = s.append('x', [ev('A', data)], 'no_stream');
    data.n = 2;
    await pending;
    expect((await all(s))[0]!.data).toEqual({ n: 1 });
  });

  test('a read-only store reads but refuses appends with READ_ONLY', async () => {
    await makeStoreFile(file, 2, 3);
    const writer = await openStore(); // a writer may have the file open at the same time
    const ro = await openStore(file, { readonly: true });
    expect(ro.readonly).toBe(true);
    expect(await all(ro)).toHaveLength(6);
    await expectLedgerError(ro.append('s0', events(1), 2), 'READ_ONLY');
    await expectLedgerError(ro.append('new', events(1), 'no_stream'), 'READ_ONLY');
    await writer.append('s0', events(1), 2);
    expect(await ro.streamRevision('s0')).toBe(3); // sees the writer's commits
    expect(await ro.streamRevision('new')).toBeNull();
    expect(await all(writer)).toHaveLength(7);
  });

  test('a write lock held by another connection past the busy timeout is STORE_UNAVAILABLE ("locked by another process")', async () => {
    const s = await openStore(file, { busyTimeoutMs: 50 });
    await s.append('x', events(1), 'no_stream');
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      const e = await expectLedgerError(s.append('x', events(2), 0), 'STORE_UNAVAILABLE');
      expect(e.message).toMatch(/locked by another process/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(40);
      expect(await s.streamRevision('x')).toBe(0); // reads are not blocked by the writer
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await s.append('x', events(1), 0);
    expect((await all(s)).map((e) => e.revision)).toEqual([0, 1]);
  });

  test('synchronous: full opens and appends; bad options are INVALID_INPUT', async () => {
    const s = await openStore(file, { synchronous: 'full' });
    await s.append('x', events(2), 'no_stream');
    expect(await all(s)).toHaveLength(2);
    await expectLedgerError(openSqliteStore(file, { synchronous: 'extra' as 'full' }), 'INVALID_INPUT');
    await expectLedgerError(openSqliteStore(file, { busyTimeoutMs: -1 }), 'INVALID_INPUT');
  });
});
