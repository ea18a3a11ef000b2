/**
 * `lineage-ledger project`: brings the projection tables of every run up to the events, from the
 * checkpoint kept with them (--once: then stops). On SQLite the recorder keeps the tables itself,
 * so the case here is tables emptied behind the ledger's back (as a writer that keeps none leaves them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { cli } from './support';
import { Ledger } from '../../src/ledger';
import { openSqliteStore } from '../../src/store/sqlite';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-cli-project-');
});
afterEach(() => removeDir(dir));

test('project --once brings emptied tables up to the events, and a second pass reads from its checkpoint', async () => {
  const file = path.join(dir, 'l.db');
  const store = `sqlite:${file}`;
  const runId = (await cli('demo', '--store', store, '--rows', '3')).out.trim();
  const raw = new Database(file);
  raw.exec('DELETE FROM projection; DELETE FROM projection_runs');
  const revision = raw.prepare("SELECT revision FROM streams WHERE stream_id = 'run-' || ?").pluck().get(runId) as number;
  raw.close();

  const first = await cli('project', '--store', store, '--once', '--json');
  expect(first.code).toBe(0);
  const doc = JSON.parse(first.out) as { position: string; runs: string[] };
  expect(doc.runs).toEqual([runId]);
  const check = new Database(file, { readonly: true });
  expect(check.prepare("SELECT version FROM projection_runs WHERE stream_id = 'run-' || ?").pluck().get(runId)).toBe(revision);
  expect(check.prepare("SELECT value FROM ledger_meta WHERE key = 'checkpoint:projection-feed'").pluck().get()).toBe(doc.position);
  check.close();

  const second = await cli('project', '--store', store, '--once', '--json');
  expect(JSON.parse(second.out)).toEqual({ position: doc.position, runs: [] });
  expect(second.err).toContain(`up to position ${doc.position}`);
});

test('the feed on a store opened read-only stops with READ_ONLY and writes nothing', async () => {
  const file = path.join(dir, 'l.db');
  const runId = (await cli('demo', '--store', `sqlite:${file}`, '--rows', '2')).out.trim();
  const raw = new Database(file);
  raw.exec('DELETE FROM projection; DELETE FROM projection_runs');
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
  const bytes = fs.readFileSync(file);
  const ledger = new Ledger(await openSqliteStore(file, { readonly: true }));
  const feed = ledger.followProjections({ pollIntervalMs: 20 });
  await expect(feed.caughtUp()).rejects.toMatchObject({ code: 'READ_ONLY' });
  expect(feed.closed).toBe(true);
  await ledger.close();
  expect(fs.readFileSync(file).equals(bytes)).toBe(true);
  expect(runId).not.toBe('');
});
