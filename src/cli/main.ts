#!/usr/bin/env node
/**
 * lineage-ledger command line. Data goes to stdout, progress and diagnostics to
 * stderr; exit 0 only on success (1: the command failed, 2: bad usage). With --json
 * (explain: also --format json) stdout is exactly one JSON document: the result, or on
 * failure `{"error": {code, message, details?}}` (beside the report of the failure, for
 * verbs that have one); a usage error is code USAGE, anything not a LedgerError INTERNAL.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { isLedgerError } from '../errors';
import { registerCommands } from './commands';
import { CliIO, CommandFailed, JsonError, ReportedFailure } from './context';
import { optionDescription } from './options';

/** The package version, read from the nearest package.json named lineage-ledger (works from src/ and dist/). */
function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lineage-ledger' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}
const VERSION = packageVersion();

export function buildProgram(io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  const program = new Command('lineage-ledger');
  program
    .description('Event-sourced lineage recorder for auditable data pipelines: record, export, verify and explain runs.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    // inherited by every verb added after it: required options say "(required)"
    .configureHelp({ optionDescription })
    .exitOverride();
  registerCommands(program, io);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Whether the arguments ask for JSON output: --json, or --format json (up to a `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return false;
    if (a === '--json' || a === '--format=json' || (a === '--format' && argv[i + 1] === 'json')) return true;
  }
  return false;
}

/** The JSON error of what a command threw. */
function jsonError(e: unknown): JsonError {
  if (e instanceof CommandFailed) return e.error;
  if (isLedgerError(e)) return e.toJSON();
  return { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) };
}

/** Prints `{...report, error}` as one line of JSON on stdout (without the details if they do not serialize). */
function printJsonFailure(io: CliIO, error: JsonError, report: Readonly<Record<string, unknown>> = {}): void {
  let text: string;
  try {
    text = JSON.stringify({ ...report, error });
  } catch {
    text = JSON.stringify({ error: { code: error.code, message: error.message } });
  }
  io.stdout.write(`${text}\n`);
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    // no verb: the help, on stderr, and the usage-error exit code
    io.stderr.write(program.helpInformation());
    return 2;
  }
  const json = wantsJson(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // commander has written the message (and the usage hint) to stderr
      if (json) printJsonFailure(io, { code: 'USAGE', message: e.message.replace(/^error: /, '') });
      return 2;
    }
    if (e instanceof ReportedFailure) return e.exitCode;
    const verb = argv.find((a) => !a.startsWith('-')) ?? 'lineage-ledger';
    const error = jsonError(e);
    if (json) printJsonFailure(io, error, e instanceof CommandFailed ? e.report : {});
    if (e instanceof CommandFailed || isLedgerError(e)) {
      io.stderr.write(`lineage-ledger ${verb}: ${error.code}: ${error.message}\n`);
    } else {
      io.stderr.write(`lineage-ledger ${verb}: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.LINEAGE_LEDGER_DEBUG === '1' && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    }
    return 1;
  }
}

if (require.main === module) {
  // A reader that stops early (`| head`) is not a failure: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`lineage-ledger: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
