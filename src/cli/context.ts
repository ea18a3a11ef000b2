/**
 * What every CLI verb shares: the output streams, the --store option and
 * opening/closing the ledger around a command.
 */
import type { Writable } from 'node:stream';
import { Option } from 'commander';
import { openLedger, Ledger } from '../ledger';
import { DEFAULT_STORE_URL, STORE_ENV_VAR } from '../store/url';

export interface CliIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

/** `--store <url>`, defaulting to $LINEAGE_LEDGER_STORE, then sqlite:./lineage.db. */
export function storeOption(): Option {
  return new Option('--store <url>', 'event store: memory:, sqlite:<path>, postgres://user:pass@host:5432/db or kurrentdb://host:2113?tls=false').env(STORE_ENV_VAR).default(DEFAULT_STORE_URL);
}

/** `--payloads <dir|none>`: the payload store's folder (default: `<file>.payloads` beside a SQLite store), or none. */
export function payloadsOption(): Option {
  return new Option('--payloads <dir|none>', 'payload store folder, or "none" (default: <file>.payloads beside a sqlite: store; none for other stores)');
}

/** The `payloads` open option of a `--payloads` value (undefined: the store's default). */
export function payloadsFromOption(value: string | undefined): string | null | undefined {
  return value === undefined ? undefined : value === 'none' ? null : value;
}

/**
 * Opens the ledger named by --store, runs `fn`, and always closes it. Commands that only
 * read pass `{ create: false }`: a missing SQLite file is NOT_FOUND and no file is created.
 */
export async function withLedger<T>(
  storeUrl: string,
  fn: (ledger: Ledger) => Promise<T>,
  options: { create?: boolean; payloads?: string | null } = {},
): Promise<T> {
  const ledger = await openLedger({
    store: storeUrl,
    create: options.create ?? true,
    ...(options.payloads === undefined ? {} : { payloads: options.payloads }),
  });
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

/** The `error` of the document a failed command prints with --json: `{ "error": { code, message, details? } }`. */
export interface JsonError {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A command that failed with a report of the failure (verify's checks, check's violations,
 * ingest's lines applied): with --json, the report and its `error` are the one document on
 * stdout; without, the error is the usual line on stderr. Exit 1.
 */
export class CommandFailed extends Error {
  constructor(
    readonly error: JsonError,
    readonly report: Readonly<Record<string, unknown>>,
  ) {
    super(error.message);
  }
}

/** Thrown by commands that have already reported their failure (exit 1, nothing more to print). */
export class ReportedFailure extends Error {
  constructor(readonly exitCode = 1) {
    super('reported');
  }
}

