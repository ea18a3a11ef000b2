/** Durability by default: the SQLite store commits with synchronous=FULL unless normal is asked for (option or URL). */
import Database from 'better-sqlite3';
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
