import type { Command } from 'commander';
import { Option } from 'commander';
import type { AsOf } from '../../ledger';
import { renderSnapshotText } from '../../lineage/render';
import { runSnapshot } from '../../lineage/snapshot';
import { CliIO, storeOption, withLedger } from '../context';
import { parseAsOf, println } from '../options';

export function registerReplay(program: Command, io: CliIO): void {
  program
    .command('replay')
    .addHelpText('after', '\nExample:\n  lineage-ledger replay --run latest --as-of 100\n')
    .description(
      'rebuild a run from its events as of a sequence number or time, and print what it looked like then: status, last event, ' +
        'counts of each entity, unfinished tokens, states, operations and batches',
    )
    .addOption(storeOption())
    .requiredOption('--run <id>', 'run id, or "latest"')
    .addOption(new Option('--as-of <seq|time>', 'sequence number (inclusive) or ISO-8601 time; default: the end of the run').argParser(parseAsOf))
    .option('--json', 'print the snapshot as JSON')
    .action(async (opts: { store: string; run: string; asOf?: AsOf; json?: boolean }) => {
      await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        const state = await ledger.loadRun(runId, opts.asOf !== undefined ? { asOf: opts.asOf } : {});
        const snapshot = { ...runSnapshot(state), asOfRequested: opts.asOf ?? null };
        if (opts.json === true) println(io, JSON.stringify(snapshot, null, 2));
        else io.stdout.write(renderSnapshotText(snapshot));
      }, { create: false });
    });
}
