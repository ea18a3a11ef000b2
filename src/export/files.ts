/**
 * Export output: JSON Lines to a stream with back-pressure, or to a file with synchronous
 * writes; a file (or a directory: bundles, CSV views) is written beside its target and renamed
 * into place only when complete, so a failed export never leaves a partial file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { LedgerError, ledgerError } from '../errors';

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

/** Writes lines to a file descriptor with synchronous writes of about 1 MiB (no stream, no idle waits). */
export function writeLinesToFd(lines: Iterable<string>, fd: number): number {
  let n = 0;
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    chunk += '\n';
    n++;
    if (chunk.length >= 1 << 20) {
      writeAll(fd, chunk);
      chunk = '';
    }
  }
  if (chunk !== '') writeAll(fd, chunk);
  return n;
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Removes the temporaries that writers of `target` left in its directory when they were killed
 * (`.<name>.<pid>.…`: a file or a directory) whose process no longer exists. Temporaries of
 * live processes, and of other targets, are left alone.
 */
export function removeStaleTemporaries(target: string): void {
  const dir = path.dirname(path.resolve(target));
  const prefix = `.${path.basename(target)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)\./.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Writes to `file` atomically: into a temporary file in the same directory, fsynced,
 * then renamed over the target. On error the temporary file is removed; temporaries of
 * earlier writers that were killed are removed first.
 */
export async function writeFileAtomically<T>(file: string, write: (fd: number) => T | Promise<T>): Promise<T> {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new LedgerError('NOT_FOUND', `cannot write ${file}: directory ${dir} does not exist`, { path: file });
  removeStaleTemporaries(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'wx');
  try {
    const result = await write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    return result;
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Creates a directory atomically: `fill` writes into a fresh temporary directory beside
 * `dir`, which is then renamed to `dir`. Refuses when `dir` exists and is not an empty
 * directory; removes the temporary directory on failure.
 */
export async function writeDirectoryAtomically<T>(dir: string, fill: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = makeTemporaryDirectory(dir);
  try {
    const result = await fill(tmp);
    moveDirectoryIntoPlace(tmp, dir);
    return result;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function refuseExisting(dir: string): void {
  const target = path.resolve(dir);
  if (fs.existsSync(target) && (!fs.statSync(target).isDirectory() || fs.readdirSync(target).length > 0)) {
    throw ledgerError('EXPORT_FAILED', `${dir} already exists; an export directory is never written over (remove it or choose another path)`, { path: dir });
  }
}

/** A new temporary directory beside `dir` (which must not exist, or be an empty directory). */
export function makeTemporaryDirectory(dir: string): string {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  if (!fs.existsSync(parent)) throw ledgerError('NOT_FOUND', `cannot write ${dir}: directory ${parent} does not exist`, { path: dir });
  refuseExisting(dir);
  removeStaleTemporaries(target);
  return fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.${process.pid}.`));
}

/** Renames a finished temporary directory to `dir` (replacing an empty directory, never a non-empty one). */
export function moveDirectoryIntoPlace(tmp: string, dir: string): void {
  const target = path.resolve(dir);
  refuseExisting(dir);
  if (fs.existsSync(target)) fs.rmdirSync(target);
  fs.renameSync(tmp, target);
  fsyncDirectory(path.dirname(target));
}

function fsyncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // not supported on every platform; the rename itself is what makes the directory appear whole
  }
}
