/**
 * Two child processes and the jest process write to one SQLite file at the same time:
 * several writers each, one stream shared by all of them (retrying on
 * CONCURRENCY_CONFLICT) and one stream per writer.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { collectPages, EventStore, StoredEvent } from '../../src/store/port';
import { openSqliteStore, SqliteEventStore } from '../../src/store/sqlite';
import { openStore } from '../../src/store/url';
import { describePostgres, dropSchema, freshSchema, urlWithSchema } from './postgres/helpers';
import { makeTempDir, removeDir, TS_RUN } from './sqlite/helpers';
import { runWriter, SHARED_STREAM, WriterReport } from './sqlite/mp-writers';

const CHILD = path.resolve(__dirname, 'sqlite/mp-child.ts');
const WRITERS_PER_PROCESS = 3;
const ROUNDS = 40;

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  done: Promise<WriterReport[]>;
  stderr: () => string;
}

function startChild(db: string, name: string): Child {
  const proc = fork(TS_RUN, [CHILD, db, name, String(WRITERS_PER_PROCESS), String(ROUNDS)], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let onReady: () => void = () => undefined;
  let onExit: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onExit = reject;
  });
  const done = new Promise<WriterReport[]>((resolve, reject) => {
    proc.on('message', (m: { type: string; reports?: WriterReport[] }) => {
      if (m.type === 'ready') onReady();
      if (m.type === 'done') resolve(m.reports!);
    });
    proc.on('close', (code) => {
      const e = new Error(`child ${name} exited (${String(code)}) before reporting: ${err}`);
      onExit(e);
      reject(e);
    });
  });
  done.catch(() => undefined); // awaited later; do not report it as unhandled meanwhile
  ready.catch(() => undefined);
  return { proc, ready, done, stderr: () => err };
}

let dir: string;
beforeEach(() => (dir = makeTempDir()));
afterEach(() => removeDir(dir));

test('two processes and several in-process writers share one file: nothing lost, nothing duplicated, conflicts typed', async () => {
  await threeProcesses(path.join(dir, 'shared.db'), openSqliteStore);
}, 120_000);

describePostgres('PostgreSQL', () => {
  test('two processes and several in-process writers share one PostgreSQL schema: the same', async () => {
    const schema = freshSchema();
    try {
      await threeProcesses(urlWithSchema(schema), (url) => openStore(url));
    } finally {
      await dropSchema(schema);
    }
  }, 120_000);
});

async function threeProcesses(db: string, open: (db: string) => Promise<EventStore>): Promise<void> {
  const parentStore = await open(db);
  const children = [startChild(db, 'c1'), startChild(db, 'c2')];
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.send('go');
    const mine = await Promise.all(Array.from({ length: WRITERS_PER_PROCESS }, (_, i) => runWriter(parentStore, `p.w${i}`, ROUNDS)));
    const theirs = (await Promise.all(children.map((c) => c.done))).flat();
    const reports = [...mine, ...theirs];
    expect(reports).toHaveLength(3 * WRITERS_PER_PROCESS);

    // every failure was a typed CONCURRENCY_CONFLICT, followed by a successful retry
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    const conflicts = reports.reduce((n, r) => n + r.conflicts, 0);
    expect(conflicts).toBeGreaterThan(0);


    const acknowledged = reports.flatMap((r) => r.acknowledged);
    const stored: StoredEvent[] = await collectPages(parentStore.readAll());
    const ids = stored.map((e) => e.eventId);
    // each acknowledged event exactly once, and nothing that was not acknowledged
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...acknowledged].sort());
    const expectedTotal = 3 * WRITERS_PER_PROCESS * 2 * Array.from({ length: ROUNDS }, (_, s) => 1 + (s % 3)).reduce((a, b) => a + b, 0);
    expect(ids).toHaveLength(expectedTotal);

    // revisions are dense in every stream, positions strictly increase
    const byStream = new Map<string, StoredEvent[]>();
    for (const e of stored) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
    expect(byStream.size).toBe(1 + 3 * WRITERS_PER_PROCESS);
    for (const [streamId, list] of byStream) {
      expect(list.map((e) => e.revision)).toEqual(list.map((_, i) => i));
      expect(await parentStore.streamRevision(streamId)).toBe(list.length - 1);
    }
    for (let i = 1; i < stored.length; i++) expect(stored[i]!.position > stored[i - 1]!.position).toBe(true);

    // each writer's events appear in the shared stream in the order it issued them, each append contiguous
    const shared = byStream.get(SHARED_STREAM)!;
    for (const r of reports) {
      const order = shared.filter((e) => (e.data as { writer: string }).writer === r.writer).map((e) => e.eventId);
      expect(order).toEqual(r.acknowledged.filter((id) => id.includes('/shared/')));
    }
    for (let i = 1; i < shared.length; i++) {
      const prev = shared[i - 1]!.data as { writer: string; seq: number; part: number };
      const cur = shared[i]!.data as { writer: string; seq: number; part: number };
      if (cur.part > 0) expect([prev.writer, prev.seq, prev.part + 1]).toEqual([cur.writer, cur.seq, cur.part]);
    }
    // the processes really wrote at the same time: the shared stream switches between them many times
    const processOf = (e: StoredEvent): string => (e.data as { writer: string }).writer.split('.')[0]!;
    const switches = shared.filter((e, i) => i > 0 && processOf(e) !== processOf(shared[i - 1]!)).length;
    expect(switches).toBeGreaterThan(2);
    if (parentStore instanceof SqliteEventStore) await expect(parentStore.verifyIntegrity('full')).resolves.toMatchObject({ events: expectedTotal });
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await parentStore.close();
  }
}
