/**
 * Import: export → import (memory and SQLite) → export is byte-identical; a tampered
 * or unreproducible export imports nothing; a run that exists is refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sha256Hex, stableHash } from '../../src/canonical/hash';
import { canonicalize } from '../../src/canonical/jcs';
import { isLedgerError } from '../../src/errors';
import { buildManifest, BUNDLE_MANIFEST_FILE, BUNDLE_RECORDS_FILE, ChainEncoder, writeExport } from '../../src/export/bundle';
import { synthesizeRunEvents, importExport } from '../../src/export/import';
import { ed25519Signer, ed25519Verifier } from '../../src/export/keys';
import type { ExportRecord } from '../../src/export/records';
import { openLedger, Ledger } from '../../src/ledger';
import { recordDemoRun } from '../../src/workloads/demo';
import { recordReferenceRun } from '../../src/workloads/reference';
import { fileLines, sequentialIds, tempDir, writeLinesFile } from './bundle-fixtures';

const tmp = tempDir('ll-import-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (ext = ''): string => path.join(tmp.dir, `x${++n}${ext}`);

/** The record lines of an export (jsonl: all but the manifest line). */
function recordBytes(file: string): string {
  return fileLines(file).slice(0, -1).join('\n');
}

async function roundTrip(source: Ledger, runId: string, storeUrl: string, asOf?: number): Promise<void> {
  const first = fresh('.jsonl');
  const exported = await writeExport(source, runId, first, asOf === undefined ? {} : { asOf });
  const target = await openLedger({ store: storeUrl });
  try {
    const result = await importExport(target, first, { requireSignature: false });
    expect(result.runId).toBe(runId);
    expect(result.records).toBe(exported.manifest.record_count);
    const second = fresh('.jsonl');
    const again = await writeExport(target, runId, second);
    expect(recordBytes(second)).toBe(recordBytes(first));
    expect(again.manifest.merkle_root).toBe(exported.manifest.merkle_root);
    expect(again.manifest.chain_head).toBe(exported.manifest.chain_head);
    expect(again.manifest.record_count).toBe(exported.manifest.record_count);
    // the imported run is a normal run of the store
    const [summary] = await target.listRuns();
    const original = (await source.listRuns()).find((r) => r.runId === runId)!;
    expect(summary!.runId).toBe(runId);
    if (asOf === undefined) expect(summary!.status).toBe(original.status);
  } finally {
    await target.close();
  }
}

describe.each([
  ['demo run (30 rows)', async (l: Ledger) => (await recordDemoRun(l, { rows: 30 })).runId],
  ['reference run (50 rows)', async (l: Ledger) => (await recordReferenceRun(l, { rows: 50, concurrency: 4 })).runId],
])('%s: export → import → export is byte-identical', (_name, record) => {
  let source: Ledger;
  let runId: string;
  beforeAll(async () => {
    source = await openLedger({ store: 'memory:' });
    runId = await record(source);
  });
  afterAll(() => source.close());

  test('into a fresh memory store', () => roundTrip(source, runId, 'memory:'));
  test('into a fresh SQLite store', () => roundTrip(source, runId, `sqlite:${fresh('.db')}`));
  test('an export as of a point in the middle of the run', async () => {
    const state = await source.loadRun(runId);
    await roundTrip(source, runId, 'memory:', Math.floor(state.version / 2));
  });
});

/**
 * A run with the facts the workloads do not produce: pending states, retries, a failed and a
 * retried batch, a draft batch, artifact batch outputs, calls recorded out of index order, several
 * routing groups on one state, an extra token in a row, node output contract, export status
 * changes, an interrupted and resumed run.
 */
async function recordOddRun(l: Ledger): Promise<string> {
  const r = await l.beginRun({ config: { x: [], y: {} }, reproducibilityGrade: 'full_reproducible', sourceSchema: { type: 'object' } });
  await r.recordSecretResolutions([
    { envVarName: 'A', source: 'env', fingerprint: sha256Hex('a'), resolvedAt: '2025-12-31T23:00:00.000Z' },
    { envVarName: 'B', source: 'vault', fingerprint: sha256Hex('b'), resolvedAt: '2025-12-31T23:00:01.000Z', vaultUrl: 'https://v', secretName: 'b' },
  ]);
  await r.recordPreflightResults([
    { resultType: 'readiness_check', name: 'db', result: {} },
    { resultType: 'dependency_run', name: 'upstream', result: { ok: true } },
  ]);
  const node = async (pluginName: string, nodeType: 'source' | 'gate' | 'transform' | 'aggregation' | 'sink') =>
    (await r.registerNode({ pluginName, nodeType, pluginVersion: '2.0.0', config: { n: pluginName } })).nodeId;
  const src = await node('src', 'source');
  const gate = await node('gate', 'gate');
  const agg = await node('agg', 'aggregation');
  const sink = await node('sink', 'sink');
  const other = await node('other_sink', 'sink');
  await r.updateNodeOutputContract({ nodeId: agg, contract: { fields: ['total'] } });
  await r.registerEdge({ fromNodeId: src, toNodeId: gate, label: 'continue', mode: 'move' });
  const e2 = (await r.registerEdge({ fromNodeId: gate, toNodeId: sink, label: 'a', mode: 'copy' })).edgeId;
  const e3 = (await r.registerEdge({ fromNodeId: gate, toNodeId: other, label: 'b', mode: 'copy' })).edgeId;
  await r.registerEdge({ fromNodeId: gate, toNodeId: agg, label: 'agg', mode: 'move' });
  await r.updateRunContract({ contract: { mode: 'FIXED', fields: [] } });
  await r.recordSourceFieldResolution({ resolutionMapping: { A: 'a' } });
  const op = await r.beginOperation({ nodeId: src, operationType: 'source_load', inputData: { p: 1 } });
  await r.recordCall({ operationId: op.operationId, callIndex: 2, callType: 'filesystem', status: 'success', requestData: { i: 2 } });
  await r.recordCall({ operationId: op.operationId, callIndex: 0, callType: 'filesystem', status: 'error', requestData: { i: 0 }, error: { e: 1 } });
  await r.completeOperation({ operationId: op.operationId, status: 'failed', error: 'disk full', durationMs: 3 });
  await r.beginOperation({ nodeId: sink, operationType: 'sink_write' });

  const tokens: string[] = [];
  const rows: string[] = [];
  for (let i = 0; i < 4; i++) {
    const row = await r.createRow({ sourceNodeId: src, rowIndex: i, data: { i }, withToken: true });
    rows.push(row.rowId);
    tokens.push(row.tokenId!);
  }
  const side = await r.createToken({ rowId: rows[0]!, branchName: 'side', stepInPipeline: 1 });
  const st = async (tokenId: string, nodeId: string, stepIndex: number, attempt = 0) => (await r.beginNodeState({ tokenId, nodeId, stepIndex, attempt, inputHash: sha256Hex(tokenId) })).stateId;
  // a state that went pending, then completed; one left pending; a retried one
  const a = await st(tokens[0]!, gate, 1);
  await r.completeNodeState({ stateId: a, status: 'pending', durationMs: 1, contextAfter: { waiting: true } });
  await r.completeNodeState({ stateId: a, status: 'completed', outputHash: sha256Hex('a'), durationMs: 2 });
  await r.recordRoutingEvent({ stateId: a, edgeId: e2, mode: 'copy', reason: { first: true } });
  await r.recordRoutingEvents({ stateId: a, routes: [{ edgeId: e3, mode: 'copy' }, { edgeId: e2, mode: 'copy' }] });
  const b = await st(side.tokenId, gate, 1);
  await r.completeNodeState({ stateId: b, status: 'pending', durationMs: 1 });
  const c0 = await st(tokens[1]!, gate, 1, 0);
  await r.recordCall({ stateId: c0, callType: 'http', status: 'error', requestData: { try: 0 }, error: { status: 503 } });
  await r.completeNodeState({ stateId: c0, status: 'failed', error: { status: 503 }, durationMs: 5 });
  const c1 = await st(tokens[1]!, gate, 1, 1);
  await r.completeNodeState({ stateId: c1, status: 'completed', outputData: { ok: 1 }, durationMs: 4, successReason: { retried: true } });
  await r.recordRoutingEvent({ stateId: c1, edgeId: e3, mode: 'move' });
  // batches: a failed one retried, the retry completed with token and artifact outputs; a draft one
  const sinkState = await st(tokens[3]!, sink, 2);
  await r.completeNodeState({ stateId: sinkState, status: 'completed', outputHash: sha256Hex('s'), durationMs: 1 });
  await r.recordTokenOutcome({ tokenId: tokens[3]!, outcome: 'completed', sinkName: 'sink' });
  const art = await r.registerArtifact({ sinkNodeId: sink, stateIds: [sinkState], artifactType: 'csv', pathOrUri: 'file://x.csv', contentHash: sha256Hex('x'), sizeBytes: 1, idempotencyKey: 'k' });
  const b1 = await r.createBatch({ aggregationNodeId: agg });
  await r.addBatchMember({ batchId: b1.batchId, tokenId: tokens[1]! });
  await r.addBatchMember({ batchId: b1.batchId, tokenId: tokens[2]! });
  for (const t of [tokens[1]!, tokens[2]!]) await r.recordTokenOutcome({ tokenId: t, outcome: 'buffered', batchId: b1.batchId });
  await r.updateBatchStatus({ batchId: b1.batchId, status: 'executing', triggerType: 'count', triggerReason: 'two' });
  await r.updateBatchStatus({ batchId: b1.batchId, status: 'failed' });
  const b2 = await r.retryBatch({ batchId: b1.batchId });
  await r.updateBatchStatus({ batchId: b2.batchId, status: 'executing', triggerType: 'manual' });
  const aggState = await st(tokens[1]!, agg, 3);
  await r.completeNodeState({ stateId: aggState, status: 'completed', outputHash: sha256Hex('agg'), durationMs: 1 });
  await r.updateBatchStatus({ batchId: b2.batchId, status: 'completed', stateId: aggState });
  for (const t of [tokens[1]!, tokens[2]!]) await r.recordTokenOutcome({ tokenId: t, outcome: 'consumed_in_batch', batchId: b2.batchId });
  const outs = await r.recordBatchOutputs({ batchId: b2.batchId, tokenCount: 2, artifactIds: [art.artifactId], stepInPipeline: 4 });
  await r.recordTokenOutcome({ tokenId: outs.tokens[0]!.tokenId, outcome: 'completed', sinkName: 'sink' });
  const b3 = await r.createBatch({ aggregationNodeId: agg, attempt: 0 });
  await r.addBatchMember({ batchId: b3.batchId, tokenId: outs.tokens[1]!.tokenId });
  await r.recordValidationError({ rowData: { bad: true }, error: 'bad', schemaMode: 'fixed', destination: 'discard' });
  await r.recordTransformError({ tokenId: tokens[0]!, transformId: gate, rowData: null, errorDetails: {}, destination: 'errors' });
  await r.recordCheckpoint({
    tokenId: tokens[0]!,
    nodeId: gate,
    sequenceNumber: 1,
    upstreamTopologyHash: stableHash([]),
    checkpointNodeConfigHash: stableHash({}),
    formatVersion: -1,
    coalesceState: {},
  });
  await r.setExportStatus({ status: 'pending', format: 'jsonl' });
  await r.setExportStatus({ status: 'completed', sink: 's3' });
  await r.setExportStatus({ status: 'failed', error: 'upload lost' });
  await r.complete({ status: 'interrupted', reproducibilityGrade: 'attributable_only' });
  await r.updateRunStatus({ status: 'running', reason: 'resumed' });
  return r.runId;
}

describe('a run with every kind of fact the fold knows', () => {
  let source: Ledger;
  let runId: string;
  beforeAll(async () => {
    source = await openLedger({ store: 'memory:' });
    runId = await recordOddRun(source);
  });
  afterAll(() => source.close());

  test('round-trips byte-identically', () => roundTrip(source, runId, 'memory:'));
  test('round-trips at every tenth event of its history', async () => {
    const state = await source.loadRun(runId);
    for (let seq = 0; seq <= state.version; seq += 10) await roundTrip(source, runId, 'memory:', seq);
  });
  test('the synthesised events are deterministic given the event ids', async () => {
    const file = fresh('.jsonl');
    await writeExport(source, runId, file);
    const records = fileLines(file)
      .slice(0, -1)
      .map((l) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        delete r.chain_hash;
        return r;
      });
    const a = synthesizeRunEvents(runId, records, { newId: sequentialIds() });
    const b = synthesizeRunEvents(runId, records, { newId: sequentialIds() });
    expect(canonicalize(a)).toBe(canonicalize(b));
    expect(a[0]!.type).toBe('RunStarted');
    expect(a.map((e) => e.seq)).toEqual(a.map((_e, i) => i));
  });
});

describe('refusals leave the store unchanged', () => {
  let source: Ledger;
  let runId: string;
  let bundle: string;
  const keys = generateKeyPairSync('ed25519');
  const verifier = ed25519Verifier(keys.publicKey);

  beforeAll(async () => {
    source = await openLedger({ store: 'memory:' });
    runId = (await recordDemoRun(source, { rows: 12 })).runId;
    bundle = fresh();
    await writeExport(source, runId, bundle, { format: 'bundle', signer: ed25519Signer(keys.privateKey) });
  });
  afterAll(() => source.close());

  test('a signed bundle imports with its key', async () => {
    const target = await openLedger({ store: 'memory:' });
    const r = await importExport(target, bundle, { verifier });
    expect(r.report.signatureChecked).toBe(true);
    await target.close();
  });

  test('without the key (and without giving up the signature check) nothing is imported', async () => {
    const target = await openLedger({ store: 'memory:' });
    const err = await importExport(target, bundle).catch((e: unknown) => e);
    expect(isLedgerError(err, 'IMPORT_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/did not verify, nothing was imported: .*no key was given/);
    expect(await target.store.listStreams()).toEqual([]);
    await target.close();
  });

  test('a tampered bundle imports nothing and names the record', async () => {
    const copy = fresh();
    fs.cpSync(bundle, copy, { recursive: true });
    const file = path.join(copy, BUNDLE_RECORDS_FILE);
    const lines = fileLines(file);
    lines.splice(42, 1);
    writeLinesFile(file, lines);
    for (const url of ['memory:', `sqlite:${fresh('.db')}`]) {
      const target = await openLedger({ store: url });
      const err = await importExport(target, copy, { verifier }).catch((e: unknown) => e);
      expect(isLedgerError(err, 'IMPORT_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/record 42 \(\w+ [0-9a-f-]+\): content does not match its chain hash/);
      expect(await target.store.listStreams()).toEqual([]);
      await target.close();
    }
  });

  test('importing twice: DUPLICATE_ID, nothing appended', async () => {
    const target = await openLedger({ store: `sqlite:${fresh('.db')}` });
    const first = await importExport(target, bundle, { verifier });
    const before = await target.store.listStreams();
    const err = await importExport(target, bundle, { verifier }).catch((e: unknown) => e);
    expect(isLedgerError(err, 'DUPLICATE_ID')).toBe(true);
    expect((err as Error).message).toContain(first.runId);
    expect(await target.store.listStreams()).toEqual(before);
    // importing into the store the run came from: refused too
    expect(isLedgerError(await importExport(source, bundle, { verifier }).catch((e: unknown) => e), 'DUPLICATE_ID')).toBe(true);
    await target.close();
  });

  /** Rewrites a bundle's records (re-chained, new unsigned manifest): it verifies, but describes what no fold produces. */
  function forge(mutate: (records: Record<string, unknown>[]) => void): string {
    const records = fileLines(path.join(bundle, BUNDLE_RECORDS_FILE)).map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.chain_hash;
      return r;
    });
    mutate(records);
    const enc = new ChainEncoder(runId);
    const dir = fresh();
    fs.mkdirSync(dir);
    writeLinesFile(
      path.join(dir, BUNDLE_RECORDS_FILE),
      records.map((r) => enc.encode(r as ExportRecord)),
    );
    const manifest = buildManifest({ runId, digest: enc.digest(), firstSeq: 0, lastSeq: 1 });
    fs.writeFileSync(path.join(dir, BUNDLE_MANIFEST_FILE), `${canonicalize(manifest)}\n`);
    return dir;
  }

  test('records no event can write are refused before anything is written', async () => {
    const dir = forge((records) => {
      const s = records.find((r) => r.record_type === 'node_state' && r.status === 'failed')!;
      s.status = 'completed';
    });
    const target = await openLedger({ store: 'memory:' });
    const err = await importExport(target, dir, { requireSignature: false }).catch((e: unknown) => e);
    expect(isLedgerError(err, 'IMPORT_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/record \d+ \(node_state [0-9a-f-]+\) cannot be written as a NodeStateCompleted event: outputHash/);
    expect(await target.store.listStreams()).toEqual([]);
    await target.close();
  });

  test('records whose fold comes out differently are refused with the record and fields', async () => {
    const dir = forge((records) => {
      const o = records.find((r) => r.record_type === 'token_outcome' && r.outcome === 'forked')!;
      o.expected_branches_json = ['only-one'];
    });
    const target = await openLedger({ store: 'memory:' });
    const err = await importExport(target, dir, { requireSignature: false }).catch((e: unknown) => e);
    expect(isLedgerError(err, 'IMPORT_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/record \d+ \(token_outcome [0-9a-f-]+\) comes out differently \(fields expected_branches_json;.*nothing was imported/);
    expect(await target.store.listStreams()).toEqual([]);
    await target.close();
  });

  test('a record with a field its type does not have is refused', async () => {
    const dir = forge((records) => {
      records[3]!.extra = 1;
    });
    const target = await openLedger({ store: 'memory:' });
    const err = await importExport(target, dir, { requireSignature: false }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/record 3 .* has a field extra/);
    await target.close();
  });
});
