/**
 * The demo pipeline: a realistic run that touches every kind of fact the ledger
 * records, used by `lineage-ledger demo`, the tests and the docs.
 *
 *   csv_source ──▶ fork_gate ══▶ http_enrich ──┐
 *       │                   ╚══▶ llm_classify ──┴▶ merge (coalesce) ──▶ batch_totals (aggregation, batches of 4)
 *       │ __quarantine__              │ __error__                             │
 *       ▼                             ▼                                       ▼
 *   quarantine_sink              error_sink                        split_lines (expanding transform) ──▶ main_sink
 *
 * Row i:  i % 10 == 7  invalid → validation error, quarantined row routed to quarantine_sink
 *         i % 10 == 9  invalid → validation error only (discarded: no row, as configured)
 *         i % 10 == 3  the llm_classify call fails → transform error, routed to error_sink;
 *                      the enrich branch cannot coalesce and fails
 *         otherwise    both branches coalesce; merged tokens are batched (4 per batch,
 *                      the rest at end of source); each batch yields one summary token that
 *                      is expanded into one line per member and written to main_sink.
 * Plus: secret resolution (fingerprint), a preflight readiness check, source field
 * resolution, the run schema contract, an operation per source load and sink write
 * (with an operation-level call), artifacts linked to every writing state, and a
 * checkpoint after each batch.
 */
import { sha256Hex, stableHash } from '../canonical/hash';
import type { JsonObject } from '../events/codecs';
import type { Ledger } from '../ledger';

export interface DemoOptions {
  readonly rows?: number;
  readonly batchSize?: number;
  /** Called after each source row is processed (for progress output). */
  readonly onRow?: (index: number, total: number) => void;
}

export interface DemoSummary {
  readonly runId: string;
  readonly rows: number;
  readonly validRows: number;
  readonly quarantinedRows: number;
  readonly discardedRows: number;
  readonly failedRows: number;
  readonly batches: number;
  readonly sinkTokens: number;
  readonly events: number;
}

type NodeKind = 'source' | 'gate' | 'transform' | 'coalesce' | 'aggregation' | 'sink';

function demoRow(i: number): JsonObject {
  return {
    order_id: `ORD-${String(10000 + i)}`,
    customer: `customer-${(i * 37) % 11}`,
    items: [
      { sku: `SKU-${(i * 13) % 50}`, qty: (i % 3) + 1, price: Math.round(((i * 7) % 40) * 2.5 * 100) / 100 },
      { sku: `SKU-${(i * 17) % 50}`, qty: 1, price: 4.99 },
    ],
    currency: 'EUR',
  };
}

export async function recordDemoRun(ledger: Ledger, options: DemoOptions = {}): Promise<DemoSummary> {
  const total = options.rows ?? 20;
  const batchSize = options.batchSize ?? 4;
  const r = await ledger.beginRun({
    config: { pipeline: 'orders-demo', source: { path: 'orders.csv' }, batch_size: batchSize, sinks: ['main', 'quarantine', 'errors'] },
    reproducibilityGrade: 'replay_reproducible',
    sourceSchema: { type: 'object', required: ['order_id', 'items'] },
  });
  await r.recordSecretResolutions([
    {
      envVarName: 'ENRICH_API_KEY',
      source: 'keyvault',
      vaultUrl: 'https://vault.example.net',
      secretName: 'enrich-api-key',
      fingerprint: sha256Hex('fingerprint-of-enrich-api-key'),
      resolvedAt: new Date().toISOString(),
      resolutionLatencyMs: 42,
    },
  ]);
  await r.recordPreflightResults([{ resultType: 'readiness_check', name: 'enrich-api', result: { collection: 'enrich', reachable: true, count: 1, message: 'ok' } }]);

  const node = async (pluginName: string, nodeType: NodeKind, config: JsonObject, sequence: number, determinism: 'deterministic' | 'io_read' | 'io_write' | 'external_call') =>
    (await r.registerNode({ pluginName, nodeType, pluginVersion: '1.2.0', config, sequence, determinism, schemaMode: 'observed' })).nodeId;
  const source = await node('csv_source', 'source', { path: 'orders.csv' }, 0, 'io_read');
  const gate = await node('fork_gate', 'gate', { fork_to: ['enrich', 'classify'] }, 1, 'deterministic');
  const enrich = await node('http_enrich', 'transform', { url: 'https://enrich.example.net/v1' }, 2, 'external_call');
  const classify = await node('llm_classify', 'transform', { model: 'classifier-small', prompt_template: 'Classify: {order}' }, 3, 'external_call');
  const merge = await node('merge', 'coalesce', { policy: 'require_all', merge: 'union' }, 4, 'deterministic');
  const totals = await node('batch_totals', 'aggregation', { trigger: { count: batchSize }, output_mode: 'transform' }, 5, 'deterministic');
  const split = await node('split_lines', 'transform', { creates_tokens: true }, 6, 'deterministic');
  const mainSink = await node('main_sink', 'sink', { path: 'out/orders.jsonl' }, 7, 'io_write');
  const quarantineSink = await node('quarantine_sink', 'sink', { path: 'out/quarantine.jsonl' }, 8, 'io_write');
  const errorSink = await node('error_sink', 'sink', { path: 'out/errors.jsonl' }, 9, 'io_write');

  const edge = async (from: string, to: string, label: string, mode: 'move' | 'copy' | 'divert') => (await r.registerEdge({ fromNodeId: from, toNodeId: to, label, mode })).edgeId;
  await edge(source, gate, 'continue', 'move');
  const quarantineEdge = await edge(source, quarantineSink, '__quarantine__', 'divert');
  const toEnrich = await edge(gate, enrich, 'enrich', 'copy');
  const toClassify = await edge(gate, classify, 'classify', 'copy');
  await edge(enrich, merge, 'continue', 'move');
  await edge(classify, merge, 'continue', 'move');
  const errorEdge = await edge(classify, errorSink, `__error_${classify}__`, 'divert');
  await edge(merge, totals, 'continue', 'move');
  await edge(totals, split, 'continue', 'move');
  await edge(split, mainSink, 'continue', 'move');

  await r.recordSourceFieldResolution({ resolutionMapping: { 'Order ID': 'order_id', Customer: 'customer', Items: 'items', Currency: 'currency' }, normalizationVersion: 'v1' });
  await r.updateRunContract({
    contract: {
      mode: 'OBSERVED',
      locked: true,
      fields: [
        { normalized_name: 'order_id', original_name: 'Order ID', type: 'str', required: true, source: 'inferred', nullable: false },
        { normalized_name: 'items', original_name: 'Items', type: 'list', required: true, source: 'inferred', nullable: false },
      ],
    },
  });

  const load = await r.beginOperation({ nodeId: source, operationType: 'source_load', inputData: { source_plugin: 'csv_source', path: 'orders.csv' } });
  await r.recordCall({
    operationId: load.operationId,
    callType: 'filesystem',
    status: 'success',
    requestData: { op: 'read', path: 'orders.csv' },
    responseData: { bytes: total * 120 },
    latencyMs: 3.2,
  });

  let quarantined = 0;
  let discarded = 0;
  let failed = 0;
  let valid = 0;
  const quarantineStates: string[] = [];
  const errorStates: string[] = [];
  const mainStates: string[] = [];
  const pendingBatch: string[] = [];
  let batches = 0;
  let sinkTokens = 0;

  const flush = async (trigger: 'count' | 'end_of_source'): Promise<void> => {
    if (pendingBatch.length === 0) return;
    const members = pendingBatch.splice(0, pendingBatch.length);
    const batch = await r.createBatch({ aggregationNodeId: totals });
    for (const tokenId of members) {
      await r.addBatchMember({ batchId: batch.batchId, tokenId });
      await r.recordTokenOutcome({ tokenId, outcome: 'buffered', batchId: batch.batchId });
    }
    await r.updateBatchStatus({ batchId: batch.batchId, status: 'executing', triggerType: trigger, triggerReason: trigger === 'count' ? `count reached ${batchSize}` : 'end of source' });
    const aggState = await r.beginNodeState({ tokenId: members[0]!, nodeId: totals, stepIndex: 5, inputData: { batch_rows: members.length } });
    const summary = { orders: members.length, batch: batches };
    await r.completeNodeState({
      stateId: aggState.stateId,
      status: 'completed',
      outputData: summary,
      durationMs: 1.5,
      successReason: { action: 'aggregated' },
      contextAfter: { trigger_type: trigger, buffer_size: members.length, batch_id: batch.batchId },
    });
    await r.completeBatch({ batchId: batch.batchId, status: 'completed', triggerType: trigger, stateId: aggState.stateId });
    for (const tokenId of members) await r.recordTokenOutcome({ tokenId, outcome: 'consumed_in_batch', batchId: batch.batchId });
    const out = await r.recordBatchOutputs({ batchId: batch.batchId, tokenCount: 1, stepInPipeline: 5 });
    const summaryToken = out.tokens[0]!;
    const splitState = await r.beginNodeState({ tokenId: summaryToken.tokenId, nodeId: split, stepIndex: 6, inputData: summary });
    await r.completeNodeState({ stateId: splitState.stateId, status: 'completed', outputData: { lines: members.length }, durationMs: 0.4, successReason: { action: 'split' } });
    const expanded = await r.expandToken({ parentTokenId: summaryToken.tokenId, rowId: summaryToken.rowId, count: members.length, stepInPipeline: 7 });
    for (const [k, child] of expanded.children.entries()) {
      const s = await r.beginNodeState({ tokenId: child.tokenId, nodeId: mainSink, stepIndex: 7, inputData: { line: k, batch: batches } });
      await r.completeNodeState({ stateId: s.stateId, status: 'completed', outputData: { row: k, artifact_path: 'out/orders.jsonl' }, durationMs: 0.2 });
      await r.recordTokenOutcome({ tokenId: child.tokenId, outcome: 'completed', sinkName: 'main' });
      mainStates.push(s.stateId);
      sinkTokens++;
    }
    await r.recordCheckpoint({
      tokenId: expanded.children[expanded.children.length - 1]!.tokenId,
      nodeId: mainSink,
      sequenceNumber: batches,
      upstreamTopologyHash: stableHash({ nodes: [source, gate, enrich, classify, merge, totals, split, mainSink] }),
      checkpointNodeConfigHash: stableHash({ path: 'out/orders.jsonl' }),
      formatVersion: 4,
      aggregationState: { buffered: 0 },
    });
    batches++;
  };

  for (let i = 0; i < total; i++) {
    const data = demoRow(i);
    if (i % 10 === 9) {
      await r.recordValidationError({
        nodeId: source,
        rowIndex: i,
        rowData: { ...data, items: 'not-a-list' },
        error: 'items: expected a list',
        schemaMode: 'observed',
        destination: 'discard',
        violation: { violationType: 'type_mismatch', originalFieldName: 'Items', normalizedFieldName: 'items', expectedType: 'list', actualType: 'str' },
      });
      discarded++;
      options.onRow?.(i, total);
      continue;
    }
    if (i % 10 === 7) {
      const bad = { ...data, order_id: null };
      await r.recordValidationError({
        nodeId: source,
        rowIndex: i,
        rowData: bad,
        error: 'order_id: required field is missing',
        schemaMode: 'observed',
        destination: 'quarantine',
        violation: { violationType: 'missing_field', originalFieldName: 'Order ID', normalizedFieldName: 'order_id' },
      });
      const row = await r.createRow({ sourceNodeId: source, rowIndex: i, data: bad, quarantined: true, withToken: true });
      const tokenId = row.tokenId!;
      const st = await r.beginNodeState({ tokenId, nodeId: source, stepIndex: 0, inputHash: row.sourceDataHash });
      await r.completeNodeState({ stateId: st.stateId, status: 'failed', error: { exception: 'order_id: required field is missing', type: 'ValidationError' }, durationMs: 0 });
      await r.recordRoutingEvent({ stateId: st.stateId, edgeId: quarantineEdge, mode: 'divert', reason: { quarantine_error: 'order_id: required field is missing' } });
      const qs = await r.beginNodeState({ tokenId, nodeId: quarantineSink, stepIndex: 1, inputHash: row.sourceDataHash });
      await r.completeNodeState({ stateId: qs.stateId, status: 'completed', outputData: { row: i, artifact_path: 'out/quarantine.jsonl' }, durationMs: 0.1 });
      await r.recordTokenOutcome({ tokenId, outcome: 'quarantined', sinkName: 'quarantine', errorHash: sha256Hex('order_id: required field is missing') });
      quarantineStates.push(qs.stateId);
      quarantined++;
      options.onRow?.(i, total);
      continue;
    }

    valid++;
    const row = await r.createRow({ sourceNodeId: source, rowIndex: i, data, withToken: true });
    const tokenId = row.tokenId!;
    const src = await r.beginNodeState({ tokenId, nodeId: source, stepIndex: 0, inputHash: row.sourceDataHash });
    await r.completeNodeState({ stateId: src.stateId, status: 'completed', outputHash: row.sourceDataHash, durationMs: 0 });
    const g = await r.beginNodeState({ tokenId, nodeId: gate, stepIndex: 1, inputData: data });
    await r.completeNodeState({ stateId: g.stateId, status: 'completed', outputData: data, durationMs: 0.1, contextAfter: { condition: 'true', result: true, route_label: 'fork' } });
    await r.recordRoutingEvents({
      stateId: g.stateId,
      routes: [
        { edgeId: toEnrich, mode: 'copy' },
        { edgeId: toClassify, mode: 'copy' },
      ],
      reason: { condition: 'true', result: true },
    });
    const fork = await r.forkToken({ parentTokenId: tokenId, rowId: row.rowId, branches: ['enrich', 'classify'], stepInPipeline: 2 });
    const enrichToken = fork.children[0]!;
    const classifyToken = fork.children[1]!;

    // enrich branch: one HTTP call
    const es = await r.beginNodeState({ tokenId: enrichToken.tokenId, nodeId: enrich, stepIndex: 2, inputData: data });
    await r.recordCall({ stateId: es.stateId, callType: 'http', status: 'success', requestData: { url: 'https://enrich.example.net/v1', order: data.order_id }, responseData: { status: 200, region: 'EU' }, latencyMs: 18 });
    const enriched = { ...data, region: 'EU' };
    await r.completeNodeState({ stateId: es.stateId, status: 'completed', outputData: enriched, durationMs: 19, successReason: { action: 'enriched', fields_modified: ['region'] } });
    const enrichCo = await r.beginNodeState({ tokenId: enrichToken.tokenId, nodeId: merge, stepIndex: 3, inputData: enriched });

    // classify branch: one LLM call, failing for i % 10 == 3
    const cs = await r.beginNodeState({ tokenId: classifyToken.tokenId, nodeId: classify, stepIndex: 2, inputData: data });
    if (i % 10 === 3) {
      await r.recordCall({ stateId: cs.stateId, callType: 'llm', status: 'error', requestData: { prompt: `Classify: ${String(data.order_id)}` }, error: { type: 'RateLimited', message: '429 from model endpoint' }, latencyMs: 250 });
      await r.completeNodeState({ stateId: cs.stateId, status: 'failed', error: { exception: '429 from model endpoint', type: 'RateLimited' }, durationMs: 251 });
      await r.recordTransformError({ tokenId: classifyToken.tokenId, transformId: classify, rowData: data, errorDetails: { reason: 'api_error', error: '429 from model endpoint' }, destination: 'errors' });
      await r.recordRoutingEvent({ stateId: cs.stateId, edgeId: errorEdge, mode: 'divert', reason: { reason: 'api_error' } });
      const errState = await r.beginNodeState({ tokenId: classifyToken.tokenId, nodeId: errorSink, stepIndex: 3, inputData: data });
      await r.completeNodeState({ stateId: errState.stateId, status: 'completed', outputData: { row: i, artifact_path: 'out/errors.jsonl' }, durationMs: 0.1 });
      await r.recordTokenOutcome({ tokenId: classifyToken.tokenId, outcome: 'routed', sinkName: 'errors', errorHash: sha256Hex('429 from model endpoint') });
      errorStates.push(errState.stateId);
      const reason = { failure_reason: 'branch_lost', expected_branches: ['enrich', 'classify'], branches_arrived: ['enrich'], merge_policy: 'require_all' };
      await r.completeNodeState({ stateId: enrichCo.stateId, status: 'failed', error: reason, durationMs: 0.3 });
      await r.recordTokenOutcome({ tokenId: enrichToken.tokenId, outcome: 'failed', errorHash: stableHash(reason) });
      failed++;
      options.onRow?.(i, total);
      continue;
    }
    await r.recordCall({ stateId: cs.stateId, callType: 'llm', status: 'success', requestData: { prompt: `Classify: ${String(data.order_id)}` }, responseData: { label: i % 2 === 0 ? 'retail' : 'wholesale' }, latencyMs: 120 });
    const classified = { ...data, segment: i % 2 === 0 ? 'retail' : 'wholesale' };
    await r.completeNodeState({ stateId: cs.stateId, status: 'completed', outputData: classified, durationMs: 121, successReason: { action: 'classified' } });
    const classifyCo = await r.beginNodeState({ tokenId: classifyToken.tokenId, nodeId: merge, stepIndex: 3, inputData: classified });

    const merged = await r.coalesceTokens({
      parentTokenIds: [enrichToken.tokenId, classifyToken.tokenId],
      rowId: row.rowId,
      stepInPipeline: 4,
      completeStates: [
        { stateId: enrichCo.stateId, durationMs: 0.5 },
        { stateId: classifyCo.stateId, durationMs: 0.2 },
      ],
      metadata: { policy: 'require_all', merge_strategy: 'union', branches_arrived: ['enrich', 'classify'] },
    });
    pendingBatch.push(merged.tokenId);
    if (pendingBatch.length >= batchSize) await flush('count');
    options.onRow?.(i, total);
  }
  await flush('end_of_source');
  await r.completeOperation({ operationId: load.operationId, status: 'completed', outputData: { rows: total }, durationMs: 5 });

  const write = await r.beginOperation({ nodeId: mainSink, operationType: 'sink_write', inputData: { sink_plugin: 'json_sink', row_count: mainStates.length } });
  const artifact = async (sinkNodeId: string, states: string[], uri: string) => {
    if (states.length > 0) {
      await r.registerArtifact({ sinkNodeId, stateIds: states, artifactType: 'jsonl', pathOrUri: uri, contentHash: sha256Hex(`${uri}:${states.length}`), sizeBytes: states.length * 140, idempotencyKey: `${uri}#${states.length}` });
    }
  };
  await artifact(mainSink, mainStates, 'file://out/orders.jsonl');
  await artifact(quarantineSink, quarantineStates, 'file://out/quarantine.jsonl');
  await artifact(errorSink, errorStates, 'file://out/errors.jsonl');
  await r.completeOperation({ operationId: write.operationId, status: 'completed', outputData: { artifact_path: 'out/orders.jsonl' }, durationMs: 2 });
  await r.complete({ status: 'completed', reproducibilityGrade: 'replay_reproducible' });
  return {
    runId: r.runId,
    rows: total,
    validRows: valid - failed,
    quarantinedRows: quarantined,
    discardedRows: discarded,
    failedRows: failed,
    batches,
    sinkTokens,
    events: r.revision + 1,
  };
}
