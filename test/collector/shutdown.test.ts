/**
 * `lineage-ledger serve` as its own process under load: 16 clients send batches of commands
 * concurrently, the server gets SIGTERM in the middle, finishes the requests in flight and
 * exits 0; every command of every acknowledged request is in the store exactly once, and
 * nothing of a request that was not acknowledged.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { makeTempDir, removeDir, TS_RUN } from '../store/sqlite/helpers';

const CHILD = path.resolve(__dirname, '../cli/main-child.ts');

test('SIGTERM under load from 16 clients: exit 0, every acknowledged command stored once, nothing else', async () => {
  const dir = makeTempDir('ll-serve-');
  const store = `sqlite:${path.join(dir, 's.db')}`;
  const server = spawn(process.execPath, [TS_RUN, CHILD, 'serve', '--store', store, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on (\S+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    server.on('exit', () => reject(new Error(`server exited early: ${log}`)));
  });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  try {
    const post = async (route: string, body: unknown): Promise<{ status: number; json: any }> => {
      const res = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: await res.json() };
    };
    const runs: Array<{ runId: string; source: string }> = [];
    for (let r = 0; r < 4; r++) {
      const runId = (await post('/v1/runs', { config: { r } })).json.runId as string;
      const source = (await post(`/v1/runs/${runId}/commands`, { commands: [{ op: 'registerNode', input: { pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} } }] })).json.results[0].nodeId;
      runs.push({ runId, source });
    }
    const acked = new Map<string, Set<number>>(runs.map((r) => [r.runId, new Set<number>()]));
    const sent = new Map<string, Set<number>>(runs.map((r) => [r.runId, new Set<number>()]));
    let stopping = false;
    const client = async (k: number): Promise<number> => {
      const { runId, source } = runs[k % 4]!;
      let requests = 0;
      for (let j = 0; j < 400; j++) {
        const indexes = Array.from({ length: 10 }, (_, n) => k * 100_000 + j * 10 + n);
        indexes.forEach((i) => sent.get(runId)!.add(i));
        let res;
        try {
          res = await post(`/v1/runs/${runId}/commands`, { commands: indexes.map((i) => ({ op: 'createRow', input: { sourceNodeId: source, rowIndex: i, data: { k, i } } })) });
        } catch {
          return requests; // the server stopped accepting
        }
        if (res.status !== 200) {
          if (stopping) return requests;
          throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.json)}`);
        }
        requests++;
        indexes.forEach((i) => acked.get(runId)!.add(i));
      }
      return requests;
    };
    const clients = Array.from({ length: 16 }, (_, k) => client(k));
    await new Promise((r) => setTimeout(r, 1500));
    stopping = true;
    server.kill('SIGTERM');
    const done = await Promise.all(clients);
    expect(await exited).toBe(0);
    expect(done.reduce((a, b) => a + b, 0)).toBeGreaterThan(16);
    expect(log).toContain('stopping');
    const ledger = await openLedger({ store });
    try {
      for (const { runId } of runs) {
        const state = await ledger.loadRun(runId);
        expect(state.anomalies).toEqual([]);
        const stored = new Set<number>([...state.rowByIndex.keys()] as number[]);
        for (const i of acked.get(runId)!) expect(stored.has(i)).toBe(true);
        // nothing beyond what was sent, and every stored row is one whole request of 10 (a batch is all or nothing)
        for (const i of stored) expect(sent.get(runId)!.has(i)).toBe(true);
        expect(stored.size % 10).toBe(0);
        expect(stored.size).toBe(acked.get(runId)!.size);
      }
    } finally {
      await ledger.close();
    }
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    removeDir(dir);
  }
}, 120_000);
