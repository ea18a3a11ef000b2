/** Shared helpers of the SQLite store tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLedgerError, LedgerError } from '../../../src/errors';

/** `node <TS_RUN> script.ts args...` runs a TypeScript script in a child process (see test/support/ts-require.js). */
export const TS_RUN = path.resolve(__dirname, '../../support/ts-require-run.js');

export function makeTempDir(prefix = 'll-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Awaits `work` and returns the LedgerError it failed with; fails the test when it succeeds or throws anything else. */
export async function expectLedgerError(work: Promise<unknown> | (() => Promise<unknown>), code: string): Promise<LedgerError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected a LedgerError ${code}, but the call succeeded`);
  if (!isLedgerError(caught)) throw new Error(`expected a LedgerError ${code}, got an untyped ${String(caught)}`);
  expect(caught.code).toBe(code);
  expect(caught.message).not.toContain('\n');
  return caught;
}

/** The bytes of a file and the names in its directory: equal snapshots prove a failed open changed nothing. */
export function snapshot(file: string): { bytes: Buffer; listing: string[] } {
  return { bytes: fs.readFileSync(file), listing: fs.readdirSync(path.dirname(file)).sort() };
}
