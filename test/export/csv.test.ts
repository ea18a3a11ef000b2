/**
 * The CSV view: one file per record type present, header = the record's fields,
 * nested values as canonical JSON text ({} kept as {}), null as an empty cell, and
 * manifest.csv carrying the Merkle root that ties the view to the verified export.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalize } from '../../src/canonical/jcs';
import { writeExport } from '../../src/export/bundle';
import { CsvView, csvCell, writeCsvView } from '../../src/export/csv';
import { recordFieldNames, runRecords } from '../../src/export/records';
import { openLedger } from '../../src/ledger';
import type { RecordType } from '../../src/projections/entities';
import { recordDemoRun } from '../../src/workloads/demo';
import { deterministicLedger, fileLines, recordTinyRun, tempDir } from './bundle-fixtures';

const tmp = tempDir('ll-csv-');
afterAll(() => tmp.cleanup());

/** RFC 4180 parser (quoted fields, "" escapes, newlines inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function readCsv(file: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(fs.readFileSync(file, 'utf8'));
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

test('cells: null empty, strings verbatim, numbers and booleans as JSON, objects and arrays as canonical JSON, {} kept', () => {
  expect(csvCell(null)).toBe('');
  expect(csvCell('a, "b"')).toBe('a, "b"');
  expect(csvCell(0.5)).toBe('0.5');
  expect(csvCell(1.5e-7)).toBe('1.5e-7');
  expect(csvCell(false)).toBe('false');
  expect(csvCell({})).toBe('{}');
  expect(csvCell([])).toBe('[]');
  expect(csvCell({ b: 1, a: [null, 'x'] })).toBe('{"a":[null,"x"],"b":1}');
});

describe('the tiny run', () => {
  let dir: string;
  let manifest: Awaited<ReturnType<typeof writeExport>>['manifest'];
  beforeAll(async () => {
    const ledger = await deterministicLedger();
    const runId = await recordTinyRun(ledger);
    dir = path.join(tmp.dir, 'tiny-csv');
    const view = CsvView.open(dir);
    ({ manifest } = await writeExport(ledger, runId, path.join(tmp.dir, 'tiny.jsonl'), { csv: view }));
    await ledger.close();
  });

  test('one CSV per record type present, plus manifest.csv', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['artifact.csv', 'edge.csv', 'manifest.csv', 'node.csv', 'node_state.csv', 'row.csv', 'run.csv', 'token.csv', 'token_outcome.csv']);
  });

  test('the header is the record fields, rows are the records in export order', () => {
    const jsonl = fileLines(path.join(tmp.dir, 'tiny.jsonl')).slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const file of fs.readdirSync(dir).filter((f) => f !== 'manifest.csv')) {
      const rt = file.replace(/\.csv$/, '') as RecordType;
      const [header] = parseCsv(fs.readFileSync(path.join(dir, file), 'utf8'));
      expect(header).toEqual(recordFieldNames(rt));
      const rows = readCsv(path.join(dir, file));
      const records = jsonl.filter((r) => r.record_type === rt);
      expect(rows.length).toBe(records.length);
      rows.forEach((row, i) => {
        for (const f of header!) expect(row[f]).toBe(csvCell(records[i]![f]));
      });
    }
  });

  test('{} is written as {}, null as an empty cell, nested JSON as canonical text', () => {
    const [run] = readCsv(path.join(dir, 'run.csv'));
    expect(run!.settings).toBe('{}');
    expect(run!.completed_at).toMatch(/^2026-/);
    expect(run!.export_status).toBe('');
    const states = readCsv(path.join(dir, 'node_state.csv'));
    expect(states[0]!.context_after_json).toBe('{}');
    expect(states[0]!.duration_ms).toBe('0.5');
    expect(states[1]!.error_json).toBe('{"reason":"bad row"}');
    expect(states[1]!.output_hash).toBe('');
    const nodes = readCsv(path.join(dir, 'node.csv'));
    expect(nodes.map((n) => n.config)).toEqual(['{"path":"in.csv"}', '{}']);
    const [artifact] = readCsv(path.join(dir, 'artifact.csv'));
    expect(JSON.parse(artifact!.produced_by_state_ids!)).toEqual([artifact!.produced_by_state_id]);
    expect(readCsv(path.join(dir, 'row.csv')).map((r) => r.quarantined)).toEqual(['false', 'false']);
  });

  test('manifest.csv carries the manifest, Merkle root included', () => {
    const rows = parseCsv(fs.readFileSync(path.join(dir, 'manifest.csv'), 'utf8'));
    expect(rows[0]).toEqual(['field', 'value']);
    const m = Object.fromEntries(rows.slice(1).map(([k, v]) => [k, v]));
    expect(m.merkle_root).toBe(manifest.merkle_root);
    expect(m.chain_head).toBe(manifest.chain_head);
    expect(m.run_id).toBe(manifest.run_id);
    expect(m.record_count).toBe(String(manifest.record_count));
    expect(m.signature).toBe('');
    expect(Object.keys(m).sort()).toEqual(Object.keys(manifest).sort());
  });

  test('an existing non-empty directory is never written over', () => {
    expect(() => CsvView.open(dir)).toThrow(expect.objectContaining({ code: 'EXPORT_FAILED' }));
  });

  test('a failed export leaves no CSV view and no temporary directory behind', async () => {
    const ledger = await deterministicLedger();
    const runId = await recordTinyRun(ledger);
    const target = path.join(tmp.dir, 'failed-csv');
    const before = fs.readdirSync(tmp.dir).filter((f) => f.startsWith('.'));
    await expect(writeExport(ledger, runId, path.join(tmp.dir, 'no', 'such', 'dir.jsonl'), { csv: CsvView.open(target) })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(writeExport(ledger, '99999999-9999-4999-8999-999999999999', path.join(tmp.dir, 'x.jsonl'), { csv: CsvView.open(target) })).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
    });
    await ledger.close();
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.readdirSync(tmp.dir).filter((f) => f.startsWith('.'))).toEqual(before);
  });
});

test('the demo run gives one CSV per record type, every value round-trips through its cell', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const { runId } = await recordDemoRun(ledger, { rows: 12 });
  const state = await ledger.loadRun(runId);
  const dir = path.join(tmp.dir, 'demo-csv');
  const { manifest } = await writeExport(ledger, runId, path.join(tmp.dir, 'demo.jsonl'));
  await writeCsvView(runRecords(state), manifest, dir);
  await ledger.close();
  const records = [...runRecords(state)];
  const types = [...new Set(records.map((r) => r.record_type))].sort();
  expect(fs.readdirSync(dir).sort()).toEqual([...types.map((t) => `${t}.csv`), 'manifest.csv'].sort());
  for (const rt of types) {
    const rows = readCsv(path.join(dir, `${rt}.csv`));
    const ofType = records.filter((r) => r.record_type === rt);
    expect(rows.length).toBe(ofType.length);
    rows.forEach((row, i) => {
      for (const [f, v] of Object.entries(ofType[i]!)) {
        const cell = row[f]!;
        if (v === null) expect(cell).toBe('');
        else if (typeof v === 'string') expect(cell).toBe(v);
        else expect(canonicalize(JSON.parse(cell))).toBe(canonicalize(v));
      }
    });
  }
});
