/**
 * The CLI verbs, one module each under ./verbs. Every verb has --help; data goes
 * to stdout; --json where a script may read the output.
 */
import type { Command } from 'commander';
import type { CliIO } from './context';
import { registerCheck } from './verbs/check';
import { registerDemo } from './verbs/demo';
import { registerExplain } from './verbs/explain';
import { registerExport } from './verbs/export';
import { registerReplay } from './verbs/replay';
import { registerRuns } from './verbs/runs';

export function registerCommands(program: Command, io: CliIO): void {
  registerDemo(program, io);
  registerRuns(program, io);
  registerExport(program, io);
  registerExplain(program, io);
  registerCheck(program, io);
  registerReplay(program, io);
}
