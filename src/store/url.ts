/**
 * Store URLs: `memory:`, `sqlite:<path>`, `postgres://...` / `postgresql://...`, `kurrentdb://...` /
 * `esdb://...` (and their `+discover` forms).
 * Adapters are loaded only when their scheme is used, so a user of the memory
 * store never loads the SQLite native module or the gRPC client.
 */
import * as fs from 'node:fs';
import { ledgerError } from '../errors';
import { MemoryEventStore } from './memory';
import type { EventStore } from './port';

export const DEFAULT_STORE_URL = 'sqlite:./lineage.db';
export const STORE_ENV_VAR = 'LINEAGE_LEDGER_STORE';

export type ParsedStoreUrl =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite'; readonly path: string; readonly synchronous?: 'normal' | 'full' }
  /** `connectionString` without the `projections` parameter (a local projection file's path), which is ours and not the client's. */
  | { readonly kind: 'eventstoredb'; readonly connectionString: string; readonly projectionFile?: string }
  /** `connectionString` without the `schema` parameter, which is ours and not the driver's. */
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema?: string };

export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (typeof url !== 'string' || url.trim() === '') {
    throw ledgerError('UNSUPPORTED_STORE_URL', 'the store URL is empty; use memory:, sqlite:<path>, postgres://user@host/db or kurrentdb://host:2113', { url });
  }
  const u = url.trim();
  if (u === 'memory:' || u === 'memory://') return { kind: 'memory' };
  if (u.startsWith('sqlite:')) {
    let path = u.slice('sqlite:'.length);
    // one option: ?synchronous=normal|full (the file name itself may not contain '?')
    let synchronous: 'normal' | 'full' | undefined;
    const q = path.indexOf('?');
    if (q >= 0) {
      const params = new URLSearchParams(path.slice(q + 1));
      path = path.slice(0, q);
      for (const [k, v] of params) {
        if (k !== 'synchronous' || (v !== 'normal' && v !== 'full')) {
          throw ledgerError('UNSUPPORTED_STORE_URL', `store URL "${url}": the only SQLite option is synchronous=normal or synchronous=full`, { url });
        }
        synchronous = v;
      }
    }
    if (path.startsWith('//')) path = path.slice(2); // sqlite://relative/or//absolute
    if (path === '') throw ledgerError('UNSUPPORTED_STORE_URL', `store URL "${url}" has no file path; write sqlite:./lineage.db`, { url });
    if (path === ':memory:') throw ledgerError('UNSUPPORTED_STORE_URL', `store URL "${url}": use memory: for an in-memory store`, { url });
    return synchronous === undefined ? { kind: 'sqlite', path } : { kind: 'sqlite', path, synchronous };
  }
  if (/^(esdb|kurrentdb)(\+discover)?:\/\//.test(u)) {
    const rest = u.slice(u.indexOf('://') + 3);
    if (rest === '' || rest.startsWith('?') || rest.startsWith('/')) {
      throw ledgerError('UNSUPPORTED_STORE_URL', `store URL "${url}" names no host; write kurrentdb://host:2113?tls=false (or esdb://)`, { url });
    }
    const q = u.indexOf('?');
    const params = new URLSearchParams(q >= 0 ? u.slice(q + 1) : '');
    const files = params.getAll('projections');
    if (files.length === 0) return { kind: 'eventstoredb', connectionString: u };
    if (files.length > 1 || files[0] === '') {
      throw ledgerError('UNSUPPORTED_STORE_URL', `store URL "${u.replace(/(:\/\/)[^@/?]*@/, '$1***@')}": give projections=<file> once, with a path`, {});
    }
    params.delete('projections');
    const others = params.toString();
    return { kind: 'eventstoredb', connectionString: u.slice(0, q) + (others === '' ? '' : `?${others}`), projectionFile: files[0]! };
  }
  if (u.startsWith('postgres://') || u.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw ledgerError('UNSUPPORTED_STORE_URL', 'the PostgreSQL store URL is malformed; write postgres://user:password@host:5432/database', {});
    }
    if (parsed.hostname === '' && !parsed.searchParams.has('host')) {
      throw ledgerError('UNSUPPORTED_STORE_URL', 'the PostgreSQL store URL names no host; write postgres://user:password@host:5432/database', {});
    }
    const schemas = parsed.searchParams.getAll('schema');
    if (schemas.length > 1) throw ledgerError('UNSUPPORTED_STORE_URL', 'the PostgreSQL store URL gives schema= more than once', {});
    parsed.searchParams.delete('schema');
    const connectionString = parsed.toString();
    return schemas.length === 1 ? { kind: 'postgres', connectionString, schema: schemas[0]! } : { kind: 'postgres', connectionString };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u)?.[1];
  throw ledgerError(
    'UNSUPPORTED_STORE_URL',
    scheme === undefined
      ? `"${url}" is not a store URL; use memory:, sqlite:<path>, postgres://user@host/db or kurrentdb://host:2113`
      : `unknown store scheme "${scheme}:" in "${url}"; use memory:, sqlite:<path>, postgres://user@host/db or kurrentdb://host:2113`,
    { url },
  );
}

export interface OpenStoreOptions {
  /** Create a missing SQLite file (default true). False: a missing file is NOT_FOUND and nothing is created (reading commands). */
  readonly create?: boolean;
}

/** Opens the store a URL names. */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<EventStore> {
  const parsed = parseStoreUrl(url);
  switch (parsed.kind) {
    case 'memory':
      return new MemoryEventStore();
    case 'sqlite': {
      const { openSqliteStore } = await import('./sqlite');
      return openSqliteStore(parsed.path, { create: options.create ?? true, ...(parsed.synchronous !== undefined ? { synchronous: parsed.synchronous } : {}) });
    }
    case 'eventstoredb': {
      const { openEventStoreDB, eventStoreDBSource } = await import('./eventstoredb');
      const file = parsed.projectionFile;
      // a reading command creates no file: without its projection file, it folds the run's events
      if (file === undefined || (options.create === false && !fs.existsSync(file))) return openEventStoreDB(parsed.connectionString);
      const { openProjectionFile } = await import('./sqlite');
      const local = openProjectionFile(file, eventStoreDBSource(parsed.connectionString));
      try {
        return openEventStoreDB(parsed.connectionString, { localProjections: local });
      } catch (e) {
        local.close();
        throw e;
      }
    }
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres');
      return openPostgresStore(parsed.connectionString, { create: options.create ?? true, ...(parsed.schema !== undefined ? { schema: parsed.schema } : {}) });
    }
  }
}
