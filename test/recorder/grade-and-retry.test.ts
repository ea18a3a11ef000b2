/**
 * complete() computes the reproducibility grade unless given one (Landscape's rule: any node
 * whose determinism depends on the world, or any recorded external call, makes the run
 * replay_reproducible; deterministic and seeded nodes only make it full_reproducible), and
 * retryBatch of a batch already retried returns that retry instead of a second attempt.
 */
import { openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import type { RunHandle } from '../../src/recorder/run-handle';

async function runWith(determinisms: Array<'deterministic' | 'seeded' | 'io_read' | 'io_write' | 'external_call' | 'non_deterministic'>, call = false) {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const ids: string[] = [];
  for (const [k, determinism] of determinisms.entries()) {
    ids.push((await run.registerNode({ pluginName: `n${k}`, nodeType: k === 0 ? 'source' : 'transform', pluginVersion: '1', determinism, config: {} })).nodeId);
  }
  if (call) {
    const { tokenId } = await run.createRow({ sourceNodeId: ids[0]!, rowIndex: 0, data: {}, withToken: true });
    const { stateId } = await run.beginNodeState({ tokenId: tokenId!, nodeId: ids[0]!, stepIndex: 0, inputData: {} });
    await run.recordCall({ stateId, callType: 'http', status: 'success', requestData: { u: 1 }, responseData: {} });
  }
  return { ledger, run };
}

async function gradeAfterComplete(run: RunHandle, explicit?: 'attributable_only'): Promise<string | null> {
  const r = await run.complete({ status: 'failed', ...(explicit !== undefined ? { reproducibilityGrade: explicit } : {}) });
  return r.reproducibilityGrade;
}

test('deterministic and seeded nodes only: full_reproducible, in the run record and its export', async () => {
  const { ledger, run } = await runWith(['deterministic', 'seeded', 'deterministic']);
  expect(await gradeAfterComplete(run)).toBe('full_reproducible');
  expect((await ledger.loadRun(run.runId)).run!.reproducibilityGrade).toBe('full_reproducible');
  const records = [];
  for await (const r of ledger.exportRun(run.runId)) records.push(r as Record<string, unknown>);
  expect(records.find((r) => r.record_type === 'run')).toMatchObject({ reproducibility_grade: 'full_reproducible' });
});

test.each(['io_read', 'io_write', 'external_call', 'non_deterministic'] as const)('a %s node: replay_reproducible', async (d) => {
  const { run } = await runWith(['deterministic', d]);
  expect(await gradeAfterComplete(run)).toBe('replay_reproducible');
});

test('deterministic nodes with a recorded external call: replay_reproducible; an explicit grade wins', async () => {
  expect(await gradeAfterComplete((await runWith(['deterministic'], true)).run)).toBe('replay_reproducible');
  expect(await gradeAfterComplete((await runWith(['external_call'])).run, 'attributable_only')).toBe('attributable_only');
  expect(await gradeAfterComplete((await runWith([])).run)).toBe('full_reproducible');
});

test('retryBatch twice on one failed batch: the second call returns the first retry and writes nothing', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const src = (await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} })).nodeId;
  const agg = (await run.registerNode({ pluginName: 'a', nodeType: 'aggregation', pluginVersion: '1', config: {} })).nodeId;
  const { tokenId } = await run.createRow({ sourceNodeId: src, rowIndex: 0, data: {}, withToken: true });
  const { batchId } = await run.createBatch({ aggregationNodeId: agg });
  await run.addBatchMember({ batchId, tokenId: tokenId! });
  await run.updateBatchStatus({ batchId, status: 'failed' });
  const first = await run.retryBatch({ batchId });
  expect(first).toMatchObject({ attempt: 1, retriedFromBatchId: batchId });
  const revision = await ledger.store.streamRevision(runStreamId(run.runId));
  // crash recovery asks again, in this handle and in a fresh one
  expect(await run.retryBatch({ batchId })).toEqual(first);
  expect(await (await ledger.openRun(run.runId)).retryBatch({ batchId })).toEqual(first);
  expect(await run.retryBatch({ batchId, newBatchId: first.batchId })).toEqual(first);
  expect(await ledger.store.streamRevision(runStreamId(run.runId))).toBe(revision);
  // asking for a different id for the retry is refused: the batch has its retry
  await expect(run.retryBatch({ batchId, newBatchId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' })).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
  // the retry itself, once failed, can be retried (attempt 2)
  await run.updateBatchStatus({ batchId: first.batchId, status: 'failed' });
  expect(await run.retryBatch({ batchId: first.batchId })).toMatchObject({ attempt: 2, retriedFromBatchId: first.batchId });
  expect((await ledger.loadRun(run.runId)).anomalies).toEqual([]);
});
