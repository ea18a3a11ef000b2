/**
 * JSON Lines output: one RFC 8785 canonical JSON record per line, written with
 * back-pressure; a file is written beside its target and renamed into place
 * only when complete, so a failed export never leaves a partial file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { canonicalize } from '../canonical/jcs';
import { LedgerError } from '../errors';
import type { ExportRecord } from './records';

/** Writes lines to a stream, waiting for 'drain' when its buffer is full. */
export async function writeLines(lines: AsyncIterable<string> | Iterable<string>, out: Writable): Promise<number> {
  let n = 0;
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (chunk === '') return;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        out.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        out.off('drain', onDrain);
        reject(e);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  };
  for await (const line of lines) {
    chunk += line;
    chunk += '\n';
    n++;
    if (chunk.length >= 1 << 16) await flush();
  }
  await flush();
  return n;
}

export async function* canonicalLines(records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>, onRecord?: (n: number) => void): AsyncIterable<string> {
  let n = 0;
  for await (const r of records) {
    yield canonicalize(r);
    onRecord?.(++n);
  }
}

/**
 * Writes to `file` atomically: into a temporary file in the same directory,
 * fsynced, then renamed over the target. On error the temporary file is removed.
 */
export async function writeFileAtomically<T>(file: string, write: (out: fs.WriteStream) => Promise<T>): Promise<T> {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new LedgerError('NOT_FOUND', `cannot write ${file}: directory ${dir} does not exist`, { path: file });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const out = fs.createWriteStream(tmp, { flags: 'wx' });
  try {
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => resolve());
      out.once('error', reject);
    });
    const result = await write(out);
    await new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    return result;
  } catch (e) {
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
