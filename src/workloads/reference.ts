/**
 * The reference workload of the design notes (§5), driven through the public API.
 *
 * Per source row: row + token, a source state, a gate state with a two-way
 * routing decision, a fork into two branches, one transform state with one HTTP
 * call per branch, a coalesce of the two branches (their coalesce states
 * completed by the same event), a sink state and the terminal outcome. Per run:
 * one source-load operation and one artifact linked to every sink state.
 *
 * Used by the tests, the crash-safety trials and the benchmark harness.
 */
import { sha256Hex } from '../canonical/hash';
import type { JsonObject } from '../events/codecs';
import type { Ledger } from '../ledger';
import type { RunHandle } from '../recorder/run-handle';

export interface ReferenceGraph {
  readonly sourceId: string;
  readonly gateId: string;
  readonly transformIds: readonly [string, string];
  readonly coalesceId: string;
  readonly sinkId: string;
  readonly branchEdgeIds: readonly [string, string];
}

export interface ReferenceRowResult {
  readonly rowIndex: number;
  readonly rowId: string;
  readonly sinkTokenId: string;
  readonly sinkStateId: string;
}

export interface ReferenceRunOptions {
  readonly rows: number;
  /** Rows in flight at once (1 = await every call in turn). Default 1. */
  readonly concurrency?: number;
  /** Called after each row is fully recorded (acknowledged by the store). */
  readonly onRow?: (row: ReferenceRowResult) => void;
  /** Complete the run (operation, artifact, RunCompleted). Default true. */
  readonly finish?: boolean;
  /**
   * Keep every row's result for `rows` of the result. Default true. False for runs too large to
   * hold them (the benchmark): `rows` comes back empty and only the sink state ids the final
   * artifact links are kept (about 80 bytes a row instead of about 1 KB).
   */
  readonly keepRows?: boolean;
}

export interface ReferenceRunResult {
  readonly runId: string;
  readonly graph: ReferenceGraph;
  readonly rows: ReferenceRowResult[];
  readonly artifactId: string | null;
}

export const BRANCHES = ['enrich', 'score'] as const;

/** A source row of realistic size (about 300 bytes of JSON). */
export function referenceRowData(i: number): Record<string, unknown> {
  return {
    id: i,
    customer: `customer-${(i * 7919) % 100003}`,
    email: `user${i}@example.org`,
    amount: Math.round(((i * 37) % 100000) * 1.17) / 100,
    currency: i % 3 === 0 ? 'EUR' : 'USD',
    country: ['NL', 'DE', 'US', 'AU', 'JP'][i % 5],
    tags: ['batch-a', i % 2 === 0 ? 'even' : 'odd'],
    created: `2026-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`,
    note: 'reference workload row with a note of moderate length',
  };
}

export async function registerReferenceGraph(run: RunHandle): Promise<ReferenceGraph> {
  const node = async (pluginName: string, nodeType: 'source' | 'gate' | 'transform' | 'coalesce' | 'sink', config: JsonObject, sequence: number) =>
    (
      await run.registerNode({
        pluginName,
        nodeType,
        pluginVersion: '1.0.0',
        config,
        sequence,
        determinism: nodeType === 'transform' ? 'external_call' : nodeType === 'sink' ? 'io_write' : nodeType === 'source' ? 'io_read' : 'deterministic',
      })
    ).nodeId;
  const sourceId = await node('csv_source', 'source', { path: 'input.csv' }, 0);
  const gateId = await node('fork_gate', 'gate', { condition: 'row.amount >= 0', fork_to: [...BRANCHES] }, 1);
  const t0 = await node('http_enrich', 'transform', { url: 'https://enrich.example/api' }, 2);
  const t1 = await node('http_score', 'transform', { url: 'https://score.example/api' }, 3);
  const coalesceId = await node('merge', 'coalesce', { policy: 'require_all', merge: 'union' }, 4);
  const sinkId = await node('json_sink', 'sink', { path: 'output.jsonl' }, 5);
  const edge = async (from: string, to: string, label: string, mode: 'move' | 'copy') => (await run.registerEdge({ fromNodeId: from, toNodeId: to, label, mode })).edgeId;
  await edge(sourceId, gateId, 'continue', 'move');
  const e0 = await edge(gateId, t0, BRANCHES[0], 'copy');
  const e1 = await edge(gateId, t1, BRANCHES[1], 'copy');
  await edge(t0, coalesceId, 'continue', 'move');
  await edge(t1, coalesceId, 'continue', 'move');
  await edge(coalesceId, sinkId, 'continue', 'move');
  return { sourceId, gateId, transformIds: [t0, t1], coalesceId, sinkId, branchEdgeIds: [e0, e1] };
}

/** Records one source row through the whole reference DAG. */
export async function recordReferenceRow(run: RunHandle, g: ReferenceGraph, rowIndex: number): Promise<ReferenceRowResult> {
  const data = referenceRowData(rowIndex);
  const row = await run.createRow({ sourceNodeId: g.sourceId, rowIndex, data, withToken: true });
  const tokenId = row.tokenId!;

  const src = await run.beginNodeState({ tokenId, nodeId: g.sourceId, stepIndex: 0, inputHash: row.sourceDataHash });
  await run.completeNodeState({ stateId: src.stateId, status: 'completed', outputHash: row.sourceDataHash, durationMs: 0 });

  const gate = await run.beginNodeState({ tokenId, nodeId: g.gateId, stepIndex: 1, inputHash: row.sourceDataHash });
  await run.completeNodeState({
    stateId: gate.stateId,
    status: 'completed',
    outputHash: row.sourceDataHash,
    durationMs: 0.2,
    contextAfter: { condition: 'row.amount >= 0', result: true, route_label: 'fork' },
  });
  await run.recordRoutingEvents({
    stateId: gate.stateId,
    routes: [
      { edgeId: g.branchEdgeIds[0], mode: 'copy' },
      { edgeId: g.branchEdgeIds[1], mode: 'copy' },
    ],
    reason: { condition: 'row.amount >= 0', result: true },
  });
  const fork = await run.forkToken({ parentTokenId: tokenId, rowId: row.rowId, branches: [...BRANCHES], stepInPipeline: 2 });

  const coalesceStates = await Promise.all(
    fork.children.map(async (child, b) => {
      const nodeId = g.transformIds[b]!;
      const st = await run.beginNodeState({ tokenId: child.tokenId, nodeId, stepIndex: 2, inputData: data });
      await run.recordCall({
        stateId: st.stateId,
        callType: 'http',
        status: 'success',
        requestData: { method: 'POST', url: `https://${BRANCHES[b]}.example/api`, body: { id: rowIndex } },
        responseData: { status: 200, body: { id: rowIndex, [BRANCHES[b]!]: (rowIndex * 31) % 97 } },
        latencyMs: 12.5,
      });
      const output = { ...data, [BRANCHES[b]!]: (rowIndex * 31) % 97 };
      await run.completeNodeState({ stateId: st.stateId, status: 'completed', outputData: output, durationMs: 13, successReason: { action: 'enriched' } });
      const cs = await run.beginNodeState({ tokenId: child.tokenId, nodeId: g.coalesceId, stepIndex: 3, inputData: output });
      return { stateId: cs.stateId, durationMs: 1 };
    }),
  );
  const merged = await run.coalesceTokens({
    parentTokenIds: fork.children.map((c) => c.tokenId),
    rowId: row.rowId,
    stepInPipeline: 3,
    completeStates: coalesceStates,
    metadata: { policy: 'require_all', merge_strategy: 'union', branches_arrived: [...BRANCHES] },
  });

  const sink = await run.beginNodeState({ tokenId: merged.tokenId, nodeId: g.sinkId, stepIndex: 4, inputHash: row.sourceDataHash });
  await run.completeNodeState({ stateId: sink.stateId, status: 'completed', outputData: { row: rowIndex, artifact_path: 'output.jsonl' }, durationMs: 0.5 });
  await run.recordTokenOutcome({ tokenId: merged.tokenId, outcome: 'completed', sinkName: 'json_sink' });
  return { rowIndex, rowId: row.rowId, sinkTokenId: merged.tokenId, sinkStateId: sink.stateId };
}

/** Runs `work(i)` for i in [0, n) with at most `concurrency` in flight, in index order of start. */
export async function forEachConcurrent(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
}

/** Records a whole reference run. */
export async function recordReferenceRun(ledger: Ledger, options: ReferenceRunOptions): Promise<ReferenceRunResult> {
  const run = await ledger.beginRun({ config: { pipeline: 'reference', rows: options.rows, branches: [...BRANCHES] } });
  const graph = await registerReferenceGraph(run);
  const op = await run.beginOperation({ nodeId: graph.sourceId, operationType: 'source_load', inputData: { source_plugin: 'csv_source' } });
  const keep = options.keepRows ?? true;
  const rows: ReferenceRowResult[] = keep ? new Array(options.rows) : [];
  const sinkStateIds: string[] = new Array(options.rows);
  await forEachConcurrent(options.rows, options.concurrency ?? 1, async (i) => {
    const r = await recordReferenceRow(run, graph, i);
    if (keep) rows[i] = r;
    sinkStateIds[i] = r.sinkStateId;
    options.onRow?.(r);
  });
  let artifactId: string | null = null;
  if (options.finish !== false) {
    await run.completeOperation({ operationId: op.operationId, status: 'completed', outputData: { rows: options.rows }, durationMs: 1 });
    if (options.rows > 0) {
      artifactId = (
        await run.registerArtifact({
          sinkNodeId: graph.sinkId,
          stateIds: sinkStateIds,
          artifactType: 'jsonl',
          pathOrUri: 'file://output.jsonl',
          contentHash: sha256Hex(`output.jsonl:${options.rows} rows`),
          sizeBytes: options.rows * 300,
        })
      ).artifactId;
    }
    await run.complete({ status: 'completed' });
  }
  return { runId: run.runId, graph, rows, artifactId };
}
