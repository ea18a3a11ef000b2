import type { Command } from 'commander';
import { Option } from 'commander';
import { parseStoreUrl } from '../../store/url';
import { CliIO, storeOption, withLedger } from '../context';
import { parsePositiveInt, println } from '../options';

interface ProjectOpts {
  store: string;
  once?: boolean;
  pollMs?: number;
  json?: boolean;
}

export function registerProject(program: Command, io: CliIO): void {
  program
    .command('project')
    .description(
      'keep the run projections current as events arrive, whoever appends them (the local projection file of an EventStoreDB store, ' +
        '?projections=<file>; the tables of a SQLite file): catch up every run from the checkpoint kept with them, then follow until ' +
        'SIGTERM or SIGINT (--once: stop when caught up)',
    )
    .addOption(storeOption())
    .option('--once', 'catch up and stop')
    .addOption(new Option('--poll-ms <ms>', 'poll interval when idle').default(200).argParser(parsePositiveInt('--poll-ms')))
    .option(
      '--json',
      'with --once, one JSON document: {"position": "...", "runs": [run ids brought up to date]}; when following, one JSON line per update ' +
        '({"runs": [...], "position": "..."}) and a last one when stopped ({"stopped": true, "position": "..."})',
    )
    .addHelpText('after', "\nExample:\n  lineage-ledger project --store 'kurrentdb://localhost:2113?tls=false&projections=./lineage-projection.db' --once --json\n")
    .action(async (opts: ProjectOpts) => {
      // the projection file is what this command writes; a ledger file it would only read is not created
      const create = parseStoreUrl(opts.store).kind === 'eventstoredb';
      await withLedger(opts.store, async (ledger) => {
        const updated = new Set<string>();
        const once = opts.once === true;
        const feed = ledger.followProjections({
          pollIntervalMs: opts.pollMs ?? 200,
          onUpdate: (u) => {
            for (const r of u.runs) updated.add(r);
            if (opts.json === true && !once) println(io, JSON.stringify({ runs: u.runs, position: u.position.toString() }));
            else if (u.runs.length > 0) io.stderr.write(`brought ${u.runs.length} run(s) up to date, position ${u.position.toString()}\n`);
          },
        });
        const stop = (): void => void feed.close();
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        try {
          if (once) {
            await feed.caughtUp();
            await feed.close();
          }
          await feed.done;
        } finally {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
        }
        const position = feed.position === null ? null : feed.position.toString();
        if (opts.json === true) println(io, JSON.stringify(once ? { position, runs: [...updated] } : { stopped: true, position }));
        io.stderr.write(`projections current up to position ${position ?? '(no events)'}: ${updated.size} run(s) brought up to date\n`);
      }, { create });
    });
}
