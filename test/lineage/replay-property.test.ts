/**
 * Property: replaying a run's events reproduces the live projection exactly,
 * and replaying a prefix (as of a seq, or as of that event's time) reproduces
 * the projection the live handle had at that point.
 *
 * fast-check generates random command scripts; a small interpreter turns each
 * step into a command the recorder accepts (targets are picked among the live
 * tokens, open states, draft batches, ... of the run as it stands), drives a
 * live RunHandle on a memory store, and captures the handle's projection every
 * few commands. Lineage queries and the audit check must also work on every
 * generated run.
 */
import fc from 'fast-check';
import { isLedgerError, openLedger } from '../../src';
import type { Ledger, RunHandle } from '../../src';
import { checkRun } from '../../src/lineage/check';
import { descendants, explainToken } from '../../src/lineage/explain';
import type { RunState } from '../../src/projections/state';
import { hash, plain } from './support';

const KINDS = [
  'createRow',
  'createToken',
  'fork',
  'expand',
  'coalesce',
  'beginState',
  'completeState',
  'routing',
  'call',
  'operation',
  'batchCreate',
  'batchMember',
  'batchAdvance',
  'batchOutputs',
  'consume',
  'outcome',
  'artifact',
  'transformError',
  'validationError',
  'checkpoint',
] as const;

type Step = { kind: (typeof KINDS)[number]; a: number; b: number; c: number };

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom(...KINDS),
  a: fc.nat({ max: 1000 }),
  b: fc.nat({ max: 1000 }),
  c: fc.nat({ max: 1000 }),
});

function pick<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

interface Graph {
  source: string;
  gate: string;
  transform: string;
  coalesce: string;
  agg: string;
  sink: string;
  gateEdges: string[];
}

async function setup(run: RunHandle): Promise<Graph> {
  const node = async (nodeType: 'source' | 'gate' | 'transform' | 'coalesce' | 'aggregation' | 'sink') =>
    (await run.registerNode({ pluginName: `${nodeType}_plugin`, nodeType, pluginVersion: '1', config: { nodeType } })).nodeId;
  const g = {
    source: await node('source'),
    gate: await node('gate'),
    transform: await node('transform'),
    coalesce: await node('coalesce'),
    agg: await node('aggregation'),
    sink: await node('sink'),
    gateEdges: [] as string[],
  };
  g.gateEdges.push((await run.registerEdge({ fromNodeId: g.gate, toNodeId: g.transform, label: 'left', mode: 'copy' })).edgeId);
  g.gateEdges.push((await run.registerEdge({ fromNodeId: g.gate, toNodeId: g.sink, label: 'right', mode: 'move' })).edgeId);
  return g;
}

/** Runs one scripted step as a command the recorder accepts in the run's current state (or does nothing). */
async function interpret(run: RunHandle, g: Graph, s: Step, counters: { rowIndex: number; steps: Map<string, number> }): Promise<void> {
  const st = run.projection as RunState;
  const live = [...st.unfinishedTokens];
  const nodes = [g.source, g.gate, g.transform, g.coalesce, g.agg, g.sink];
  const nextStep = (tokenId: string): number => {
    const n = counters.steps.get(tokenId) ?? 0;
    counters.steps.set(tokenId, n + 1);
    return n;
  };
  switch (s.kind) {
    case 'createRow':
      await run.createRow({ sourceNodeId: g.source, rowIndex: counters.rowIndex++, data: { v: s.a, tag: `r${s.b}` }, withToken: s.c % 4 !== 0 });
      return;
    case 'createToken': {
      const row = pick([...st.rows.keys()], s.a);
      if (row !== undefined) await run.createToken({ rowId: row, ...(s.b % 2 === 0 ? { branchName: `b${s.b % 3}` } : {}) });
      return;
    }
    case 'fork': {
      const t = pick(live, s.a);
      if (t !== undefined) await run.forkToken({ parentTokenId: t, rowId: st.tokens.get(t)!.rowId, branches: ['x', 'y', 'z'].slice(0, 1 + (s.b % 3)), stepInPipeline: s.c % 5 });
      return;
    }
    case 'expand': {
      const t = pick(live, s.a);
      if (t !== undefined) await run.expandToken({ parentTokenId: t, rowId: st.tokens.get(t)!.rowId, count: 1 + (s.b % 3) });
      return;
    }
    case 'coalesce': {
      const t = pick(live, s.a);
      if (t === undefined) return;
      const rowId = st.tokens.get(t)!.rowId;
      const siblings = live.filter((x) => x !== t && st.tokens.get(x)!.rowId === rowId);
      const other = pick(siblings, s.b);
      if (other === undefined) return;
      // complete their open states at the coalesce node in the same event, when they have one
      const openAt = (tok: string) => (st.statesByToken.get(tok) ?? []).find((id) => st.nodeStates.get(id)!.status === 'open' && st.nodeStates.get(id)!.nodeId === g.coalesce);
      const completeStates = [t, other].map(openAt).filter((x): x is string => x !== undefined).map((stateId) => ({ stateId, durationMs: 1 }));
      await run.coalesceTokens({ parentTokenIds: [t, other], rowId, ...(completeStates.length > 0 && s.c % 2 === 0 ? { completeStates } : {}), metadata: { policy: 'require_all' } });
      return;
    }
    case 'beginState': {
      const t = pick(live, s.a);
      if (t === undefined) return;
      const nodeId = nodes[s.b % nodes.length]!;
      const stepIndex = nextStep(t);
      await run.beginNodeState({ tokenId: t, nodeId, stepIndex, attempt: stepIndex, inputData: { step: stepIndex } });
      return;
    }
    case 'completeState': {
      const id = pick([...st.unfinishedStates], s.a);
      if (id === undefined) return;
      const ns = st.nodeStates.get(id)!;
      const mode = ns.status === 'pending' ? s.b % 2 : s.b % 3;
      if (mode === 0) await run.completeNodeState({ stateId: id, status: 'completed', outputData: { out: s.c }, durationMs: s.c / 10 });
      else if (mode === 1) await run.completeNodeState({ stateId: id, status: 'failed', error: { message: `e${s.c}` }, durationMs: 1 });
      else await run.completeNodeState({ stateId: id, status: 'pending', durationMs: 2 });
      return;
    }
    case 'routing': {
      const gateStates = [...st.nodeStates.values()].filter((x) => x.nodeId === g.gate && (x.status === 'completed' || x.status === 'failed'));
      const ns = pick(gateStates, s.a);
      if (ns === undefined) return;
      if (s.b % 2 === 0) await run.recordRoutingEvent({ stateId: ns.stateId, edgeId: g.gateEdges[s.c % 2]!, mode: 'move', reason: { rule: s.c } });
      else await run.recordRoutingEvents({ stateId: ns.stateId, routes: g.gateEdges.map((edgeId) => ({ edgeId, mode: 'copy' as const })) });
      return;
    }
    case 'call': {
      const openOps = [...st.operations.values()].filter((o) => o.status === 'open').map((o) => o.operationId);
      if (s.b % 3 === 0 && openOps.length > 0) {
        await run.recordCall({ operationId: pick(openOps, s.a)!, callType: 'filesystem', status: 'success', requestData: { op: s.c } });
        return;
      }
      const id = pick([...st.unfinishedStates], s.a);
      if (id !== undefined) {
        await run.recordCall({ stateId: id, callType: s.c % 2 === 0 ? 'http' : 'llm', status: s.c % 5 === 0 ? 'error' : 'success', requestData: { q: s.c }, latencyMs: s.c });
      }
      return;
    }
    case 'operation': {
      const open = [...st.operations.values()].filter((o) => o.status === 'open');
      if (open.length > 0 && s.a % 2 === 0) {
        const status = (['completed', 'failed', 'pending'] as const)[s.b % 3]!;
        await run.completeOperation({ operationId: pick(open, s.b)!.operationId, status, durationMs: 3, ...(status === 'failed' ? { error: 'disk full' } : {}) });
      } else {
        await run.beginOperation({ nodeId: s.c % 2 === 0 ? g.source : g.sink, operationType: s.c % 2 === 0 ? 'source_load' : 'sink_write', inputData: { n: s.c } });
      }
      return;
    }
    case 'batchCreate':
      await run.createBatch({ aggregationNodeId: g.agg });
      return;
    case 'batchMember': {
      const drafts = [...st.batches.values()].filter((b) => b.status === 'draft');
      const b = pick(drafts, s.a);
      const t = pick(live, s.b);
      if (b === undefined || t === undefined) return;
      if ((st.batchMembers.get(b.batchId) ?? []).some((m) => m.tokenId === t)) return;
      await run.addBatchMember({ batchId: b.batchId, tokenId: t });
      if (s.c % 2 === 0) await run.recordTokenOutcome({ tokenId: t, outcome: 'buffered', batchId: b.batchId });
      return;
    }
    case 'batchAdvance': {
      const open = [...st.batches.values()].filter((b) => b.status === 'draft' || b.status === 'executing');
      const b = pick(open, s.a);
      if (b === undefined) {
        const failed = pick(
          [...st.batches.values()].filter((x) => x.status === 'failed' && (st.batchMembers.get(x.batchId) ?? []).every((m) => st.unfinishedTokens.has(m.tokenId))),
          s.b,
        );
        if (failed !== undefined) await run.retryBatch({ batchId: failed.batchId });
        return;
      }
      if (b.status === 'draft') await run.updateBatchStatus({ batchId: b.batchId, status: s.b % 4 === 0 ? 'failed' : 'executing', triggerType: 'count' });
      else {
        const aggState = (st.statesByToken.get((st.batchMembers.get(b.batchId) ?? [])[0]?.tokenId ?? '') ?? []).find((id) => st.nodeStates.get(id)!.nodeId === g.agg);
        await run.updateBatchStatus({ batchId: b.batchId, status: s.b % 4 === 0 ? 'failed' : 'completed', ...(aggState !== undefined ? { stateId: aggState } : {}) });
      }
      return;
    }
    case 'batchOutputs': {
      const done = [...st.batches.values()].filter((b) => b.status === 'completed' && (st.batchOutputs.get(b.batchId) ?? []).length === 0);
      const b = pick(done, s.a);
      if (b === undefined) return;
      const members = st.batchMembers.get(b.batchId) ?? [];
      const artifacts = s.c % 3 === 0 ? [...st.artifacts.keys()].slice(0, 1) : [];
      if (members.length === 0 && artifacts.length === 0) return;
      await run.recordBatchOutputs({ batchId: b.batchId, tokenCount: members.length === 0 ? 0 : 1 + (s.b % 2), artifactIds: artifacts, stepInPipeline: 4 });
      return;
    }
    case 'consume': {
      const candidates: [string, string][] = [];
      for (const [batchId, members] of st.batchMembers) for (const m of members) if (st.unfinishedTokens.has(m.tokenId)) candidates.push([m.tokenId, batchId]);
      const c = pick(candidates, s.a);
      if (c === undefined) return;
      const outcome = (['consumed_in_batch', 'failed', 'quarantined'] as const)[s.b % 3]!;
      if (outcome === 'consumed_in_batch') await run.recordTokenOutcome({ tokenId: c[0], outcome, batchId: c[1] });
      else await run.recordTokenOutcome({ tokenId: c[0], outcome, batchId: c[1], errorHash: hash(`e${s.c}`) });
      return;
    }
    case 'outcome': {
      const t = pick(live, s.a);
      if (t === undefined) return;
      const kind = s.b % 5;
      if (kind === 0) await run.recordTokenOutcome({ tokenId: t, outcome: 'completed', sinkName: 'main' });
      else if (kind === 1) await run.recordTokenOutcome({ tokenId: t, outcome: 'routed', sinkName: 'side', errorHash: hash('r') });
      else if (kind === 2) await run.recordTokenOutcome({ tokenId: t, outcome: 'failed', errorHash: hash(`f${s.c}`) });
      else if (kind === 3) await run.recordTokenOutcome({ tokenId: t, outcome: 'quarantined', errorHash: hash('q'), ...(s.c % 2 === 0 ? { sinkName: 'quarantine' } : {}) });
      else await run.recordTokenOutcome({ tokenId: t, outcome: 'diverted', sinkName: 'failsink', errorHash: hash('d') });
      return;
    }
    case 'artifact': {
      const sinkStates = [...st.nodeStates.values()].filter((x) => x.nodeId === g.sink).map((x) => x.stateId);
      if (sinkStates.length === 0) return;
      const from = s.a % sinkStates.length;
      const ids = sinkStates.slice(from, from + 1 + (s.b % 3));
      await run.registerArtifact({ stateIds: ids, sinkNodeId: g.sink, artifactType: 'jsonl', pathOrUri: `file://out-${s.c}.jsonl`, contentHash: hash(`a${s.c}`), sizeBytes: s.c });
      return;
    }
    case 'transformError': {
      const t = pick([...st.tokens.keys()], s.a);
      if (t !== undefined) await run.recordTransformError({ tokenId: t, transformId: g.transform, rowData: { v: s.b }, errorDetails: { reason: `r${s.c}` }, destination: 'errors' });
      return;
    }
    case 'validationError':
      await run.recordValidationError({ nodeId: g.source, rowIndex: 100000 + s.a, rowData: { v: s.b }, error: 'bad field', schemaMode: 'observed', destination: 'discard' });
      return;
    case 'checkpoint': {
      const t = pick([...st.tokens.keys()], s.a);
      if (t !== undefined) {
        await run.recordCheckpoint({ tokenId: t, nodeId: g.agg, sequenceNumber: s.b, upstreamTopologyHash: hash('topo'), checkpointNodeConfigHash: hash('cfg'), formatVersion: 1 });
      }
      return;
    }
  }
}

/** A clock that moves one second per call, so that every command has its own recordedAt. */
function steppingClock(): () => string {
  let t = Date.parse('2026-04-01T00:00:00.000Z');
  return () => {
    t += 1000;
    return new Date(t).toISOString();
  };
}

interface Capture {
  version: number;
  recordedAt: string;
  projection: unknown;
}

async function runScript(ledger: Ledger, script: Step[], end: number): Promise<{ runId: string; captures: Capture[]; live: unknown; state: RunState }> {
  const run = await ledger.beginRun({ config: { pipeline: 'property' } });
  const g = await setup(run);
  const counters = { rowIndex: 0, steps: new Map<string, number>() };
  const captures: Capture[] = [];
  let k = 0;
  for (const s of script) {
    const before = run.revision;
    try {
      await interpret(run, g, s, counters);
    } catch (e) {
      // a refused command appends nothing and leaves the handle usable
      if (!isLedgerError(e)) throw e;
      expect(run.isStale).toBe(false);
      expect(run.revision).toBe(before);
    }
    if (run.revision !== before && k++ % 4 === 0) {
      const st = run.projection as RunState;
      captures.push({ version: st.version, recordedAt: st.lastRecordedAt!, projection: plain(st) });
    }
  }
  const status = (['interrupted', 'failed', 'completed', 'none'] as const)[end % 4]!;
  if (status !== 'none') {
    try {
      await run.complete({ status });
    } catch (e) {
      if (!isLedgerError(e, 'RUN_INCOMPLETE')) throw e;
      await run.complete({ status: 'interrupted' });
    }
  }
  const state = run.projection as RunState;
  return { runId: run.runId, captures, live: plain(state), state };
}

describe('replay reproduces the live projection (property)', () => {
  test('random valid command sequences: full replay and replays as of every captured point', async () => {
    let commands = 0;
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 150, size: 'max' }), fc.nat({ max: 3 }), async (script, end) => {
        const ledger = await openLedger({ store: 'memory:', now: steppingClock() });
        try {
          const { runId, captures, live, state } = await runScript(ledger, script, end);
          commands += script.length;
          for await (const page of ledger.readRunEvents(runId)) for (const ev of page) seen.add(ev.type);
          expect(plain(await ledger.loadRun(runId))).toEqual(live);
          for (const c of captures) {
            expect(plain(await ledger.loadRun(runId, { asOf: c.version }))).toEqual(c.projection);
            expect(plain(await ledger.loadRun(runId, { asOf: c.recordedAt }))).toEqual(c.projection);
          }
          // lineage and the audit check work on every run the recorder accepts
          expect(state.anomalies).toEqual([]);
          const check = checkRun(state);
          expect(check.violations.filter((v) => v.code === 'EVENT_ANOMALY' || v.code === 'DOUBLE_TERMINAL_OUTCOME' || v.code === 'CALL_WITHOUT_PARENT')).toEqual([]);
          for (const tokenId of state.tokens.keys()) {
            const e = explainToken(state, tokenId);
            expect(e.problems).toEqual([]);
            const inDag = new Set(e.tokens.map((t) => t.tokenId));
            for (const t of e.tokens) for (const p of t.parents) expect(inDag.has(p.parentTokenId)).toBe(true);
            expect(e.sourceRows.length).toBeGreaterThan(0);
            const d = descendants(state, { tokenId });
            expect(d.tokens[0]!.tokenId).toBe(tokenId);
          }
        } finally {
          await ledger.close();
        }
      }),
      { numRuns: 80 },
    );
    expect(commands).toBeGreaterThan(4000);
    // the generated runs reach every kind of lineage fact
    for (const type of ['TokenForked', 'TokenExpanded', 'TokensCoalesced', 'BatchMemberAdded', 'BatchOutputsProduced', 'BatchRetried', 'RoutingDecided', 'CallRecorded', 'ArtifactRegistered', 'NodeStatePending', 'RunCompleted']) {
      expect(seen).toContain(type);
    }
  });
});
