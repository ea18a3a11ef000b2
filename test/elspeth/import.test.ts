/**
 * The Landscape importer on ELSPETH's own sample databases (../shared/reference/elspeth-samples):
 * each run imports through the recorder's decoding and audit check, and our export of it
 * carries as many records of each type as ELSPETH's export.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src';
import type { ExportRecord } from '../../src';
import * as os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { writeExport } from '../../src/export/bundle';
import { importExport } from '../../src/export/import';
import { importElspeth } from '../../src/elspeth/import';
import { convert, ELSPETH_EXPORT_NOT_FACTS, mappingOfExport, MOVED_ELSPETH_FIELDS } from '../../src/elspeth/mapping';

const SAMPLES = path.resolve(__dirname, '../../../shared/reference/elspeth-samples');
const present = fs.existsSync(SAMPLES);
if (!present) console.warn(`elspeth-samples not found beside the repository (${path.relative(process.cwd(), SAMPLES)}): the importer tests are skipped`);
const maybe = present ? describe : describe.skip;

function elspethExport(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function countByType(records: ReadonlyArray<{ record_type?: unknown }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[String(r.record_type)] = (out[String(r.record_type)] ?? 0) + 1;
  return out;
}

/**
 * Every field of every record of ELSPETH's export, found in ours through LANDSCAPE_MAPPING (the
 * record by its key, the field by its column or exported name, the value through the field's
 * conversion); the differences, empty when ours carries every fact of theirs.
 */
function fieldByField(theirs: ReadonlyArray<Record<string, unknown>>, ours: readonly ExportRecord[]): string[] {
  const diffs: string[] = [];
  const byKey = new Map<string, Record<string, unknown>>();
  const keyOf = (type: string, key: readonly string[], r: Record<string, unknown>): string => JSON.stringify([type, ...key.map((k) => r[k] ?? null)]);
  for (const r of ours as unknown as Array<Record<string, unknown>>) {
    const m = mappingOfExport(String(r.record_type));
    if (m !== undefined) byKey.set(keyOf(m.record, m.key, r), r);
  }
  const batchOutputOf = new Map<string, Record<string, unknown>>();
  for (const r of ours as unknown as Array<Record<string, unknown>>) if (r.record_type === 'batch_output' && r.output_type === 'token') batchOutputOf.set(String(r.output_id), r);
  let compared = 0;
  for (const t of theirs) {
    const type = String(t.record_type);
    if (ELSPETH_EXPORT_NOT_FACTS.recordTypes.includes(type)) continue;
    const m = mappingOfExport(type);
    if (m === undefined) {
      diffs.push(`${type}: record type not in the mapping`);
      continue;
    }
    const mine = byKey.get(keyOf(m.record, m.key, t));
    if (mine === undefined) {
      diffs.push(`${type} ${m.key.map((k) => String(t[k])).join('/')}: missing from our export`);
      continue;
    }
    for (const [field, value] of Object.entries(t)) {
      if (field === 'record_type' || ELSPETH_EXPORT_NOT_FACTS.fields.includes(field)) continue;
      if (field === 'run_id') {
        if (mine.run_id !== value) diffs.push(`${type}.run_id differs`);
        continue;
      }
      const entry = Object.entries(m.fields).find(([name, f]) => (f.exported ?? f.column ?? name) === field);
      if (entry === undefined) {
        diffs.push(`${type}.${field}: not in the mapping`);
        continue;
      }
      const [name, f] = entry;
      let actual: unknown = mine[name];
      const moved = MOVED_ELSPETH_FIELDS[`${type}.${field}`];
      if (moved !== undefined && batchOutputOf.has(String(mine.token_id))) actual = batchOutputOf.get(String(mine.token_id))?.[moved.field];
      else if (f.column === null && moved === undefined && name !== field) diffs.push(`${type}.${field}: derived without a comparison rule`);
      const expected = convert(f.conversion, value);
      compared++;
      if (!isDeepStrictEqual(expected, actual)) diffs.push(`${type} ${m.key.map((k) => String(t[k])).join('/')}.${field}: ELSPETH ${JSON.stringify(expected)}, ours ${JSON.stringify(actual)}`);
    }
  }
  if (compared === 0) diffs.push('no field was compared');
  return diffs;
}

maybe('import-elspeth on the reference run', () => {
  test('the completed run imports, checks clean and exports every record type ELSPETH exported', async () => {
    const ledger = await openLedger({ store: 'memory:', payloads: null });
    const report = await importElspeth(ledger, path.join(SAMPLES, 'reference-run/audit.db'), { payloads: null });
    expect(report.runs.map((r) => [r.runId, r.result, r.message])).toEqual([['6e7a82ed59a94f02ba49e9ad3065acf3', 'imported', null]]);
    expect((await ledger.check('6e7a82ed59a94f02ba49e9ad3065acf3')).ok).toBe(true);
    const ours: ExportRecord[] = [];
    for await (const r of ledger.exportRun('6e7a82ed59a94f02ba49e9ad3065acf3')) ours.push(r);
    const elspeth = elspethExport(path.join(SAMPLES, 'reference-run/export.jsonl'));
    const theirs = countByType(elspeth.filter((r) => r.record_type !== 'manifest'));
    const mine = countByType(ours);
    for (const [type, n] of Object.entries(theirs)) expect({ type, n: mine[type] ?? 0 }).toEqual({ type, n });
    expect(fieldByField(elspeth, ours)).toEqual([]);
    await ledger.close();
  });
});

maybe('import-elspeth on the rich database (three runs)', () => {
  const RUN1 = 'd8c0d0bf659e40398f3e52186e06e634';

  test('run 1 (every outcome) imports, checks clean, carries every field of ELSPETH export, and its expand children carry expand_group_id', async () => {
    const ledger = await openLedger({ store: 'memory:', payloads: null });
    const report = await importElspeth(ledger, path.join(SAMPLES, 'rich-run/audit.db'), { payloads: null, runId: RUN1 });
    expect(report.runs.map((r) => [r.runId, r.result, r.message, r.anomalies])).toEqual([[RUN1, 'imported', null, []]]);
    const check = await ledger.check(RUN1);
    expect(check.violations).toEqual([]);
    expect(check.ok).toBe(true);
    const ours: ExportRecord[] = [];
    for await (const r of ledger.exportRun(RUN1)) ours.push(r);
    const elspeth = elspethExport(path.join(SAMPLES, `rich-run/export-${RUN1}.jsonl`));
    expect(fieldByField(elspeth, ours)).toEqual([]);
    // what Landscape's exporter leaves out is in ours
    const mine = countByType(ours);
    for (const type of ['batch_output', 'validation_error', 'transform_error', 'preflight_result', 'checkpoint']) expect({ type, present: (mine[type] ?? 0) > 0 }).toEqual({ type, present: true });
    // every child of an expansion (a token whose parent ended `expanded`) carries the group id of that outcome
    const outcomes = ours.filter((r) => r.record_type === 'token_outcome');
    const expandedBy = new Map(outcomes.filter((o) => o.outcome === 'expanded').map((o) => [o.token_id, o.expand_group_id]));
    const children = ours.filter((r) => r.record_type === 'token_parent' && expandedBy.has(r.parent_token_id));
    expect(children.length).toBeGreaterThan(0);
    const tokens = new Map(ours.filter((r) => r.record_type === 'token').map((t) => [t.token_id, t]));
    for (const c of children) {
      if (c.record_type !== 'token_parent') continue;
      expect({ token: c.token_id, group: tokens.get(c.token_id)?.expand_group_id }).toEqual({ token: c.token_id, group: expandedBy.get(c.parent_token_id) });
    }
    // an aggregation output is linked to every member of its batch (Landscape links the first only)
    const outputs = ours.filter((r) => r.record_type === 'batch_output' && r.output_type === 'token');
    expect(outputs.length).toBe(4);
    for (const o of outputs) {
      if (o.record_type !== 'batch_output') continue;
      const members = ours.filter((r) => r.record_type === 'batch_member' && r.batch_id === o.batch_id).map((r) => (r.record_type === 'batch_member' ? r.token_id : ''));
      const parents = ours.filter((r) => r.record_type === 'token_parent' && r.token_id === o.output_id).map((r) => (r.record_type === 'token_parent' ? r.parent_token_id : ''));
      expect({ output: o.output_id, parents: [...parents].sort() }).toEqual({ output: o.output_id, parents: [...members].sort() });
    }
    await ledger.close();
  });

  test("run 1's export imports back into a fresh ledger record for record (outcome times and link ordinals are kept by the events)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elspeth-rt-'));
    try {
      const ledger = await openLedger({ store: 'memory:', payloads: null });
      await importElspeth(ledger, path.join(SAMPLES, 'rich-run/audit.db'), { payloads: null, runId: RUN1 });
      const first = path.join(dir, 'first.jsonl');
      await writeExport(ledger, RUN1, first, {});
      const target = await openLedger({ store: 'memory:', payloads: null });
      // importExport refuses unless its events give back exactly the exported records
      const result = await importExport(target, first, { requireSignature: false });
      expect(result.runId).toBe(RUN1);
      const second = path.join(dir, 'second.jsonl');
      await writeExport(target, RUN1, second, {});
      const records = (f: string): string[] => fs.readFileSync(f, 'utf8').trim().split('\n').slice(0, -1);
      expect(records(second)).toEqual(records(first));
      await Promise.all([ledger.close(), target.close()]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('explain of every sink token of run 1 reaches its source rows, each with the payload ELSPETH stored', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elspeth-pl-'));
    try {
      const source = path.join(SAMPLES, 'rich-run/payloads');
      const ledger = await openLedger({ store: 'memory:', payloads: path.join(dir, 'payloads') });
      const report = await importElspeth(ledger, path.join(SAMPLES, 'rich-run/audit.db'), { payloads: source, runId: RUN1 });
      const run = report.runs[0]!;
      expect({ missing: run.payloads.missing, mismatched: run.payloads.mismatched, skipped: run.payloads.skipped }).toEqual({ missing: [], mismatched: [], skipped: null });
      expect(run.payloads.copied).toBe(run.payloads.referenced);
      const ours: ExportRecord[] = [];
      for await (const r of ledger.exportRun(RUN1)) ours.push(r);
      const sinkTokens = ours.filter((r) => r.record_type === 'token_outcome' && r.outcome === 'completed').map((r) => (r.record_type === 'token_outcome' ? r.token_id : ''));
      expect(sinkTokens.length).toBe(8);
      const rows = new Map(ours.filter((r) => r.record_type === 'row').map((r) => [r.record_type === 'row' ? r.row_id : '', r]));
      for (const tokenId of sinkTokens) {
        const e = await ledger.explain({ runId: RUN1, tokenId });
        if (!('sourceRows' in e)) throw new Error('a token explanation has source rows');
        expect(e.sourceRows.length).toBeGreaterThan(0);
        for (const r of e.sourceRows) {
          const rec = rows.get(r.rowId);
          const ref = rec?.record_type === 'row' ? rec.source_data_ref : null;
          expect(ref).not.toBeNull();
          const stored = JSON.parse(fs.readFileSync(path.join(source, ref!.slice(0, 2), ref!), 'utf8')) as unknown;
          expect({ tokenId, row: r.rowId, status: r.payload.status, data: r.payload.data }).toEqual({ tokenId, row: r.rowId, status: 'available', data: stored });
        }
      }
      await ledger.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the crashed and the interrupted run import with their status and every field of ELSPETH exports', async () => {
    const ledger = await openLedger({ store: 'memory:', payloads: null });
    const report = await importElspeth(ledger, path.join(SAMPLES, 'rich-run/audit.db'), { payloads: null, allowAnomalies: false });
    const byRun = Object.fromEntries(report.runs.map((r) => [r.runId, r]));
    expect(byRun[RUN1]?.result).toBe('imported');
    for (const [runId, status] of [
      ['e17394c508cf458ebfb399815c4f831d', 'running'],
      ['c0dbf9f610c84e36b456687db5d133e1', 'interrupted'],
    ] as const) {
      expect({ runId, result: byRun[runId]?.result, message: byRun[runId]?.message ?? null }).toEqual({ runId, result: 'imported', message: null });
      const ours: ExportRecord[] = [];
      for await (const r of ledger.exportRun(runId, { allowAnomalies: true })) ours.push(r);
      const run = ours.find((r) => r.record_type === 'run');
      expect({ runId, status: run?.record_type === 'run' ? run.status : null }).toEqual({ runId, status });
      const elspeth = elspethExport(path.join(SAMPLES, `rich-run/export-${runId}.jsonl`));
      const theirs = countByType(elspeth.filter((r) => r.record_type !== 'manifest'));
      const mine = countByType(ours);
      for (const [type, n] of Object.entries(theirs)) expect({ runId, type, n: mine[type] ?? 0 }).toEqual({ runId, type, n });
      expect({ runId, diffs: fieldByField(elspeth, ours) }).toEqual({ runId, diffs: [] });
    }
    await ledger.close();
  });
});

maybe('import-elspeth reads without writing', () => {
  test('a WAL-mode database is read without -wal/-shm files beside it and its bytes unchanged; a non-Landscape file is NOT_A_LANDSCAPE', async () => {
    const os = await import('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elspeth-ro-'));
    try {
      const db = path.join(dir, 'audit.db');
      fs.copyFileSync(path.join(SAMPLES, 'reference-run/audit.db'), db);
      const before = fs.readFileSync(db);
      const ledger = await openLedger({ store: 'memory:', payloads: null });
      const report = await importElspeth(ledger, db, { payloads: null });
      expect(report.imported).toBe(1);
      expect(fs.readdirSync(dir)).toEqual(['audit.db']);
      expect(fs.readFileSync(db).equals(before)).toBe(true);
      const other = path.join(dir, 'other.db');
      const Database = (await import('better-sqlite3')).default;
      const o = new Database(other);
      o.exec('CREATE TABLE t (x)');
      o.close();
      await expect(importElspeth(ledger, other, { payloads: null })).rejects.toMatchObject({ code: 'NOT_A_LANDSCAPE' });
      await ledger.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
