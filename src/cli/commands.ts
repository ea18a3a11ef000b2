/**
 * The CLI verbs. Each has --help; data goes to stdout; --json where a script
 * may read the output.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { ledgerError } from '../errors';
import { canonicalLines, writeFileAtomically, writeLines } from '../export/jsonl';
import type { AsOf } from '../ledger';
import { recordDemoRun } from '../workloads/demo';
import { CliIO, storeOption, withLedger } from './context';
import { progressBar } from './progress';

function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw ledgerError('INVALID_INPUT', `${name}: "${v}" is not a positive integer`, { path: name });
    return n;
  };
}

/** `--as-of <seq|time>`: a number is a sequence number, anything else an ISO-8601 time. */
export function parseAsOf(v: string): AsOf {
  if (/^\d+$/.test(v)) return Number(v);
  if (Number.isNaN(Date.parse(v))) throw ledgerError('INVALID_INPUT', `--as-of: "${v}" is neither a sequence number nor an ISO-8601 time`, { path: 'asOf' });
  return v;
}

function println(io: CliIO, s = ''): void {
  io.stdout.write(`${s}\n`);
}

export function registerCommands(program: Command, io: CliIO): void {
  program
    .command('demo')
    .description('record a realistic sample pipeline run (fork, calls, coalesce, aggregation batch, expansion, quarantined and failed rows)')
    .addOption(storeOption())
    .option('--rows <n>', 'source rows to process', parsePositiveInt('--rows'), 20)
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { store: string; rows: number; json?: boolean }) => {
      await withLedger(opts.store, async (ledger) => {
        const bar = progressBar('recording', opts.rows, io.stderr);
        const summary = await recordDemoRun(ledger, { rows: opts.rows, onRow: (i) => bar.update(i + 1) });
        bar.finish();
        if (opts.json === true) {
          println(io, JSON.stringify({ ...summary, store: opts.store }));
          return;
        }
        println(io, summary.runId);
        io.stderr.write(
          `recorded run ${summary.runId} in ${opts.store}: ${summary.events} events; ` +
            `${summary.rows} source rows (${summary.validRows} through to the sink, ${summary.quarantinedRows} quarantined, ` +
            `${summary.discardedRows} discarded, ${summary.failedRows} failed), ${summary.batches} batches, ${summary.sinkTokens} sink tokens\n`,
        );
      });
    });

  program
    .command('runs')
    .description('list the runs in the store, oldest first')
    .addOption(storeOption())
    .option('--json', 'print one JSON array')
    .action(async (opts: { store: string; json?: boolean }) => {
      await withLedger(opts.store, async (ledger) => {
        const runs = await ledger.listRuns();
        if (opts.json === true) {
          println(io, JSON.stringify(runs));
          return;
        }
        if (runs.length === 0) {
          io.stderr.write(`no runs in ${opts.store}\n`);
          return;
        }
        println(io, ['RUN ID'.padEnd(36), 'STATUS'.padEnd(11), 'STARTED'.padEnd(24), 'EVENTS'].join('  '));
        for (const r of runs) println(io, [r.runId.padEnd(36), r.status.padEnd(11), (r.startedAt ?? '-').padEnd(24), String(r.events)].join('  '));
      });
    });

  program
    .command('export')
    .description('write a run as JSON Lines records (RFC 8785 canonical JSON, one record per line, documented order)')
    .addOption(storeOption())
    .requiredOption('--run <id>', 'run id, or "latest"')
    .option('--out <file>', 'output file, or - for stdout', '-')
    .addOption(new Option('--as-of <seq|time>', 'export the run as it was at a sequence number or ISO-8601 time').argParser(parseAsOf))
    .option('--allow-anomalies', 'export even when the run has events written around the recorder checks')
    .action(async (opts: { store: string; run: string; out: string; asOf?: AsOf; allowAnomalies?: boolean }) => {
      await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        const bar = progressBar('exporting', null, io.stderr);
        const records = ledger.exportRun(runId, { ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}), allowAnomalies: opts.allowAnomalies === true });
        const lines = canonicalLines(records, (n) => bar.update(n));
        let count: number;
        if (opts.out === '-') count = await writeLines(lines, io.stdout);
        else count = await writeFileAtomically(opts.out, (out) => writeLines(lines, out));
        bar.finish();
        io.stderr.write(`exported ${count} records of run ${runId}${opts.out === '-' ? '' : ` to ${opts.out}`}\n`);
      });
    });
}
