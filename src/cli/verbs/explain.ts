import type { Command } from 'commander';
import { Option } from 'commander';
import { ledgerError } from '../../errors';
import type { AsOf } from '../../ledger';
import {
  graphOfDescendants,
  graphOfRow,
  graphOfToken,
  LineageGraph,
  renderDescendantsText,
  renderDot,
  renderExplanationText,
  renderMermaid,
  renderRowExplanationText,
} from '../../lineage/render';
import { CliIO, payloadsFromOption, payloadsOption, storeOption, withLedger } from '../context';
import { asOfOption } from '../options';

export const EXPLAIN_FORMATS = ['text', 'json', 'dot', 'mermaid'] as const;
export type ExplainFormat = (typeof EXPLAIN_FORMATS)[number];

interface ExplainOptions {
  payloads?: string;
  store: string;
  run: string;
  token?: string;
  row?: string;
  sink?: string;
  descendants?: boolean;
  format: ExplainFormat;
  json?: boolean;
  asOf?: AsOf;
}

/** `--row`: digits are a row index, anything else a row id. */
export function parseRowRef(v: string): { rowIndex: number } | { rowId: string } {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw ledgerError('INVALID_INPUT', `--row: ${v} is too large for a row index`, { path: 'row' });
    return { rowIndex: n };
  }
  return { rowId: v };
}

export function registerExplain(program: Command, io: CliIO): void {
  program
    .command('explain')
    .addHelpText('after', '\nExample:\n  lineage-ledger explain --run latest --row 0 --format text\n')
    .description(
      'explain a token (its whole ancestor DAG back to every contributing source row, with every node state, routing decision, call and outcome) ' +
        'or a row (every path of the row); --descendants shows what became of it instead',
    )
    .addOption(storeOption())
    .addOption(payloadsOption())
    .requiredOption('--run <id>', 'run id, or "latest"')
    .option('--token <id>', 'the token to explain (give --token or --row)')
    .option('--row <id|index>', 'the source row to explain: a row id, or a row index (digits) (give --row or --token)')
    .option('--sink <name>', 'with --row: only the paths that end at this sink')
    .option('--descendants', 'show what became of the token or row (descendants, groups, path ends) instead of where it came from')
    .addOption(new Option('--format <format>', 'output format').choices(EXPLAIN_FORMATS).default('text'))
    .option('--json', 'print the explanation as JSON (the same as --format json)')
    .addOption(asOfOption('explain the run'))
    .action(async (opts: ExplainOptions, cmd: Command) => {
      if ((opts.token === undefined) === (opts.row === undefined)) cmd.error('error: give exactly one of --token <id> or --row <id|index>', { exitCode: 2, code: 'lineage.usage' });
      if (opts.sink !== undefined && opts.row === undefined) cmd.error('error: --sink goes with --row', { exitCode: 2, code: 'lineage.usage' });
      if (opts.sink !== undefined && opts.descendants === true) cmd.error('error: --sink filters the paths of explain, not --descendants', { exitCode: 2, code: 'lineage.usage' });
      if (opts.json === true) {
        if (cmd.getOptionValueSource('format') === 'cli' && opts.format !== 'json') cmd.error(`error: --json is --format json, not --format ${opts.format}`, { exitCode: 2, code: 'lineage.usage' });
        opts.format = 'json';
      }
      const read = opts.asOf !== undefined ? { asOf: opts.asOf } : {};
      await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        const subject = opts.token !== undefined ? { tokenId: opts.token } : parseRowRef(opts.row!);
        let json: unknown;
        let graph: () => LineageGraph;
        let text: () => string;
        if (opts.descendants === true) {
          const d = await ledger.descendants({ runId, ...subject }, read);
          json = d;
          graph = () => graphOfDescendants(d);
          text = () => renderDescendantsText(d);
        } else if ('tokenId' in subject) {
          const e = await ledger.explain({ runId, tokenId: subject.tokenId }, read);
          json = e;
          graph = () => graphOfToken(e);
          text = () => renderExplanationText(e);
        } else {
          const r = await ledger.explain({ runId, ...subject, ...(opts.sink !== undefined ? { sink: opts.sink } : {}) }, read);
          json = r;
          graph = () => graphOfRow(r);
          text = () => renderRowExplanationText(r);
        }
        switch (opts.format) {
          case 'json':
            io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
            break;
          case 'dot':
            io.stdout.write(renderDot(graph()));
            break;
          case 'mermaid':
            io.stdout.write(renderMermaid(graph()));
            break;
          default:
            io.stdout.write(text());
        }
      }, { create: false, payloads: payloadsFromOption(opts.payloads) });
    });
}
