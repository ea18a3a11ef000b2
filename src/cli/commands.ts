/**
 * The CLI verbs, one module each under ./verbs. Every verb has --help; data goes
 * to stdout; --json where a script may read the output.
 */
import type { Command } from 'commander';
import type { CliIO } from './context';
import { registerDemo } from './verbs/demo';
import { registerExport } from './verbs/export';
import { registerRuns } from './verbs/runs';

export function registerCommands(program: Command, io: CliIO): void {
  registerDemo(program, io);
  registerRuns(program, io);
  registerExport(program, io);
}
