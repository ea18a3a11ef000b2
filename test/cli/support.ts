/**
 * Running the CLI in-process for tests: main(argv) with captured stdout and stderr.
 */
import { Writable } from 'node:stream';
import type { CliIO } from '../../src/cli/context';
import { main } from '../../src/cli/main';

export function captureIO(options: { ttyStderr?: boolean } = {}): { io: CliIO; out: () => string; err: () => string } {
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  const sink = (into: Buffer[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        into.push(Buffer.from(chunk));
        cb();
      },
    });
  const stderr: Writable & { isTTY?: boolean } = sink(chunks.err);
  if (options.ttyStderr === true) stderr.isTTY = true;
  return {
    io: { stdout: sink(chunks.out), stderr },
    out: () => Buffer.concat(chunks.out).toString('utf8'),
    err: () => Buffer.concat(chunks.err).toString('utf8'),
  };
}

/** Runs `lineage-ledger <argv...>` and returns its exit code and output. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO();
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

/** As {@link cli}, with stderr a terminal (progress bars are drawn, unless CI is set). */
export async function cliOnTerminal(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO({ ttyStderr: true });
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}
