/**
 * The reference workload (src/workloads/reference.ts) without keeping every row's result: the
 * benchmark's setting, so that a phase's memory is the library's and not the workload's list.
 */
import { openLedger } from '../../src/ledger';
import { recordReferenceRun } from '../../src/workloads/reference';

test('keepRows false returns no rows and still links every sink state, in row order, to the artifact', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const sinkStates: string[] = [];
  const result = await recordReferenceRun(ledger, { rows: 12, concurrency: 4, keepRows: false, onRow: (r) => (sinkStates[r.rowIndex] = r.sinkStateId) });
  expect(result.rows).toEqual([]);
  const state = await ledger.loadRun(result.runId);
  const artifact = state.artifacts.get(result.artifactId!)!;
  expect(artifact.producedByStateIds).toEqual(sinkStates);
  expect((await ledger.check(result.runId)).ok).toBe(true);

  const kept = await recordReferenceRun(ledger, { rows: 3 });
  expect(kept.rows.map((r) => r.rowIndex)).toEqual([0, 1, 2]);
  await ledger.close();
});
