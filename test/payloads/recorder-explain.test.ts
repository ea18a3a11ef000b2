/**
 * The recorder stores payload bodies when the ledger has a payload store (row data, call request
 * and response, routing reasons, operation input and output; reference = hash), and explain
 * reports each body's status: available (with data), never_stored, store_not_configured,
 * purged (only when the run recorded the purge) and integrity_error (missing or mismatch; the
 * bytes are never returned).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLedger, Ledger } from '../../src/ledger';
import { isLedgerError } from '../../src/errors';
import { stableHash } from '../../src/canonical/hash';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-rec-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function record(ledger: Ledger) {
  const run = await ledger.beginRun({ config: {} });
  const src = (await run.registerNode({ pluginName: 'src', nodeType: 'source', pluginVersion: '1', config: {} })).nodeId;
  const gate = (await run.registerNode({ pluginName: 'gate', nodeType: 'gate', pluginVersion: '1', config: {} })).nodeId;
  const edge = (await run.registerEdge({ fromNodeId: gate, toNodeId: src, label: 'back', mode: 'move' })).edgeId;
  const op = await run.beginOperation({ nodeId: src, operationType: 'source_load', inputData: { file: 'a.csv' } });
  await run.completeOperation({ operationId: op.operationId, status: 'completed', durationMs: 1, outputData: { rows: 1 } });
  const row = await run.createRow({ sourceNodeId: src, rowIndex: 0, data: { id: 7, name: 'seven' }, withToken: true });
  const st = await run.beginNodeState({ tokenId: row.tokenId!, nodeId: gate, stepIndex: 1, inputData: { id: 7 } });
  await run.recordCall({ stateId: st.stateId, callType: 'http', status: 'success', requestData: { url: 'u' }, responseData: { ok: true } });
  await run.completeNodeState({ stateId: st.stateId, status: 'completed', outputData: { id: 7 }, durationMs: 1 });
  await run.recordRoutingEvent({ stateId: st.stateId, edgeId: edge, mode: 'move', reason: { rule: 'x > 1' } });
  return { run, row, tokenId: row.tokenId! };
}

test('with a payload store: every body is stored under its hash, the ref equals the hash, and explain returns the data', async () => {
  const payloads = path.join(dir, 'p');
  const ledger = await openLedger({ store: 'memory:', payloads });
  const { run, row, tokenId } = await record(ledger);
  const state = run.projection;
  const r = state.rows.get(row.rowId)!;
  expect(r.sourceDataRef).toBe(r.sourceDataHash);
  expect(r.sourceDataHash).toBe(stableHash({ id: 7, name: 'seven' }));
  const call = [...state.calls.values()][0]!;
  expect(call.requestRef).toBe(call.requestHash);
  expect(call.responseRef).toBe(call.responseHash);
  const routing = [...state.routingEvents.values()][0]!;
  expect(routing.reasonRef).toBe(routing.reasonHash);
  const op = [...state.operations.values()][0]!;
  expect(op.inputDataRef).toBe(op.inputDataHash);
  expect(op.outputDataRef).toBe(op.outputDataHash);
  for (const h of [r.sourceDataHash, call.requestHash, call.responseHash!, routing.reasonHash!, op.inputDataHash!, op.outputDataHash!]) {
    expect(fs.existsSync(path.join(payloads, h.slice(0, 2), h))).toBe(true);
  }

  const ex = await ledger.explain({ runId: run.runId, tokenId });
  expect(ex.sourceRows[0]!.payload).toEqual({ status: 'available', hash: r.sourceDataHash, data: { id: 7, name: 'seven' } });
  const c = ex.tokens[0]!.states[0]!.calls[0]!;
  expect(c.requestPayload).toEqual({ status: 'available', hash: call.requestHash, data: { url: 'u' } });
  expect(c.responsePayload).toEqual({ status: 'available', hash: call.responseHash, data: { ok: true } });
});

test('tampered on disk: integrity_error (mismatch), never the data; deleted without a recorded purge: integrity_error (missing)', async () => {
  const payloads = path.join(dir, 'p');
  const ledger = await openLedger({ store: 'memory:', payloads });
  const { run, row, tokenId } = await record(ledger);
  const h = run.projection.rows.get(row.rowId)!.sourceDataHash;
  const file = path.join(payloads, h.slice(0, 2), h);
  fs.writeFileSync(file, '{"id":8,"name":"eight"}');
  let ex = await ledger.explain({ runId: run.runId, tokenId });
  expect(ex.sourceRows[0]!.payload).toEqual({ status: 'integrity_error', hash: h, reason: 'mismatch' });
  expect(JSON.stringify(ex)).not.toContain('eight');
  fs.rmSync(file);
  ex = await ledger.explain({ runId: run.runId, tokenId });
  expect(ex.sourceRows[0]!.payload).toEqual({ status: 'integrity_error', hash: h, reason: 'missing' });
});

test('a body missing whose purge the run recorded: purged', async () => {
  const payloads = path.join(dir, 'p');
  const ledger = await openLedger({ store: 'memory:', payloads });
  const { run, row, tokenId } = await record(ledger);
  const h = run.projection.rows.get(row.rowId)!.sourceDataHash;
  fs.rmSync(path.join(payloads, h.slice(0, 2), h));
  const state = await ledger.loadRun(run.runId);
  state.purgedPayloads.set(h, '2026-01-01T00:00:00.000Z');
  const { explainToken } = await import('../../src/lineage/explain');
  const ex = explainToken(state, tokenId, { payloads: ledger.payloads });
  expect(ex.sourceRows[0]!.payload).toEqual({ status: 'purged', hash: h, purgedAt: '2026-01-01T00:00:00.000Z' });
});

test('without a payload store: refs are null, hashes recorded, explain says store_not_configured', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const { run, row, tokenId } = await record(ledger);
  const r = run.projection.rows.get(row.rowId)!;
  expect(r.sourceDataRef).toBeNull();
  expect(r.sourceDataHash).toBe(stableHash({ id: 7, name: 'seven' }));
  const call = [...run.projection.calls.values()][0]!;
  expect(call.requestRef).toBeNull();
  expect(call.requestHash).toMatch(/^[0-9a-f]{64}$/);
  const ex = await ledger.explain({ runId: run.runId, tokenId });
  expect(ex.sourceRows[0]!.payload).toEqual({ status: 'store_not_configured', hash: r.sourceDataHash });
  expect(ex.tokens[0]!.states[0]!.calls[0]!.requestPayload.status).toBe('store_not_configured');
});

test('a store configured but a row recorded without one: never_stored', async () => {
  const payloads = path.join(dir, 'p');
  const plain = await openLedger({ store: 'memory:' });
  const { run, tokenId } = await record(plain);
  const { explainToken } = await import('../../src/lineage/explain');
  const withStore = await openLedger({ store: 'memory:', payloads });
  const ex = explainToken(run.projection as never, tokenId, { payloads: withStore.payloads });
  expect(ex.sourceRows[0]!.payload.status).toBe('never_stored');
  expect(ex.tokens[0]!.states[0]!.calls[0]!.responsePayload.status).toBe('never_stored');
});

test('a payload store that cannot be written: STORE_UNAVAILABLE and nothing appended', async () => {
  const blocker = path.join(dir, 'file');
  fs.writeFileSync(blocker, 'x');
  const ledger = await openLedger({ store: 'memory:', payloads: path.join(dir, 'p') });
  const run = await ledger.beginRun({ config: {} });
  const src = (await run.registerNode({ pluginName: 'src', nodeType: 'source', pluginVersion: '1', config: {} })).nodeId;
  // replace the folder by a file: no body can be written under it
  fs.rmSync(path.join(dir, 'p'), { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, 'p'), 'not a folder');
  const before = run.revision;
  let err: unknown;
  try {
    await run.createRow({ sourceNodeId: src, rowIndex: 0, data: { a: 1 } });
  } catch (e) {
    err = e;
  }
  expect(isLedgerError(err, 'STORE_UNAVAILABLE')).toBe(true);
  expect(run.revision).toBe(before);
  expect(await ledger.store.streamRevision(`run-${run.runId}`)).toBe(before);
});

test('a SQLite ledger stores by default in <file>.payloads; a reading open creates no folder', async () => {
  const db = path.join(dir, 'l.db');
  const ledger = await openLedger({ store: `sqlite:${db}` });
  const { run, tokenId } = await record(ledger);
  await run.complete({ status: 'completed' }).catch(() => undefined);
  await ledger.close();
  expect(fs.existsSync(`${db}.payloads`)).toBe(true);
  const reader = await openLedger({ store: `sqlite:${db}`, create: false });
  const ex = await reader.explain({ runId: run.runId, tokenId });
  expect(ex.sourceRows[0]!.payload.status).toBe('available');
  await reader.close();
  const other = path.join(dir, 'm.db');
  const second = await openLedger({ store: `sqlite:${other}` });
  await second.beginRun({ config: {} });
  await second.close();
  expect(fs.existsSync(`${other}.payloads`)).toBe(false);
});
