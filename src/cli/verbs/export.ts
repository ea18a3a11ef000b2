import type { Command } from 'commander';
import { Option } from 'commander';
import { canonicalLines, writeFileAtomically, writeLines } from '../../export/jsonl';
import type { AsOf } from '../../ledger';
import { CliIO, storeOption, withLedger } from '../context';
import { parseAsOf } from '../options';
import { progressBar } from '../progress';

export function registerExport(program: Command, io: CliIO): void {
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
