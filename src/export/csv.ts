/**
 * The CSV view of an export: one CSV file per record type, for spreadsheets.
 *
 * It is a VIEW, never the signed artifact: nothing in it is verified on its own. It
 * carries the manifest of the export it was written with (`manifest.csv`, including
 * `merkle_root`, `chain_head` and `run_id`), so a reader can tie it to the JSON Lines
 * export that `lineage-ledger verify` checks.
 *
 * Layout of the directory:
 * - `<record_type>.csv` for every record type present in the run (none for absent types);
 *   the header row is the record's fields (record_type, run_id, then the entity's fields,
 *   as in the JSON records), one row per record in export order;
 * - `manifest.csv`: header `field,value`, one row per manifest member (sorted by name).
 *
 * Cells (flattening):
 * - null → an empty cell;
 * - a string → the string itself (an empty string is also an empty cell: use the JSON
 *   records to tell "" from null);
 * - a number or boolean → its RFC 8785 JSON text (`12.5`, `1.5e-7`, `true`);
 * - an object or array → its RFC 8785 canonical JSON text; `{}` and `[]` are written as
 *   `{}` and `[]`, never dropped.
 * Files are UTF-8 without BOM, RFC 4180 quoting (csv-stringify), "\n" line ends. Cells are
 * written verbatim: a cell beginning with `=`, `+`, `-` or `@` may be read as a formula
 * by a spreadsheet program, so import the files as text when in doubt.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { canonicalize } from '../canonical/jcs';
import { ledgerError } from '../errors';
import type { RecordType } from '../projections/entities';
import { makeTemporaryDirectory, moveDirectoryIntoPlace } from './files';
import { ExportRecord, recordFieldNames } from './records';

/** A cell's text (see the module comment). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return canonicalize(value);
}

interface TypeFile {
  readonly fd: number;
  readonly fields: readonly string[];
  buffer: string;
}

const FLUSH_AT = 1 << 16;

/**
 * Streams records into per-type CSV files in a temporary directory; `commit` adds
 * `manifest.csv` and moves the directory into place (refusing to overwrite a
 * non-empty directory); `abort` removes it.
 */
export class CsvView {
  private readonly files = new Map<string, TypeFile>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly tmp: string,
  ) {}

  /** Prepares a view to be written to `dir` (which must not exist, or be empty). */
  static open(dir: string): CsvView {
    return new CsvView(dir, makeTemporaryDirectory(dir));
  }

  write(record: ExportRecord): void {
    if (this.closed) throw ledgerError('EXPORT_FAILED', 'the CSV view is already closed', {});
    const rt = record.record_type;
    let f = this.files.get(rt);
    if (f === undefined) {
      const fields = recordFieldNames(rt as RecordType);
      const fd = fs.openSync(path.join(this.tmp, `${rt}.csv`), 'wx');
      f = { fd, fields, buffer: stringify([fields]) };
      this.files.set(rt, f);
    }
    const row: string[] = new Array<string>(f.fields.length);
    for (let i = 0; i < f.fields.length; i++) row[i] = csvCell((record as Record<string, unknown>)[f.fields[i]!]);
    f.buffer += stringify([row]);
    if (f.buffer.length >= FLUSH_AT) {
      fs.writeSync(f.fd, f.buffer);
      f.buffer = '';
    }
  }

  /** Writes manifest.csv, flushes every file and moves the directory to its place. */
  commit(manifest: object): void {
    if (this.closed) throw ledgerError('EXPORT_FAILED', 'the CSV view is already closed', {});
    try {
      for (const f of this.files.values()) {
        if (f.buffer !== '') fs.writeSync(f.fd, f.buffer);
        f.buffer = '';
        fs.fsyncSync(f.fd);
        fs.closeSync(f.fd);
      }
      this.files.clear();
      const rows: string[][] = [['field', 'value']];
      for (const k of Object.keys(manifest).sort()) rows.push([k, csvCell((manifest as unknown as Record<string, unknown>)[k])]);
      fs.writeFileSync(path.join(this.tmp, 'manifest.csv'), stringify(rows), { flag: 'wx' });
      moveDirectoryIntoPlace(this.tmp, this.dir);
      this.closed = true;
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Discards the view. */
  abort(): void {
    for (const f of this.files.values()) {
      try {
        fs.closeSync(f.fd);
      } catch {
        // already closed
      }
    }
    this.files.clear();
    this.closed = true;
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Writes the CSV view of `records` (with `manifest`) to `dir`. */
export async function writeCsvView(records: Iterable<ExportRecord> | AsyncIterable<ExportRecord>, manifest: object, dir: string): Promise<void> {
  const view = CsvView.open(dir);
  try {
    for await (const r of records) view.write(r);
  } catch (e) {
    view.abort();
    throw e;
  }
  view.commit(manifest);
}
