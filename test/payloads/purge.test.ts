/**
 * Retention: purgePayloads deletes the bodies of runs that ended before the cutoff, keeps the
 * hashes, never deletes a body shared with a running, interrupted or newer run, records
 * PayloadsPurged in each affected run (explain then says purged), lowers replay_reproducible to
 * attributable_only, and an export made after the purge still verifies. The CLI verb's exit codes
 * and --json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLedger, Ledger } from '../../src/ledger';
import { cli } from '../cli/support';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'purge-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A clock the test moves: ISO times from a base day. */
function clock(start: string) {
  let t = Date.parse(start);
  return { now: () => new Date(t).toISOString(), set: (iso: string) => (t = Date.parse(iso)) };
}

/** One run with one source row per `rows` value and an external_call node; ended with `end` unless null. */
async function runWithRows(ledger: Ledger, rows: unknown[], end: 'completed' | 'failed' | 'interrupted' | null) {
  const run = await ledger.beginRun({ config: {} });
  const src = (await run.registerNode({ pluginName: 'src', nodeType: 'source', pluginVersion: '1', determinism: 'external_call', config: {} })).nodeId;
  const created = [];
  for (const [k, data] of rows.entries()) {
    const r = await run.createRow({ sourceNodeId: src, rowIndex: k, data, withToken: true });
    created.push(r);
    if (end === 'completed') await run.recordTokenOutcome({ tokenId: r.tokenId!, outcome: 'completed', sinkName: 'out' });
  }
  if (end !== null) await run.complete({ status: end });
  return { runId: run.runId, rows: created };
}

const bodyPath = (p: string, h: string) => path.join(p, h.slice(0, 2), h);

test('purge keeps bodies shared with a running run, an interrupted run and a newer run; deletes the rest; records it; grade drops; export verifies', async () => {
  const payloads = path.join(dir, 'p');
  const c = clock('2026-01-01T00:00:00.000Z');
  const db = path.join(dir, 'l.db');
  const ledger = await openLedger({ store: `sqlite:${db}`, payloads, now: c.now });
  const old = await runWithRows(ledger, [{ only: 'old' }, { shared: 'running' }, { shared: 'interrupted' }, { shared: 'newer' }], 'completed');
  c.set('2026-03-01T00:00:00.000Z');
  await runWithRows(ledger, [{ shared: 'running' }], null);
  await runWithRows(ledger, [{ shared: 'interrupted' }], 'interrupted');
  await runWithRows(ledger, [{ shared: 'newer' }], 'failed');
  const [only, running, interrupted, newer] = old.rows.map((r) => r.sourceDataHash);

  const dry = await ledger.purgePayloads({ olderThan: '30d', dryRun: true, now: '2026-03-02T00:00:00.000Z' });
  expect(dry).toMatchObject({ dryRun: true, runsExamined: 4, runsExpired: 1, bodiesDeleted: 1, bodiesKeptShared: 3, bodiesMissing: 0 });
  expect(fs.existsSync(bodyPath(payloads, only!))).toBe(true);
  expect((await ledger.loadRun(old.runId)).run!.reproducibilityGrade).toBe('replay_reproducible');

  const report = await ledger.purgePayloads({ olderThan: '30d', now: '2026-03-02T00:00:00.000Z' });
  expect(report).toMatchObject({ dryRun: false, runsExpired: 1, bodiesDeleted: 1, bodiesKeptShared: 3 });
  expect(report.bytesFreed).toBe(Buffer.byteLength('{"only":"old"}'));
  expect(report.runsAffected).toEqual([{ runId: old.runId, hashes: 1, gradeBefore: 'replay_reproducible', gradeAfter: 'attributable_only' }]);
  expect(fs.existsSync(bodyPath(payloads, only!))).toBe(false);
  for (const h of [running, interrupted, newer]) expect(fs.existsSync(bodyPath(payloads, h!))).toBe(true);

  const state = await ledger.loadRun(old.runId);
  expect(state.run!.reproducibilityGrade).toBe('attributable_only');
  expect(state.rows.get(old.rows[0]!.rowId)!.sourceDataHash).toBe(only);
  const ex = await ledger.explain({ runId: old.runId, tokenId: old.rows[0]!.tokenId! });
  expect(ex.sourceRows[0]!.payload).toMatchObject({ status: 'purged', hash: only });
  expect((await ledger.explain({ runId: old.runId, tokenId: old.rows[1]!.tokenId! })).sourceRows[0]!.payload.status).toBe('available');
  expect((await ledger.listRuns()).find((r) => r.runId === old.runId)!.status).toBe('completed');

  // a second purge finds nothing more to do
  expect((await ledger.purgePayloads({ olderThan: '30d', now: '2026-03-02T00:00:00.000Z' })).bodiesDeleted).toBe(0);
  await ledger.close();

  const out = path.join(dir, 'e.jsonl');
  expect((await cli('export', '--store', `sqlite:${db}`, '--run', old.runId, '--out', out)).code).toBe(0);
  const run = fs.readFileSync(out, 'utf8').split('\n').map((l) => (l === '' ? null : (JSON.parse(l) as Record<string, unknown>))).find((r) => r?.record_type === 'run');
  expect(run!.reproducibility_grade).toBe('attributable_only');
  const v = await cli('verify', out, '--no-signature');
  expect(v.code).toBe(0);
  // the export of a purged run imports into another store, its grade as exported
  const other = `sqlite:${path.join(dir, 'other.db')}`;
  const imp = await cli('import', out, '--store', other, '--no-signature');
  expect(imp.code).toBe(0);
  const back = await openLedger({ store: other, create: false, payloads: null });
  expect((await back.loadRun(old.runId)).run!.reproducibilityGrade).toBe('attributable_only');
  await back.close();
});

test('a running or interrupted run is never purged, whatever its age; no payload store is INVALID_INPUT; bad duration INVALID_INPUT', async () => {
  const payloads = path.join(dir, 'p');
  const ledger = await openLedger({ store: 'memory:', payloads, now: () => '2020-01-01T00:00:00.000Z' });
  const a = await runWithRows(ledger, [{ a: 1 }], null);
  const b = await runWithRows(ledger, [{ b: 1 }], 'interrupted');
  const r = await ledger.purgePayloads({ olderThan: '1s', now: '2026-01-01T00:00:00.000Z' });
  expect(r).toMatchObject({ runsExpired: 0, bodiesDeleted: 0 });
  for (const h of [a.rows[0]!.sourceDataHash, b.rows[0]!.sourceDataHash]) expect(fs.existsSync(bodyPath(payloads, h))).toBe(true);
  await expect(ledger.purgePayloads({ olderThan: '3 weeks' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  const none = await openLedger({ store: 'memory:' });
  await expect(none.purgePayloads({ olderThan: '1d' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
});

test('CLI purge: --json report, --dry-run deletes nothing, a bad duration exits 2', async () => {
  const db = path.join(dir, 'c.db');
  const ledger = await openLedger({ store: `sqlite:${db}`, now: () => '2020-01-01T00:00:00.000Z' });
  const { rows } = await runWithRows(ledger, [{ x: 1 }], 'completed');
  await ledger.close();
  const file = bodyPath(`${db}.payloads`, rows[0]!.sourceDataHash);
  expect((await cli('purge', '--store', `sqlite:${db}`, '--older-than', 'soon')).code).toBe(2);
  const dry = await cli('purge', '--store', `sqlite:${db}`, '--older-than', '30d', '--dry-run', '--json');
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, bodiesDeleted: 1, runsExpired: 1 });
  expect(fs.existsSync(file)).toBe(true);
  const real = await cli('purge', '--store', `sqlite:${db}`, '--older-than', '30d', '--json');
  expect(real.code).toBe(0);
  expect(Object.keys(JSON.parse(real.out) as object)).toEqual(['dryRun', 'cutoff', 'runsExamined', 'runsExpired', 'runsAffected', 'bodiesDeleted', 'bytesFreed', 'bodiesKeptShared', 'bodiesMissing']);
  expect(fs.existsSync(file)).toBe(false);
  expect((await cli('purge', '--store', `sqlite:${path.join(dir, 'absent.db')}`, '--older-than', '1d')).code).not.toBe(0);
  expect(fs.existsSync(path.join(dir, 'absent.db'))).toBe(false);
});
