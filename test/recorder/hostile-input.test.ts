/**
 * Hostile input: errors say what was wrong and where, never the rejected value; getters and
 * proxies that throw are a typed INVALID_INPUT; a getter cannot pass validation with one value
 * and be recorded with another; cycles are refused. Nothing is appended in any of these cases.
 */
import { inspect } from 'node:util';
import { openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import type { RunHandle } from '../../src/recorder/run-handle';
import type { Ledger } from '../../src/ledger';

const SECRET = 'sk-live-THIS-MUST-NOT-APPEAR-0123456789';

async function setup(): Promise<{ ledger: Ledger; run: RunHandle; nodeId: string; revision: () => Promise<number | null> }> {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const { nodeId } = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
  return { ledger, run, nodeId, revision: () => ledger.store.streamRevision(runStreamId(run.runId)) };
}

test('a rejected value never appears in the message, details, JSON or inspect output', async () => {
  const { run, nodeId, revision } = await setup();
  const before = await revision();
  const attempts: Array<() => Promise<unknown>> = [
    () => run.recordSecretResolutions([{ envVarName: 'API_KEY', source: 'env', fingerprint: SECRET } as never]),
    () => run.createRow({ sourceNodeId: nodeId, rowIndex: SECRET as never, data: {} }),
    // not an id (a slash): a well-formed unknown id is NODE_NOT_FOUND and named, as ids are
    () => run.createRow({ sourceNodeId: `${SECRET}/x`, rowIndex: 0, data: {} }),
    () => run.registerNode({ pluginName: 's', nodeType: SECRET as never, pluginVersion: '1', config: {} }),
  ];
  for (const attempt of attempts) {
    const e = await attempt().then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ code: 'INVALID_INPUT' });
    for (const text of [String((e as Error).message), JSON.stringify(e), inspect(e, { depth: 10 }), JSON.stringify((e as { details?: unknown }).details)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('sk-live');
    }
    expect((e as { details: { path: string } }).details.path).not.toBe(undefined);
  }
  expect(await revision()).toBe(before);
});

test('throwing getters and proxies are INVALID_INPUT, and nothing is appended', async () => {
  const { run, nodeId, revision } = await setup();
  const before = await revision();
  const getter = Object.defineProperty({ sourceNodeId: nodeId, data: {} }, 'rowIndex', {
    enumerable: true,
    get() {
      throw new Error('boom');
    },
  });
  const proxy = new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('boom');
      },
    },
  );
  const trapProto = new Proxy({}, { getPrototypeOf: () => { throw new Error('boom'); } });
  for (const input of [getter, proxy, trapProto, { sourceNodeId: nodeId, rowIndex: 0, data: { nested: proxy } }]) {
    await expect(run.createRow(input as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  }
  const cyclic: Record<string, unknown> = { sourceNodeId: nodeId, rowIndex: 0 };
  cyclic.data = { self: cyclic };
  await expect(run.createRow(cyclic as never)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('cycle') });
  expect(await revision()).toBe(before);
  expect(run.isStale).toBe(false);
});

test('a getter that answers the validation one way cannot be recorded another way', async () => {
  const { ledger, run, nodeId } = await setup();
  let reads = 0;
  const input = Object.defineProperty({ sourceNodeId: nodeId, data: { ok: true } }, 'rowIndex', {
    enumerable: true,
    get() {
      reads++;
      return reads === 1 ? 5 : -1;
    },
  });
  const row = await run.createRow(input as never);
  expect(reads).toBe(1);
  const state = await ledger.loadRun(run.runId);
  expect(state.rows.get(row.rowId)!.rowIndex).toBe(5);
  await ledger.close();
});
