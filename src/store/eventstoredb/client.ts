/**
 * The EventStoreDB / KurrentDB client, loaded when an `esdb://` or `kurrentdb://` URL is used.
 *
 * Neither client is a dependency of lineage-ledger: both are optional peer dependencies, so a
 * user of the SQLite or PostgreSQL store does not install a gRPC stack. The maintained client is
 * `@kurrent/kurrentdb-client` (the renamed successor of `@eventstore/db-client`, whose last
 * release was 6.2.1); it is preferred when installed, and the old client still works when it is
 * the one installed. Their APIs used here are the same (the client class was renamed).
 */
import { ledgerError } from '../../errors';

/** What the adapter needs of a client package. */
export interface ClientPackage {
  /** The npm package it came from. */
  readonly name: '@kurrent/kurrentdb-client' | '@eventstore/db-client';
  /** A client for a connection string (the package's own parser checks it). */
  connect(connectionString: string): unknown;
  /** Classifies a raw gRPC error the way the client does. */
  convertToCommandError(e: Error): Error;
}

type Loader = (name: string) => unknown;

const PACKAGES = ['@kurrent/kurrentdb-client', '@eventstore/db-client'] as const;

let cached: ClientPackage | null = null;

/** The installed client package (KurrentDB's first); STORE_UNAVAILABLE naming the package to install when there is none. */
export function loadClientPackage(load: Loader = require): ClientPackage {
  if (cached !== null && load === require) return cached;
  for (const name of PACKAGES) {
    let mod: Record<string, unknown>;
    try {
      mod = load(name) as Record<string, unknown>;
    } catch (e) {
      if ((e as { code?: string }).code === 'MODULE_NOT_FOUND') continue;
      throw ledgerError('STORE_UNAVAILABLE', `the ${name} package is installed but does not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { package: name });
    }
    const Client = (name === '@kurrent/kurrentdb-client' ? mod.KurrentDBClient : mod.EventStoreDBClient) as { connectionString(s: string): unknown } | undefined;
    const convert = mod.convertToCommandError as ((e: Error) => Error) | undefined;
    if (Client === undefined || typeof Client.connectionString !== 'function' || typeof convert !== 'function') {
      throw ledgerError('STORE_UNAVAILABLE', `the installed ${name} package lacks the client API this adapter uses (is it a supported version?)`, { package: name });
    }
    const pkg: ClientPackage = {
      name,
      // the old client knows only esdb:// URLs; kurrentdb:// means the same server
      connect: (s) => Client.connectionString(name === '@eventstore/db-client' ? s.replace(/^kurrentdb(\+discover)?:\/\//, (_m, d: string | undefined) => `esdb${d ?? ''}://`) : s),
      convertToCommandError: convert,
    };
    if (load === require) cached = pkg;
    return pkg;
  }
  throw ledgerError(
    'STORE_UNAVAILABLE',
    'an EventStoreDB / KurrentDB store URL needs the client package, which is not installed: run `npm install @kurrent/kurrentdb-client` (or the older @eventstore/db-client)',
    { package: '@kurrent/kurrentdb-client' },
  );
}
