/**
 * The audit check: a clean run passes; each defect seeded into a run written
 * around the recorder (events appended straight to the store) is reported with
 * its code and ids; interrupted runs report exactly what is incomplete.
 */
import { openLedger } from '../../src';
import type { Ledger } from '../../src';
import { runStreamId } from '../../src/events/envelope';
import { checkRun, VIOLATION_CODES, Violation } from '../../src/lineage/check';
import { MemoryEventStore } from '../../src/store/memory';
import { recordDemoRun } from '../../src/workloads/demo';
import { recordReferenceRow, recordReferenceRun, registerReferenceGraph } from '../../src/workloads/reference';
import { EventRunBuilder, hash, uuid } from './support';

/** A small valid run, built by hand: one row written to the sink. */
function baseRun(b = new EventRunBuilder()) {
  b.start();
  const source = b.node('source', 'csv_source');
  const transform = b.node('transform', 'enrich');
  const agg = b.node('aggregation', 'totals');
  const sink = b.node('sink', 'main_sink');
  const row = b.row(source, 0);
  const token = b.token(row);
  b.state(token, source, 0);
  const sinkState = b.state(token, sink, 1);
  b.outcome(token, 'completed', { sinkName: 'main' });
  return { b, source, transform, agg, sink, row, token, sinkState };
}

async function check(b: EventRunBuilder) {
  const store = new MemoryEventStore();
  const ledger = await openLedger({ store });
  await b.appendTo(store);
  try {
    return await ledger.check(b.runId);
  } finally {
    await ledger.close();
  }
}

const codes = (vs: readonly Violation[]) => vs.map((v) => v.code).sort();

describe('check: clean runs pass', () => {
  test('the hand-built base run', async () => {
    const { b } = baseRun();
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.runStatus).toBe('completed');
    expect(r.byCode).toEqual({});
  });

  test('the demo run (fork, calls, coalesce, batches, expansion, quarantined, discarded and failed rows)', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const { runId } = await recordDemoRun(ledger, { rows: 30 });
    const r = await ledger.check(runId);
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counted.tokens).toBeGreaterThan(100);
    await ledger.close();
  });

  test('a reference run', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const { runId } = await recordReferenceRun(ledger, { rows: 25, concurrency: 4 });
    expect((await ledger.check(runId)).ok).toBe(true);
    await ledger.close();
  });

  test('every code is documented', () => {
    for (const [code, text] of Object.entries(VIOLATION_CODES)) {
      expect(code).toMatch(/^[A-Z_]+$/);
      expect(text.length).toBeGreaterThan(10);
    }
  });
});

describe('check: each seeded defect is reported with its code and ids', () => {
  test('a token with no terminal outcome', async () => {
    const { b, source } = baseRun();
    const row = b.row(source, 1);
    const t = b.token(row);
    b.complete('failed');
    const r = await check(b);
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'TOKEN_WITHOUT_TERMINAL_OUTCOME', tokenId: t, rowId: row })]);
  });

  test('buffered never followed by a terminal outcome', async () => {
    const { b, source, agg } = baseRun();
    const t = b.token(b.row(source, 1));
    const batchId = uuid();
    b.add('BatchCreated', { batchId, aggregationNodeId: agg, attempt: 0 });
    b.add('BatchMemberAdded', { batchId, tokenId: t, ordinal: 0 });
    const buffered = b.outcome(t, 'buffered', { batchId });
    b.add('BatchStatusChanged', { batchId, status: 'failed', triggerType: null, triggerReason: 'crashed', aggregationStateId: null });
    b.complete('failed');
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'BUFFERED_NOT_RESOLVED', tokenId: t, batchId, outcomeId: buffered })]);
  });

  test('an open node state', async () => {
    const { b, source, transform } = baseRun();
    const t = b.token(b.row(source, 1));
    const open = b.openState(t, transform, 1);
    b.outcome(t, 'failed', { errorHash: hash('boom') });
    b.complete('failed');
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'STATE_NOT_FINISHED', stateId: open, tokenId: t, nodeId: transform })]);
    expect(r.violations[0]!.message).toContain('enrich');
  });

  test('a completed outcome without a sink node state', async () => {
    const { b, source } = baseRun();
    const t = b.token(b.row(source, 1));
    b.state(t, source, 0);
    const o = b.outcome(t, 'completed', { sinkName: 'main' });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'SINK_OUTCOME_WITHOUT_SINK_STATE', tokenId: t, outcomeId: o, outcome: 'completed' })]);
  });

  test('a fork outcome that names a group with a different child set', async () => {
    const { b, source } = baseRun();
    const row = b.row(source, 1);
    const p = b.token(row);
    const forkGroupId = uuid();
    const [x, y] = [uuid(), uuid()];
    b.add('TokenForked', {
      parentTokenId: p,
      rowId: row,
      forkGroupId,
      stepInPipeline: 1,
      children: [
        { tokenId: x, branchName: 'x' },
        { tokenId: y, branchName: 'y' },
      ],
      outcomeId: uuid(),
      contextJson: null,
    });
    b.outcome(x, 'failed', { errorHash: hash('x') });
    b.outcome(y, 'failed', { errorHash: hash('y') });
    // a second token claims the same fork group, without any children of its own
    const q = b.token(row);
    const bogus = b.outcome(q, 'forked', { forkGroupId, expectedBranchesJson: ['x', 'y'] });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'GROUP_MISMATCH', tokenId: q, outcomeId: bogus, groupId: forkGroupId, groupKind: 'fork' })]);
    expect(r.violations[0]!.message).toContain(p);
  });

  test('expand children whose parent link is missing: an expanded outcome with no TokenExpanded (children created unlinked)', async () => {
    const { b, source } = baseRun();
    const row = b.row(source, 1);
    const p = b.token(row);
    const expandGroupId = uuid();
    const o = b.outcome(p, 'expanded', { expandGroupId, expectedBranchesJson: { count: 2 } });
    for (const _ of [0, 1]) b.outcome(b.token(row), 'failed', { errorHash: hash('line') });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'GROUP_MISMATCH', tokenId: p, outcomeId: o, groupId: expandGroupId, groupKind: 'expand' })]);
  });

  test('expand children whose parent does not exist', async () => {
    const { b, source } = baseRun();
    const row = b.row(source, 1);
    const ghost = uuid();
    const expandGroupId = uuid();
    const kids = [uuid(), uuid()];
    b.add('TokenExpanded', { parentTokenId: ghost, rowId: row, expandGroupId, stepInPipeline: 2, children: kids.map((tokenId) => ({ tokenId })), outcomeId: uuid(), contextJson: null });
    for (const k of kids) b.outcome(k, 'failed', { errorHash: hash('line') });
    b.complete();
    const r = await check(b);
    const mismatches = r.violations.filter((v) => v.code === 'GROUP_MISMATCH');
    expect(mismatches).toEqual(kids.map((k) => expect.objectContaining({ tokenId: k, groupId: expandGroupId, groupKind: 'expand' })));
    expect(mismatches[0]!.message).toContain(ghost);
    // the fold met the unknown parent too
    expect(r.violations.filter((v) => v.code === 'EVENT_ANOMALY').map((v) => v.message).join('\n')).toContain(ghost);
  });

  test('an artifact naming a state that does not exist', async () => {
    const { b, sink, sinkState } = baseRun();
    const artifactId = uuid();
    const missing = uuid();
    b.add('ArtifactRegistered', {
      artifactId,
      sinkNodeId: sink,
      stateIds: [sinkState, missing],
      artifactType: 'jsonl',
      pathOrUri: 'file://out.jsonl',
      contentHash: hash('file'),
      sizeBytes: 10,
      idempotencyKey: null,
    });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'ARTIFACT_WITHOUT_STATES', artifactId, stateId: missing })]);
  });

  test('a call without a parent', async () => {
    const { b } = baseRun();
    const callId = uuid();
    b.add('CallRecorded', {
      callId,
      stateId: null,
      operationId: null,
      callIndex: 0,
      callType: 'http',
      status: 'success',
      requestHash: hash('req'),
      requestRef: null,
      responseHash: null,
      responseRef: null,
      errorJson: null,
      latencyMs: null,
    });
    b.complete();
    const r = await check(b);
    expect(codes(r.violations)).toEqual(['CALL_WITHOUT_PARENT', 'EVENT_ANOMALY']);
    expect(r.violations.find((v) => v.code === 'CALL_WITHOUT_PARENT')).toMatchObject({ callId });
  });

  test('a double terminal outcome', async () => {
    const { b, token } = baseRun();
    const second = b.outcome(token, 'failed', { errorHash: hash('again') });
    b.complete();
    const r = await check(b);
    expect(codes(r.violations)).toEqual(['DOUBLE_TERMINAL_OUTCOME', 'EVENT_ANOMALY']);
    expect(r.violations.find((v) => v.code === 'DOUBLE_TERMINAL_OUTCOME')).toMatchObject({ tokenId: token, outcomeId: second, outcome: 'failed' });
    expect(r.violations.find((v) => v.code === 'EVENT_ANOMALY')).toMatchObject({ eventType: 'TokenOutcomeRecorded' });
  });

  test('outcome fields checked against the outcome table', async () => {
    const { b, source, sink } = baseRun();
    const t = b.token(b.row(source, 1));
    b.state(t, sink, 1);
    const o = b.outcome(t, 'completed'); // no sinkName
    const u = b.token(b.row(source, 2));
    const o2 = b.outcome(u, 'failed', { errorHash: hash('e'), sinkName: 'main' }); // failed takes no sinkName
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'OUTCOME_FIELDS_MISSING', tokenId: t, outcomeId: o, field: 'sinkName' }),
        expect.objectContaining({ code: 'OUTCOME_FIELD_NOT_ALLOWED', tokenId: u, outcomeId: o2, field: 'sinkName' }),
        // its sink state is not matched by an outcome naming a sink either
        expect.objectContaining({ code: 'SINK_STATE_WITHOUT_SINK_OUTCOME', tokenId: t }),
      ]),
    );
    expect(r.violations).toHaveLength(3);
  });

  test('a batch that produced output tokens, but one member ended elsewhere instead of consumed_in_batch', async () => {
    const { b, source, agg, sink } = baseRun();
    const row = b.row(source, 1);
    const m = b.token(row);
    const batchId = uuid();
    b.add('BatchCreated', { batchId, aggregationNodeId: agg, attempt: 0 });
    b.add('BatchMemberAdded', { batchId, tokenId: m, ordinal: 0 });
    b.add('BatchStatusChanged', { batchId, status: 'executing', triggerType: 'count', triggerReason: null, aggregationStateId: null });
    b.add('BatchStatusChanged', { batchId, status: 'completed', triggerType: null, triggerReason: null, aggregationStateId: null });
    b.state(m, sink, 1);
    b.outcome(m, 'completed', { sinkName: 'main' }); // should have been consumed_in_batch
    const out = uuid();
    b.add('BatchOutputsProduced', { batchId, stepInPipeline: 3, tokens: [{ tokenId: out, rowId: row }], artifactIds: [] });
    b.outcome(out, 'failed', { errorHash: hash('x') });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'GROUP_MISMATCH', groupId: batchId, groupKind: 'batch', tokenId: m })]);
  });

  test('a pending state is unfinished unless the same token has a later attempt at the same node (where the work was taken up again)', async () => {
    const { b, source, transform, sink } = baseRun();
    const t = b.token(b.row(source, 1));
    const pendingState = (nodeId: string, stepIndex: number, attempt: number): string => {
      const stateId = uuid();
      b.add('NodeStateOpened', { stateId, tokenId: t, nodeId, stepIndex, attempt, inputHash: hash('in'), contextBeforeJson: null });
      b.add('NodeStatePending', { stateId, durationMs: 1, contextAfterJson: null });
      return stateId;
    };
    const superseded = pendingState(transform, 1, 0);
    const retried = uuid();
    b.add('NodeStateOpened', { stateId: retried, tokenId: t, nodeId: transform, stepIndex: 1, attempt: 1, inputHash: hash('in'), contextBeforeJson: null });
    b.completeState(retried);
    // a later attempt at another node does not take up this one
    const left = pendingState(sink, 2, 0);
    const elsewhere = uuid();
    b.add('NodeStateOpened', { stateId: elsewhere, tokenId: t, nodeId: transform, stepIndex: 3, attempt: 2, inputHash: hash('in'), contextBeforeJson: null });
    b.completeState(elsewhere);
    b.outcome(t, 'failed', { errorHash: hash('boom') });
    b.complete();
    const r = await check(b);
    expect(r.violations).toEqual([expect.objectContaining({ code: 'STATE_NOT_FINISHED', stateId: left })]);
    expect(r.violations.some((v) => v.stateId === superseded)).toBe(false);
  });

  test('a member the batch itself set aside (quarantined or failed naming the batch) is not a mismatch; one naming another batch is', async () => {
    const { b, source, agg } = baseRun();
    const row = b.row(source, 1);
    const [kept, quarantined, failed, stray] = [b.token(row), b.token(row), b.token(row), b.token(row)];
    const batchId = uuid();
    const other = uuid();
    b.add('BatchCreated', { batchId, aggregationNodeId: agg, attempt: 0 });
    b.add('BatchCreated', { batchId: other, aggregationNodeId: agg, attempt: 0 });
    [kept, quarantined, failed, stray].forEach((tokenId, ordinal) => b.add('BatchMemberAdded', { batchId, tokenId, ordinal }));
    b.add('BatchStatusChanged', { batchId, status: 'executing', triggerType: 'count', triggerReason: null, aggregationStateId: null });
    b.add('BatchStatusChanged', { batchId, status: 'completed', triggerType: null, triggerReason: null, aggregationStateId: null });
    b.outcome(kept, 'consumed_in_batch', { batchId });
    b.outcome(quarantined, 'quarantined', { errorHash: hash('bad row'), batchId });
    b.outcome(failed, 'failed', { errorHash: hash('bad row'), batchId });
    b.outcome(stray, 'quarantined', { errorHash: hash('bad row'), batchId: other });
    const out = uuid();
    b.add('BatchOutputsProduced', { batchId, stepInPipeline: 3, tokens: [{ tokenId: out, rowId: row }], artifactIds: [] });
    b.outcome(out, 'failed', { errorHash: hash('x') });
    b.add('BatchStatusChanged', { batchId: other, status: 'failed', triggerType: null, triggerReason: null, aggregationStateId: null });
    b.complete();
    const r = await check(b);
    // the stray member is reported twice: it left this batch otherwise, and names a batch it is not a member of
    expect(r.violations).toEqual([
      expect.objectContaining({ code: 'GROUP_MISMATCH', groupId: batchId, tokenId: stray }),
      expect.objectContaining({ code: 'GROUP_MISMATCH', groupId: other, tokenId: stray }),
    ]);
  });

  test('every defect at once: each one is found', async () => {
    const { b, source, transform, sink, sinkState, token } = baseRun();
    const noOutcome = b.token(b.row(source, 1));
    const openToken = b.token(b.row(source, 2));
    const open = b.openState(openToken, transform, 1);
    b.outcome(openToken, 'failed', { errorHash: hash('f') });
    const noSink = b.token(b.row(source, 3));
    b.outcome(noSink, 'completed', { sinkName: 'main' });
    const artifactId = uuid();
    b.add('ArtifactRegistered', {
      artifactId,
      sinkNodeId: sink,
      stateIds: [sinkState, uuid()],
      artifactType: 'jsonl',
      pathOrUri: 'file://out.jsonl',
      contentHash: hash('file'),
      sizeBytes: 10,
      idempotencyKey: null,
    });
    b.outcome(token, 'failed', { errorHash: hash('again') });
    b.complete('interrupted');
    const r = await check(b);
    const found = new Set(codes(r.violations));
    for (const c of ['TOKEN_WITHOUT_TERMINAL_OUTCOME', 'STATE_NOT_FINISHED', 'SINK_OUTCOME_WITHOUT_SINK_STATE', 'ARTIFACT_WITHOUT_STATES', 'DOUBLE_TERMINAL_OUTCOME', 'EVENT_ANOMALY']) {
      expect(found).toContain(c);
    }
    expect(r.violations.find((v) => v.code === 'TOKEN_WITHOUT_TERMINAL_OUTCOME')!.tokenId).toBe(noOutcome);
    expect(r.violations.find((v) => v.code === 'STATE_NOT_FINISHED')!.stateId).toBe(open);
    expect(r.violations.find((v) => v.code === 'SINK_OUTCOME_WITHOUT_SINK_STATE')!.tokenId).toBe(noSink);
    expect(r.byCode.DOUBLE_TERMINAL_OUTCOME).toBe(1);
  });

  test('the export refuses the broken run that check reports', async () => {
    const { b, token } = baseRun();
    b.outcome(token, 'failed', { errorHash: hash('again') });
    b.complete();
    const store = new MemoryEventStore();
    await b.appendTo(store);
    const ledger = await openLedger({ store });
    let code: string | undefined;
    try {
      for await (const _ of ledger.exportRun(b.runId)) void _;
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('EXPORT_FAILED');
    expect((await ledger.check(b.runId)).ok).toBe(false);
    await ledger.close();
  });
});

describe('check: interrupted runs report exactly what is incomplete', () => {
  let ledger: Ledger;
  beforeEach(async () => {
    ledger = await openLedger({ store: 'memory:' });
  });
  afterEach(async () => {
    await ledger.close();
  });

  test('a reference run stopped before its end: the source load is still open', async () => {
    const { runId } = await recordReferenceRun(ledger, { rows: 20, finish: false });
    const handle = await ledger.openRun(runId);
    await handle.complete({ status: 'interrupted' });
    const r = await ledger.check(runId);
    const op = [...handle.projection.operations.values()][0]!;
    expect(r.runStatus).toBe('interrupted');
    expect(r.violations).toEqual([expect.objectContaining({ code: 'OPERATION_NOT_FINISHED', operationId: op.operationId })]);
  });

  test('a run stopped mid-row: the two branch tokens lack outcomes and one transform state is open', async () => {
    const run = await ledger.beginRun({ config: { pipeline: 'stopped' } });
    const g = await registerReferenceGraph(run);
    for (let i = 0; i < 3; i++) await recordReferenceRow(run, g, i);
    const row = await run.createRow({ sourceNodeId: g.sourceId, rowIndex: 3, data: { id: 3 }, withToken: true });
    const src = await run.beginNodeState({ tokenId: row.tokenId!, nodeId: g.sourceId, stepIndex: 0, inputHash: row.sourceDataHash });
    await run.completeNodeState({ stateId: src.stateId, status: 'completed', outputHash: row.sourceDataHash, durationMs: 0 });
    const fork = await run.forkToken({ parentTokenId: row.tokenId!, rowId: row.rowId, branches: ['enrich', 'score'] });
    const st = await run.beginNodeState({ tokenId: fork.children[0]!.tokenId, nodeId: g.transformIds[0], stepIndex: 2, inputData: { id: 3 } });

    // while still running, the run itself is reported too
    const live = checkRun(run.projection as never);
    expect(live.violations.map((v) => v.code)).toEqual(['RUN_NOT_FINISHED', 'TOKEN_WITHOUT_TERMINAL_OUTCOME', 'TOKEN_WITHOUT_TERMINAL_OUTCOME', 'STATE_NOT_FINISHED']);

    await run.complete({ status: 'interrupted' });
    const r = await ledger.check(run.runId);
    expect(r.violations).toEqual([
      expect.objectContaining({ code: 'TOKEN_WITHOUT_TERMINAL_OUTCOME', tokenId: fork.children[0]!.tokenId, rowId: row.rowId }),
      expect.objectContaining({ code: 'TOKEN_WITHOUT_TERMINAL_OUTCOME', tokenId: fork.children[1]!.tokenId, rowId: row.rowId }),
      expect.objectContaining({ code: 'STATE_NOT_FINISHED', stateId: st.stateId, tokenId: fork.children[0]!.tokenId }),
    ]);
    expect(r.violations[0]!.message).toContain(st.stateId);
  });

  test('check as of a point in history', async () => {
    const { runId } = await recordReferenceRun(ledger, { rows: 3 });
    const revision = await ledger.store.streamRevision(runStreamId(runId));
    // as of the end: clean; as of an event in the middle: rows in flight are reported
    expect((await ledger.check(runId)).ok).toBe(true);
    const mid = await ledger.check(runId, { asOf: Math.floor(revision! / 2) });
    expect(mid.ok).toBe(false);
    expect(mid.asOf.seq).toBe(Math.floor(revision! / 2));
    expect(mid.violations.map((v) => v.code)).toContain('RUN_NOT_FINISHED');
  });
});
