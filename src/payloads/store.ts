/**
 * The payload store: payload bodies (row source data, call request and
 * response bodies, routing reasons, operation input and output) kept beside
 * the event store, content-addressed by the SHA-256 of their bytes.
 *
 * Layout: `<dir>/<first 2 hex>/<64 hex>` (the same layout as Landscape's
 * filesystem payload store, so its folders can be read as they are). A body is
 * written atomically (a temporary file in the target folder, fsync, rename,
 * fsync of the folder) and verified against its name on every read: bytes
 * that no longer match are reported as `integrity_error`, never returned.
 * Names are checked before any path is built (64 lowercase hex characters
 * only), so a reference cannot reach outside the store.
 *
 * Events record only hashes and references; the bodies here may be purged
 * (retention) without touching the event stream.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ledgerError } from '../errors';

/** What became of a payload a fact refers to. */
export type PayloadAvailability = 'available' | 'purged' | 'never_stored' | 'store_not_configured' | 'integrity_error';

/** The result of reading one body by its hash. */
export type PayloadRead =
  | { readonly status: 'available'; readonly bytes: Buffer }
  | { readonly status: 'missing' }
  | { readonly status: 'integrity_error' };

const HASH_RE = /^[0-9a-f]{64}$/;

/** True for a valid payload name (a SHA-256 digest as 64 lowercase hex characters). */
export function isPayloadHash(h: unknown): h is string {
  return typeof h === 'string' && h.length === 64 && HASH_RE.test(h);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function requireHash(hash: unknown, where: string): string {
  if (!isPayloadHash(hash)) {
    throw ledgerError('INVALID_INPUT', `${where}: a payload reference must be a SHA-256 digest (64 lowercase hex characters)`, {
      path: where,
    });
  }
  return hash;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The default payload folder of a SQLite store file: `<path>.payloads`. */
export function defaultPayloadDir(sqlitePath: string): string {
  return `${sqlitePath}.payloads`;
}

export class PayloadStore {
  /** The folder holding the bodies (absolute). */
  readonly dir: string;
  /** Folders this store has made or found (a write into one needs no mkdir). */
  private readonly folders = new Set<string>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * A payload store in `dir`. With `create` (the default) the folder is made
   * when absent; without it a missing folder is NOT_FOUND (reading commands
   * create nothing).
   */
  static open(dir: string, options: { create?: boolean } = {}): PayloadStore {
    const abs = path.resolve(dir);
    if (!fs.existsSync(abs)) {
      if (options.create === false) throw ledgerError('NOT_FOUND', 'the payload folder does not exist', { path: 'payloads' });
      fs.mkdirSync(abs, { recursive: true });
    } else if (!fs.statSync(abs).isDirectory()) {
      throw ledgerError('INVALID_INPUT', 'the payload location is not a folder', { path: 'payloads' });
    }
    return new PayloadStore(abs);
  }

  /** A payload store in `dir` without touching the disk: the folder is made by the first write. */
  static at(dir: string): PayloadStore {
    return new PayloadStore(path.resolve(dir));
  }

  /** The file of a body (the hash is validated first: no path can leave the store). */
  pathOf(hash: string): string {
    requireHash(hash, 'payloadRef');
    return path.join(this.dir, hash.slice(0, 2), hash);
  }

  /** Stores `bytes` under their SHA-256 and returns it. Idempotent: an intact body already stored is kept. */
  put(bytes: Uint8Array): string {
    const hash = sha256(bytes);
    this.write(hash, bytes, true);
    return hash;
  }

  /**
   * Stores `bytes` under `hash` after checking that they hash to it (copying
   * bodies from another store). A mismatch is STORE_CORRUPT and writes nothing.
   */
  putVerified(hash: string, bytes: Uint8Array): void {
    requireHash(hash, 'payloadRef');
    if (sha256(bytes) !== hash) {
      throw ledgerError('STORE_CORRUPT', 'a payload body does not match its hash', { path: 'payloadRef', hash });
    }
    this.write(hash, bytes, true);
  }

  /**
   * Writes a body whose hash the caller computed (the recorder's canonical bytes) WITHOUT waiting
   * for the disk: the body is renamed into place whole, and `syncBodies` of the returned file makes
   * it durable. The recorder syncs all bodies of a group commit together, before their events are
   * appended, so an acknowledged fact never refers to a body a crash could lose, and recording does
   * not pay two fsyncs per body in sequence. The file is returned also when an intact body was
   * there already (it may itself be unsynced).
   */
  putUnsynced(hash: string, bytes: Uint8Array): string {
    requireHash(hash, 'payloadRef');
    return this.write(hash, bytes, false)!;
  }

  /** Makes written bodies durable: fsyncs every file, then every folder holding one, in parallel. */
  async syncBodies(files: readonly string[]): Promise<void> {
    if (files.length === 0) return;
    const sync = async (p: string): Promise<void> => {
      const h = await fs.promises.open(p, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    };
    try {
      await Promise.all([...new Set(files)].map(sync));
      await Promise.all([...new Set(files.map((f) => path.dirname(f)))].map((d) => sync(d).catch(() => undefined)));
    } catch (e) {
      throw ledgerError('STORE_UNAVAILABLE', 'payload bodies could not be made durable', { path: 'payloads' }, e);
    }
  }

  /** Reads a body and verifies it against its name. */
  get(hash: string): PayloadRead {
    const file = this.pathOf(hash);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
      throw ledgerError('STORE_UNAVAILABLE', 'a payload body could not be read', { path: 'payloadRef', hash }, e);
    }
    return sha256(bytes) === hash ? { status: 'available', bytes } : { status: 'integrity_error' };
  }

  /** True when a body is stored under `hash` (not verified). */
  has(hash: string): boolean {
    return fs.existsSync(this.pathOf(hash));
  }

  /** Deletes a body; true when one was there. */
  delete(hash: string): boolean {
    const file = this.pathOf(hash);
    try {
      fs.unlinkSync(file);
      fsyncDir(path.dirname(file));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ledgerError('STORE_UNAVAILABLE', 'a payload body could not be deleted', { path: 'payloadRef', hash }, e);
    }
  }

  /** Writes a body atomically (temporary file, rename); with `durable`, fsyncs it and its folder. The file written, or null when an intact one was there. */
  private write(hash: string, bytes: Uint8Array, durable: boolean): string | null {
    const file = this.pathOf(hash);
    // (a new body is the common case: look before reading, a failed read costs an exception)
    const existing: PayloadRead = fs.existsSync(file) ? this.get(hash) : { status: 'missing' };
    // an intact body may still be unsynced (written for a command that was then rejected): the
    // caller of an unsynced write syncs it too, which costs little when it is already on disk
    if (existing.status === 'available') return durable ? null : file;
    const folder = path.dirname(file);
    if (!this.folders.has(folder)) {
      fs.mkdirSync(folder, { recursive: true });
      this.folders.add(folder);
    }
    const tmp = path.join(folder, `.${hash}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmp, 'wx', 0o644);
      fs.writeSync(fd, bytes);
      if (durable) fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, file);
      if (durable) fsyncDir(folder);
      return file;
    } catch (e) {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      // the folder went away since this store made it: make it again, once
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.folders.delete(folder)) return this.write(hash, bytes, durable);
      throw ledgerError('STORE_UNAVAILABLE', 'a payload body could not be written', { path: 'payloadRef', hash }, e);
    }
  }
}
