/**
 * One benchmark repeat at one size, in its own process (so peak RSS and heap state
 * belong to this measurement alone). Prints one JSON object (RunFigures) on stdout.
 *
 *   node dist/bench/run-once.js --rows N [--phases record,anchor,export,explain,check] [--dir D]
 *
 * Every phase measures the reference workload of DESIGN §5 through the public API.
 * Timings are wall-clock (process.hrtime) around the phase only.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLedger } from '../src/ledger';
import { runStreamId } from '../src/events/envelope';
import { SCHEMA_V1_SQL } from '../src/store/sqlite/schema';
import { recordReferenceRun } from '../src/workloads/reference';
import { benchExport, benchExplain, benchCheck } from './phases';

export interface PhaseFigure {
  readonly ms: number;
  readonly rowsPerSec?: number;
  readonly eventsPerSec?: number;
  readonly recordsPerSec?: number;
  readonly [k: string]: number | undefined;
}

export interface RunFigures {
  readonly rows: number;
  readonly events: number;
  readonly phases: Record<string, PhaseFigure>;
  /** Peak resident set size of this process, MiB. */
  readonly peakRssMiB: number;
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function now(): bigint {
  return process.hrtime.bigint();
}

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

/** Records the reference workload and returns its figures (and the run id). */
async function recordPhase(store: string, rows: number, concurrency: number): Promise<{ figure: PhaseFigure; runId: string; events: number; sinkTokens: string[] }> {
  const ledger = await openLedger({ store });
  try {
    const t0 = now();
    const result = await recordReferenceRun(ledger, { rows, concurrency });
    const ms = msSince(t0);
    const events = ((await ledger.store.streamRevision(runStreamId(result.runId))) ?? -1) + 1;
    return {
      figure: { ms, rowsPerSec: (rows / ms) * 1000, eventsPerSec: (events / ms) * 1000 },
      runId: result.runId,
      events,
      sinkTokens: result.rows.map((r) => r.sinkTokenId),
    };
  } finally {
    await ledger.close();
  }
}

interface RawEvent {
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * The physical anchor: the same events (the stored JSON text, so the same payload
 * sizes) inserted with raw better-sqlite3 prepared statements in batched transactions
 * into a file with the same schema and durability settings, and appended to a plain file.
 */
function anchorPhases(sourceDb: string, dir: string, rows: number): Record<string, PhaseFigure> {
  const src = new Database(sourceDb, { readonly: true });
  const events = src.prepare('SELECT stream_id, revision, event_id, type, data, metadata FROM events ORDER BY position').all() as RawEvent[];
  src.close();
  const batch = 1000;

  const rawFile = path.join(dir, 'raw.db');
  removeDb(rawFile);
  const db = new Database(rawFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA_V1_SQL);
  const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  const insertMany = db.transaction((slice: RawEvent[]) => {
    for (const e of slice) insert.run(e.stream_id, e.revision, e.event_id, e.type, e.data, e.metadata);
  });
  const t0 = now();
  for (let i = 0; i < events.length; i += batch) insertMany(events.slice(i, i + batch));
  const rawMs = msSince(t0);
  db.close();
  removeDb(rawFile);

  const plain = path.join(dir, 'plain.jsonl');
  const fd = fs.openSync(plain, 'w');
  const t1 = now();
  for (let i = 0; i < events.length; i += batch) {
    let chunk = '';
    for (const e of events.slice(i, i + batch)) chunk += `{"stream":${JSON.stringify(e.stream_id)},"revision":${e.revision},"id":"${e.event_id}","type":"${e.type}","data":${e.data},"metadata":${e.metadata}}\n`;
    fs.writeSync(fd, chunk);
  }
  fs.fdatasyncSync(fd);
  const fileMs = msSince(t1);
  fs.closeSync(fd);
  fs.rmSync(plain, { force: true });

  return {
    raw_sqlite_batched: { ms: rawMs, eventsPerSec: (events.length / rawMs) * 1000, rowsPerSec: (rows / rawMs) * 1000 },
    plain_file_append: { ms: fileMs, eventsPerSec: (events.length / fileMs) * 1000, rowsPerSec: (rows / fileMs) * 1000 },
  };
}

async function main(): Promise<void> {
  const rows = Number(arg('rows', '1000'));
  const phases = new Set((arg('phases', 'record,anchor,export,explain,check') ?? '').split(','));
  const dir = fs.mkdtempSync(path.join(arg('dir') ?? os.tmpdir(), 'll-bench-'));
  const figures: Record<string, PhaseFigure> = {};
  let events = 0;
  try {
    const seqDb = path.join(dir, 'seq.db');
    const concDb = path.join(dir, 'conc.db');
    if (phases.has('record')) {
      figures.record_memory_sequential = (await recordPhase('memory:', rows, 1)).figure;
      figures.record_memory_concurrent = (await recordPhase('memory:', rows, 64)).figure;
      figures.record_sqlite_sequential = (await recordPhase(`sqlite:${seqDb}`, rows, 1)).figure;
      removeDb(seqDb);
    }
    const conc = await recordPhase(`sqlite:${concDb}`, rows, 64);
    events = conc.events;
    if (phases.has('record')) figures.record_sqlite_concurrent = conc.figure;
    if (phases.has('anchor')) Object.assign(figures, anchorPhases(concDb, dir, rows));
    if (phases.has('export')) Object.assign(figures, await benchExport(`sqlite:${concDb}`, conc.runId, dir));
    if (phases.has('explain')) Object.assign(figures, await benchExplain(`sqlite:${concDb}`, conc.runId, conc.sinkTokens));
    if (phases.has('check')) Object.assign(figures, await benchCheck(`sqlite:${concDb}`, conc.runId));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const out: RunFigures = { rows, events, phases: figures, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
