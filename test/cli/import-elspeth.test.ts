/**
 * `lineage-ledger import-elspeth` on ELSPETH's sample databases: every run imported, exit codes,
 * a refused run (with its Landscape table, key and rule) writes nothing, `--allow-anomalies`
 * imports it marked, and a failed import creates no store.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { IMPORT_ANOMALIES_MARK } from '../../src/elspeth/import';
import { runStreamId } from '../../src/events/envelope';
import { openLedger } from '../../src/ledger';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';
import { cli } from './support';

const SAMPLES = path.resolve(__dirname, '../../../shared/reference/elspeth-samples');
const present = fs.existsSync(SAMPLES);
if (!present) console.warn(`elspeth-samples not found beside the repository (${path.relative(process.cwd(), SAMPLES)}): the import-elspeth CLI tests are skipped`);
const maybe = present ? describe : describe.skip;

const RICH = path.join(SAMPLES, 'rich-run/audit.db');
const REFERENCE_RUN = '6e7a82ed59a94f02ba49e9ad3065acf3';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-cli-elspeth-');
});
afterEach(() => removeDir(dir));

/** A copy of the reference database with one completed token's terminal outcome deleted. */
function brokenCopy(): { file: string; tokenId: string } {
  const file = path.join(dir, 'broken.db');
  fs.copyFileSync(path.join(SAMPLES, 'reference-run/audit.db'), file);
  const db = new Database(file);
  const row = db.prepare("SELECT outcome_id, token_id FROM token_outcomes WHERE outcome = 'completed' ORDER BY outcome_id LIMIT 1").get() as { outcome_id: string; token_id: string };
  db.prepare('DELETE FROM token_outcomes WHERE outcome_id = ?').run(row.outcome_id);
  db.pragma('journal_mode = DELETE');
  db.close();
  return { file, tokenId: row.token_id };
}

maybe('lineage-ledger import-elspeth', () => {
  test('imports every run of the rich database (exit 0), with payload bodies; a second import refuses each run as DUPLICATE_ID (exit 1) and adds nothing', async () => {
    const store = `sqlite:${path.join(dir, 'l.db')}`;
    const r = await cli('import-elspeth', RICH, '--store', store, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { imported: number; refused: number; runs: Array<{ runId: string; result: string; landscapeStatus: string; payloads: { copied: number; referenced: number } }> };
    expect({ imported: report.imported, refused: report.refused }).toEqual({ imported: 3, refused: 0 });
    expect(report.runs.map((x) => [x.landscapeStatus, x.result])).toEqual([
      ['completed', 'imported'],
      ['running', 'imported'],
      ['interrupted', 'imported'],
    ]);
    for (const x of report.runs) expect(x.payloads.copied).toBe(x.payloads.referenced);
    expect((await cli('check', '--store', store, '--run', report.runs[0]!.runId)).code).toBe(0);

    const ledger = await openLedger({ store, create: false });
    const before = await Promise.all(report.runs.map((x) => ledger.store.streamRevision(runStreamId(x.runId))));
    expect(before.every((v) => typeof v === 'number' && v > 0)).toBe(true);
    await ledger.close();
    const again = await cli('import-elspeth', RICH, '--store', store);
    expect(again.code).toBe(1);
    expect(again.out.split('\n').filter((l) => l.includes('refused (DUPLICATE_ID)'))).toHaveLength(3);
    // with --json: the report and its error, one document
    const againJson = await cli('import-elspeth', RICH, '--store', store, '--json');
    expect(againJson.code).toBe(1);
    const failure = JSON.parse(againJson.out) as { refused: number; error: { code: string; details: { refused: unknown[] } } };
    expect(failure.refused).toBe(3);
    expect(failure.error).toMatchObject({ code: 'IMPORT_REFUSED', message: expect.stringMatching(/^3 of 3 run\(s\) refused; first \S+ \(DUPLICATE_ID\): /) });
    expect(failure.error.details.refused).toEqual(report.runs.map((x) => ({ runId: x.runId, refusal: 'DUPLICATE_ID' })));
    const reopened = await openLedger({ store, create: false });
    expect(await Promise.all(report.runs.map((x) => reopened.store.streamRevision(runStreamId(x.runId))))).toEqual(before);
    await reopened.close();
  });

  test('a run whose facts break a rule is refused with the table, key and rule (exit 1) and no store file is left; --allow-anomalies imports it marked', async () => {
    const { file, tokenId } = brokenCopy();
    const storeFile = path.join(dir, 'new.db');
    const refused = await cli('import-elspeth', file, '--store', `sqlite:${storeFile}`, '--payloads', 'none');
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`${REFERENCE_RUN} completed refused (ANOMALIES)`);
    expect(refused.err).toContain(`tokens token_id=${tokenId}: TOKEN_WITHOUT_TERMINAL_OUTCOME`);
    expect(fs.existsSync(storeFile)).toBe(false);
    expect(fs.existsSync(`${storeFile}.payloads`)).toBe(false);

    const allowed = await cli('import-elspeth', file, '--store', `sqlite:${storeFile}`, '--payloads', 'none', '--allow-anomalies', '--json');
    expect(allowed.code).toBe(0);
    const report = JSON.parse(allowed.out) as { runs: Array<{ result: string; anomalies: Array<{ table: string; key: Record<string, unknown>; rule: string }> }> };
    expect(report.runs[0]!.result).toBe('imported_with_anomalies');
    expect(report.runs[0]!.anomalies).toEqual([expect.objectContaining({ table: 'tokens', key: { token_id: tokenId }, rule: 'TOKEN_WITHOUT_TERMINAL_OUTCOME' })]);
    const ledger = await openLedger({ store: `sqlite:${storeFile}`, create: false });
    const marks = [];
    for await (const rec of ledger.exportRun(REFERENCE_RUN, { allowAnomalies: true })) if (rec.record_type === 'preflight_result' && rec.name === IMPORT_ANOMALIES_MARK) marks.push(rec);
    expect(marks).toHaveLength(1);
    expect((await ledger.check(REFERENCE_RUN)).ok).toBe(false);
    await ledger.close();
  });

  test('usage and input errors: --run with --all is exit 2; an unknown run or a missing database is exit 1 and creates no store', async () => {
    const storeFile = path.join(dir, 'x.db');
    expect((await cli('import-elspeth', RICH, '--run', REFERENCE_RUN, '--all', '--store', `sqlite:${storeFile}`)).code).toBe(2);
    const unknown = await cli('import-elspeth', RICH, '--run', REFERENCE_RUN, '--store', `sqlite:${storeFile}`);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('RUN_NOT_FOUND');
    const missing = await cli('import-elspeth', path.join(dir, 'nope.db'), '--store', `sqlite:${storeFile}`);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('NOT_FOUND');
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
