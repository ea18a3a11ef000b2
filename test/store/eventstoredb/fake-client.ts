/**
 * An in-memory stand-in for EventStoreDBClient, implementing the methods the
 * adapter uses (EsdbClientLike) with the server's semantics as far as the
 * adapter can observe them:
 *
 * - 0-based stream revisions; expected-revision checks (NO_STREAM, ANY,
 *   STREAM_EXISTS, bigint); idempotent retries recognised by event id at the
 *   position the retry targets (also for ANY, as the server does best-effort);
 *   a partly matching retry is a wrong expected version, as on the server.
 * - A transaction log with strictly increasing positions (commit == prepare,
 *   as for gRPC writes), with system events in `$`-prefixed streams: seeded at
 *   start and, by default, a `$et-<type>` link event after every append, as the
 *   system projections write them. `$all` reads are inclusive of `fromPosition`.
 * - The server's append size rule (Event.SizeOnDisk: data + metadata bytes plus
 *   2 bytes per type character, summed over the append, against MaxAppendSize).
 * - Errors are the client's real error classes, built the way the client builds
 *   them (see @eventstore/db-client dist/utils/CommandError.js): from a gRPC
 *   ServiceError through `convertToCommandError`, or with the constructors the
 *   client's own append/read paths call.
 * - Reads are async iterables that raise errors while iterating, as the client's
 *   ReadStream does (a missing stream errors the iteration with StreamNotFoundError).
 */
import { randomUUID } from 'node:crypto';
import {
  AppendResult,
  AppendToStreamOptions,
  convertToCommandError,
  EventData,
  MaxAppendSizeExceededError,
  ReadAllOptions,
  ReadStreamOptions,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type { EsdbClientLike, EsdbPosition, EsdbRecordedEvent, EsdbResolvedEvent } from '../../../src/store/eventstoredb';

const U64_MAX = (1n << 64n) - 1n;

/** gRPC status codes (from @grpc/grpc-js `status`), without depending on grpc-js directly. */
export const GRPC_STATUS = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC ServiceError as grpc-js delivers it: code, details, and trailers readable through metadata.getMap(). */
export function serviceError(code: number, details: string, trailers: Record<string, string> = {}): Error {
  const error = new Error(`${code} ${details}`);
  return Object.assign(error, {
    code,
    details,
    metadata: { getMap: () => ({ ...trailers }) },
  });
}

/** Builds the client's error for a gRPC failure exactly as the client does (convertToCommandError). */
export function commandError(code: number, details: string, trailers: Record<string, string> = {}): Error {
  return convertToCommandError(serviceError(code, details, trailers));
}

/** The client's errors for the failures the adapter maps, built offline. */
export const clientErrors = {
  unavailable: (): Error => commandError(GRPC_STATUS.UNAVAILABLE, 'UNAVAILABLE: No connection established'),
  deadlineExceeded: (): Error => commandError(GRPC_STATUS.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED: Deadline exceeded'),
  timeout: (): Error => commandError(GRPC_STATUS.ABORTED, 'ABORTED: Operation timed out'),
  cancelled: (): Error => commandError(GRPC_STATUS.CANCELLED, 'CANCELLED: Call cancelled by server'),
  notLeader: (): Error =>
    commandError(GRPC_STATUS.NOT_FOUND, 'NOT_FOUND: Leader info available', {
      exception: 'not-leader',
      'leader-endpoint-host': '10.0.0.2',
      'leader-endpoint-port': '2113',
    }),
  accessDenied: (): Error => commandError(GRPC_STATUS.PERMISSION_DENIED, 'PERMISSION_DENIED: Access Denied', { exception: 'access-denied' }),
  unknown: (): Error => commandError(GRPC_STATUS.UNKNOWN, 'UNKNOWN: Exception was thrown by handler.'),
  maxAppendSizeFromTrailers: (limit: number): Error =>
    commandError(GRPC_STATUS.INVALID_ARGUMENT, 'INVALID_ARGUMENT: Maximum Append Size Exceeded', {
      exception: 'maximum-append-size-exceeded',
      'maximum-append-size': String(limit),
    }),
  wrongExpectedVersionFromTrailers: (streamName: string, expected: bigint, actual: bigint | null): Error =>
    commandError(GRPC_STATUS.FAILED_PRECONDITION, 'FAILED_PRECONDITION: Append failed due to WrongExpectedVersion.', {
      exception: 'wrong-expected-version',
      'stream-name': streamName,
      'expected-version': expected.toString(),
      ...(actual === null ? {} : { 'actual-version': actual.toString() }),
    }),
};

interface LogRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  readonly position: bigint;
  readonly created: Date;
}

export interface FakeEsdbOptions {
  /** The server's MaxAppendSize. Default 1 MiB. */
  readonly maxAppendSize?: number;
  /** Write a `$et-<type>` link event after every append (projections on). Default true. */
  readonly systemEventsAfterAppend?: boolean;
  /** Report positions on stream reads (EventStoreDB >= 22.6). Default true; false sends u64::MAX, as older servers did. */
  readonly positionsOnStreamReads?: boolean;
  /** Report a position for idempotent appends. Default false (the adapter must read it back). */
  readonly positionOnIdempotentAppend?: boolean;
  /** How a wrong expected version reaches the caller: as the append paths build it (default) or from gRPC trailers. */
  readonly wrongExpectedVersionStyle?: 'append-response' | 'trailers';
  /** The client's throwOnAppendFailure setting. Default true. */
  readonly throwOnAppendFailure?: boolean;
  /** Milliseconds before each call is processed (for concurrency tests). Default: one macrotask turn. */
  readonly latency?: () => number;
}

export interface CallRecord {
  readonly method: 'appendToStream' | 'readStream' | 'readAll' | 'dispose';
  readonly streamName?: string;
  readonly options?: unknown;
  readonly events?: readonly EventData[];
}

type Operation = CallRecord['method'];

interface Fault {
  readonly error: unknown;
  /** For reads: how many events are delivered before the error. */
  readonly afterEvents: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function utf8(value: string): Uint8Array {
  return encoder.encode(value);
}

export class FakeEsdbClient implements EsdbClientLike {
  readonly calls: CallRecord[] = [];
  /** Errors the fake raised itself (not injected ones), newest last: lets tests check which client error class was involved. */
  readonly raised: unknown[] = [];
  disposed = 0;
  private readonly log: LogRecord[] = [];
  private readonly streams = new Map<string, LogRecord[]>();
  private readonly tombstoned = new Set<string>();
  private readonly faults = new Map<Operation, Fault[]>();
  private nextPosition = 0n;
  private readonly opts: Required<Omit<FakeEsdbOptions, 'latency'>> & Pick<FakeEsdbOptions, 'latency'>;

  constructor(options: FakeEsdbOptions = {}) {
    this.opts = {
      maxAppendSize: options.maxAppendSize ?? 1024 * 1024,
      systemEventsAfterAppend: options.systemEventsAfterAppend ?? true,
      positionsOnStreamReads: options.positionsOnStreamReads ?? true,
      positionOnIdempotentAppend: options.positionOnIdempotentAppend ?? false,
      wrongExpectedVersionStyle: options.wrongExpectedVersionStyle ?? 'append-response',
      throwOnAppendFailure: options.throwOnAppendFailure ?? true,
      latency: options.latency,
    };
    // What a fresh server holds before any user write.
    this.writeRaw('$settings', { type: '$settings', data: { $userStreamAcl: {}, $systemStreamAcl: {} } });
    this.writeRaw('$users', { type: '$User', data: { loginName: 'admin' } });
    this.writeRaw('$stats-127.0.0.1:2113', { type: '$statsCollected', data: { 'proc-cpu': 1 } });
  }

  /** Makes the next `times` calls of `operation` fail with `error` (reads: after delivering `afterEvents` events). */
  fail(operation: Operation, error: unknown, options: { times?: number; afterEvents?: number } = {}): void {
    const list = this.faults.get(operation) ?? [];
    for (let i = 0; i < (options.times ?? 1); i++) list.push({ error, afterEvents: options.afterEvents ?? 0 });
    this.faults.set(operation, list);
  }

  /**
   * Appends a record without any check, in any form (binary, malformed JSON, links...):
   * what other writers, projections or older tools may have left in a stream.
   */
  writeRaw(
    streamId: string,
    record: { type: string; data: unknown; metadata?: unknown; isJson?: boolean; id?: string },
  ): LogRecord {
    const stream = this.streams.get(streamId) ?? [];
    if (!this.streams.has(streamId)) this.streams.set(streamId, stream);
    const toBytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : typeof v === 'string' ? utf8(v) : v === undefined ? new Uint8Array() : utf8(JSON.stringify(v)));
    const data = toBytes(record.data);
    const metadata = toBytes(record.metadata);
    const rec: LogRecord = {
      streamId,
      id: record.id ?? randomUUID(),
      revision: BigInt(stream.length),
      type: record.type,
      isJson: record.isJson ?? !(record.data instanceof Uint8Array),
      data,
      metadata,
      position: this.advance(data.length + metadata.length + 2 * record.type.length),
      created: new Date(),
    };
    stream.push(rec);
    this.log.push(rec);
    return rec;
  }

  /** Hard-deletes a stream, as `tombstoneStream` does. */
  tombstone(streamId: string): void {
    this.tombstoned.add(streamId);
  }

  /** Every record of the transaction log, system events included. */
  allRecords(): readonly LogRecord[] {
    return this.log;
  }

  // -------------------------------------------------------------------------
  // EsdbClientLike

  async appendToStream(streamName: string, events: EventData[], options: AppendToStreamOptions = {}): Promise<AppendResult> {
    this.calls.push({ method: 'appendToStream', streamName, options, events });
    await this.pause();
    this.injectedFault('appendToStream');
    if (this.tombstoned.has(streamName)) throw this.raise(StreamDeletedError.fromStreamName(streamName));
    const expected = options.expectedRevision ?? 'any';
    const stream = this.streams.get(streamName);
    const current = stream === undefined ? null : BigInt(stream.length - 1);

    // The server's size rule, checked while the request streams in (before anything is written).
    let size = 0;
    for (const e of events) {
      const data = e.contentType === 'application/json' ? utf8(JSON.stringify(e.data)).length : (e.data as Uint8Array).length;
      const metadata = e.metadata === undefined ? 0 : e.metadata instanceof Uint8Array ? e.metadata.length : utf8(JSON.stringify(e.metadata)).length;
      size += data + metadata + 2 * e.type.length;
      if (size > this.opts.maxAppendSize) throw this.raise(MaxAppendSizeExceededError.fromMaxAppendSize(this.opts.maxAppendSize));
    }

    const matches =
      expected === 'any' ||
      (expected === 'no_stream' && current === null) ||
      (expected === 'stream_exists' && current !== null) ||
      (typeof expected === 'bigint' && current === expected);

    const idempotent = this.idempotentRange(stream, events, expected);
    if (idempotent !== null) {
      const last = stream![idempotent.last]!;
      return {
        success: true,
        nextExpectedRevision: last.revision,
        position: this.opts.positionOnIdempotentAppend ? { commit: last.position, prepare: last.position } : undefined,
      };
    }
    if (!matches) return this.wrongExpectedVersion(streamName, expected, current);

    let last: LogRecord | undefined;
    for (const e of events) {
      last = this.writeRaw(streamName, {
        id: e.id,
        type: e.type,
        isJson: e.contentType === 'application/json',
        data: e.contentType === 'application/json' ? JSON.stringify(e.data) : e.data,
        metadata: e.metadata === undefined ? undefined : e.metadata instanceof Uint8Array ? e.metadata : JSON.stringify(e.metadata),
      });
    }
    if (last === undefined) {
      // An empty write succeeds without writing anything.
      return { success: true, nextExpectedRevision: current ?? -1n, position: undefined };
    }
    if (this.opts.systemEventsAfterAppend) {
      this.writeRaw(`$et-${last.type}`, { type: '$>', data: utf8(`${last.revision}@${streamName}`), isJson: false });
    }
    return { success: true, nextExpectedRevision: last.revision, position: { commit: last.position, prepare: last.position } };
  }

  readStream(streamName: string, options: ReadStreamOptions = {}): AsyncIterable<EsdbResolvedEvent> {
    this.calls.push({ method: 'readStream', streamName, options });
    const fault = this.takeFault('readStream');
    return this.iterate(async () => {
      if (this.tombstoned.has(streamName)) throw this.raise(StreamDeletedError.fromStreamName(streamName));
      const stream = this.streams.get(streamName);
      if (stream === undefined) throw this.raise(new StreamNotFoundError(undefined, streamName));
      const direction = options.direction ?? 'forwards';
      const from = options.fromRevision ?? (direction === 'forwards' ? 'start' : 'end');
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      let selected: LogRecord[];
      if (direction === 'forwards') {
        const start = from === 'start' ? 0 : from === 'end' ? stream.length : Number(from);
        selected = stream.slice(start, start + max);
      } else {
        const start = from === 'end' ? stream.length - 1 : from === 'start' ? 0 : Math.min(Number(from), stream.length - 1);
        selected = stream.slice(Math.max(0, start - max + 1), start + 1).reverse();
      }
      return selected.map((r) => ({ event: this.toRecorded(r, this.opts.positionsOnStreamReads) }));
    }, fault);
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<EsdbResolvedEvent> {
    this.calls.push({ method: 'readAll', options });
    const fault = this.takeFault('readAll');
    return this.iterate(async () => {
      if ((options.direction ?? 'forwards') !== 'forwards') throw new Error('the fake reads $all forwards only');
      const from = options.fromPosition ?? 'start';
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      let records: LogRecord[];
      if (from === 'start') records = this.log;
      else if (from === 'end') records = [];
      else records = this.log.filter((r) => comparePositions({ commit: r.position, prepare: r.position }, from) >= 0); // inclusive, as the server
      return records.slice(0, max).map((r) => ({ event: this.toRecorded(r, true), commitPosition: r.position }));
    }, fault);
  }

  async dispose(): Promise<void> {
    this.calls.push({ method: 'dispose' });
    this.injectedFault('dispose');
    this.disposed++;
  }

  // -------------------------------------------------------------------------

  private advance(bytes: number): bigint {
    // Log records carry a header; positions are byte offsets, strictly increasing.
    this.nextPosition += BigInt(64 + bytes);
    return this.nextPosition;
  }

  private async pause(): Promise<void> {
    const ms = this.opts.latency?.() ?? 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  private raise<E>(error: E): E {
    this.raised.push(error);
    return error;
  }

  private takeFault(operation: Operation): Fault | undefined {
    return this.faults.get(operation)?.shift();
  }

  private injectedFault(operation: Operation): void {
    const fault = this.takeFault(operation);
    if (fault !== undefined) throw fault.error;
  }

  /** Finds the range an idempotent retry targets, as the server's commit check does; null when the append is not a retry. */
  private idempotentRange(stream: LogRecord[] | undefined, events: EventData[], expected: AppendToStreamOptions['expectedRevision']): { first: number; last: number } | null {
    if (stream === undefined || events.length === 0) return null;
    let first: number;
    if (expected === 'no_stream') first = 0;
    else if (typeof expected === 'bigint') first = Number(expected) + 1;
    else {
      // ANY / STREAM_EXISTS: best effort, by the first event's id.
      first = stream.findIndex((r) => r.id === events[0]!.id);
      if (first < 0) return null;
    }
    if (first >= stream.length) return null;
    let matched = 0;
    for (let i = 0; i < events.length && first + i < stream.length; i++) {
      if (stream[first + i]!.id !== events[i]!.id) break;
      matched++;
    }
    if (matched === events.length) return { first, last: first + events.length - 1 };
    return null; // no or partial match: the expected-revision check decides (a partial match fails it)
  }

  private wrongExpectedVersion(streamName: string, expected: AppendToStreamOptions['expectedRevision'], current: bigint | null): AppendResult {
    if (!this.opts.throwOnAppendFailure) {
      // What the client's batchAppend path resolves with when throwOnAppendFailure is false.
      return { success: false, nextExpectedRevision: current === null ? -1n : 1n, position: undefined };
    }
    if (this.opts.wrongExpectedVersionStyle === 'trailers') {
      const wire = expected === 'no_stream' ? -1n : expected === 'any' ? -2n : expected === 'stream_exists' ? -4n : (expected as bigint);
      throw this.raise(clientErrors.wrongExpectedVersionFromTrailers(streamName, wire, current));
    }
    throw this.raise(
      new WrongExpectedVersionError(undefined, {
        streamName,
        expected: expected ?? 'any',
        current: current === null ? 'no_stream' : current,
      }),
    );
  }

  private toRecorded(r: LogRecord, withPosition: boolean): EsdbRecordedEvent & { created: Date } {
    // Decoded as the client's convertGrpcRecord does.
    let data: unknown;
    if (r.isJson) {
      const text = decoder.decode(r.data);
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    } else {
      data = r.data;
    }
    let metadata: unknown;
    if (r.metadata.length > 0) {
      try {
        metadata = JSON.parse(decoder.decode(r.metadata));
      } catch {
        metadata = r.metadata;
      }
    }
    const position: EsdbPosition = withPosition ? { commit: r.position, prepare: r.position } : { commit: U64_MAX, prepare: U64_MAX };
    return { streamId: r.streamId, id: r.id, revision: r.revision, type: r.type, isJson: r.isJson, data, metadata, position, created: r.created };
  }

  private iterate(produce: () => Promise<EsdbResolvedEvent[]>, fault: Fault | undefined): AsyncIterable<EsdbResolvedEvent> {
    const pause = (): Promise<void> => this.pause();
    return {
      async *[Symbol.asyncIterator]() {
        await pause();
        if (fault !== undefined && fault.afterEvents === 0) throw fault.error;
        const events = await produce();
        let delivered = 0;
        for (const e of events) {
          yield e;
          delivered++;
          if (fault !== undefined && delivered === fault.afterEvents) throw fault.error;
        }
        if (fault !== undefined && delivered < fault.afterEvents) throw fault.error;
      },
    };
  }
}

function comparePositions(a: EsdbPosition, b: EsdbPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}
