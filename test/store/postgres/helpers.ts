/**
 * The PostgreSQL server of the tests: `LINEAGE_LEDGER_TEST_POSTGRES` (a postgres:// URL), which
 * `.ci/run` sets after starting a throwaway server (`.ci/postgres.sh`). Without it the PostgreSQL
 * tests are skipped with a message naming what is missing; on CI, on a machine that has the
 * PostgreSQL binaries, a missing server is a failure, not a skip.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const PG_URL = process.env.LINEAGE_LEDGER_TEST_POSTGRES ?? null;

function binariesPresent(): boolean {
  try {
    return fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  } catch {
    return false;
  }
}

/** `describe` when a server is configured, else `describe.skip` with the reason printed once. */
export function describePostgres(name: string, body: () => void): void {
  if (PG_URL !== null) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true' && binariesPresent()) {
    test(`${name}: needs a PostgreSQL server`, () => {
      throw new Error('PostgreSQL binaries are installed but LINEAGE_LEDGER_TEST_POSTGRES is not set: run the suite through .ci/run (it starts a server with .ci/postgres.sh)');
    });
    return;
  }
  console.warn(`${name}: skipped: ${binariesPresent() ? 'LINEAGE_LEDGER_TEST_POSTGRES is not set (start a server: eval "$(bash .ci/postgres.sh start)")' : 'no PostgreSQL binaries (initdb) on this machine'}`);
  describe.skip(name, body);
}

/** A fresh schema name for one test. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export function urlWithSchema(schema: string): string {
  const u = new URL(PG_URL!);
  u.searchParams.set('schema', schema);
  return u.toString();
}

/** Runs SQL on the test server as the test role. */
export async function sql<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: PG_URL! });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
