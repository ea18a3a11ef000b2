import type { Command } from 'commander';
import { recordDemoRun } from '../../workloads/demo';
import { CliIO, payloadsFromOption, payloadsOption, storeOption, withLedger } from '../context';
import { parsePositiveInt, println } from '../options';
import { progressBar } from '../progress';

export function registerDemo(program: Command, io: CliIO): void {
  program
    .command('demo')
    .addHelpText('after', '\nExample:\n  lineage-ledger demo --rows 50 --store sqlite:./lineage.db\n')
    .description('record a realistic sample pipeline run (fork, calls, coalesce, aggregation batch, expansion, quarantined and failed rows)')
    .addOption(storeOption())
    .addOption(payloadsOption())
    .option('--rows <n>', 'source rows to process', parsePositiveInt('--rows'), 20)
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { store: string; rows: number; json?: boolean; payloads?: string }) => {
      await withLedger(opts.store, async (ledger) => {
        const bar = progressBar('recording', opts.rows, io.stderr, { unit: 'rows', json: opts.json === true });
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
      }, { payloads: payloadsFromOption(opts.payloads) });
    });

}
