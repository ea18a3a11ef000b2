/**
 * A second process appends to the SQLite file a subscription follows: its events
 * arrive by polling (the store's live notification only covers this process's appends).
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { follow } from '../../src/subscriptions/follow';
import { openSqliteStore } from '../../src/store/sqlite';
import { makeTempDir, removeDir, TS_RUN } from '../store/sqlite/helpers';
import { comparable, waitFor } from './follow-support';

const CHILD = path.resolve(__dirname, 'follow/writer-child.ts');

let dir: string;
beforeEach(() => (dir = makeTempDir('ll-follow-mp-')));
afterEach(() => removeDir(dir));

test('events appended by another process are picked up by polling, and the followed state equals a rebuild', async () => {
  const db = path.join(dir, 'shared.db');
  const store = await openSqliteStore(db);
  let notified = 0;
  const realWatch = store.watch.bind(store);
  store.watch = (listener) =>
    realWatch((streamId) => {
      notified++;
      listener(streamId);
    });
  let updates = 0;
  const sub = follow(store, 'all', { pollIntervalMs: 20, onUpdate: () => void updates++ });
  await sub.caughtUp();
  expect(sub.state.size).toBe(0);

  const child = fork(TS_RUN, [CHILD, db, '12'], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const done = new Promise<{ runId: string; revision: number }>((resolve, reject) => {
      child.on('message', (m: { type: string; runId?: string; revision?: number }) => {
        if (m.type === 'ready') child.send('go');
        if (m.type === 'done') resolve({ runId: m.runId!, revision: m.revision! });
      });
      child.on('exit', (code) => reject(new Error(`writer child exited (${String(code)}) before reporting: ${stderr}`)));
    });
    const { runId, revision } = await done;
    expect(revision).toBeGreaterThan(200);
    // no caughtUp(): only a poll can bring the other process's events in
    await waitFor(() => sub.state.get(runId)?.version === revision, 'the subscription to poll the events of the other process', 45000);
    expect(notified).toBe(0);
    expect(updates).toBeGreaterThan(0);
    const ledger = await openLedger({ store });
    expect(comparable(sub.state.get(runId))).toEqual(comparable(await ledger.loadRun(runId)));
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await sub.close();
    await store.close();
  }
});
