/**
 * Every error the library throws is a LedgerError with a stable string `code`.
 * Callers test for codes with `isLedgerError(e, 'ROW_NOT_FOUND')`, never with
 * `instanceof` (two copies of the package in one process must still agree).
 */

export const ERROR_CODES = {
  /** A command or option failed validation; `details.path` names the field (io-ts path). */
  INVALID_INPUT: 'a command or option is malformed',
  RUN_NOT_FOUND: 'no run with that id',
  NODE_NOT_FOUND: 'no node with that id in the run',
  EDGE_NOT_FOUND: 'no edge with that id in the run',
  ROW_NOT_FOUND: 'no row with that id in the run',
  TOKEN_NOT_FOUND: 'no token with that id in the run',
  STATE_NOT_FOUND: 'no node state with that id in the run',
  OPERATION_NOT_FOUND: 'no operation with that id in the run',
  BATCH_NOT_FOUND: 'no batch with that id in the run',
  ARTIFACT_NOT_FOUND: 'no artifact with that id in the run',
  DUPLICATE_ID: 'an id (or a unique key such as a row index or edge label) is already used in the run',
  TERMINAL_OUTCOME_EXISTS: 'the token already has its terminal outcome',
  OUTCOME_FIELD_MISSING: 'an outcome lacks a field its outcome type requires',
  INVALID_TRANSITION: 'a status machine (run, node state, batch, operation) does not allow the change',
  LINEAGE_SCOPE_VIOLATION: 'a parent or member belongs to another row or run than required',
  CALL_PARENT_INVALID: 'a call needs exactly one parent: a node state or an operation',
  RUN_INCOMPLETE: 'the run cannot complete as completed: tokens without terminal outcome or unfinished node states',
  RUN_NOT_RUNNING: 'the run is already terminal and accepts no more facts',
  RUN_HANDLE_STALE: 'this run handle no longer matches the store (an append failed); reopen the run',
  READ_ONLY: 'the store was opened read-only, or the run handle is a historical (as-of) view: it cannot record',
  CONCURRENCY_CONFLICT: 'the stream is not at the expected revision',
  DUPLICATE_EVENT_ID: 'an event id is already stored (event ids are unique in a store; only an exact retry of an append may repeat them)',
  MALFORMED_EVENT: 'a stored event does not decode against the event codecs',
  UNSUPPORTED_SCHEMA_VERSION: 'an event has a schema version this library cannot read',
  APPEND_TOO_LARGE: 'an append exceeds what the store accepts in one atomic write',
  STORE_UNAVAILABLE: 'the store cannot be reached',
  STORE_CORRUPT: 'the store file is damaged',
  STORE_CLOSED: 'the store is closed',
  STORE_VERSION_UNSUPPORTED: 'the store was written by a newer version of lineage-ledger',
  NOT_A_LEDGER: 'the file is not a lineage-ledger store',
  UNSUPPORTED_STORE_URL: 'the store URL has an unknown scheme or is malformed',
  CANONICALIZATION_FAILED: 'a value cannot be written as RFC 8785 canonical JSON',
  EXPORT_FAILED: 'the export could not be written',
  VERIFY_FAILED: 'an export bundle did not verify',
  IMPORT_FAILED: 'an export bundle could not be imported',
  KEY_INVALID: 'a signing or verification key is unusable',
  NOT_FOUND: 'a requested file or item does not exist',
  NOT_A_LANDSCAPE: 'the file is not an ELSPETH Landscape audit database (a table or the schema epoch is missing)',
} as const;

export type LedgerErrorCode = keyof typeof ERROR_CODES;

const BRAND = Symbol.for('lineage-ledger.LedgerError');

export class LedgerError extends Error {
  readonly code: LedgerErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly [BRAND] = true;

  constructor(code: LedgerErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LedgerError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: string; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** A LedgerError whose `code` is known to be `C` (what `isLedgerError(e, code)` narrows to). */
export type LedgerErrorOf<C extends LedgerErrorCode> = LedgerError & { readonly code: C };

/**
 * True when `e` is a LedgerError (from any copy of this package), optionally with the given code;
 * with a code, `e.code` is narrowed to it.
 */
export function isLedgerError<C extends LedgerErrorCode>(e: unknown, code: C): e is LedgerErrorOf<C>;
export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError;
export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  if (typeof e !== 'object' || e === null) return false;
  const branded = (e as Record<symbol, unknown>)[BRAND] === true;
  if (!branded) return false;
  return code === undefined || (e as LedgerError).code === code;
}

export function ledgerError(code: LedgerErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): LedgerError {
  return new LedgerError(code, message, details, cause === undefined ? undefined : { cause });
}
