/**
 * One benchmark phase, in its own process (so its peak RSS belongs to it alone), with
 * the default Node flags. Prints one JSON object (PhaseResult) on stdout; progress on stderr.
 *
 *   node dist/bench/run-once.js --phase <name> --rows N --dir D
 *
 * Phases share the files in D: `record` writes D/run.db (the reference workload of DESIGN §5
 * through the public API, 64 rows in flight) and D/sinks.txt (the sink token ids); the others
 * read them. Timings are wall-clock (process.hrtime) around the phase's work only.
 */
import Database from 'better-sqlite3';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runStreamId } from '../src/events/envelope';
import { writeExport } from '../src/export/bundle';
import { ed25519Signer, ed25519Verifier } from '../src/export/keys';
import { verifyExport } from '../src/export/verify';
import { openLedger } from '../src/ledger';
import { decodeEventRow, SCHEMA_SQL, TABLES_SQL } from '../src/store/sqlite/schema';
import { openPostgresStore } from '../src/store/postgres';
import { Client } from 'pg';
import { recordReferenceRun } from '../src/workloads/reference';
import { httpLoad } from './http';

/** The phases, in the order the harness runs them. */
export const PHASES = [
  'record',
  'record_sequential',
  'record_normal',
  'record_sequential_normal',
  'raw_batched',
  'raw_per_event',
  'export',
  'verify',
  'check',
  'explain',
  'record_http',
  'record_postgres',
  'raw_batched_postgres',
] as const;
/** Phases that need a PostgreSQL server (LINEAGE_LEDGER_BENCH_POSTGRES, or --postgres <url> on the harness). */
export const POSTGRES_PHASES: readonly string[] = ['record_postgres', 'raw_batched_postgres'];
export const BENCH_POSTGRES_ENV = 'LINEAGE_LEDGER_BENCH_POSTGRES';
export type PhaseName = (typeof PHASES)[number];

/** Rows of the sequential phases (one row at a time, a commit per append): capped, they do not scale with --rows. */
export const SEQUENTIAL_ROWS_CAP = 5000;
/** Rows of the 64-in-flight recording with synchronous=normal (the durability comparison). */
export const NORMAL_ROWS_CAP = 10_000;

export interface PhaseResult {
  readonly phase: PhaseName;
  readonly rows: number;
  readonly ms: number;
  /** rows/s, events/s or records/s, whichever the phase counts. */
  readonly rate: number;
  readonly unit: 'rows/s' | 'events/s' | 'records/s' | 'explains/s';
  /** Peak resident set size of this phase's process, MiB. */
  readonly peakRssMiB: number;
  readonly extra: Record<string, number>;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function fileBytes(file: string): number {
  let n = 0;
  for (const suffix of ['', '-wal']) if (fs.existsSync(file + suffix)) n += fs.statSync(file + suffix).size;
  return n;
}

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

function progress(label: string): (done: number, total: number) => void {
  let last = Date.now();
  return (done, total) => {
    const t = Date.now();
    if (t - last >= 10_000 || done === total) {
      last = t;
      process.stderr.write(`bench: ${label}: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows\n`);
    }
  };
}

async function record(
  file: string,
  rows: number,
  concurrency: number,
  sinks: string | null,
  synchronous: 'full' | 'normal' = 'full',
  storeUrl?: string,
): Promise<{ ms: number; events: number; runId: string }> {
  removeDb(file);
  const ledger = await openLedger({ store: storeUrl ?? `sqlite:${file}${synchronous === 'normal' ? '?synchronous=normal' : ''}` });
  const out = sinks === null ? null : fs.openSync(sinks, 'w');
  const report = progress(`${concurrency === 1 ? 'record_sequential' : 'record'}${synchronous === 'normal' ? '_normal' : ''}`);
  let done = 0;
  try {
    const t0 = process.hrtime.bigint();
    const result = await recordReferenceRun(ledger, {
      rows,
      concurrency,
      // the phase's peak RSS is the library's, not a list of every row's ids kept by the workload
      keepRows: false,
      onRow: (r) => {
        if (out !== null) fs.writeSync(out, `${r.sinkTokenId}\n`);
        report(++done, rows);
      },
    });
    const ms = msSince(t0);
    const events = ((await ledger.store.streamRevision(runStreamId(result.runId))) ?? -1) + 1;
    return { ms, events, runId: result.runId };
  } finally {
    if (out !== null) fs.closeSync(out);
    await ledger.close();
  }
}

/** The run's stored events inserted with raw prepared statements into a file with the events schema and the same settings. */
function rawInserts(dir: string, perCommit: number, limitEvents: number | null): { ms: number; events: number } {
  const src = new Database(path.join(dir, 'run.db'), { readonly: true });
  const rawFile = path.join(dir, 'raw.db');
  removeDb(rawFile);
  const db = new Database(rawFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // as the store's default
  db.exec(SCHEMA_SQL);
  db.exec(TABLES_SQL);
  // the streams first (not timed), as the store has them when it appends
  const streams = src.prepare('SELECT stream_key, stream_id, revision FROM streams').raw(true).all() as unknown[][];
  const addStream = db.prepare('INSERT INTO streams (stream_key, stream_id, revision) VALUES (?, ?, ?)');
  for (const r of streams) addStream.run(...r);
  const insert = db.prepare('INSERT INTO events (stream_key, revision, event_id, type, body) VALUES (?, ?, ?, ?, ?)');
  const read = src.prepare(`SELECT stream_key, revision, event_id, type, body FROM events ORDER BY position${limitEvents === null ? '' : ' LIMIT ?'}`).raw(true);
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  let events = 0;
  let ms = 0;
  let batch: unknown[][] = [];
  const flush = (): void => {
    const t0 = process.hrtime.bigint();
    begin.run();
    for (const e of batch) insert.run(...e);
    commit.run();
    ms += msSince(t0);
    events += batch.length;
    batch = [];
  };
  // read outside the timed part, a batch at a time (memory stays bounded)
  for (const row of (limitEvents === null ? read.iterate() : read.iterate(limitEvents)) as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length === perCommit) flush();
  }
  if (batch.length > 0) flush();
  src.close();
  db.close();
  removeDb(rawFile);
  return { ms, events };
}

/** A fresh schema on the bench's PostgreSQL server for one phase, dropped afterwards. */
async function withPostgresSchema<T>(work: (url: string, schema: string) => Promise<T>): Promise<T> {
  const base = process.env[BENCH_POSTGRES_ENV];
  if (base === undefined || base === '') throw new Error(`set ${BENCH_POSTGRES_ENV} (or --postgres <url>) to a postgres:// URL`);
  const schema = `bench_${process.pid}_${Date.now()}`;
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  const client = new Client({ connectionString: base });
  await client.connect();
  try {
    return await work(url.toString(), schema);
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await client.end();
  }
}

/**
 * The PostgreSQL anchor: the very events `record` stored (their stored JSON text), inserted into
 * the store's own events table with one multi-row INSERT of 1,000 events per transaction, the
 * positions counter and streams table left alone; no validation, no projection.
 */
async function rawInsertsPostgres(dir: string, url: string): Promise<{ ms: number; events: number }> {
  const store = await openPostgresStore(url.replace(/\?schema=.*$/, ''), { schema: new URL(url).searchParams.get('schema')! });
  await store.close(); // creates the tables
  const src = new Database(path.join(dir, 'run.db'), { readonly: true });
  const stored = src.prepare('SELECT e.position, s.stream_id, e.revision, e.event_id, e.type, e.body FROM events e JOIN streams s ON s.stream_key = e.stream_key ORDER BY e.position').raw(true);
  // the stored events as the PostgreSQL store keeps them (JSON text), decoded outside the timed part
  const read = {
    *iterate(): Iterable<unknown[]> {
      for (const [position, streamId, revision, id, type, body] of stored.iterate() as Iterable<[number, string, number, unknown, unknown, unknown]>) {
        const e = decodeEventRow(streamId, revision, id, type, body);
        if (typeof e === 'string') throw new Error(`event at position ${position}: ${e}`);
        yield [position, streamId, revision, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)];
      }
    },
  };
  const client = new Client({ connectionString: url.replace(/\?schema=.*$/, ''), options: `-c search_path=${new URL(url).searchParams.get('schema')!}` });
  await client.connect();
  let events = 0;
  let ms = 0;
  let batch: unknown[][] = [];
  const flush = async (): Promise<void> => {
    const cols = [0, 1, 2, 3, 4, 5, 6].map((k) => batch.map((r) => r[k]));
    const t0 = process.hrtime.bigint();
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO events (position, stream_id, revision, event_id, type, data, metadata) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])',
      cols.map((c, k) => (k === 0 ? c.map(String) : c)),
    );
    await client.query('COMMIT');
    ms += msSince(t0);
    events += batch.length;
    batch = [];
  };
  try {
    for (const row of read.iterate() as Iterable<unknown[]>) {
      batch.push(row);
      if (batch.length === 1000) await flush();
    }
    if (batch.length > 0) await flush();
  } finally {
    src.close();
    await client.end();
  }
  return { ms, events };
}

async function run(phase: PhaseName, rows: number, dir: string): Promise<Omit<PhaseResult, 'peakRssMiB'>> {
  const db = path.join(dir, 'run.db');
  const exportFile = path.join(dir, 'export.jsonl');
  const keyFile = path.join(dir, 'public.pem');
  switch (phase) {
    case 'record': {
      const r = await record(db, rows, 64, path.join(dir, 'sinks.txt'));
      const bytes = fileBytes(db);
      fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ runId: r.runId, events: r.events }));
      return { phase, rows, ms: r.ms, rate: (rows / r.ms) * 1000, unit: 'rows/s', extra: { events: r.events, eventsPerSec: (r.events / r.ms) * 1000, bytesPerRow: bytes / rows, fileMiB: bytes / (1 << 20) } };
    }
    case 'record_sequential': {
      const n = Math.min(rows, SEQUENTIAL_ROWS_CAP);
      const file = path.join(dir, 'seq.db');
      const r = await record(file, n, 1, null);
      removeDb(file);
      return { phase, rows: n, ms: r.ms, rate: (n / r.ms) * 1000, unit: 'rows/s', extra: { events: r.events, eventsPerSec: (r.events / r.ms) * 1000 } };
    }
    case 'record_normal':
    case 'record_sequential_normal': {
      const sequential = phase === 'record_sequential_normal';
      const n = Math.min(rows, sequential ? SEQUENTIAL_ROWS_CAP : NORMAL_ROWS_CAP);
      const file = path.join(dir, 'normal.db');
      const r = await record(file, n, sequential ? 1 : 64, null, 'normal');
      removeDb(file);
      return { phase, rows: n, ms: r.ms, rate: (n / r.ms) * 1000, unit: 'rows/s', extra: { events: r.events, eventsPerSec: (r.events / r.ms) * 1000 } };
    }
    case 'record_http': {
      // 16 clients, 25 rows per request wave, on a file of its own
      const file = path.join(dir, 'http.db');
      removeDb(file);
      const r = await httpLoad(file, rows, 16, 25);
      removeDb(file);
      return {
        phase,
        rows,
        ms: r.ms,
        rate: (rows / r.ms) * 1000,
        unit: 'rows/s',
        extra: { requestsPerSec: (r.requests / r.ms) * 1000, commandsPerSec: (r.commands / r.ms) * 1000, p50ms: r.p50, p99ms: r.p99 },
      };
    }
    case 'record_postgres': {
      return withPostgresSchema(async (url) => {
        const r = await record(path.join(dir, 'unused.db'), rows, 64, null, 'full', url);
        return { phase, rows, ms: r.ms, rate: (rows / r.ms) * 1000, unit: 'rows/s' as const, extra: { events: r.events, eventsPerSec: (r.events / r.ms) * 1000 } };
      });
    }
    case 'raw_batched_postgres': {
      return withPostgresSchema(async (url) => {
        const r = await rawInsertsPostgres(dir, url);
        return { phase, rows, ms: r.ms, rate: (r.events / r.ms) * 1000, unit: 'events/s' as const, extra: { events: r.events, rowsPerSec: (rows / r.ms) * 1000 } };
      });
    }
    case 'raw_batched': {
      const r = rawInserts(dir, 1000, null);
      return { phase, rows, ms: r.ms, rate: (r.events / r.ms) * 1000, unit: 'events/s', extra: { events: r.events, rowsPerSec: (rows / r.ms) * 1000 } };
    }
    case 'raw_per_event': {
      const n = Math.min(rows, SEQUENTIAL_ROWS_CAP);
      const { events } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { events: number };
      const r = rawInserts(dir, 1, Math.round((events / rows) * n));
      return { phase, rows: n, ms: r.ms, rate: (r.events / r.ms) * 1000, unit: 'events/s', extra: { events: r.events, rowsPerSec: (n / r.ms) * 1000 } };
    }
    case 'export': {
      const { runId } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { runId: string };
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      fs.writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
      const ledger = await openLedger({ store: `sqlite:${db}` });
      try {
        const t0 = process.hrtime.bigint();
        const result = await writeExport(ledger, runId, exportFile, { signer: ed25519Signer(privateKey) });
        const ms = msSince(t0);
        const n = result.manifest.record_count;
        return { phase, rows, ms, rate: (n / ms) * 1000, unit: 'records/s', extra: { records: n, fileMiB: fs.statSync(exportFile).size / (1 << 20) } };
      } finally {
        await ledger.close();
      }
    }
    case 'verify': {
      const { createPublicKey } = await import('node:crypto');
      const verifier = ed25519Verifier(createPublicKey(fs.readFileSync(keyFile)));
      const t0 = process.hrtime.bigint();
      const report = await verifyExport(exportFile, { verifier });
      const ms = msSince(t0);
      if (!report.ok) throw new Error('the benchmark export does not verify');
      return { phase, rows, ms, rate: (report.recordsRead / ms) * 1000, unit: 'records/s', extra: { records: report.recordsRead } };
    }
    case 'check': {
      const { runId } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { runId: string };
      const ledger = await openLedger({ store: `sqlite:${db}` });
      try {
        const t0 = process.hrtime.bigint();
        const result = await ledger.check(runId);
        const ms = msSince(t0);
        if (!result.ok) throw new Error(`the benchmark run does not pass the audit check: ${result.violations[0]?.message ?? ''}`);
        return { phase, rows, ms, rate: (rows / ms) * 1000, unit: 'rows/s', extra: {} };
      } finally {
        await ledger.close();
      }
    }
    case 'explain': {
      const { runId } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { runId: string };
      const sinks = fs.readFileSync(path.join(dir, 'sinks.txt'), 'utf8').trim().split('\n');
      let seed = 12345;
      const pick = (): string => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return sinks[seed % sinks.length]!;
      };
      const t0 = process.hrtime.bigint();
      const ledger = await openLedger({ store: `sqlite:${db}` });
      try {
        const times: number[] = [];
        let tokens = 0;
        for (let i = 0; i < 1000; i++) {
          const t = process.hrtime.bigint();
          const e = await ledger.explain({ runId, tokenId: pick() });
          times.push(msSince(t));
          tokens += e.tokens.length;
        }
        const ms = msSince(t0);
        const first = times[0]!;
        const rest = times.slice(1).sort((a, b) => a - b);
        return {
          phase,
          rows,
          ms,
          rate: (1000 / ms) * 1000,
          unit: 'explains/s',
          extra: { firstMs: first, medianMs: percentile(rest, 0.5), p99Ms: percentile(rest, 0.99), maxMs: rest[rest.length - 1]!, tokensPerExplain: tokens / 1000 },
        };
      } finally {
        await ledger.close();
      }
    }
  }
}

async function main(): Promise<void> {
  const phase = arg('phase') as PhaseName | undefined;
  const rows = Number(arg('rows'));
  const dir = arg('dir');
  if (phase === undefined || !(PHASES as readonly string[]).includes(phase) || !Number.isInteger(rows) || rows < 1 || dir === undefined) {
    process.stderr.write(`usage: node dist/bench/run-once.js --phase ${PHASES.join('|')} --rows N --dir D\n`);
    process.exitCode = 2;
    return;
  }
  const result = await run(phase, rows, dir);
  const out: PhaseResult = { ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
