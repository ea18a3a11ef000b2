/**
 * Fan-out limits: one command creates at most MAX_TOKENS_PER_COMMAND tokens (one event,
 * one atomic append). Beyond it the call is INVALID_INPUT with the field's path, a typed
 * error rather than a RangeError or an out-of-memory death, and nothing is appended.
 */
import { openLedger } from '../../src/ledger';
import { MAX_TOKENS_PER_COMMAND } from '../../src/recorder/commands';
import { runStreamId } from '../../src/events/envelope';

test('expand, batch outputs and fork refuse more than the documented number of tokens, and append nothing', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const src = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
  const { rowId, tokenId } = await run.createRow({ sourceNodeId: src.nodeId, rowIndex: 0, data: {}, withToken: true });
  const before = await ledger.store.streamRevision(runStreamId(run.runId));

  for (const count of [MAX_TOKENS_PER_COMMAND + 1, 2 ** 53 - 1, 2e6]) {
    await expect(run.expandToken({ parentTokenId: tokenId!, rowId, count })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { path: 'count' } });
  }
  await expect(run.recordBatchOutputs({ batchId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', tokenCount: 1e9 })).rejects.toMatchObject({
    code: 'INVALID_INPUT',
    details: { path: 'tokenCount' },
  });
  const branches = Array.from({ length: MAX_TOKENS_PER_COMMAND + 1 }, (_, i) => `b${i}`);
  await expect(run.forkToken({ parentTokenId: tokenId!, rowId, branches })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { path: 'branches' } });

  expect(await ledger.store.streamRevision(runStreamId(run.runId))).toBe(before);
  expect(run.isStale).toBe(false);
  // the limit itself is allowed
  const expanded = await run.expandToken({ parentTokenId: tokenId!, rowId, count: MAX_TOKENS_PER_COMMAND });
  expect(expanded.children).toHaveLength(MAX_TOKENS_PER_COMMAND);
  await ledger.close();
});
