/**
 * Explain beyond the demo's shapes: every attempt of a retried state, a batch
 * retried after a failure, tokens still in flight, lineage gaps in runs
 * written around the recorder, and the renderers' escaping.
 */
import parseDot from 'dotparser';
import { openLedger } from '../../src';
import type { Ledger, RunHandle } from '../../src';
import { explainToken } from '../../src/lineage/explain';
import { foldEvents } from '../../src/projections/evolve';
import { emptyRunState } from '../../src/projections/state';
import { graphOfToken, mermaidId, mermaidText, renderDot, renderExplanationText, renderMermaid } from '../../src/lineage/render';
import { MemoryEventStore } from '../../src/store/memory';
import { EventRunBuilder, hash, uuid } from './support';

describe('explain: retries, retried batches, work in flight', () => {
  let ledger: Ledger;
  let run: RunHandle;
  let nodes: Record<'source' | 'transform' | 'agg' | 'sink', string>;

  beforeEach(async () => {
    ledger = await openLedger({ store: 'memory:' });
    run = await ledger.beginRun({ config: { pipeline: 'cases' } });
    const reg = async (pluginName: string, nodeType: 'source' | 'transform' | 'aggregation' | 'sink') =>
      (await run.registerNode({ pluginName, nodeType, pluginVersion: '1', config: { pluginName } })).nodeId;
    nodes = { source: await reg('src', 'source'), transform: await reg('flaky_api', 'transform'), agg: await reg('totals', 'aggregation'), sink: await reg('out', 'sink') };
  });
  afterEach(async () => {
    await ledger.close();
  });

  test('every attempt of a retried state, in step then attempt order, each with its calls', async () => {
    const row = await run.createRow({ sourceNodeId: nodes.source, rowIndex: 0, data: { a: 1 }, withToken: true });
    const t = row.tokenId!;
    const a0 = await run.beginNodeState({ tokenId: t, nodeId: nodes.transform, stepIndex: 1, attempt: 0, inputData: { a: 1 } });
    await run.recordCall({ stateId: a0.stateId, callType: 'http', status: 'error', requestData: { try: 0 }, error: { status: 503 } });
    await run.completeNodeState({ stateId: a0.stateId, status: 'failed', error: { message: '503' }, durationMs: 5 });
    const a1 = await run.beginNodeState({ tokenId: t, nodeId: nodes.transform, stepIndex: 1, attempt: 1, inputData: { a: 1 } });
    await run.recordCall({ stateId: a1.stateId, callType: 'http', status: 'success', requestData: { try: 1 }, responseData: { ok: true } });
    await run.completeNodeState({ stateId: a1.stateId, status: 'completed', outputData: { a: 2 }, durationMs: 5 });
    const src = await run.beginNodeState({ tokenId: t, nodeId: nodes.source, stepIndex: 0, inputHash: row.sourceDataHash });
    await run.completeNodeState({ stateId: src.stateId, status: 'completed', outputHash: row.sourceDataHash, durationMs: 0 });
    const e = await ledger.explain({ runId: run.runId, tokenId: t });
    const states = e.tokens[0]!.states;
    expect(states.map((s) => [s.nodeName, s.stepIndex, s.attempt, s.status])).toEqual([
      ['src', 0, 0, 'completed'],
      ['flaky_api', 1, 0, 'failed'],
      ['flaky_api', 1, 1, 'completed'],
    ]);
    expect(states[1]!.calls.map((c) => c.status)).toEqual(['error']);
    expect(states[1]!.errorJson).toEqual({ message: '503' });
    expect(states[2]!.calls.map((c) => c.status)).toEqual(['success']);
    // still in flight: no outcome yet; the row's only path ends at this token
    expect(e.tokens[0]!.outcome).toBeNull();
    const r = await ledger.explain({ runId: run.runId, rowIndex: 0 });
    expect(r.paths.map((p) => p.tokenId)).toEqual([t]);
    expect(renderExplanationText(e)).toContain('flaky_api (transform) step 1 attempt 1: completed');
  });

  test('a batch that failed and was retried: the output leads back to the members through the retried batch', async () => {
    const members: string[] = [];
    for (let i = 0; i < 3; i++) members.push((await run.createRow({ sourceNodeId: nodes.source, rowIndex: i, data: { i }, withToken: true })).tokenId!);
    const b1 = await run.createBatch({ aggregationNodeId: nodes.agg });
    for (const m of members) {
      await run.addBatchMember({ batchId: b1.batchId, tokenId: m });
      await run.recordTokenOutcome({ tokenId: m, outcome: 'buffered', batchId: b1.batchId });
    }
    await run.updateBatchStatus({ batchId: b1.batchId, status: 'executing', triggerType: 'count' });
    await run.completeBatch({ batchId: b1.batchId, status: 'failed' });
    const b2 = await run.retryBatch({ batchId: b1.batchId });
    await run.updateBatchStatus({ batchId: b2.batchId, status: 'executing', triggerType: 'count' });
    await run.completeBatch({ batchId: b2.batchId, status: 'completed' });
    for (const m of members) await run.recordTokenOutcome({ tokenId: m, outcome: 'consumed_in_batch', batchId: b2.batchId });
    const out = await run.recordBatchOutputs({ batchId: b2.batchId, tokenCount: 1 });
    const o = out.tokens[0]!.tokenId;
    const s = await run.beginNodeState({ tokenId: o, nodeId: nodes.sink, stepIndex: 3, inputData: { total: 3 } });
    await run.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: { ok: 1 }, durationMs: 1 });
    await run.recordTokenOutcome({ tokenId: o, outcome: 'completed', sinkName: 'out' });
    await run.complete({ status: 'completed' });

    const e = await ledger.explain({ runId: run.runId, tokenId: o });
    expect(e.tokens.map((t) => t.tokenId)).toEqual([o, ...members]);
    expect(e.edges.map((x) => [x.groupKind, x.groupId])).toEqual(members.map(() => ['batch', b2.batchId]));
    expect(e.sourceRows.map((r) => r.rowIndex)).toEqual([0, 1, 2]);
    // both batches the members were in, the retry naming the failed one
    expect(e.batches.map((b) => [b.batchId, b.status, b.retriedFromBatchId])).toEqual([
      [b2.batchId, 'completed', b1.batchId],
      [b1.batchId, 'failed', null],
    ]);
    expect(e.tokens[1]!.batchIds).toEqual([b1.batchId, b2.batchId]);
    // each member's row has the output as its one path
    for (let i = 0; i < 3; i++) expect((await ledger.explain({ runId: run.runId, rowIndex: i })).paths.map((p) => p.tokenId)).toEqual([o]);
    const d = await ledger.descendants({ runId: run.runId, rowIndex: 2 });
    expect(d.groups.map((g) => [g.kind, g.groupId, g.rows.map((r) => r.rowIndex)])).toEqual([
      ['batch', b1.batchId, [0, 1, 2]],
      ['batch', b2.batchId, [0, 1, 2]],
    ]);
    expect((await ledger.check(run.runId)).ok).toBe(true);
  });
});

describe('explain: gaps in runs written around the recorder', () => {
  test('a parent that does not exist is reported as a problem, and the rest is still explained', async () => {
    const b = new EventRunBuilder();
    b.start();
    const source = b.node('source');
    const row = b.row(source, 0);
    const ghost = uuid();
    const kids = [uuid(), uuid()];
    const expandGroupId = uuid();
    b.add('TokenExpanded', { parentTokenId: ghost, rowId: row, expandGroupId, stepInPipeline: 1, children: kids.map((tokenId) => ({ tokenId })), outcomeId: uuid(), contextJson: null });
    const store = new MemoryEventStore();
    await b.appendTo(store);
    const ledger = await openLedger({ store });
    const e = await ledger.explain({ runId: b.runId, tokenId: kids[0]! });
    expect(e.tokens.map((t) => t.tokenId)).toEqual([kids[0]]);
    expect(e.edges).toEqual([{ parentTokenId: ghost, childTokenId: kids[0], ordinal: 0, groupKind: 'expand', groupId: expandGroupId }]);
    expect(e.problems).toEqual([{ tokenId: kids[0], message: `token ${kids[0]} names parent ${ghost}, which does not exist` }]);
    // the token's own row is still given
    expect(e.sourceRows.map((r) => r.rowId)).toEqual([row]);
    expect(renderExplanationText(e)).toContain('Lineage problems:');
    // the graph still parses: the missing parent is an undeclared (implicit) node
    expect(() => parseDot(renderDot(graphOfToken(e)))).not.toThrow();
    await ledger.close();
  });
});

describe('renderers escape what they draw', () => {
  test('DOT and Mermaid survive quotes, backslashes, angle brackets and hashes in plugin names', () => {
    const b = new EventRunBuilder();
    b.start();
    const nasty = 'say "hi" \\ <b>#1;</b> & done';
    const source = b.node('source', nasty);
    const row = b.row(source, 0);
    const t = b.token(row);
    b.state(t, source, 0);
    b.outcome(t, 'failed', { errorHash: hash('x') });
    // fold the events by hand: no store needed
    const state = foldEvents(emptyRunState(b.runId), b.events);
    const e = explainToken(state, t);
    const dot = renderDot(graphOfToken(e));
    const parsed = parseDot(dot);
    const node = parsed[0]!.children.find((c) => c.type === 'node_stmt' && String(c.node_id.id) === `token:${t}`);
    expect(node).toBeDefined();
    expect(dot).toContain('say \\"hi\\" \\\\ <b>#1;</b> & done');
    const mermaid = renderMermaid(graphOfToken(e));
    const line = mermaid.split('\n').find((l) => l.includes(mermaidId('t', t)))!;
    expect(line).not.toMatch(/say "hi"/);
    expect(line).toContain(mermaidText(nasty));
    expect(mermaidText(nasty)).toBe('say #34;hi#34; \\ #60;b#62;#35;1;#60;/b#62; #38; done');
    expect(mermaidId('t', t)).toMatch(/^t_[A-Za-z0-9_]+$/);
  });
});
