/**
 * Translation of @eventstore/db-client errors into LedgerErrors.
 *
 * The client's errors are recognised by their `type` field (the client's
 * `ErrorType` strings), not by `instanceof`, so two copies of the client in one
 * process still agree (the same rule src/errors.ts applies to LedgerError).
 * Nothing the client throws leaves the adapter untranslated: anything
 * unrecognised becomes STORE_UNAVAILABLE with the original error as `cause`.
 *
 *   WrongExpectedVersionError        → CONCURRENCY_CONFLICT  details {streamId, expected, actual: number | null}
 *   StreamDeletedError (append)      → CONCURRENCY_CONFLICT  details.deleted = true (reads treat it as a missing stream)
 *   StreamNotFoundError (read)       → not an error: the stream reads as empty (handled by the adapter)
 *   MaxAppendSizeExceededError       → APPEND_TOO_LARGE      details {streamId, size, limit, source: 'server'}
 *   InvalidArgumentError             → INVALID_INPUT
 *   Unavailable, DeadlineExceeded, Timeout, NotLeader, Cancelled
 *                                    → STORE_UNAVAILABLE     details.retryable = true
 *   AccessDeniedError                → STORE_UNAVAILABLE     details.retryable = false: the server is there but
 *                                      refuses this client (bad credentials or ACL); there is no auth code in
 *                                      ERROR_CODES and, to the ledger, the store is unusable until fixed.
 *   anything else (UnknownError, raw gRPC errors, discovery failures, thrown strings)
 *                                    → STORE_UNAVAILABLE     with the original as `cause`
 */
import { loadClientPackage } from './client';
import { isLedgerError, LedgerError } from '../../errors';
import { describeExpected, ExpectedRevision } from '../port';

/** The client's `ErrorType` values this adapter acts on (see @eventstore/db-client dist/utils/CommandError.d.ts). */
export const ESDB_ERROR = {
  TIMEOUT: 'timeout',
  DEADLINE_EXCEEDED: 'deadline-exceeded',
  UNAVAILABLE: 'unavailable',
  CANCELLED: 'cancelled',
  UNKNOWN: 'unknown',
  NOT_LEADER: 'not-leader',
  STREAM_NOT_FOUND: 'stream-not-found',
  NOT_FOUND: 'not-found',
  ACCESS_DENIED: 'access-denied',
  INVALID_ARGUMENT: 'invalid-argument',
  STREAM_DELETED: 'stream-deleted',
  WRONG_EXPECTED_VERSION: 'wrong-expected-version',
  MAXIMUM_APPEND_SIZE_EXCEEDED: 'maximum-append-size-exceeded',
  UNSUPPORTED: 'unsupported',
} as const;

/** The client's error `type`, or undefined for anything that is not one of its command errors. */
export function esdbErrorType(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const type = (e as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** A missing stream on read: the port reads it as empty. A deleted (tombstoned) stream reads the same way. */
export function isMissingStreamError(e: unknown): boolean {
  const type = esdbErrorType(e);
  return type === ESDB_ERROR.STREAM_NOT_FOUND || type === ESDB_ERROR.STREAM_DELETED;
}

/**
 * Converts a client revision (bigint, a numeric string, -1 for "no stream" in the
 * legacy wire format, or the string constant "no_stream") to ours: a number, or null
 * when the stream does not exist or the revision is not known.
 */
export function revisionToNumber(value: unknown): number | null {
  if (typeof value === 'bigint') return value < 0n ? null : Number(value);
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return null;
}

function describeActual(actual: number | null): string {
  return actual === null ? 'no_stream' : `revision ${actual}`;
}

function clientMessage(e: unknown): string {
  if (e instanceof Error) return e.message === '' ? e.name : e.message;
  return String(e);
}

export interface ErrorContext {
  /** What the adapter was doing: 'append', 'readStream', 'readAll', 'streamRevision', 'listStreams', 'close'. */
  readonly operation: string;
  readonly streamId?: string;
  readonly expected?: ExpectedRevision;
  /** Bytes of the append as the server counts them (append only). */
  readonly size?: number;
}

/** Builds the CONCURRENCY_CONFLICT error the port documents. */
export function concurrencyConflict(streamId: string, expected: ExpectedRevision, actual: number | null, cause?: unknown): LedgerError {
  return new LedgerError(
    'CONCURRENCY_CONFLICT',
    `append to stream ${streamId} expected ${describeExpected(expected)} but the stream is at ${describeActual(actual)}`,
    { streamId, expected, actual },
    cause === undefined ? undefined : { cause },
  );
}

function classify(raw: Error): unknown {
  try {
    return loadClientPackage().convertToCommandError(raw);
  } catch {
    return raw;
  }
}

/** Translates anything the client threw into a LedgerError. LedgerErrors pass through unchanged. */
export function translateClientError(raw: unknown, ctx: ErrorContext): LedgerError {
  if (isLedgerError(raw)) return raw;
  // Some client paths (the server-capabilities probe before an append, for one) let
  // raw gRPC errors through: classify them the way the client does.
  const e = esdbErrorType(raw) === undefined && isGrpcError(raw) ? classify(raw) : raw;
  const type = esdbErrorType(e);
  const where = ctx.streamId === undefined ? ctx.operation : `${ctx.operation} on stream ${ctx.streamId}`;
  const base: Record<string, unknown> = { operation: ctx.operation };
  if (ctx.streamId !== undefined) base.streamId = ctx.streamId;
  if (type !== undefined) base.errorType = type;

  switch (type) {
    case ESDB_ERROR.WRONG_EXPECTED_VERSION: {
      const err = e as { streamName?: unknown; actualVersion?: unknown; expectedVersion?: unknown };
      const streamId = ctx.streamId ?? (typeof err.streamName === 'string' ? err.streamName : '<unknown>');
      // Our own expected revision is the authority; the client's expectedVersion may be a bigint or a string constant.
      const expected: ExpectedRevision = ctx.expected ?? expectedFromClient(err.expectedVersion);
      return concurrencyConflict(streamId, expected, revisionToNumber(err.actualVersion), e);
    }
    case ESDB_ERROR.STREAM_DELETED: {
      const streamId = ctx.streamId ?? '<unknown>';
      return new LedgerError(
        'CONCURRENCY_CONFLICT',
        `append to stream ${streamId} expected ${ctx.expected === undefined ? 'a writable stream' : describeExpected(ctx.expected)} but the stream is deleted (tombstoned) and can never be written again`,
        { streamId, expected: ctx.expected ?? null, actual: null, deleted: true },
        { cause: e },
      );
    }
    case ESDB_ERROR.MAXIMUM_APPEND_SIZE_EXCEEDED: {
      const limit = (e as { maxAppendSize?: unknown }).maxAppendSize;
      const limitText = typeof limit === 'number' && Number.isFinite(limit) ? `${limit} bytes` : 'its configured MaxAppendSize';
      const sizeText = ctx.size === undefined ? '' : ` (${ctx.size} bytes as the server counts them)`;
      return new LedgerError(
        'APPEND_TOO_LARGE',
        `the EventStoreDB server refused the append to stream ${ctx.streamId ?? '<unknown>'}${sizeText}: it exceeds the server's append limit of ${limitText}; nothing was written`,
        { streamId: ctx.streamId ?? null, size: ctx.size ?? null, limit: typeof limit === 'number' ? limit : null, source: 'server' },
        { cause: e },
      );
    }
    case ESDB_ERROR.INVALID_ARGUMENT:
      return new LedgerError('INVALID_INPUT', `EventStoreDB client refused ${where}: ${clientMessage(e)}`, base, { cause: e });
    case ESDB_ERROR.ACCESS_DENIED:
      return new LedgerError(
        'STORE_UNAVAILABLE',
        `the EventStoreDB server denied access during ${where} (check the credentials in the connection string and the stream ACLs): ${clientMessage(e)}`,
        { ...base, retryable: false },
        { cause: e },
      );
    case ESDB_ERROR.UNAVAILABLE:
    case ESDB_ERROR.DEADLINE_EXCEEDED:
    case ESDB_ERROR.TIMEOUT:
    case ESDB_ERROR.NOT_LEADER:
    case ESDB_ERROR.CANCELLED:
      return new LedgerError(
        'STORE_UNAVAILABLE',
        `the EventStoreDB server could not be reached during ${where} (${type}): ${clientMessage(e)}`,
        { ...base, retryable: true },
        { cause: e },
      );
    default:
      // Unknown client errors, plain Errors from connection set-up or discovery
      // ("Failed to discover after N attempts."), raw gRPC errors, thrown strings.
      return new LedgerError(
        'STORE_UNAVAILABLE',
        `the EventStoreDB server could not be reached or failed during ${where}: ${clientMessage(e)}`,
        { ...base, retryable: true },
        { cause: e },
      );
  }
}

function isGrpcError(e: unknown): e is Error {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'number' && typeof (e as { details?: unknown }).details === 'string';
}

function expectedFromClient(value: unknown): ExpectedRevision {
  if (value === 'no_stream' || value === 'any' || value === 'stream_exists') return value;
  const n = revisionToNumber(value);
  return n === null ? 'any' : n;
}
