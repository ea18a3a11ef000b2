/**
 * No fact decided on top of a rejected append is ever written. Two writers on one run: the
 * first handle's append fails with CONCURRENCY_CONFLICT, and a call queued behind it (whose
 * expected revision happens to match the stream after the other writer's event) must fail
 * too, with RUN_HANDLE_STALE, and store nothing: the run's events fold without anomalies.
 */
import { execFileSync } from 'node:child_process';
import { describePostgres, dropSchema, freshSchema, urlWithSchema } from '../store/postgres/helpers';
import * as path from 'node:path';
import { Ledger, openLedger } from '../../src/ledger';
import { MemoryEventStore } from '../../src/store/memory';
import { makeTempDir, removeDir, TS_RUN } from '../store/sqlite/helpers';

const ROW_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

async function twoWriters(open: () => Promise<Ledger>, otherWriter?: (runId: string, sourceNodeId: string) => void): Promise<void> {
  const a = await open();
  const b = await open();
  const run = await a.beginRun({ config: {} });
  const src = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
  if (otherWriter !== undefined) otherWriter(run.runId, src.nodeId);
  else await (await b.openRun(run.runId)).createRow({ sourceNodeId: src.nodeId, rowIndex: 9, data: {} });
  const [row, token] = await Promise.allSettled([run.createRow({ sourceNodeId: src.nodeId, rowIndex: 0, data: {}, rowId: ROW_ID }), run.createToken({ rowId: ROW_ID })]);
  expect(row).toMatchObject({ status: 'rejected', reason: { code: 'CONCURRENCY_CONFLICT' } });
  expect(token).toMatchObject({ status: 'rejected', reason: { code: 'RUN_HANDLE_STALE' } });
  await expect(run.createToken({ rowId: ROW_ID })).rejects.toMatchObject({ code: 'RUN_HANDLE_STALE' });

  const state = await b.loadRun(run.runId, { asOf: 1_000_000 });
  expect(state.anomalies).toEqual([]);
  expect(state.rows.has(ROW_ID)).toBe(false);
  expect([...state.tokens.values()]).toEqual([]);
  expect((await b.check(run.runId)).violations.filter((v) => v.code === 'EVENT_ANOMALY')).toEqual([]);
  await a.close();
  await b.close();
}

test('memory store: the call queued behind a conflicting append is refused and nothing of it is stored', async () => {
  const store = new MemoryEventStore();
  await twoWriters(async () => new Ledger(store));
});

test('SQLite file shared by two ledgers: the same', async () => {
  const dir = makeTempDir('ll-rej-');
  try {
    await twoWriters(() => openLedger({ store: `sqlite:${path.join(dir, 'r.db')}` }));
  } finally {
    removeDir(dir);
  }
});

test('the other writer in another OS process: the same', async () => {
  const dir = makeTempDir('ll-rej-mp-');
  const file = path.join(dir, 'r.db');
  try {
    await twoWriters(
      () => openLedger({ store: `sqlite:${file}` }),
      otherProcess(`sqlite:${file}`),
    );
  } finally {
    removeDir(dir);
  }
}, 90_000);

function otherProcess(store: string): (runId: string, sourceNodeId: string) => void {
  return (runId, sourceNodeId) =>
    execFileSync(process.execPath, [TS_RUN, path.resolve(__dirname, 'rejected-append-child.ts'), store, runId, sourceNodeId], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
}

describePostgres('PostgreSQL', () => {
  test('two ledgers on one PostgreSQL schema, the other writer in another OS process: the same', async () => {
    const schema = freshSchema();
    try {
      await twoWriters(() => openLedger({ store: urlWithSchema(schema) }), otherProcess(urlWithSchema(schema)));
    } finally {
      await dropSchema(schema);
    }
  }, 90_000);
});

test('overlapping calls against a competing writer never leave an anomaly (randomised)', async () => {
  const store = new MemoryEventStore();
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let conflicts = 0;
  for (let trial = 0; trial < 10; trial++) {
    let run = await new Ledger(store).beginRun({ config: { trial } });
    const src = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
    for (let k = 0; k < 20; k++) {
      // another writer lands events the handle has not seen
      if (rnd(2) === 0) await (await new Ledger(store).openRun(run.runId)).createRow({ sourceNodeId: src.nodeId, rowIndex: 10_000 + k, data: {} });
      const rowId = `0190a1b2-c3d4-7e5f-8a9b-${String(trial).padStart(4, '0')}${String(k).padStart(8, '0')}`;
      const calls = [run.createRow({ sourceNodeId: src.nodeId, rowIndex: k, data: { k }, rowId }), run.createToken({ rowId })];
      if (rnd(2) === 0) calls.push(run.createToken({ rowId }));
      const settled = await Promise.allSettled(calls);
      if (settled.some((r) => r.status === 'rejected')) {
        conflicts++;
        run = await new Ledger(store).openRun(run.runId);
      }
    }
    const state = await new Ledger(store).loadRun(run.runId, { asOf: 1_000_000 });
    expect(state.anomalies).toEqual([]);
  }
  expect(conflicts).toBeGreaterThan(20);
});
