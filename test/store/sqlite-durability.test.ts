/** Durability by default: the SQLite store commits with synchronous=FULL unless normal is asked for (option or URL). */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openSqliteStore, SqliteEventStore } from '../../src/store/sqlite';
import { openStore, parseStoreUrl } from '../../src/store/url';
import { makeTempDir, removeDir } from './sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-sync-');
});
afterEach(() => removeDir(dir));

function connectionSetting(store: SqliteEventStore): number {
  return (store as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }) as number;
}

test('the default is synchronous=full (an fsync per commit); normal is an explicit opt-in', async () => {
  const full = await openSqliteStore(path.join(dir, 'a.db'));
  expect(full.synchronous).toBe('full');
  expect(connectionSetting(full)).toBe(2);
  await full.close();
  const normal = await openSqliteStore(path.join(dir, 'b.db'), { synchronous: 'normal' });
  expect(normal.synchronous).toBe('normal');
  expect(connectionSetting(normal)).toBe(1);
  await normal.close();
});

test('the sqlite: URL takes ?synchronous=normal|full and nothing else', async () => {
  expect(parseStoreUrl('sqlite:./x.db?synchronous=normal')).toEqual({ kind: 'sqlite', path: './x.db', synchronous: 'normal' });
  expect(parseStoreUrl('sqlite:./x.db')).toEqual({ kind: 'sqlite', path: './x.db' });
  expect(() => parseStoreUrl('sqlite:./x.db?synchronous=off')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_STORE_URL' }));
  expect(() => parseStoreUrl('sqlite:./x.db?cache=big')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_STORE_URL' }));
  const s = (await openStore(`sqlite:${path.join(dir, 'c.db')}?synchronous=normal`)) as SqliteEventStore;
  expect(s.synchronous).toBe('normal');
  expect(s.path.endsWith('c.db')).toBe(true);
  await s.close();
});

const ev = (i: number) => ({ eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'Note', data: { i }, metadata: {} });

test('a write-ahead log deleted under a running writer: that commit is not acknowledged, later appends are refused, what the writer held is saved', async () => {
  const file = path.join(dir, 'w.db');
  const store = await openSqliteStore(file);
  await store.append('s', [ev(1)], 'no_stream');
  await store.append('s', [ev(2)], 0);
  fs.unlinkSync(`${file}-wal`);
  await expect(store.append('s', [ev(3)], 1)).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('write-ahead log') });
  await expect(store.append('t', [ev(4)], 'no_stream')).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
  await store.close();
  // the acknowledged events (and the unacknowledged third, checkpointed by the writer) are in the file
  const reopened = await openSqliteStore(file);
  expect(await reopened.streamRevision('s')).toBe(2);
  expect(await reopened.streamRevision('t')).toBe(null);
  await reopened.close();
});

test('a writer whose log is in place keeps acknowledging (no false alarm across checkpoints and other writers)', async () => {
  const file = path.join(dir, 'k.db');
  const a = await openSqliteStore(file);
  const b = await openSqliteStore(file);
  for (let i = 0; i < 20; i++) {
    await a.append('a', [ev(100 + i)], i === 0 ? 'no_stream' : i - 1);
    await b.append('b', [ev(200 + i)], i === 0 ? 'no_stream' : i - 1);
    if (i % 5 === 0) (a as unknown as { db: Database.Database }).db.pragma('wal_checkpoint(TRUNCATE)');
  }
  expect(await a.streamRevision('b')).toBe(19);
  await a.close();
  await b.append('b', [ev(300)], 19);
  await b.close();
});
