/**
 * Every invariant the recorder promises: the bad command is rejected with its
 * stable code, names the offending field, and appends nothing.
 */
import { isLedgerError, openLedger, runStreamId } from '../../src';
import type { Ledger, RunHandle } from '../../src';
import { MemoryEventStore } from '../../src/store/memory';

interface Fixture {
  ledger: Ledger;
  store: MemoryEventStore;
  run: RunHandle;
  source: string;
  gate: string;
  transform: string;
  coalesce: string;
  agg: string;
  sink: string;
  edgeGateToTransform: string;
  rowId: string;
  tokenId: string;
}

async function fixture(): Promise<Fixture> {
  const store = new MemoryEventStore();
  const ledger = await openLedger({ store });
  const run = await ledger.beginRun({ config: { pipeline: 'invariants' } });
  const reg = async (nodeType: 'source' | 'gate' | 'transform' | 'coalesce' | 'aggregation' | 'sink') =>
    (await run.registerNode({ pluginName: nodeType, nodeType, pluginVersion: '1', config: { nodeType } })).nodeId;
  const source = await reg('source');
  const gate = await reg('gate');
  const transform = await reg('transform');
  const coalesce = await reg('coalesce');
  const agg = await reg('aggregation');
  const sink = await reg('sink');
  const edgeGateToTransform = (await run.registerEdge({ fromNodeId: gate, toNodeId: transform, label: 'continue', mode: 'move' })).edgeId;
  const row = await run.createRow({ sourceNodeId: source, rowIndex: 0, data: { a: 1 }, withToken: true });
  return { ledger, store, run, source, gate, transform, coalesce, agg, sink, edgeGateToTransform, rowId: row.rowId, tokenId: row.tokenId! };
}

/** Runs `bad`, expects a LedgerError with `code`, and checks nothing was appended. */
async function rejected(f: Fixture, bad: () => Promise<unknown>, code: string, pathOrText?: string): Promise<void> {
  const before = await f.store.streamRevision(runStreamId(f.run.runId));
  const handleBefore = f.run.revision;
  let caught: unknown;
  try {
    await bad();
  } catch (e) {
    caught = e;
  }
  expect(isLedgerError(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  if (pathOrText !== undefined) {
    const e = caught as { message: string; details?: { path?: string } };
    expect(`${e.details?.path ?? ''} ${e.message}`).toContain(pathOrText);
  }
  expect(await f.store.streamRevision(runStreamId(f.run.runId))).toBe(before);
  expect(f.run.revision).toBe(handleBefore);
  expect(f.run.isStale).toBe(false);
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('recorder invariants (rejected with a code, nothing appended)', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });
  afterEach(async () => {
    await f.ledger.close();
  });

  test('input validation reports the io-ts path of the bad field', async () => {
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: -1, data: {} }), 'INVALID_INPUT', 'rowIndex');
    await rejected(f, () => f.run.createRow({ sourceNodeId: 'not an id', rowIndex: 1, data: {} }), 'INVALID_INPUT', 'sourceNodeId');
    await rejected(f, () => f.run.registerNode({ pluginName: 'x', nodeType: 'bogus' as never, pluginVersion: '1', config: {} }), 'INVALID_INPUT', 'nodeType');
    await rejected(f, () => f.run.createToken({ rowId: f.rowId, extra: 1 } as never), 'INVALID_INPUT', 'extra');
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: {}, quarantined: 'yes' } as never), 'INVALID_INPUT', 'quarantined');
  });

  test('no NaN, Infinity or unsafe integers in audit data (path named)', async () => {
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { price: NaN } }), 'INVALID_INPUT', 'data.price');
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { list: [1, Infinity] } }), 'INVALID_INPUT', 'data.list[1]');
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { big: 2 ** 60 } }), 'INVALID_INPUT', 'data.big');
    await rejected(f, () => f.run.registerNode({ pluginName: 'x', nodeType: 'transform', pluginVersion: '1', config: { t: -Infinity } }), 'INVALID_INPUT', 'config.t');
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { when: new Date() } }), 'INVALID_INPUT', 'data.when');
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { u: undefined } }), 'INVALID_INPUT', 'data.u');
    // big integers as strings are fine
    await f.run.createRow({ sourceNodeId: f.source, rowIndex: 1, data: { big: '1152921504606846976' } });
  });

  test('an empty object is a value, not an absence', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} });
    const done = await f.run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: {}, durationMs: 1 });
    expect(done.outputHash).toMatch(/^[0-9a-f]{64}$/);
    expect(f.run.projection.nodeStates.get(s.stateId)!.outputHash).toBe(done.outputHash);
  });

  test('unknown ids are rejected with the entity-specific code', async () => {
    await rejected(f, () => f.run.createToken({ rowId: UNKNOWN }), 'ROW_NOT_FOUND', 'rowId');
    await rejected(f, () => f.run.createRow({ sourceNodeId: UNKNOWN, rowIndex: 2, data: {} }), 'NODE_NOT_FOUND', 'sourceNodeId');
    await rejected(f, () => f.run.beginNodeState({ tokenId: UNKNOWN, nodeId: f.transform, stepIndex: 1, inputData: {} }), 'TOKEN_NOT_FOUND', 'tokenId');
    await rejected(f, () => f.run.completeNodeState({ stateId: UNKNOWN, status: 'completed', outputData: {}, durationMs: 1 }), 'STATE_NOT_FOUND', 'stateId');
    await rejected(f, () => f.run.addBatchMember({ batchId: UNKNOWN, tokenId: f.tokenId }), 'BATCH_NOT_FOUND', 'batchId');
    await rejected(f, () => f.run.completeOperation({ operationId: UNKNOWN, status: 'completed', durationMs: 1 }), 'OPERATION_NOT_FOUND', 'operationId');
    await rejected(f, () => f.run.registerEdge({ fromNodeId: f.gate, toNodeId: UNKNOWN, label: 'x', mode: 'move' }), 'NODE_NOT_FOUND', 'toNodeId');
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.gate, stepIndex: 1, inputData: {} });
    await f.run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: {}, durationMs: 1 });
    await rejected(f, () => f.run.recordRoutingEvent({ stateId: s.stateId, edgeId: UNKNOWN, mode: 'move' }), 'EDGE_NOT_FOUND', 'edgeId');
  });

  test('duplicate ids and unique keys are rejected', async () => {
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 0, data: {} }), 'DUPLICATE_ID', 'rowIndex');
    await rejected(f, () => f.run.registerEdge({ fromNodeId: f.gate, toNodeId: f.sink, label: 'continue', mode: 'move' }), 'DUPLICATE_ID', 'label');
    await rejected(f, () => f.run.registerNode({ nodeId: f.sink, pluginName: 'x', nodeType: 'sink', pluginVersion: '1', config: {} }), 'DUPLICATE_ID', 'nodeId');
    await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} });
    await rejected(f, () => f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 2, inputData: {} }), 'DUPLICATE_ID', 'attempt');
    await rejected(f, () => f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.gate, stepIndex: 1, inputData: {} }), 'DUPLICATE_ID', 'stepIndex');
    const again = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, attempt: 1, inputData: {} });
    expect(again.stateId).toBeTruthy();
    await rejected(f, () => f.ledger.beginRun({ config: {}, runId: f.run.runId }), 'DUPLICATE_ID', 'runId');
  });

  test('exactly one terminal outcome per token', async () => {
    await f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'completed', sinkName: 'out' });
    await rejected(f, () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'failed', errorHash: 'a'.repeat(64) }), 'TERMINAL_OUTCOME_EXISTS', 'tokenId');
    await rejected(f, () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'completed', sinkName: 'out' }), 'TERMINAL_OUTCOME_EXISTS');
    await rejected(f, () => f.run.forkToken({ parentTokenId: f.tokenId, rowId: f.rowId, branches: ['a', 'b'] }), 'TERMINAL_OUTCOME_EXISTS', 'parentTokenId');
    await rejected(f, () => f.run.expandToken({ parentTokenId: f.tokenId, rowId: f.rowId, count: 2 }), 'TERMINAL_OUTCOME_EXISTS');
    await rejected(f, () => f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} }), 'TERMINAL_OUTCOME_EXISTS');
  });

  test('a forked, expanded or coalesced parent is terminal too', async () => {
    const fork = await f.run.forkToken({ parentTokenId: f.tokenId, rowId: f.rowId, branches: ['a', 'b'] });
    await rejected(f, () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'completed', sinkName: 's' }), 'TERMINAL_OUTCOME_EXISTS');
    const merged = await f.run.coalesceTokens({ parentTokenIds: fork.children.map((c) => c.tokenId), rowId: f.rowId });
    await rejected(f, () => f.run.coalesceTokens({ parentTokenIds: [fork.children[0]!.tokenId], rowId: f.rowId }), 'TERMINAL_OUTCOME_EXISTS');
    await f.run.expandToken({ parentTokenId: merged.tokenId, rowId: f.rowId, count: 3 });
    await rejected(f, () => f.run.expandToken({ parentTokenId: merged.tokenId, rowId: f.rowId, count: 1 }), 'TERMINAL_OUTCOME_EXISTS');
  });

  test('required fields per outcome (from the one outcome table)', async () => {
    // the compiler refuses these inputs (TokenOutcomeInput is typed per outcome); callers that are
    // not type-checked (JavaScript, the collector) get the same rule from the decider
    const untypedOutcome = (input: Record<string, unknown>) => f.run.recordTokenOutcome(input as never);
    // @ts-expect-error a completed outcome without sinkName does not compile
    const typed = () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'completed' });
    await rejected(f, typed, 'OUTCOME_FIELD_MISSING', 'sinkName');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'completed' }), 'OUTCOME_FIELD_MISSING', 'sinkName');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'routed' }), 'OUTCOME_FIELD_MISSING', 'sinkName');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'failed' }), 'OUTCOME_FIELD_MISSING', 'errorHash');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'quarantined' }), 'OUTCOME_FIELD_MISSING', 'errorHash');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'diverted', sinkName: 'failsink' }), 'OUTCOME_FIELD_MISSING', 'errorHash');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'consumed_in_batch' }), 'OUTCOME_FIELD_MISSING', 'batchId');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'buffered' }), 'OUTCOME_FIELD_MISSING', 'batchId');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'completed', sinkName: 's', batchId: UNKNOWN }), 'INVALID_INPUT', 'batchId');
    // outcomes that only their atomic events may record
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'forked' }), 'INVALID_INPUT', 'forkToken');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'expanded' }), 'INVALID_INPUT', 'expandToken');
    await rejected(f, () => untypedOutcome({ tokenId: f.tokenId, outcome: 'coalesced' }), 'INVALID_INPUT', 'coalesceTokens');
    // diverted with both fields is fine
    await f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'diverted', sinkName: 'failsink', errorHash: 'b'.repeat(64) });
  });

  test('buffered needs batch membership, and is followed by exactly one terminal outcome', async () => {
    const batch = await f.run.createBatch({ aggregationNodeId: f.agg });
    await rejected(f, () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'buffered', batchId: batch.batchId }), 'LINEAGE_SCOPE_VIOLATION', 'batchId');
    await f.run.addBatchMember({ batchId: batch.batchId, tokenId: f.tokenId });
    await f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'buffered', batchId: batch.batchId });
    await f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'consumed_in_batch', batchId: batch.batchId });
    await rejected(f, () => f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'buffered', batchId: batch.batchId }), 'TERMINAL_OUTCOME_EXISTS');
  });

  test('node state status machine is one-way', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: { x: 1 } });
    await rejected(f, () => f.run.completeNodeState({ stateId: s.stateId, status: 'completed', durationMs: 1 }), 'INVALID_INPUT', 'outputData');
    await rejected(f, () => f.run.completeNodeState({ stateId: s.stateId, status: 'failed', durationMs: 1 }), 'INVALID_INPUT', 'error');
    await rejected(f, () => f.run.completeNodeState({ stateId: s.stateId, status: 'pending', outputData: {}, durationMs: 1 }), 'INVALID_INPUT', 'outputData');
    await f.run.completeNodeState({ stateId: s.stateId, status: 'pending', durationMs: 1 });
    await rejected(f, () => f.run.completeNodeState({ stateId: s.stateId, status: 'pending', durationMs: 1 }), 'INVALID_TRANSITION', 'stateId');
    await f.run.completeNodeState({ stateId: s.stateId, status: 'failed', error: { exception: 'boom', type: 'Error' }, durationMs: 2 });
    await rejected(f, () => f.run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: {}, durationMs: 1 }), 'INVALID_TRANSITION', 'stateId');
  });

  test('operation status machine is one-way, failed needs an error', async () => {
    const op = await f.run.beginOperation({ nodeId: f.source, operationType: 'source_load' });
    await rejected(f, () => f.run.completeOperation({ operationId: op.operationId, status: 'failed', durationMs: 1 }), 'INVALID_INPUT', 'error');
    await f.run.completeOperation({ operationId: op.operationId, status: 'completed', durationMs: 1 });
    await rejected(f, () => f.run.completeOperation({ operationId: op.operationId, status: 'failed', error: 'x', durationMs: 1 }), 'INVALID_TRANSITION', 'operationId');
  });

  test('batch status machine is one-way; members join only drafts; retry only from failed', async () => {
    const b = await f.run.createBatch({ aggregationNodeId: f.agg });
    await rejected(f, () => f.run.createBatch({ aggregationNodeId: f.transform }), 'INVALID_INPUT', 'aggregationNodeId');
    await f.run.addBatchMember({ batchId: b.batchId, tokenId: f.tokenId });
    await rejected(f, () => f.run.addBatchMember({ batchId: b.batchId, tokenId: f.tokenId }), 'DUPLICATE_ID', 'tokenId');
    await rejected(f, () => f.run.updateBatchStatus({ batchId: b.batchId, status: 'completed' }), 'INVALID_TRANSITION', 'status');
    await rejected(f, () => f.run.retryBatch({ batchId: b.batchId }), 'INVALID_TRANSITION', 'batchId');
    await f.run.updateBatchStatus({ batchId: b.batchId, status: 'executing', triggerType: 'count' });
    const other = await f.run.createRow({ sourceNodeId: f.source, rowIndex: 5, data: {}, withToken: true });
    await rejected(f, () => f.run.addBatchMember({ batchId: b.batchId, tokenId: other.tokenId! }), 'INVALID_TRANSITION', 'batchId');
    await rejected(f, () => f.run.recordBatchOutputs({ batchId: b.batchId, tokenCount: 1 }), 'INVALID_TRANSITION', 'batchId');
    await f.run.completeBatch({ batchId: b.batchId, status: 'failed' });
    await rejected(f, () => f.run.updateBatchStatus({ batchId: b.batchId, status: 'executing' }), 'INVALID_TRANSITION', 'status');
    await rejected(f, () => f.run.completeBatch({ batchId: b.batchId, status: 'executing' as never }), 'INVALID_INPUT', 'status');
    const retry = await f.run.retryBatch({ batchId: b.batchId });
    expect(retry.attempt).toBe(1);
    expect(f.run.projection.batchMembers.get(retry.batchId)!.map((m) => m.tokenId)).toEqual([f.tokenId]);
  });

  test('run status machine: terminal runs accept nothing; completed refused while work is unfinished, naming it', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} });
    let caught: { code: string; message: string; details: { unfinishedTokens: string[]; unfinishedStates: string[] } } | undefined;
    try {
      await f.run.complete({ status: 'completed' });
    } catch (e) {
      caught = e as never;
    }
    expect(caught?.code).toBe('RUN_INCOMPLETE');
    expect(caught!.message).toContain(f.tokenId);
    expect(caught!.message).toContain(s.stateId);
    expect(caught!.details.unfinishedTokens).toEqual([f.tokenId]);
    expect(caught!.details.unfinishedStates).toEqual([s.stateId]);
    await rejected(f, () => f.run.complete({ status: 'completed' }), 'RUN_INCOMPLETE');
    await f.run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: {}, durationMs: 1 });
    await rejected(f, () => f.run.complete({ status: 'completed' }), 'RUN_INCOMPLETE', f.tokenId);
    await f.run.recordTokenOutcome({ tokenId: f.tokenId, outcome: 'completed', sinkName: 'out' });
    await f.run.complete({ status: 'completed' });
    await rejected(f, () => f.run.createRow({ sourceNodeId: f.source, rowIndex: 9, data: {} }), 'RUN_NOT_RUNNING');
    await rejected(f, () => f.run.complete({ status: 'failed' }), 'RUN_NOT_RUNNING');
    await rejected(f, () => f.run.updateRunStatus({ status: 'running' }), 'INVALID_TRANSITION', 'status');
  });

  test('a run may end failed or interrupted with work unfinished; interrupted resumes', async () => {
    await f.run.complete({ status: 'interrupted' });
    await f.run.updateRunStatus({ status: 'running' });
    await f.run.complete({ status: 'failed' });
    expect(f.run.projection.run!.status).toBe('failed');
  });

  test('parents must be in the same row', async () => {
    const other = await f.run.createRow({ sourceNodeId: f.source, rowIndex: 7, data: {}, withToken: true });
    await rejected(f, () => f.run.forkToken({ parentTokenId: other.tokenId!, rowId: f.rowId, branches: ['a'] }), 'LINEAGE_SCOPE_VIOLATION', 'parentTokenId');
    await rejected(f, () => f.run.expandToken({ parentTokenId: other.tokenId!, rowId: f.rowId, count: 2 }), 'LINEAGE_SCOPE_VIOLATION');
    await rejected(f, () => f.run.coalesceTokens({ parentTokenIds: [f.tokenId, other.tokenId!], rowId: f.rowId }), 'LINEAGE_SCOPE_VIOLATION', 'parentTokenIds[1]');
    await rejected(f, () => f.run.coalesceTokens({ parentTokenIds: [f.tokenId, f.tokenId], rowId: f.rowId }), 'INVALID_INPUT', 'parentTokenIds[1]');
    await rejected(f, () => f.run.coalesceTokens({ parentTokenIds: [], rowId: f.rowId }), 'INVALID_INPUT', 'parentTokenIds');
    await rejected(f, () => f.run.forkToken({ parentTokenId: f.tokenId, rowId: f.rowId, branches: ['a', 'a'] }), 'INVALID_INPUT', 'branches[1]');
  });

  test('parents must be in the same run', async () => {
    const otherRun = await f.ledger.beginRun({ config: { other: true } });
    const src = await otherRun.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} });
    const otherRow = await otherRun.createRow({ sourceNodeId: src.nodeId, rowIndex: 0, data: {}, withToken: true });
    await rejected(f, () => f.run.forkToken({ parentTokenId: otherRow.tokenId!, rowId: otherRow.rowId, branches: ['a'] }), 'ROW_NOT_FOUND', 'rowId');
    await rejected(f, () => f.run.coalesceTokens({ parentTokenIds: [otherRow.tokenId!], rowId: f.rowId }), 'TOKEN_NOT_FOUND', 'parentTokenIds[0]');
    await rejected(f, () => f.run.beginNodeState({ tokenId: otherRow.tokenId!, nodeId: f.transform, stepIndex: 1, inputData: {} }), 'TOKEN_NOT_FOUND');
  });

  test('a call has exactly one parent (state XOR operation)', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} });
    const op = await f.run.beginOperation({ nodeId: f.source, operationType: 'source_load' });
    const call = { callType: 'http' as const, status: 'success' as const, requestData: { u: 1 } };
    await rejected(f, () => f.run.recordCall(call), 'CALL_PARENT_INVALID', 'stateId');
    await rejected(f, () => f.run.recordCall({ ...call, stateId: s.stateId, operationId: op.operationId }), 'CALL_PARENT_INVALID');
    const a = await f.run.recordCall({ ...call, stateId: s.stateId });
    const b = await f.run.recordCall({ ...call, stateId: s.stateId });
    const c = await f.run.recordCall({ ...call, operationId: op.operationId });
    expect([a.callIndex, b.callIndex, c.callIndex]).toEqual([0, 1, 0]);
    await rejected(f, () => f.run.recordCall({ ...call, stateId: s.stateId, callIndex: 1 }), 'DUPLICATE_ID', 'callIndex');
  });

  test('routing: only after the state is finished, edges must leave the state node', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.gate, stepIndex: 1, inputData: {} });
    await rejected(f, () => f.run.recordRoutingEvent({ stateId: s.stateId, edgeId: f.edgeGateToTransform, mode: 'move' }), 'INVALID_TRANSITION', 'ghost');
    await f.run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: {}, durationMs: 1 });
    const other = await f.run.registerEdge({ fromNodeId: f.transform, toNodeId: f.sink, label: 'continue', mode: 'move' });
    await rejected(f, () => f.run.recordRoutingEvent({ stateId: s.stateId, edgeId: other.edgeId, mode: 'move' }), 'LINEAGE_SCOPE_VIOLATION', 'edgeId');
    const r = await f.run.recordRoutingEvent({ stateId: s.stateId, edgeId: f.edgeGateToTransform, mode: 'move', reason: {} });
    expect(r.routingGroupId).toBeTruthy();
  });

  test('artifacts link states at their sink node', async () => {
    const s = await f.run.beginNodeState({ tokenId: f.tokenId, nodeId: f.transform, stepIndex: 1, inputData: {} });
    const art = { sinkNodeId: f.sink, artifactType: 'csv', pathOrUri: 'out.csv', contentHash: 'c'.repeat(64), sizeBytes: 10 };
    await rejected(f, () => f.run.registerArtifact({ ...art, stateIds: [s.stateId] }), 'LINEAGE_SCOPE_VIOLATION', 'stateIds[0]');
    await rejected(f, () => f.run.registerArtifact({ ...art, sinkNodeId: f.transform, stateIds: [s.stateId] }), 'INVALID_INPUT', 'sinkNodeId');
    await rejected(f, () => f.run.registerArtifact({ ...art, stateIds: [] }), 'INVALID_INPUT', 'stateIds');
  });
});
