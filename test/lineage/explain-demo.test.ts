/**
 * Acceptance: explaining a main-sink token of the demo run, which came through
 * a fork, a coalesce, an aggregation batch and an expansion, lists every
 * ancestor token, node state, call and routing decision back to every
 * contributing source row.
 *
 * The expectations are built by hand from the demo's documented shape
 * (src/workloads/demo.ts) and from the raw events in the store, never with the
 * lineage code under test: the first batch gathers the merged tokens of source
 * rows 0, 1, 2 and 4 (row 3's classify call fails); each merged token comes
 * from the two fork branches (enrich, classify) of one initial token; the
 * batch yields one summary token, expanded into one line per member, each
 * written to main_sink.
 */
import { openLedger } from '../../src';
import type { Ledger } from '../../src';
import type { LedgerEvent } from '../../src/events/envelope';
import type { ExplainedToken, TokenExplanation } from '../../src/lineage/explain';
import { recordDemoRun } from '../../src/workloads/demo';
import { ofType, runEvents } from './support';

interface RowLineage {
  rowIndex: number;
  rowId: string;
  hash: string;
  initial: string;
  forkGroupId: string;
  enrich: string;
  classify: string;
  joinGroupId: string;
  merged: string;
}

/** The demo's structure, read from the raw events. */
function demoStructure(events: LedgerEvent[]) {
  const nodeName = new Map(ofType(events, 'NodeRegistered').map((e) => [e.data.nodeId, e.data.pluginName]));
  const nodeId = (name: string) => [...nodeName.entries()].find(([, n]) => n === name)![0];
  const rows = new Map<number, RowLineage>();
  for (const rc of ofType(events, 'RowCreated')) {
    const initial = ofType(events, 'TokenCreated').find((e) => e.data.rowId === rc.data.rowId)!.data.tokenId;
    const fork = ofType(events, 'TokenForked').find((e) => e.data.parentTokenId === initial);
    const join = ofType(events, 'TokensCoalesced').find((e) => e.data.rowId === rc.data.rowId);
    if (fork === undefined || join === undefined) continue;
    rows.set(rc.data.rowIndex, {
      rowIndex: rc.data.rowIndex,
      rowId: rc.data.rowId,
      hash: rc.data.sourceDataHash,
      initial,
      forkGroupId: fork.data.forkGroupId,
      enrich: fork.data.children.find((c) => c.branchName === 'enrich')!.tokenId,
      classify: fork.data.children.find((c) => c.branchName === 'classify')!.tokenId,
      joinGroupId: join.data.joinGroupId,
      merged: join.data.mergedTokenId,
    });
  }
  const batchId = ofType(events, 'BatchCreated')[0]!.data.batchId;
  const members = ofType(events, 'BatchMemberAdded')
    .filter((e) => e.data.batchId === batchId)
    .map((e) => e.data.tokenId);
  const summary = ofType(events, 'BatchOutputsProduced').find((e) => e.data.batchId === batchId)!.data.tokens[0]!.tokenId;
  const expand = ofType(events, 'TokenExpanded').find((e) => e.data.parentTokenId === summary)!.data;
  const statesOf = (tokenId: string) => ofType(events, 'NodeStateOpened').filter((e) => e.data.tokenId === tokenId).map((e) => e.data);
  const callsOf = (stateId: string) => ofType(events, 'CallRecorded').filter((e) => e.data.stateId === stateId).map((e) => e.data);
  const routesOf = (stateId: string) => ofType(events, 'RoutingDecided').filter((e) => e.data.stateId === stateId).flatMap((e) => e.data.routes.map((r) => ({ ...r, routingGroupId: e.data.routingGroupId })));
  return { nodeName, nodeId, rows, batchId, members, summary, expand, statesOf, callsOf, routesOf };
}

describe('explain: a demo main-sink token through fork, coalesce, batch and expansion', () => {
  let ledger: Ledger;
  let runId: string;
  let events: LedgerEvent[];
  let demo: ReturnType<typeof demoStructure>;
  let target: string;
  let e: TokenExplanation;
  const byId = (id: string): ExplainedToken => {
    const t = e.tokens.find((x) => x.tokenId === id);
    if (t === undefined) throw new Error(`token ${id} missing from the explanation`);
    return t;
  };

  beforeAll(async () => {
    ledger = await openLedger({ store: 'memory:' });
    runId = (await recordDemoRun(ledger)).runId;
    events = await runEvents(ledger, runId);
    demo = demoStructure(events);
    target = demo.expand.children[0]!.tokenId;
    e = await ledger.explain({ runId, tokenId: target });
  });
  afterAll(async () => {
    await ledger.close();
  });

  const CONTRIBUTING = [0, 1, 2, 4];

  test('the demo is what the expectations assume: batch 1 gathers the merged tokens of rows 0, 1, 2 and 4', () => {
    expect(demo.members).toEqual(CONTRIBUTING.map((i) => demo.rows.get(i)!.merged));
    expect(demo.expand.children).toHaveLength(4);
  });

  test('every ancestor token, and nothing else', () => {
    const expected = new Set<string>([target, demo.summary]);
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      for (const t of [r.merged, r.enrich, r.classify, r.initial]) expected.add(t);
    }
    expect(expected.size).toBe(18);
    expect(new Set(e.tokens.map((t) => t.tokenId))).toEqual(expected);
    expect(e.tokens).toHaveLength(18);
    expect(e.tokens[0]!.tokenId).toBe(target);
    expect(e.problems).toEqual([]);
    // depth: target 0, summary 1, merged 2, branches 3, initial 4
    expect(byId(demo.summary).depth).toBe(1);
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      expect([byId(r.merged).depth, byId(r.enrich).depth, byId(r.classify).depth, byId(r.initial).depth]).toEqual([2, 3, 3, 4]);
    }
  });

  test('every contributing source row, by index, with its hash', () => {
    expect(e.sourceRows.map((r) => r.rowIndex)).toEqual(CONTRIBUTING);
    for (const r of e.sourceRows) {
      const rec = demo.rows.get(r.rowIndex)!;
      expect(r.rowId).toBe(rec.rowId);
      expect(r.sourceDataHash).toBe(rec.hash);
      expect(r.sourceDataHash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.sourceNodeName).toBe('csv_source');
      expect(r.payloadAvailable).toBe(false);
      expect(r.validationErrors).toEqual([]);
    }
  });

  test('the group id on each hop: expand, batch (in member order), join, fork', () => {
    const edgeKey = (p: string, c: string) => `${p}>${c}`;
    const edges = new Map(e.edges.map((x) => [edgeKey(x.parentTokenId, x.childTokenId), x]));
    const expected: [string, string, string, string, number][] = [[demo.summary, target, 'expand', demo.expand.expandGroupId, 0]];
    CONTRIBUTING.forEach((i, k) => {
      const r = demo.rows.get(i)!;
      expected.push([r.merged, demo.summary, 'batch', demo.batchId, k]);
      expected.push([r.enrich, r.merged, 'join', r.joinGroupId, 0]);
      expected.push([r.classify, r.merged, 'join', r.joinGroupId, 1]);
      // a fork child's link ordinal is its branch's position in the fork (as in Landscape)
      expected.push([r.initial, r.enrich, 'fork', r.forkGroupId, 0]);
      expected.push([r.initial, r.classify, 'fork', r.forkGroupId, 1]);
    });
    expect(e.edges).toHaveLength(expected.length);
    for (const [parent, child, kind, groupId, ordinal] of expected) {
      expect(edges.get(edgeKey(parent, child))).toEqual({ parentTokenId: parent, childTokenId: child, groupKind: kind, groupId, ordinal });
    }
    // the summary token leads back to EVERY batch member, in order
    expect(byId(demo.summary).parents.map((p) => p.parentTokenId)).toEqual(demo.members);
    expect(byId(demo.summary).batchId).toBe(demo.batchId);
    expect(byId(target).expandGroupId).toBe(demo.expand.expandGroupId);
    // every group crossed, once
    const groups = new Map(e.groups.map((g) => [g.groupId, g.kind]));
    expect(groups.get(demo.expand.expandGroupId)).toBe('expand');
    expect(groups.get(demo.batchId)).toBe('batch');
    for (const i of CONTRIBUTING) {
      expect(groups.get(demo.rows.get(i)!.joinGroupId)).toBe('join');
      expect(groups.get(demo.rows.get(i)!.forkGroupId)).toBe('fork');
    }
    expect(e.groups).toHaveLength(2 + 2 * CONTRIBUTING.length);
  });

  test('every node state of every ancestor, with node names: sink, split, aggregation, coalesce, transforms, gate, source', () => {
    const names = (id: string) => byId(id).states.map((s) => s.nodeName);
    expect(names(target)).toEqual(['main_sink']);
    expect(names(demo.summary)).toEqual(['split_lines']);
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      // the aggregation state is recorded on the batch's first member
      expect(names(r.merged)).toEqual(i === 0 ? ['batch_totals'] : []);
      expect(names(r.enrich)).toEqual(['http_enrich', 'merge']);
      expect(names(r.classify)).toEqual(['llm_classify', 'merge']);
      expect(names(r.initial)).toEqual(['csv_source', 'fork_gate']);
    }
    // the same state ids as the events recorded, all completed
    let count = 0;
    for (const t of e.tokens) {
      const recorded = demo.statesOf(t.tokenId).map((s) => s.stateId);
      expect(t.states.map((s) => s.stateId).sort()).toEqual([...recorded].sort());
      for (const s of t.states) {
        expect(s.status).toBe('completed');
        expect(s.nodeName).toBe(demo.nodeName.get(s.nodeId));
        count++;
      }
    }
    expect(count).toBe(1 + 1 + 1 + CONTRIBUTING.length * (2 + 2 + 2));
    // the sink state wrote the main artifact; the aggregation state is the batch's
    expect(byId(target).states[0]!.artifactIds).toHaveLength(1);
    expect(e.batches).toHaveLength(1);
    expect(e.batches[0]).toMatchObject({ batchId: demo.batchId, aggregationNodeName: 'batch_totals', status: 'completed', triggerType: 'count' });
    expect(e.batches[0]!.aggregationStateId).toBe(byId(demo.rows.get(0)!.merged).states[0]!.stateId);
    expect(e.batches[0]!.members.map((m) => m.tokenId)).toEqual(demo.members);
    expect(e.batches[0]!.outputs).toEqual([{ batchId: demo.batchId, outputType: 'token', outputId: demo.summary, ordinal: 0, expandGroupId: null }]);
  });

  test('every call: one http call on the enrich branch and one llm call on the classify branch of each row', () => {
    const allCalls = e.tokens.flatMap((t) => t.states.flatMap((s) => s.calls));
    expect(allCalls).toHaveLength(2 * CONTRIBUTING.length);
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      const enrichState = byId(r.enrich).states.find((s) => s.nodeName === 'http_enrich')!;
      const classifyState = byId(r.classify).states.find((s) => s.nodeName === 'llm_classify')!;
      expect(enrichState.calls.map((c) => [c.callType, c.status])).toEqual([['http', 'success']]);
      expect(classifyState.calls.map((c) => [c.callType, c.status])).toEqual([['llm', 'success']]);
      expect(enrichState.calls[0]!.callId).toBe(demo.callsOf(enrichState.stateId)[0]!.callId);
      expect(classifyState.calls[0]!.requestHash).toBe(demo.callsOf(classifyState.stateId)[0]!.requestHash);
    }
  });

  test('routing decisions: each fork gate state routed to both branches in one routing group', () => {
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      const gate = byId(r.initial).states.find((s) => s.nodeName === 'fork_gate')!;
      expect(gate.routing.map((x) => [x.label, x.toNodeName, x.mode, x.ordinal])).toEqual([
        ['enrich', 'http_enrich', 'copy', 0],
        ['classify', 'llm_classify', 'copy', 1],
      ]);
      const recorded = demo.routesOf(gate.stateId);
      expect(gate.routing.map((x) => x.eventId)).toEqual(recorded.map((x) => x.eventId));
      expect(new Set(gate.routing.map((x) => x.routingGroupId))).toEqual(new Set([recorded[0]!.routingGroupId]));
    }
    const routed = e.tokens.flatMap((t) => t.states.flatMap((s) => s.routing));
    expect(routed).toHaveLength(2 * CONTRIBUTING.length);
  });

  test('outcomes of every ancestor, including the buffered step before the batch consumed the merged tokens', () => {
    expect(byId(target).outcome).toMatchObject({ outcome: 'completed', sinkName: 'main' });
    expect(byId(demo.summary).outcome).toMatchObject({ outcome: 'expanded', expandGroupId: demo.expand.expandGroupId });
    for (const i of CONTRIBUTING) {
      const r = demo.rows.get(i)!;
      expect(byId(r.merged).outcomes.map((o) => o.outcome)).toEqual(['buffered', 'consumed_in_batch']);
      expect(byId(r.merged).outcome).toMatchObject({ outcome: 'consumed_in_batch', batchId: demo.batchId });
      expect(byId(r.merged).batchIds).toEqual([demo.batchId]);
      expect(byId(r.enrich).outcome).toMatchObject({ outcome: 'coalesced', joinGroupId: r.joinGroupId });
      expect(byId(r.classify).outcome).toMatchObject({ outcome: 'coalesced', joinGroupId: r.joinGroupId });
      expect(byId(r.initial).outcome).toMatchObject({ outcome: 'forked', forkGroupId: r.forkGroupId, expectedBranchesJson: ['enrich', 'classify'] });
    }
    expect(e.tokens.every((t) => t.terminal)).toBe(true);
  });

  test('the result is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(e))).toEqual(e);
  });
});
