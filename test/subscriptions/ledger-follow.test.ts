import { openLedger } from '../../src';

test('ledger.follow keeps a run projection current and is closed with the ledger', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: { p: 1 } });
  const sub = ledger.follow(run.runId, { pollIntervalMs: 20 });
  const node = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} });
  await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: { a: 1 }, withToken: true });
  await sub.caughtUp();
  expect(sub.state.version).toBe(run.revision);
  expect(sub.state.rows.size).toBe(1);
  const all = ledger.follow('all', { pollIntervalMs: 20 });
  await all.caughtUp();
  expect([...all.state.keys()]).toEqual([run.runId]);
  await ledger.close();
  await expect(sub.done).resolves.toBeUndefined();
  await expect(all.done).resolves.toBeUndefined();
});
