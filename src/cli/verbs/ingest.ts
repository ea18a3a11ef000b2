import * as fs from 'node:fs';
import * as readline from 'node:readline';
import type { Command } from 'commander';
import { isLedgerError, LedgerError, ledgerError } from '../../errors';
import type { Ledger } from '../../ledger';
import { COMMAND_NAMES, CommandName } from '../../recorder/commands';
import type { RunHandle } from '../../recorder/run-handle';
import { CliIO, CommandFailed, payloadsFromOption, payloadsOption, storeOption, withLedger } from '../context';
import { println } from '../options';
import { progressBar } from '../progress';

export interface IngestReport {
  /** Lines applied (stored), from the first. */
  applied: number;
  /** Runs the lines touched, in order of first appearance. */
  runs: string[];
  /** The first line that was not applied, and why (absent when every line was). */
  failed?: { line: number; code: string; path?: string; message: string };
}

/** Lines whose appends may be in flight at once (the recorder merges them into few commits). */
const IN_FLIGHT = 512;

/**
 * Applies JSON Lines of recorder commands, `{"runId", "op", "input"}` each (a `beginRun` line
 * begins the run: its runId, or input.runId, or a new one), through the same checks as the
 * library and the collector. Stops at the first line that is not applied: the lines before it
 * are stored, nothing of it is.
 */
export async function ingestLines(ledger: Ledger, lines: AsyncIterable<string>, onLine?: (n: number) => void): Promise<IngestReport> {
  const report: IngestReport = { applied: 0, runs: [] };
  const handles = new Map<string, RunHandle>();
  let pending: Array<{ line: number; stored: Promise<void> }> = [];
  const fail = (line: number, e: unknown): IngestReport => {
    const err = isLedgerError(e) ? e : ledgerError('INVALID_INPUT', e instanceof Error ? e.message : String(e), {});
    const path = err.details?.path;
    report.failed = { line, code: err.code, message: err.message, ...(path !== undefined ? { path: Array.isArray(path) ? path.join('.') : String(path) } : {}) };
    return report;
  };
  /** Waits for the lines in flight; the first not stored ends the ingest. */
  const settle = async (): Promise<IngestReport | null> => {
    const batch = pending;
    pending = [];
    const outcomes = await Promise.allSettled(batch.map((p) => p.stored));
    for (let k = 0; k < batch.length; k++) {
      const o = outcomes[k]!;
      if (o.status === 'rejected') return fail(batch[k]!.line, o.reason);
      report.applied++;
    }
    return null;
  };
  let n = 0;
  for await (const text of lines) {
    n++;
    onLine?.(n);
    if (text.trim() === '') {
      report.applied++;
      continue;
    }
    let line: { runId?: unknown; op?: unknown; input?: unknown };
    try {
      line = JSON.parse(text) as typeof line;
      if (typeof line !== 'object' || line === null || Array.isArray(line)) throw new Error('not an object');
    } catch {
      return (await settle()) ?? fail(n, ledgerError('INVALID_INPUT', `line ${n} is not a JSON object {"runId", "op", "input"}`, { path: '' }));
    }
    try {
      if (line.op === 'beginRun') {
        const early = await settle();
        if (early !== null) return early;
        const input = { ...(line.input as object), ...(typeof line.runId === 'string' ? { runId: line.runId } : {}) };
        const run = await ledger.beginRun(input as never);
        handles.set(run.runId, run);
        if (!report.runs.includes(run.runId)) report.runs.push(run.runId);
        report.applied++;
        continue;
      }
      if (typeof line.runId !== 'string') throw ledgerError('INVALID_INPUT', 'runId: every line but beginRun names its run', { path: 'runId' });
      if (typeof line.op !== 'string' || !(COMMAND_NAMES as string[]).includes(line.op)) {
        throw ledgerError('INVALID_INPUT', 'op: not a recorder command (a run handle method name, or beginRun)', { path: 'op' });
      }
      let run = handles.get(line.runId);
      if (run === undefined) {
        run = await ledger.openRun(line.runId);
        handles.set(line.runId, run);
      }
      if (!report.runs.includes(line.runId)) report.runs.push(line.runId);
      pending.push({ line: n, stored: run.submit(line.op as CommandName, line.input).stored });
    } catch (e) {
      return (await settle()) ?? fail(n, e);
    }
    if (pending.length >= IN_FLIGHT) {
      const early = await settle();
      if (early !== null) return early;
    }
  }
  return (await settle()) ?? report;
}

export function registerIngest(program: Command, io: CliIO): void {
  program
    .command('ingest')
    .description('apply JSON Lines of recorder commands ({"runId", "op", "input"} per line; a beginRun line begins a run) through the recorder checks; stops at the first bad line')
    .argument('<file>', 'the JSON Lines file, or - for stdin')
    .addOption(storeOption())
    .addOption(payloadsOption())
    .option('--json', 'print the report as JSON: {applied, runs, failed?: {line, code, path, message}}')
    .addHelpText('after', '\nExample:\n  lineage-ledger ingest commands.jsonl --store sqlite:./lineage.db --json\n')
    .action(async (file: string, opts: { store: string; json?: boolean; payloads?: string }) => {
      let input: NodeJS.ReadableStream;
      if (file === '-') input = process.stdin;
      else {
        if (!fs.existsSync(file)) throw ledgerError('NOT_FOUND', `${file} does not exist`, { path: file });
        input = fs.createReadStream(file);
      }
      const report = await withLedger(opts.store, async (ledger) => {
        const bar = progressBar('ingesting', null, io.stderr, { unit: 'lines', json: opts.json === true });
        try {
          return await ingestLines(ledger, readline.createInterface({ input, crlfDelay: Infinity }), (k) => bar.update(k));
        } finally {
          bar.finish();
        }
      }, { payloads: payloadsFromOption(opts.payloads) });
      if (report.failed !== undefined) {
        const f = report.failed;
        const error = new LedgerError(f.code as never, `line ${f.line}${f.path !== undefined ? ` (${f.path})` : ''}: ${f.message}`, { line: f.line, ...(f.path !== undefined ? { path: f.path } : {}) });
        // --json: the report and the error are one document (main prints it)
        if (opts.json === true) throw new CommandFailed(error.toJSON(), { ...report });
        io.stderr.write(`applied ${report.applied} lines to ${report.runs.length} runs; stopped at line ${f.line}\n`);
        throw error;
      }
      if (opts.json === true) println(io, JSON.stringify(report));
      else io.stderr.write(`applied ${report.applied} lines to ${report.runs.length} runs\n`);
    });
}
