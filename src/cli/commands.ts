/**
 * The CLI verbs, one module each under ./verbs. Every verb has --help; data goes
 * to stdout; --json where a script may read the output.
 */
import type { Command } from 'commander';
import type { CliIO } from './context';
import { registerCheck } from './verbs/check';
import { registerDemo } from './verbs/demo';
import { registerExplain } from './verbs/explain';
import { registerImport } from './verbs/import';
import { registerImportElspeth } from './verbs/import-elspeth';
import { registerKeygen } from './verbs/keygen';
import { registerProve } from './verbs/prove';
import { registerExport } from './verbs/export';
import { registerReplay } from './verbs/replay';
import { registerRuns } from './verbs/runs';
import { registerPurge } from './verbs/purge';
import { registerVerify } from './verbs/verify';
import { registerServe } from './verbs/serve';
import { registerIngest } from './verbs/ingest';
import { registerProject } from './verbs/project';

export function registerCommands(program: Command, io: CliIO): void {
  registerDemo(program, io);
  registerRuns(program, io);
  registerPurge(program, io);
  registerExport(program, io);
  registerKeygen(program, io);
  registerVerify(program, io);
  registerProve(program, io);
  registerImport(program, io);
  registerImportElspeth(program, io);
  registerExplain(program, io);
  registerCheck(program, io);
  registerReplay(program, io);
  registerServe(program, io);
  registerIngest(program, io);
  registerProject(program, io);
}
