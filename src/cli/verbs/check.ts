import type { Command } from 'commander';
import type { AsOf } from '../../ledger';
import { renderCheckText } from '../../lineage/render';
import { CliIO, CommandFailed, ReportedFailure, storeOption, withLedger } from '../context';
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
    .option('--json', 'print { ok, violations, ... } as JSON (with an error when anything is wrong)')
    .addOption(asOfOption('check the run'))
    .action(async (opts: { store: string; run: string; json?: boolean; asOf?: AsOf }) => {
      const result = await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        return ledger.check(runId, opts.asOf !== undefined ? { asOf: opts.asOf } : {});
      }, { create: false });
      if (opts.json === true) {
        if (!result.ok) {
          const n = result.violations.length;
          // the result and the error are one document (main prints it)
          throw new CommandFailed({ code: 'CHECK_FAILED', message: `run ${result.runId}: ${n} violation${n === 1 ? '' : 's'}`, details: { byCode: result.byCode } }, { ...result });
        }
        println(io, JSON.stringify(result, null, 2));
        return;
      }
      io.stdout.write(renderCheckText(result));
      // the text says what is wrong
      if (!result.ok) throw new ReportedFailure(1);
    });
}
