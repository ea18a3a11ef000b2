/**
 * The HTTP collector against a real server on loopback (Fastify listening on a free port,
 * requests with fetch): every route, authentication, the body cap, malformed JSON, a bad command
 * in the middle of a batch, idempotent retries, the export verifying.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { spawnSync } from 'node:child_process';
import { buildCollector } from '../../src/collector/server';
import { runStreamId } from '../../src/events/envelope';
import { verifyExport } from '../../src/export/verify';
import { Ledger, openLedger } from '../../src/ledger';
import { COMMAND_NAMES } from '../../src/recorder/commands';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';

const TOKEN = 'test-token-0123456789abcdef';
let dir: string;
let ledger: Ledger;
let app: FastifyInstance;
let base: string;
const lines: string[] = [];

beforeAll(async () => {
  dir = makeTempDir('ll-collector-');
  ledger = await openLedger({ store: `sqlite:${path.join(dir, 'c.db')}` });
  app = await buildCollector({ ledger, token: TOKEN, bodyLimit: 64 * 1024, log: (l) => lines.push(l) });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await ledger.close();
  removeDir(dir);
});

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
async function call(method: string, route: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${base}${route}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (the export)
  }
  return { status: res.status, json, text };
}

/** The validator is an ES module: it runs in a child Node process, the document on stdin. */
function validateOpenApi(doc: unknown): { valid: boolean; version?: string; errors?: unknown } {
  const script =
    "import { Validator } from '@seriousme/openapi-schema-validator';" +
    "let t = ''; process.stdin.on('data', (d) => (t += d)).on('end', async () => {" +
    ' const v = new Validator(); const r = await v.validate(JSON.parse(t));' +
    ' process.stdout.write(JSON.stringify({ valid: r.valid, version: v.version, ...(r.valid ? {} : { errors: r.errors }) })); });';
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify(doc), encoding: 'utf8', cwd: path.join(__dirname, '../..') });
  if (r.status !== 0) throw new Error(`validator failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { valid: boolean; version?: string; errors?: unknown };
  return out.valid ? { valid: true, version: out.version! } : out;
}

const uuid = (n: number) => `0190a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, '0')}`;
const revision = async (runId: string) => ledger.store.streamRevision(runStreamId(runId));

test('health needs no token; every other route refuses a missing or wrong token', async () => {
  expect(await call('GET', '/v1/health', undefined, {})).toMatchObject({ status: 200, json: { ok: true } });
  for (const [m, r] of [['GET', '/v1/runs'], ['GET', '/v1/openapi.json'], ['POST', '/v1/runs']] as const) {
    expect(await call(m, r, m === 'POST' ? { config: {} } : undefined, { 'content-type': 'application/json' })).toMatchObject({ status: 401, json: { error: { code: 'UNAUTHORIZED' } } });
    expect((await call(m, r, m === 'POST' ? { config: {} } : undefined, { ...auth, authorization: 'Bearer wrong-token-0123456789ab' })).status).toBe(401);
  }
  expect((await call('GET', '/v1/runs')).status).toBe(200);
  expect(lines.some((l) => /^GET \/v1\/health 200 \d+\.\dms$/.test(l))).toBe(true);
});

test('the OpenAPI document names every route and every recorder command', async () => {
  const { status, json } = await call('GET', '/v1/openapi.json');
  expect(status).toBe(200);
  expect(json.openapi).toBe('3.1.0');
  expect(Object.keys(json.paths).sort()).toEqual(['/v1/health', '/v1/openapi.json', '/v1/runs', '/v1/runs/{runId}/check', '/v1/runs/{runId}/commands', '/v1/runs/{runId}/explain', '/v1/runs/{runId}/export'].sort());
  const ops = json.components.schemas.Command.oneOf.map((c: any) => c.properties.op.const);
  expect(ops.sort()).toEqual([...COMMAND_NAMES].sort());
  // every $ref resolves
  const refs = JSON.stringify(json).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
  for (const r of new Set(refs)) expect(json.components.schemas[r.slice('"#/components/schemas/'.length, -1)]).toBeDefined();
  expect(json.components.schemas.CreateRowInput.required).toEqual(['sourceNodeId', 'rowIndex', 'data']);
  // and it is a valid OpenAPI 3.1 document, by a validator of the specification's own JSON Schema
  expect(validateOpenApi(json)).toEqual({ valid: true, version: '3.1' });
  // a document the validator must refuse (so the check can fail)
  expect(validateOpenApi({ openapi: '3.1.0', info: { title: 't', version: '1' }, paths: { '/x': { get: { responses: 7 } } } })).toMatchObject({ valid: false });
});

test('a run recorded in batches: results in order, ids chosen by the caller; explain, check and a verifying export', async () => {
  const begun = await call('POST', '/v1/runs', { config: { pipeline: 'http' } });
  expect(begun.status).toBe(201);
  const runId = begun.json.runId as string;
  const [src, sink] = [uuid(1), uuid(2)];
  const r = await call('POST', `/v1/runs/${runId}/commands`, {
    commands: [
      { op: 'registerNode', input: { nodeId: src, pluginName: 'csv', nodeType: 'source', pluginVersion: '1', determinism: 'io_read', config: {} } },
      { op: 'registerNode', input: { nodeId: sink, pluginName: 'out', nodeType: 'sink', pluginVersion: '1', determinism: 'io_write', config: {} } },
      { op: 'createRow', input: { sourceNodeId: src, rowIndex: 0, rowId: uuid(3), tokenId: undefined, data: { a: 1 }, withToken: true } },
    ],
  });
  expect(r.status).toBe(200);
  expect(r.json.results).toHaveLength(3);
  expect(r.json.results[0]).toMatchObject({ nodeId: src });
  const tokenId = r.json.results[2].tokenId as string;
  const more = await call('POST', `/v1/runs/${runId}/commands`, {
    commands: [
      { op: 'expandToken', input: { parentTokenId: tokenId, rowId: uuid(3), count: 2 } },
    ],
  });
  expect(more.status).toBe(200);
  const children = more.json.results[0].children.map((c: any) => c.tokenId as string);
  const state = await call('POST', `/v1/runs/${runId}/commands`, {
    commands: children.flatMap((t: string, k: number) => [
      { op: 'beginNodeState', input: { stateId: uuid(10 + k), tokenId: t, nodeId: sink, stepIndex: 1, inputData: { k } } },
      { op: 'completeNodeState', input: { stateId: uuid(10 + k), status: 'completed', durationMs: 1, outputData: { k } } },
      { op: 'recordTokenOutcome', input: { tokenId: t, outcome: 'completed', sinkName: 'out' } },
    ]).concat([{ op: 'complete', input: { status: 'completed' } }]),
  });
  expect(state.status).toBe(200);
  expect((await call('GET', `/v1/runs/${runId}/explain?row=0`)).status).toBe(200);
  expect((await call('GET', `/v1/runs/${runId}/explain?token=${children[0]}`)).json).toMatchObject({ runId });
  expect((await call('GET', `/v1/runs/${runId}/check`)).json).toMatchObject({ ok: true });
  const exported = await call('GET', `/v1/runs/${runId}/export`);
  expect(exported.status).toBe(200);
  const file = path.join(dir, 'http.jsonl');
  fs.writeFileSync(file, exported.text);
  expect(await verifyExport(file, { requireSignature: false })).toMatchObject({ ok: true });
  const tokens = exported.text.split('\n').filter((l) => l.includes('"record_type":"token"')).map((l) => JSON.parse(l));
  expect(tokens.filter((t) => children.includes(t.token_id)).every((t) => typeof t.expand_group_id === 'string')).toBe(true);
  expect((await call('GET', '/v1/runs')).json.runs.map((x: any) => x.runId)).toContain(runId);
});

test('a bad command in the middle of a batch: named by index, the ones before applied, nothing after', async () => {
  const runId = (await call('POST', '/v1/runs', { config: {} })).json.runId as string;
  const src = uuid(100);
  await call('POST', `/v1/runs/${runId}/commands`, { commands: [{ op: 'registerNode', input: { nodeId: src, pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} } }] });
  const before = await revision(runId);
  const r = await call('POST', `/v1/runs/${runId}/commands`, {
    commands: [
      { op: 'createRow', input: { sourceNodeId: src, rowIndex: 0, data: {} } },
      { op: 'createRow', input: { sourceNodeId: src, rowIndex: -1, data: {} } },
      { op: 'createRow', input: { sourceNodeId: src, rowIndex: 2, data: {} } },
    ],
  });
  expect(r.status).toBe(422);
  expect(r.json).toMatchObject({ error: { code: 'INVALID_INPUT', index: 1, path: 'commands[1].input.rowIndex' }, applied: 1 });
  expect(await revision(runId)).toBe(before! + 1);
  const dup = await call('POST', `/v1/runs/${runId}/commands`, { commands: [{ op: 'createRow', input: { sourceNodeId: src, rowIndex: 0, data: {} } }] });
  expect(dup).toMatchObject({ status: 409, json: { error: { code: 'DUPLICATE_ID', index: 0 } } });
  const unknownOp = await call('POST', `/v1/runs/${runId}/commands`, { commands: [{ op: 'dropTable', input: {} }] });
  expect(unknownOp).toMatchObject({ status: 422, json: { error: { code: 'INVALID_INPUT', index: 0, path: 'commands[0].op' } } });
  expect(await revision(runId)).toBe(before! + 1);
  expect((await call('POST', `/v1/runs/${uuid(999)}/commands`, { commands: [] })).status).toBe(404);
});

test('an Idempotency-Key retry returns the first answer and records nothing; the key with another body is refused', async () => {
  const runId = (await call('POST', '/v1/runs', { config: {} })).json.runId as string;
  const body = { commands: [{ op: 'registerNode', input: { pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} } }] };
  const headers = { ...auth, 'idempotency-key': `k-${runId}` };
  const first = await call('POST', `/v1/runs/${runId}/commands`, body, headers);
  const after = await revision(runId);
  const again = await call('POST', `/v1/runs/${runId}/commands`, body, headers);
  expect(again).toEqual(first);
  expect(await revision(runId)).toBe(after);
  const other = await call('POST', `/v1/runs/${runId}/commands`, { commands: [] }, headers);
  expect(other).toMatchObject({ status: 422, json: { error: { code: 'INVALID_INPUT', path: 'Idempotency-Key' } } });
});

test('a body over the cap is 413 and malformed JSON is 400, each with a code; nothing is recorded', async () => {
  const runs = (await ledger.listRuns()).length;
  const big = await call('POST', '/v1/runs', { config: { pad: 'x'.repeat(100 * 1024) } });
  expect(big).toMatchObject({ status: 413, json: { error: { code: 'REQUEST_TOO_LARGE' } } });
  const bad = await call('POST', '/v1/runs', '{"config": ');
  expect(bad).toMatchObject({ status: 400, json: { error: { code: 'MALFORMED_REQUEST' } } });
  const wrong = await call('POST', '/v1/runs', { config: {}, nope: 1 });
  expect(wrong).toMatchObject({ status: 422, json: { error: { code: 'INVALID_INPUT' } } });
  expect((await ledger.listRuns()).length).toBe(runs);
});
