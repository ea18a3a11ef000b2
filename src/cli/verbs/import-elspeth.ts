import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import { importElspeth, type ImportElspethReport, type RunImportReport } from '../../elspeth/import';
import { describeKey } from '../../elspeth/records';
import { parseStoreUrl } from '../../store/url';
import { CliIO, CommandFailed, payloadsFromOption, ReportedFailure, storeOption, withLedger } from '../context';
import { println } from '../options';
import { progressBar, type Progress } from '../progress';

interface ImportElspethOpts {
  store: string;
  payloads?: string;
  payloadStore?: string;
  run?: string;
  all?: boolean;
  allowAnomalies?: boolean;
  json?: boolean;
}

export function registerImportElspeth(program: Command, io: CliIO): void {
  const cmd = program
    .command('import-elspeth')
    .addHelpText(
      'after',
      '\nExample:\n' +
        '  lineage-ledger import-elspeth audit.db --all --store sqlite:./lineage.db\n' +
        '  lineage-ledger import-elspeth audit.db --run 6e7a82ed59a94f02ba49e9ad3065acf3 --payloads ./payloads --json\n' +
        '\nExit codes: 0 every chosen run imported, 1 a run was refused (the others are imported), 2 usage error.\n',
    )
    .description(
      "import the runs of an ELSPETH Landscape database (SQLite, read without writing to it or beside it): each run's facts go through the ledger's decoding and audit check; " +
        'a run whose facts break a rule is refused (each anomaly reported with its Landscape table, key and rule) unless --allow-anomalies imports it marked; ' +
        'payload bodies are copied into the ledger payload store, each verified by its hash',
    )
    .argument('<audit.db>', 'the Landscape database file')
    .addOption(storeOption())
    .option('--payloads <dir|none>', "the Landscape payload folder to copy bodies from (default: payloads/ beside the database when it exists); 'none' copies nothing")
    .option('--payload-store <dir|none>', "the ledger's payload store to copy into (default: <file>.payloads beside a sqlite: store; none for other stores)")
    .addOption(new Option('--run <id>', 'import only this run').conflicts('all'))
    .addOption(new Option('--all', 'import every run of the database (the default when --run is not given)').conflicts('run'))
    .option('--allow-anomalies', 'import a run whose facts break a rule, marked as imported with anomalies (a preflight_result record lists them)')
    .option('--json', 'print the report as JSON: {database, imported, refused, runs: [{runId, landscapeStatus, result, refusal, message, events, records, rows, tokens, payloads, anomalies}]}');
  cmd.action(async (dbPath: string, opts: ImportElspethOpts) => {
    // a store file this command creates is removed again when nothing was imported into it
    const parsed = parseStoreUrl(opts.store);
    const created = parsed.kind === 'sqlite' && !fs.existsSync(parsed.path) ? parsed.path : null;
    const cleanUp = (): void => {
      if (created === null) return;
      for (const suffix of ['', '-wal', '-shm']) fs.rmSync(created + suffix, { force: true });
      fs.rmSync(`${created}.payloads`, { recursive: true, force: true });
    };
    let report: ImportElspethReport;
    try {
      report = await withLedger(
        opts.store,
        async (ledger) => {
          let bar: Progress | null = null;
          try {
            return await importElspeth(ledger, dbPath, {
              payloads: payloadsFromOption(opts.payloads),
              ...(opts.run !== undefined ? { runId: opts.run } : {}),
              allowAnomalies: opts.allowAnomalies === true,
              onRun: (done, total) => {
                bar ??= progressBar('importing', total, io.stderr, { unit: 'runs', json: opts.json === true });
                bar.update(done);
              },
            });
          } finally {
            (bar as Progress | null)?.finish();
          }
        },
        { payloads: payloadsFromOption(opts.payloadStore) },
      );
    } catch (e) {
      cleanUp();
      throw e;
    }
    if (report.imported === 0) cleanUp();
    if (opts.json === true) {
      if (report.refused > 0) {
        const refused = report.runs.filter((r) => r.result === 'refused');
        const first = refused[0]!;
        // the report and the error are one document (main prints it)
        throw new CommandFailed(
          {
            code: 'IMPORT_REFUSED',
            message: `${refused.length} of ${report.runs.length} run(s) refused; first ${first.runId} (${first.refusal}): ${first.message}`,
            details: { refused: refused.map((r) => ({ runId: r.runId, refusal: r.refusal })) },
          },
          { ...report },
        );
      }
      println(io, JSON.stringify(report));
      return;
    }
    printReport(io, report);
    // the report says which runs were refused and why
    if (report.refused > 0) throw new ReportedFailure(1);
  });
}

function printReport(io: CliIO, report: ImportElspethReport): void {
  for (const r of report.runs) println(io, runLine(r));
  io.stderr.write(`${report.database}: ${report.imported} run(s) imported, ${report.refused} refused\n`);
  for (const r of report.runs) {
    for (const a of r.anomalies) io.stderr.write(`  ${r.runId}: ${a.table} ${describeKey(a.key)}: ${a.rule}: ${a.message}\n`);
    const p = r.payloads;
    if (p.missing.length > 0) io.stderr.write(`  ${r.runId}: ${p.missing.length} payload bodies not in the Landscape payload folder (hashes kept)\n`);
    if (p.mismatched.length > 0) io.stderr.write(`  ${r.runId}: ${p.mismatched.length} payload bodies do not match their hash (not copied)\n`);
    if (r.result !== 'refused' && p.skipped !== null && p.referenced > 0) io.stderr.write(`  ${r.runId}: payload bodies not copied: ${p.skipped}\n`);
  }
}

function runLine(r: RunImportReport): string {
  if (r.result === 'refused') return `${r.runId} ${r.landscapeStatus} refused (${r.refusal}): ${r.message}`;
  return `${r.runId} ${r.landscapeStatus} ${r.result}: ${r.events} events, ${r.records} records, ${r.rows} rows, ${r.tokens} tokens, ${r.payloads.copied}/${r.payloads.referenced} payload bodies copied`;
}
