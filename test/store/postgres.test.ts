/** The EventStore contract and the PostgreSQL specifics, against a real server (see test/store/postgres/helpers.ts). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import { collectPages } from '../../src/store/port';
import { openPostgresStore, PostgresEventStore } from '../../src/store/postgres';
import { openStore, parseStoreUrl } from '../../src/store/url';
import { cli } from '../cli/support';
import { describeEventStoreContract, ev } from './contract';
import { describePostgres, dropSchema, freshSchema, PG_URL, sql, urlWithSchema } from './postgres/helpers';
import { makeTempDir, removeDir } from './sqlite/helpers';

test('postgres:// and postgresql:// URLs; schema= is ours, the rest goes to the driver', () => {
  expect(parseStoreUrl('postgres://u:p@db.example:5433/ledger?schema=audit&sslmode=require')).toEqual({
    kind: 'postgres',
    connectionString: 'postgres://u:p@db.example:5433/ledger?sslmode=require',
    schema: 'audit',
  });
  expect(parseStoreUrl('postgresql://localhost/x')).toEqual({ kind: 'postgres', connectionString: 'postgresql://localhost/x' });
  expect(() => parseStoreUrl('postgres:///x')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_STORE_URL' }));
  expect(() => parseStoreUrl('postgres://h/x?schema=a&schema=b')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_STORE_URL' }));
});

describePostgres('PostgreSQL store', () => {
  describeEventStoreContract('postgres', async () => {
    const schema = freshSchema();
    const store = await openPostgresStore(PG_URL!, { schema });
    return { store, cleanup: () => dropSchema(schema) };
  });
});

describePostgres('PostgreSQL store: schema, ordering, and the ledger on top', () => {
  let schema: string;
  let dir: string;
  beforeEach(() => {
    schema = freshSchema();
    dir = makeTempDir('ll-pg-');
  });
  afterEach(async () => {
    await dropSchema(schema);
    removeDir(dir);
  });

  test('a schema with tables of something else is refused and left as it was; a newer version is refused', async () => {
    await sql(`CREATE SCHEMA "${schema}"`);
    await sql(`CREATE TABLE "${schema}".customers (id int)`);
    await expect(openPostgresStore(PG_URL!, { schema })).rejects.toMatchObject({ code: 'NOT_A_LEDGER' });
    const tables = await sql<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
    expect(tables.map((t) => t.table_name)).toEqual(['customers']);
    await sql(`DROP TABLE "${schema}".customers`);
    const store = await openPostgresStore(PG_URL!, { schema });
    await store.close();
    await sql(`UPDATE "${schema}".ledger_meta SET value = '99' WHERE key = 'schema_version'`);
    await expect(openPostgresStore(PG_URL!, { schema })).rejects.toMatchObject({ code: 'STORE_VERSION_UNSUPPORTED' });
  });

  test('opening for reading (create: false) where no ledger is creates nothing; the password never appears in errors', async () => {
    await expect(openPostgresStore(PG_URL!, { schema, create: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).toEqual([]);
    const wrong = new URL(PG_URL!);
    wrong.password = 'not-the-password-s3cr3t';
    const e = await openPostgresStore(wrong.toString(), { schema }).then(
      () => null,
      (x: unknown) => x as Error,
    );
    // trust authentication may let any password in; a refused one must not be echoed
    if (e !== null) {
      expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(JSON.stringify(e) + e.message).not.toContain('s3cr3t');
    } else {
      await dropSchema(schema);
    }
    const down = await openPostgresStore('postgres://ledger:s3cr3t@127.0.0.1:1/none', { schema }).then(
      () => null,
      (x: unknown) => x as Error,
    );
    expect(down).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(JSON.stringify(down) + down!.message).not.toContain('s3cr3t');
  });

  test('watch hears appends of other store instances (LISTEN/NOTIFY) and of its own, once each', async () => {
    const a = await openPostgresStore(PG_URL!, { schema });
    const b = await openPostgresStore(PG_URL!, { schema });
    const heard: string[] = [];
    const stop = a.watch((streamId) => heard.push(streamId));
    await new Promise((r) => setTimeout(r, 300)); // the LISTEN connection is set up
    await b.append('from-b', [ev('N')], 'no_stream');
    await a.append('from-a', [ev('N')], 'no_stream');
    for (let i = 0; i < 100 && !(heard.includes('from-b') && heard.includes('from-a')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(heard.filter((s) => s === 'from-b')).toEqual(['from-b']);
    expect(heard.filter((s) => s === 'from-a')).toEqual(['from-a']);
    stop();
    await a.close();
    await b.close();
  });

  test('a follower never skips an event: the positions it sees while writers race are a gap-free prefix', async () => {
    const writers = await Promise.all([0, 1, 2, 3].map(() => openPostgresStore(PG_URL!, { schema })));
    const follower = await openPostgresStore(PG_URL!, { schema });
    let done = false;
    const seen: bigint[] = [];
    const follow = (async () => {
      let after = 0n;
      while (!done || after < (await lastPosition(follower))) {
        for await (const page of follower.readAll({ after, pageSize: 7 })) {
          for (const e of page) {
            seen.push(e.position);
            after = e.position;
          }
        }
      }
    })();
    await Promise.all(
      writers.map(async (w, k) => {
        const appends: Array<Promise<unknown>> = [];
        for (let i = 0; i < 60; i++) appends.push(w.append(`s-${k}-${i % 5}`, [ev('N', { k, i }), ev('N', { k, i, second: true })], 'any'));
        await Promise.all(appends);
      }),
    );
    done = true;
    await follow;
    const all = (await collectPages(follower.readAll())).map((e) => e.position);
    expect(all.length).toBe(4 * 60 * 2);
    expect(all).toEqual(all.map((_p, i) => BigInt(i + 1)));
    expect(seen).toEqual(all);
    for (const w of [...writers, follower]) await w.close();
  });

  test('the demo run on PostgreSQL: export byte-identical to the same events exported from SQLite; verify, explain, check, cold open from the tables', async () => {
    const file = path.join(dir, 'demo.db');
    const pgUrl = urlWithSchema(schema);
    expect((await cli('demo', '--store', `sqlite:${file}`, '--rows', '12', '--json')).code).toBe(0);
    // the same events, copied into PostgreSQL stream by stream with their ids
    const from = await openStore(`sqlite:${file}`);
    const to = await openStore(pgUrl);
    for (const s of await from.listStreams()) {
      for await (const page of from.readStream(s.streamId)) {
        await to.append(
          s.streamId,
          page.map((e) => ({ eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata })),
          page[0]!.revision === 0 ? 'no_stream' : page[0]!.revision - 1,
        );
      }
    }
    await from.close();
    await to.close();
    const fromSqlite = path.join(dir, 'sqlite.jsonl');
    const fromPg = path.join(dir, 'pg.jsonl');
    const at = ['--exported-at', '2026-01-02T03:04:05.678Z'];
    expect((await cli('export', '--store', `sqlite:${file}`, '--run', 'latest', '--out', fromSqlite, ...at)).code).toBe(0);
    expect((await cli('export', '--store', pgUrl, '--run', 'latest', '--out', fromPg, ...at)).code).toBe(0);
    expect(fs.readFileSync(fromPg).equals(fs.readFileSync(fromSqlite))).toBe(true);
    expect((await cli('verify', fromPg, '--no-signature')).code).toBe(0);
    // a run recorded on PostgreSQL directly
    const demo = await cli('demo', '--store', pgUrl, '--rows', '12', '--json');
    expect(demo.code).toBe(0);
    const runId = (JSON.parse(demo.out) as { runId: string }).runId;
    const check = await cli('check', '--store', pgUrl, '--run', runId, '--json');
    expect(check.code).toBe(0);
    expect(JSON.parse(check.out)).toMatchObject({ ok: true });
    const explained = await cli('explain', '--store', pgUrl, '--run', runId, '--row', '3', '--format', 'json');
    expect(explained.code).toBe(0);
    expect(explained.out).toContain(runId);
    // the reads came from the projection tables, which hold the whole run
    const [row] = await sql<{ version: string }>(`SELECT version FROM "${schema}".projection_runs WHERE stream_id = $1`, [runStreamId(runId)]);
    const revision = (await sql<{ revision: string }>(`SELECT revision FROM "${schema}".streams WHERE stream_id = $1`, [runStreamId(runId)]))[0]!.revision;
    expect(row?.version).toBe(revision);
    // and a fresh ledger that folds nothing answers the same as one that folds everything
    const ledger = await openLedger({ store: pgUrl });
    const fromTables = await ledger.explain({ runId, rowIndex: 3 });
    await ledger.rebuildProjection(runId);
    expect(await ledger.explain({ runId, rowIndex: 3 })).toEqual(fromTables);
    await ledger.close();
  });
});

async function lastPosition(store: PostgresEventStore): Promise<bigint> {
  let last = 0n;
  for await (const page of store.readAll({ after: 0n, pageSize: 100_000 })) last = page[page.length - 1]?.position ?? last;
  return last;
}
