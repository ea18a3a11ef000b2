import type { Command } from 'commander';
import type { AsOf } from '../../ledger';
import { renderCheckText } from '../../lineage/render';
import { CliIO, ReportedFailure, storeOption, withLedger } from '../context';
import { asOfOption, println } from '../options';

export function registerCheck(program: Command, io: CliIO): void {
  program
    .command('check')
    .addHelpText('after', '\nExample:\n  lineage-ledger check --run latest --json\n')
    .description(
      'audit a run: report every token without a terminal outcome, unresolved buffering, open state, operation or batch, ' +
        'sink outcome without a sink state, inconsistent fork/expand/join/batch group, artifact without its writing states, ' +
        'call without a parent and event anomaly; exits 1 when anything is wrong',
    )
    .addOption(storeOption())
    .requiredOption('--run <id>', 'run id, or "latest"')
    .option('--json', 'print { ok, violations, ... } as JSON')
    .addOption(asOfOption('check the run'))
    .action(async (opts: { store: string; run: string; json?: boolean; asOf?: AsOf }) => {
      const ok = await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        const result = await ledger.check(runId, opts.asOf !== undefined ? { asOf: opts.asOf } : {});
        if (opts.json === true) println(io, JSON.stringify(result, null, 2));
        else io.stdout.write(renderCheckText(result));
        return result.ok;
      }, { create: false });
      if (!ok) throw new ReportedFailure(1);
    });
}
