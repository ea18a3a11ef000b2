/**
 * The Landscape importer on ELSPETH's own sample databases (../shared/reference/elspeth-samples):
 * each run imports through the recorder's decoding and audit check, and our export of it
 * carries as many records of each type as ELSPETH's export.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src';
import type { ExportRecord } from '../../src';
import { importElspeth } from '../../src/elspeth/import';

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

maybe('import-elspeth on the reference run', () => {
  test('the completed run imports, checks clean and exports every record type ELSPETH exported', async () => {
    const ledger = await openLedger({ store: 'memory:', payloads: null });
    const report = await importElspeth(ledger, path.join(SAMPLES, 'reference-run/audit.db'), { payloads: null });
    expect(report.runs.map((r) => [r.runId, r.result, r.message])).toEqual([['6e7a82ed59a94f02ba49e9ad3065acf3', 'imported', null]]);
    expect((await ledger.check('6e7a82ed59a94f02ba49e9ad3065acf3')).ok).toBe(true);
    const ours: ExportRecord[] = [];
    for await (const r of ledger.exportRun('6e7a82ed59a94f02ba49e9ad3065acf3')) ours.push(r);
    const theirs = countByType(elspethExport(path.join(SAMPLES, 'reference-run/export.jsonl')).filter((r) => r.record_type !== 'manifest'));
    const mine = countByType(ours);
    for (const [type, n] of Object.entries(theirs)) expect({ type, n: mine[type] ?? 0 }).toEqual({ type, n });
    await ledger.close();
  });
});

maybe('import-elspeth on the rich database (three runs)', () => {
  const RUN1 = 'd8c0d0bf659e40398f3e52186e06e634';
  // Run 1 is refused today: its aggregation output is an expand child of the batch's first member
  // (made with record_parent_outcome=False), a token with parents that no fork, expand, join or
  // batch of ours creates; the importer does not map that case yet.
  test.todo('run 1 (every outcome) imports, checks clean, and its expand children carry expand_group_id');

  test('the crashed and the interrupted run import with their status and the record counts of ELSPETH exports', async () => {
    const ledger = await openLedger({ store: 'memory:', payloads: null });
    const report = await importElspeth(ledger, path.join(SAMPLES, 'rich-run/audit.db'), { payloads: null, allowAnomalies: false });
    const byRun = Object.fromEntries(report.runs.map((r) => [r.runId, r]));
    expect(byRun[RUN1]?.result).toBe('refused');
    // a refused run writes nothing
    expect((await ledger.listRuns()).map((r) => r.runId)).not.toContain(RUN1);
    for (const [runId, status] of [
      ['e17394c508cf458ebfb399815c4f831d', 'running'],
      ['c0dbf9f610c84e36b456687db5d133e1', 'interrupted'],
    ] as const) {
      expect({ runId, result: byRun[runId]?.result, message: byRun[runId]?.message ?? null }).toEqual({ runId, result: 'imported', message: null });
      const ours: ExportRecord[] = [];
      for await (const r of ledger.exportRun(runId, { allowAnomalies: true })) ours.push(r);
      const run = ours.find((r) => r.record_type === 'run');
      expect({ runId, status: run?.record_type === 'run' ? run.status : null }).toEqual({ runId, status });
      const theirs = countByType(elspethExport(path.join(SAMPLES, `rich-run/export-${runId}.jsonl`)).filter((r) => r.record_type !== 'manifest'));
      const mine = countByType(ours);
      for (const [type, n] of Object.entries(theirs)) expect({ runId, type, n: mine[type] ?? 0 }).toEqual({ runId, type, n });
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
