/**
 * The local projection file of an EventStoreDB store (`?projections=<file>`): reads answer from
 * it instead of folding the run's events, fold only the events it lacks, give the same answers
 * as a fold of the events, and it can be deleted (rebuilt on the next read). Against the
 * structural fake of the client (no server runs here).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Ledger } from '../../src/ledger';
import { isPersistedState } from '../../src/projections/persisted';
import { EventStoreDBEventStore } from '../../src/store/eventstoredb';
import { openProjectionFile, openSqliteStore } from '../../src/store/sqlite';
import { parseStoreUrl } from '../../src/store/url';
import type { EventStore, ReadStreamOptions, StoredEvent } from '../../src/store/port';
import { recordReferenceRun } from '../../src/workloads/reference';
import { FakeEsdbClient } from './eventstoredb/fake-client';
import { expectLedgerError, makeTempDir, removeDir } from './sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeDir(dir));

/** Counts the events a store hands out by readStream (what a read folds). */
function counted(store: EventStore): { store: EventStore; read: () => number } {
  let n = 0;
  const readStream = store.readStream.bind(store);
  (store as { readStream: EventStore['readStream'] }).readStream = async function* (streamId: string, options?: ReadStreamOptions): AsyncIterable<readonly StoredEvent[]> {
    for await (const page of readStream(streamId, options)) {
      n += page.length;
      yield page;
    }
  };
  return { store, read: () => n };
}

async function recordRun(fake: FakeEsdbClient, file: string | null, rows: number): Promise<{ runId: string; sinks: string[] }> {
  const store = new EventStoreDBEventStore(fake, file === null ? {} : { localProjections: openProjectionFile(file, 'esdb://test') });
  const ledger = new Ledger(store);
  const sinks: string[] = [];
  const { runId } = await recordReferenceRun(ledger, { rows, concurrency: 4, onRow: (r) => sinks.push(r.sinkTokenId) });
  await ledger.close();
  return { runId, sinks };
}

test('reads answer from the projection file without folding the run, as a fold of the events would', async () => {
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false });
  const file = path.join(dir, 'projection.db');
  const { runId, sinks } = await recordRun(fake, file, 30);

  const plain = new Ledger(new EventStoreDBEventStore(fake));
  const want = await Promise.all(sinks.slice(0, 5).map((tokenId) => plain.explain({ runId, tokenId })));
  const wantCheck = await plain.check(runId);

  const { store, read } = counted(new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') }));
  const ledger = new Ledger(store);
  expect(isPersistedState(await ledger.loadRun(runId))).toBe(true);
  expect(await Promise.all(sinks.slice(0, 5).map((tokenId) => ledger.explain({ runId, tokenId })))).toEqual(want);
  expect(await ledger.check(runId)).toEqual(wantCheck);
  expect(read()).toBe(0); // the recorder kept the file current: no event was folded again
  await ledger.close();
  await plain.close();
});

test('a run recorded without the file is folded once, only its missing events; a deleted file is rebuilt on the next read', async () => {
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false });
  const file = path.join(dir, 'projection.db');
  const { runId, sinks } = await recordRun(fake, null, 12);
  const total = (await new EventStoreDBEventStore(fake).streamRevision(`run-${runId}`))! + 1;

  const first = counted(new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') }));
  const l1 = new Ledger(first.store);
  const answer = await l1.explain({ runId, tokenId: sinks[0]! });
  expect(first.read()).toBe(total);
  await l1.explain({ runId, tokenId: sinks[1]! });
  expect(first.read()).toBe(total); // the second read folds nothing
  await l1.close();

  const again = counted(new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') }));
  const l2 = new Ledger(again.store);
  expect(await l2.explain({ runId, tokenId: sinks[0]! })).toEqual(answer);
  expect(again.read()).toBe(0);
  await l2.close();

  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  const rebuilt = counted(new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') }));
  const l3 = new Ledger(rebuilt.store);
  expect(await l3.explain({ runId, tokenId: sinks[0]! })).toEqual(answer);
  expect(rebuilt.read()).toBe(total);
  await l3.close();
});

/** Runs' projection versions as the projection file holds them. */
function fileVersions(file: string): Map<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return new Map(db.prepare('SELECT stream_id, version FROM projection_runs').raw().all() as [string, number][]);
  } finally {
    db.close();
  }
}

test('the projection feed keeps the file current for runs another writer records, resuming from the checkpoint it keeps', async () => {
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false });
  const file = path.join(dir, 'projection.db');
  const first = await recordRun(fake, null, 8); // recorded by a writer without the file
  const revision = async (runId: string): Promise<number> => (await new EventStoreDBEventStore(fake).streamRevision(`run-${runId}`))!;

  const reader = counted(new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') }));
  const ledger = new Ledger(reader.store);
  const updates: string[][] = [];
  const feed = ledger.followProjections({ pollIntervalMs: 20, onUpdate: (u) => updates.push([...u.runs]) });
  await feed.caughtUp();
  expect(fileVersions(file).get(`run-${first.runId}`)).toBe(await revision(first.runId));
  expect(updates.flat()).toContain(first.runId);
  const position = feed.position;
  expect(position).not.toBeNull();

  // a second run appears while the feed follows: it is brought up to date without a read asking for it
  const second = await recordRun(fake, null, 5);
  await feed.caughtUp();
  expect(fileVersions(file).get(`run-${second.runId}`)).toBe(await revision(second.runId));
  expect(feed.position! > position!).toBe(true);
  // so reads fold nothing
  const folded = reader.read();
  const plain = new Ledger(new EventStoreDBEventStore(fake));
  expect(await ledger.explain({ runId: second.runId, tokenId: second.sinks[0]! })).toEqual(await plain.explain({ runId: second.runId, tokenId: second.sinks[0]! }));
  expect(reader.read()).toBe(folded);
  await feed.close();
  expect(feed.closed).toBe(true);
  await ledger.close();

  // a new feed starts from the checkpoint kept in the file: it reads the global log after it only
  const third = await recordRun(fake, null, 3);
  const resumed = new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(file, 'esdb://test') });
  const afters: (bigint | undefined)[] = [];
  const readAll = resumed.readAll.bind(resumed);
  (resumed as { readAll: EventStore['readAll'] }).readAll = (options) => {
    afters.push(options?.after);
    return readAll(options);
  };
  const l2 = new Ledger(resumed);
  const feed2 = l2.followProjections({ pollIntervalMs: 20 });
  await feed2.caughtUp();
  expect(afters[0]).toBe(feed.position);
  expect(fileVersions(file).get(`run-${third.runId}`)).toBe(await revision(third.runId));
  await l2.close(); // closes the feed with the ledger
  expect(feed2.closed).toBe(true);
  await plain.close();
});

test('the projection feed needs a store that keeps projections, and stops on an error, rejecting its waiters', async () => {
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false });
  const bare = new Ledger(new EventStoreDBEventStore(fake));
  expect(() => bare.followProjections()).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }) as Error);
  await bare.close();

  await recordRun(fake, null, 2);
  const store = new EventStoreDBEventStore(fake, { localProjections: openProjectionFile(path.join(dir, 'p.db'), 'esdb://test') });
  (store as { readAll: EventStore['readAll'] }).readAll = async function* () {
    yield* [];
    throw new Error('the server went away');
  };
  const ledger = new Ledger(store);
  const errors: unknown[] = [];
  const feed = ledger.followProjections({ onError: (e) => errors.push(e) });
  await expect(feed.caughtUp()).rejects.toThrow('the server went away');
  await expect(feed.done).rejects.toThrow('the server went away');
  expect(errors).toHaveLength(1);
  expect(feed.closed).toBe(true);
  await ledger.close();
});

test('a projection file is refused for another store, and a ledger or foreign file is refused untouched', async () => {
  const file = path.join(dir, 'projection.db');
  openProjectionFile(file, 'esdb://one').close();
  const e = expectLedgerErrorSync(() => openProjectionFile(file, 'esdb://two'), 'INVALID_INPUT');
  expect(e.message).toContain('belongs to the store esdb://one');

  const ledgerFile = path.join(dir, 'ledger.db');
  await (await openSqliteStore(ledgerFile)).close();
  const bytes = fs.readFileSync(ledgerFile);
  expectLedgerErrorSync(() => openProjectionFile(ledgerFile, 'esdb://one'), 'NOT_A_LEDGER');
  expect(fs.readFileSync(ledgerFile).equals(bytes)).toBe(true);

  const text = path.join(dir, 'notes.txt');
  fs.writeFileSync(text, 'not a database');
  expectLedgerErrorSync(() => openProjectionFile(text, 'esdb://one'), 'NOT_A_LEDGER');
  expect(fs.readFileSync(text, 'utf8')).toBe('not a database');
  // a projection file is not a ledger store either
  await expectLedgerError(openSqliteStore(file), 'NOT_A_LEDGER');
});

test('the store URL names the projection file with projections=<file>, which is not passed to the client', () => {
  expect(parseStoreUrl('kurrentdb://localhost:2113?tls=false&projections=./p.db')).toEqual({
    kind: 'eventstoredb',
    connectionString: 'kurrentdb://localhost:2113?tls=false',
    projectionFile: './p.db',
  });
  expect(parseStoreUrl('esdb://localhost:2113?projections=p.db')).toEqual({ kind: 'eventstoredb', connectionString: 'esdb://localhost:2113', projectionFile: 'p.db' });
  expect(parseStoreUrl('esdb://localhost:2113?tls=false')).toEqual({ kind: 'eventstoredb', connectionString: 'esdb://localhost:2113?tls=false' });
  expect(() => parseStoreUrl('esdb://u:secret@localhost:2113?projections=a&projections=b')).toThrow(/projections=<file> once/);
  expect(() => parseStoreUrl('esdb://u:secret@localhost:2113?projections=a&projections=b')).not.toThrow(/secret/);
});

function expectLedgerErrorSync(f: () => unknown, code: string): Error {
  try {
    f();
  } catch (e) {
    expect((e as { code?: unknown }).code).toBe(code);
    return e as Error;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}
