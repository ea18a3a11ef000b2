/**
 * Throughput of the SQLite adapter (not a jest test):
 *   node test/support/ts-require-run.js test/store/sqlite/measure.ts [--appends 1000] [--events 22] [--streams 100] [--synchronous normal|full]
 *
 * (a) sequential: every append awaited before the next is issued (one transaction each);
 * (b) concurrent: the same appends issued at once (Promise.all), group-committed;
 * (c) raw: better-sqlite3 inserting the same rows into the same schema in one transaction.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, SqliteEventStore } from '../../../src/store/sqlite';
import { encodeEventRow, SCHEMA_SQL, TABLES_SQL } from '../../../src/store/sqlite/schema';
import { ExpectedRevision, ProposedEvent } from '../../../src/store/port';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const APPENDS = Number(arg('appends', '1000'));
const EVENTS = Number(arg('events', '22'));
const STREAMS = Number(arg('streams', '100'));
const SYNCHRONOUS = arg('synchronous', 'normal') as 'normal' | 'full';

interface Planned {
  streamId: string;
  events: ProposedEvent[];
  expected: ExpectedRevision;
}

/** APPENDS appends of EVENTS small events, round-robin over STREAMS streams, with their expected revisions. */
function plan(tag: string): Planned[] {
  const next = new Map<string, number>();
  const out: Planned[] = [];
  for (let a = 0; a < APPENDS; a++) {
    const streamId = `${tag}-stream-${a % STREAMS}`;
    const rev = next.get(streamId) ?? -1;
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      eventId: `${tag}-${a}-${i}`,
      type: 'RowProcessed',
      data: { row: a * EVENTS + i, node: 'transform', status: 'ok', hash: 'a3f1c9e2' },
      metadata: { at: '2024-01-01T00:00:00Z' },
    }));
    out.push({ streamId, events, expected: rev < 0 ? 'no_stream' : rev });
    next.set(streamId, rev + EVENTS);
  }
  return out;
}

function rate(events: number, ms: number): string {
  return `${Math.round(events / (ms / 1000)).toLocaleString('en-US')} events/s`;
}

async function withStore<T>(dir: string, name: string, f: (s: SqliteEventStore) => Promise<T>): Promise<T> {
  const store = await openSqliteStore(path.join(dir, name), { synchronous: SYNCHRONOUS });
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-measure-'));
  const total = APPENDS * EVENTS;
  try {
    const seq = plan('seq');
    const seqMs = await withStore(dir, 'a.db', async (store) => {
      const t0 = performance.now();
      for (const p of seq) await store.append(p.streamId, p.events, p.expected);
      const ms = performance.now() - t0;
      if (store.stats.events !== total) throw new Error('sequential: wrong event count');
      return { ms, commits: store.stats.commits };
    });

    const conc = plan('conc');
    const concMs = await withStore(dir, 'b.db', async (store) => {
      const t0 = performance.now();
      await Promise.all(conc.map((p) => store.append(p.streamId, p.events, p.expected)));
      const ms = performance.now() - t0;
      if (store.stats.events !== total) throw new Error('concurrent: wrong event count');
      return { ms, commits: store.stats.commits };
    });

    const raw = plan('raw');
    const rawMs = (() => {
      const db = new Database(path.join(dir, 'c.db'));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${SYNCHRONOUS}`);
      db.exec(SCHEMA_SQL);
      db.exec(TABLES_SQL);
      const addStream = db.prepare('INSERT INTO streams (stream_id, revision) VALUES (?, 0) ON CONFLICT (stream_id) DO UPDATE SET revision = revision');
      const keyOf = db.prepare('SELECT stream_key FROM streams WHERE stream_id = ?').pluck();
      const insert = db.prepare('INSERT INTO events (stream_key, revision, event_id, type, body) VALUES (?, ?, ?, ?, ?)');
      const t0 = performance.now();
      db.transaction(() => {
        for (const p of raw) {
          addStream.run(p.streamId);
          const key = keyOf.get(p.streamId);
          let rev = p.expected === 'no_stream' ? 0 : (p.expected as number) + 1;
          for (const e of p.events) {
            const row = encodeEventRow(e, 0, p.streamId, rev);
            insert.run(key, rev++, row.id, row.type, row.body);
          }
        }
      })();
      const ms = performance.now() - t0;
      db.close();
      return ms;
    })();

    const line = (label: string, ms: number, extra = ''): string => `${label.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${rate(total, ms).padStart(20)}${extra}`;
    process.stdout.write(`${APPENDS} appends x ${EVENTS} events = ${total} events over ${STREAMS} streams, synchronous=${SYNCHRONOUS}, node ${process.version}, ${os.cpus().length} cpus\n`);
    process.stdout.write(`${line('(a) sequential awaited appends', seqMs.ms, `  (${seqMs.commits} commits)`)}\n`);
    process.stdout.write(`${line('(b) concurrent appends (Promise.all)', concMs.ms, `  (${concMs.commits} commits)`)}\n`);
    process.stdout.write(`${line('(c) raw better-sqlite3, 1 transaction', rawMs)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
