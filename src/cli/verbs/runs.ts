import type { Command } from 'commander';
import { CliIO, storeOption, withLedger } from '../context';
import { println } from '../options';

export function registerRuns(program: Command, io: CliIO): void {
  program
    .command('runs')
    .addHelpText('after', '\nExample:\n  lineage-ledger runs --json\n')
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
      }, { create: false });
    });

}
