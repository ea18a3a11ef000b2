import type { Command } from 'commander';
import { isLedgerError } from '../../errors';
import { parseDuration } from '../../ledger';
import { CliIO, payloadsFromOption, payloadsOption, storeOption, withLedger } from '../context';
import { println } from '../options';

export function registerPurge(program: Command, io: CliIO): void {
  const cmd = program
    .command('purge')
    .addHelpText('after', '\nExample:\n  lineage-ledger purge --older-than 90d --dry-run --json\n')
    .description('delete the payload bodies of runs that ended before now minus --older-than (hashes are kept; bodies shared with running, interrupted or newer runs are kept)')
    .addOption(storeOption())
    .addOption(payloadsOption())
    .requiredOption('--older-than <duration>', 'age of the runs whose bodies go: 30d, 12h, 90m or 45s')
    .option('--dry-run', 'report what would be deleted; write and delete nothing')
    .option('--json', 'print the report as JSON: {dryRun, cutoff, runsExamined, runsExpired, runsAffected, bodiesDeleted, bytesFreed, bodiesKeptShared, bodiesMissing}');
  cmd.action(async (opts: { store: string; payloads?: string; olderThan: string; dryRun?: boolean; json?: boolean }) => {
    try {
      parseDuration(opts.olderThan, '--older-than');
    } catch (e) {
      if (isLedgerError(e, 'INVALID_INPUT')) cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'purge.usage' });
      throw e;
    }
    await withLedger(
      opts.store,
      async (ledger) => {
        const report = await ledger.purgePayloads({ olderThan: opts.olderThan, dryRun: opts.dryRun === true });
        if (opts.json === true) {
          println(io, JSON.stringify(report));
          return;
        }
        const verb = report.dryRun ? 'would delete' : 'deleted';
        println(
          io,
          `${verb} ${report.bodiesDeleted} payload bodies (${report.bytesFreed} bytes) of ${report.runsAffected.length} run(s) ended before ${report.cutoff}; kept ${report.bodiesKeptShared} shared with protected runs; ${report.bodiesMissing} already missing`,
        );
        for (const r of report.runsAffected) println(io, `  ${r.runId}: ${r.hashes} bodies, grade ${r.gradeBefore ?? '-'} -> ${r.gradeAfter ?? '-'}`);
      },
      { create: false, payloads: payloadsFromOption(opts.payloads) },
    );
  });
}
