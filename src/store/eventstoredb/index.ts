/**
 * EventStoreDB adapter for the EventStore port (src/store/port.ts), over the gRPC
 * client @eventstore/db-client (6.x; EventStoreDB / KurrentDB 22.10 or later).
 *
 * Mapping and decisions (see also errors.ts for the error mapping):
 *
 * - Streams map 1:1 onto ESDB streams; revisions are 0-based in both, so our
 *   expected revision n is the client's `BigInt(n)` ('no_stream' → NO_STREAM,
 *   'any' → ANY, 'stream_exists' → STREAM_EXISTS).
 * - One `append` is exactly one `appendToStream` call, which the server writes
 *   atomically. Our eventId is the ESDB event id, so a retried append is recognised
 *   by the server's idempotency check and stores nothing twice. Event ids must
 *   therefore be lowercase UUIDs (ESDB stores ids as GUIDs and returns them
 *   lowercase; any other form would come back altered, so it is refused).
 * - Appends to one stream from one adapter instance are sent one at a time, in call
 *   order (a per-stream queue). Appends to different streams run concurrently.
 *   Without the queue, concurrent appends chained on expected revisions could reach
 *   the server out of order and fail spuriously.
 * - Oversize appends are refused, never split: the server refuses an append whose
 *   size exceeds MaxAppendSize (1 MiB by default), and splitting one append into
 *   several would break "one append is atomic". The adapter measures the append the
 *   way the server does (UTF-8 bytes of the JSON data + metadata, plus 2 bytes per
 *   UTF-16 unit of the event type) and refuses it with APPEND_TOO_LARGE before
 *   sending anything; the server's own MaxAppendSizeExceededError maps to the same
 *   code (for servers configured below the adapter's `maxAppendSize`).
 * - Durability: an append resolves when the server acknowledges the write, which
 *   it does once the events are in its transaction log and indexed (in a cluster,
 *   replicated to a quorum of nodes).
 * - `position` is the event's commit position in the server's transaction log
 *   (`$all`). For events written through gRPC, commit and prepare position are the
 *   same number, so resuming a read at `{ commit: p, prepare: p }` is exact. Events
 *   written in legacy TCP explicit transactions share one commit position; such
 *   events are not strictly ordered by `position` (this adapter never writes them).
 * - Reads are issued as bounded requests (one per page or chunk), each drained
 *   completely before its page is yielded, so an abandoned iteration leaves no
 *   server stream open.
 * - `readAll` skips system streams (ids starting with `$`), link events (type `$>`)
 *   and unresolved links: they are ESDB machinery (projections, statistics,
 *   settings), not ledger events. ESDB reads `$all` from a position inclusively;
 *   the adapter drops the event at `after` itself, so `after` is exclusive as the
 *   port requires.
 * - `listStreams` scans `$all` (no projections needed), so its cost is a read of
 *   the whole transaction log: O(all events in the database, including system
 *   events). Order of creation = order of each stream's first event in `$all`.
 *   Streams deleted in ESDB are listed until a scavenge removes their events.
 * - A stream whose events are not JSON objects (binary events, JSON arrays or
 *   scalars, malformed JSON, binary metadata) is a MALFORMED_EVENT naming the
 *   stream and revision: never skipped silently. Events without metadata read with
 *   metadata `{}`.
 * - A deleted (tombstoned) stream reads as missing (empty, revision null); an
 *   append to it is a CONCURRENCY_CONFLICT with `details.deleted = true`.
 */
import type {
  AppendResult as EsdbAppendResult,
  AppendToStreamOptions,
  EventData,
  ReadAllOptions as EsdbReadAllOptions,
  ReadStreamOptions as EsdbReadStreamOptions,
} from '@eventstore/db-client';
import { loadClientPackage } from './client';
import { LedgerError, ledgerError } from '../../errors';
import {
  AppendResult,
  DEFAULT_PAGE_SIZE,
  EventStore,
  ExpectedRevision,
  expectedRevisionMatches,
  ProjectionStore,
  ProposedEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StreamInfo,
} from '../port';
import { concurrencyConflict, isMissingStreamError, translateClientError } from './errors';

// The client's constants (the same strings in @kurrent/kurrentdb-client and @eventstore/db-client),
// written here so that nothing of the client is loaded before a store URL asks for it.
const ANY = 'any';
const NO_STREAM = 'no_stream';
const STREAM_EXISTS = 'stream_exists';
const START = 'start';
const END = 'end';
const FORWARDS = 'forwards';
const BACKWARDS = 'backwards';

/** A JSON event as the client sends it (what the client's jsonEvent() builds; metadata is always a JSON object here). */
function jsonEvent(e: { id: string; type: string; data: unknown; metadata: unknown }): EventData {
  return { id: e.id, contentType: 'application/json', type: e.type, data: e.data, metadata: e.metadata } as unknown as EventData;
}

// ---------------------------------------------------------------------------
// The client, typed structurally (the real EventStoreDBClient and KurrentDBClient are assignable).
// ---------------------------------------------------------------------------

/** A position in the server's transaction log. */
export interface EsdbPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** The fields of a recorded event the adapter reads (a subset of the client's RecordedEvent). */
export interface EsdbRecordedEvent {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata?: unknown;
  /** Present on `$all` reads, and on stream reads from EventStoreDB 22.6 on. */
  readonly position?: EsdbPosition;
}

/** A read result: the event, or for links the link and (when resolved) its target. */
export interface EsdbResolvedEvent {
  readonly event?: EsdbRecordedEvent;
  readonly link?: EsdbRecordedEvent;
  readonly commitPosition?: bigint;
}

/** The methods of EventStoreDBClient this adapter uses. */
export interface EsdbClientLike {
  appendToStream(streamName: string, events: EventData[], options: AppendToStreamOptions): Promise<EsdbAppendResult>;
  readStream(streamName: string, options: EsdbReadStreamOptions): AsyncIterable<EsdbResolvedEvent>;
  readAll(options: EsdbReadAllOptions): AsyncIterable<EsdbResolvedEvent>;
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** The server's default MaxAppendSize (bytes). */
export const ESDB_DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;

/** Smallest number of `$all` events requested per read (system events are filtered out client-side). */
const MIN_ALL_READ_BATCH = 256;

export interface EventStoreDBOptions {
  /**
   * Largest append, in bytes as the server counts them, the adapter sends. Set it to
   * the server's `MaxAppendSize`. Default 1 MiB (1048576), the server's default.
   */
  readonly maxAppendSize?: number;
  /**
   * A local projection (a projection file, `openProjectionFile` of the SQLite adapter, which
   * `openStore` opens for `?projections=<file>`): the run projections of this store, read by
   * explain, check, export and the recorder instead of folding the run's events on every read.
   * The store closes it when it closes.
   */
  readonly localProjections?: { readonly projections: ProjectionStore; close(): void };
}

/** The identity of an EventStoreDB store kept in its projection file: the connection string without credentials. */
export function eventStoreDBSource(connectionString: string): string {
  return redact(connectionString.trim());
}

// ---------------------------------------------------------------------------
// Validation and encoding
// ---------------------------------------------------------------------------

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const U64_MAX = (1n << 64n) - 1n;

interface EncodedEvent {
  readonly eventId: string;
  readonly type: string;
  /** Deep copies, taken at call time: later changes to the caller's objects cannot reach the store. */
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
  /** Bytes as the server counts them (Event.SizeOnDisk: data + metadata + 2 × type length). */
  readonly size: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function invalid(message: string, details: Record<string, unknown>): LedgerError {
  return ledgerError('INVALID_INPUT', message, details);
}

function validateStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId.length === 0) {
    throw invalid('stream id must be a non-empty string', { path: 'streamId' });
  }
  if (streamId.startsWith('$')) {
    throw invalid(`stream id ${streamId} is reserved: EventStoreDB system streams start with $`, { path: 'streamId', streamId });
  }
}

function validateExpected(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'no_stream' || expected === 'any' || expected === 'stream_exists') return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  throw invalid(`expected revision must be 'no_stream', 'any', 'stream_exists' or a revision (integer >= 0), got ${String(expected)}`, {
    path: 'expected',
  });
}

function encodeJson(value: unknown, streamId: string, index: number, field: 'data' | 'metadata'): { copy: Record<string, unknown>; bytes: number } {
  if (!isPlainObject(value)) {
    throw invalid(`event ${index} of the append to stream ${streamId}: ${field} must be a JSON object`, { path: `events.${index}.${field}`, streamId });
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw invalid(`event ${index} of the append to stream ${streamId}: ${field} cannot be written as JSON (${e instanceof Error ? e.message : String(e)})`, {
      path: `events.${index}.${field}`,
      streamId,
    });
  }
  return { copy: JSON.parse(text) as Record<string, unknown>, bytes: Buffer.byteLength(text, 'utf8') };
}

function encodeEvents(streamId: string, events: unknown): EncodedEvent[] {
  if (!Array.isArray(events)) throw invalid('events must be an array', { path: 'events', streamId });
  return events.map((raw: unknown, i): EncodedEvent => {
    if (typeof raw !== 'object' || raw === null) throw invalid(`event ${i} of the append to stream ${streamId} is not an object`, { path: `events.${i}`, streamId });
    const e = raw as Partial<ProposedEvent>;
    if (typeof e.eventId !== 'string' || !UUID_RE.test(e.eventId) || e.eventId === NIL_UUID) {
      throw invalid(
        `event ${i} of the append to stream ${streamId}: event id ${String(e.eventId)} is not a lowercase UUID; EventStoreDB stores event ids as UUIDs`,
        { path: `events.${i}.eventId`, streamId, eventId: e.eventId },
      );
    }
    if (typeof e.type !== 'string' || e.type.length === 0) {
      throw invalid(`event ${i} of the append to stream ${streamId}: type must be a non-empty string`, { path: `events.${i}.type`, streamId });
    }
    if (e.type.startsWith('$')) {
      throw invalid(`event ${i} of the append to stream ${streamId}: type ${e.type} is reserved (EventStoreDB system event types start with $)`, {
        path: `events.${i}.type`,
        streamId,
      });
    }
    const data = encodeJson(e.data, streamId, i, 'data');
    const metadata = encodeJson(e.metadata, streamId, i, 'metadata');
    return { eventId: e.eventId, type: e.type, data: data.copy, metadata: metadata.copy, size: data.bytes + metadata.bytes + 2 * e.type.length };
  });
}

function toClientExpected(expected: ExpectedRevision): AppendToStreamOptions['expectedRevision'] {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
}

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer >= ${min}, got ${String(value)}`, { path: name });
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/** A position the server really reported (older servers send u64::MAX or nothing on stream reads). */
function usablePosition(p: bigint | undefined): bigint | undefined {
  return p === undefined || p < 0n || p >= U64_MAX ? undefined : p;
}

function malformed(record: EsdbRecordedEvent, reason: string): LedgerError {
  return ledgerError(
    'MALFORMED_EVENT',
    `the event at revision ${record.revision} of stream ${record.streamId} (id ${record.id}, type ${record.type}) ${reason}`,
    { streamId: record.streamId, revision: Number(record.revision), eventId: record.id, type: record.type },
  );
}

/** True for events the adapter skips on reads: link events and links whose target is gone. */
function isLinkOrUnresolved(r: EsdbResolvedEvent): boolean {
  return r.event === undefined || r.link !== undefined || r.event.type === '$>';
}

function decodeEvent(r: EsdbResolvedEvent): StoredEvent {
  const record = r.event!;
  if (!record.isJson) throw malformed(record, 'is not a JSON event (binary content type); lineage-ledger events are JSON objects');
  if (!isPlainObject(record.data)) {
    throw malformed(record, `has data that is not a JSON object (${typeof record.data === 'string' ? 'malformed JSON' : Array.isArray(record.data) ? 'a JSON array' : typeof record.data})`);
  }
  let metadata: Record<string, unknown>;
  if (record.metadata === undefined) metadata = {};
  else if (isPlainObject(record.metadata)) metadata = record.metadata;
  else throw malformed(record, `has metadata that is not a JSON object (${record.metadata instanceof Uint8Array ? 'binary or malformed JSON' : Array.isArray(record.metadata) ? 'a JSON array' : typeof record.metadata})`);
  const revision = Number(record.revision);
  if (!Number.isSafeInteger(revision) || revision < 0) throw malformed(record, 'has a revision outside the safe integer range');
  const position = usablePosition(record.position?.commit) ?? usablePosition(r.commitPosition);
  if (position === undefined) {
    throw malformed(record, 'was read without a global position; EventStoreDB reports positions on stream reads from version 22.6 on');
  }
  return { streamId: record.streamId, revision, position, eventId: record.id, type: record.type, data: record.data, metadata };
}

function rawPosition(r: EsdbResolvedEvent): EsdbPosition | undefined {
  const p = r.event?.position ?? r.link?.position;
  if (p !== undefined) return p;
  return r.commitPosition === undefined ? undefined : { commit: r.commitPosition, prepare: r.commitPosition };
}

function comparePositions(a: EsdbPosition, b: EsdbPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

function isSystemStream(streamId: string): boolean {
  return streamId.startsWith('$');
}

/** Redacts the credentials (user:password@) of `connectionString` from `text` before it goes into an error message. */
function redact(text: string, connectionString: string = text): string {
  const credentials = /:\/\/([^@/?]*)@/.exec(connectionString)?.[1];
  let out = text.replace(/(:\/\/)[^@/?]*@/g, '$1***@');
  if (credentials !== undefined && credentials.length > 0) {
    const secrets = [credentials, ...credentials.split(':').slice(1)].filter((x) => x.length > 0);
    for (const secret of secrets) out = out.split(secret).join('***');
  }
  return out;
}

// ---------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------

export class EventStoreDBEventStore implements EventStore {
  readonly kind = 'eventstoredb';
  private readonly client: EsdbClientLike;
  private readonly maxAppendSize: number;
  /** Tail of each stream's append queue (see the module comment). */
  private readonly appendQueues = new Map<string, Promise<unknown>>();
  private closed = false;
  /** The local projection, when one was given (null: reads fold the run's events). */
  private readonly local: { readonly projections: ProjectionStore; close(): void } | null;
  readonly projections: ProjectionStore | null;

  constructor(client: EsdbClientLike, options: EventStoreDBOptions = {}) {
    const max = options.maxAppendSize ?? ESDB_DEFAULT_MAX_APPEND_SIZE;
    if (!Number.isSafeInteger(max) || max <= 0) throw invalid(`maxAppendSize must be a positive integer, got ${String(max)}`, { path: 'maxAppendSize' });
    this.client = client;
    this.maxAppendSize = max;
    this.local = options.localProjections ?? null;
    this.projections = this.local?.projections ?? null;
  }

  async append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    validateStreamId(streamId);
    validateExpected(expected);
    const encoded = encodeEvents(streamId, events);
    const seen = new Set<string>();
    for (const e of encoded) {
      if (seen.has(e.eventId)) {
        throw ledgerError('DUPLICATE_EVENT_ID', `event id ${e.eventId} appears twice in one append to stream ${streamId}; nothing was written`, {
          streamId,
          eventId: e.eventId,
        });
      }
      seen.add(e.eventId);
    }
    const size = encoded.reduce((n, e) => n + e.size, 0);
    if (size > this.maxAppendSize) {
      throw ledgerError(
        'APPEND_TOO_LARGE',
        `the append of ${encoded.length} events to stream ${streamId} is ${size} bytes, over the EventStoreDB append limit of ${this.maxAppendSize} bytes (MaxAppendSize); nothing was written. An append is one atomic write, so the adapter does not split it: record the facts in smaller appends`,
        { streamId, size, limit: this.maxAppendSize, events: encoded.length, source: 'adapter' },
      );
    }
    return this.enqueue(streamId, () => (encoded.length === 0 ? this.emptyAppend(streamId, expected) : this.send(streamId, encoded, expected, size)));
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    checkCount('fromRevision', options.fromRevision === undefined ? undefined : Math.max(0, options.fromRevision), 0);
    checkCount('maxCount', options.maxCount, 0);
    checkCount('pageSize', options.pageSize, 1);
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    let next = Math.max(0, options.fromRevision ?? 0);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      this.assertOpen();
      const want = Math.min(pageSize, remaining);
      let raw: EsdbResolvedEvent[];
      try {
        raw = await drain(
          this.client.readStream(streamId, {
            fromRevision: next === 0 ? START : BigInt(next),
            direction: FORWARDS,
            maxCount: want,
            resolveLinkTos: false,
          }),
        );
      } catch (e) {
        if (isMissingStreamError(e)) return;
        throw translateClientError(e, { operation: 'readStream', streamId });
      }
      const page: StoredEvent[] = [];
      for (const r of raw) {
        const revision = r.event?.revision ?? r.link?.revision;
        if (revision !== undefined) next = Number(revision) + 1;
        if (isLinkOrUnresolved(r)) continue;
        page.push(decodeEvent(r));
      }
      remaining -= page.length;
      if (page.length > 0) yield page;
      if (raw.length < want) return;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    if (options.after !== undefined && (typeof options.after !== 'bigint' || options.after < 0n)) {
      throw invalid(`after must be a non-negative bigint position, got ${String(options.after)}`, { path: 'after' });
    }
    checkCount('maxCount', options.maxCount, 0);
    checkCount('pageSize', options.pageSize, 1);
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining === 0) return;
    let page: StoredEvent[] = [];
    for await (const chunk of this.rawAll(options.after, Math.max(pageSize, MIN_ALL_READ_BATCH), 'readAll')) {
      for (const r of chunk) {
        if (isLinkOrUnresolved(r) || isSystemStream(r.event!.streamId)) continue;
        page.push(decodeEvent(r));
        remaining--;
        if (page.length === pageSize || remaining === 0) {
          yield page;
          page = [];
          if (remaining === 0) return;
        }
      }
    }
    if (page.length > 0) yield page;
  }

  async listStreams(): Promise<readonly StreamInfo[]> {
    this.assertOpen();
    // Map keeps insertion order: the order of each stream's first event in $all.
    const streams = new Map<string, number>();
    for await (const chunk of this.rawAll(undefined, Math.max(DEFAULT_PAGE_SIZE, MIN_ALL_READ_BATCH), 'listStreams')) {
      for (const r of chunk) {
        const record = r.event ?? r.link;
        if (record === undefined || isSystemStream(record.streamId)) continue;
        const revision = Number(record.revision);
        const known = streams.get(record.streamId);
        if (known === undefined || revision > known) streams.set(record.streamId, revision);
      }
    }
    return [...streams].map(([streamId, revision]) => ({ streamId, revision }));
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    const last = await this.lastEvent(streamId, 'streamRevision');
    if (last === undefined) return null;
    const record = last.event ?? last.link;
    return record === undefined ? null : Number(record.revision);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.local?.close();
    try {
      await this.client.dispose();
    } catch (e) {
      throw translateClientError(e, { operation: 'close' });
    }
  }

  // -------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw ledgerError('STORE_CLOSED', 'the EventStoreDB store is closed');
  }

  /** Runs `task` after every earlier append to the same stream has settled. */
  private enqueue<T>(streamId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.appendQueues.get(streamId) ?? Promise.resolve();
    const run = previous.then(() => {
      this.assertOpen();
      return task();
    });
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.appendQueues.set(streamId, tail);
    void tail.then(() => {
      if (this.appendQueues.get(streamId) === tail) this.appendQueues.delete(streamId);
    });
    return run;
  }

  private async send(streamId: string, encoded: readonly EncodedEvent[], expected: ExpectedRevision, size: number): Promise<AppendResult> {
    let result: EsdbAppendResult;
    try {
      result = await this.client.appendToStream(
        streamId,
        encoded.map((e) => jsonEvent({ id: e.eventId, type: e.type, data: e.data, metadata: e.metadata })),
        { expectedRevision: toClientExpected(expected) },
      );
    } catch (e) {
      throw translateClientError(e, { operation: 'append', streamId, expected, size });
    }
    if (result.success === false) {
      // A client built with throwOnAppendFailure=false reports a wrong expected version
      // as a result instead of an error; its revision is not reliable, so ask the server.
      const actual = await this.streamRevision(streamId).catch(() => null);
      throw concurrencyConflict(streamId, expected, actual);
    }
    const nextExpectedRevision = Number(result.nextExpectedRevision);
    // The server reports the commit position of the write's last event. Idempotent
    // retries may come back without a position (older servers): read it back.
    const position = usablePosition(result.position?.commit) ?? (await this.positionOf(streamId, nextExpectedRevision));
    return { nextExpectedRevision, position };
  }

  /** An append of no events writes nothing: check the expected revision and report where the stream is. */
  private async emptyAppend(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const last = await this.lastEvent(streamId, 'append');
    const current = last === undefined ? null : Number((last.event ?? last.link)!.revision);
    if (!expectedRevisionMatches(expected, current)) throw concurrencyConflict(streamId, expected, current);
    if (current === null) throw invalid(`empty append to missing stream ${streamId}`, { streamId });
    return { nextExpectedRevision: current, position: await this.positionOf(streamId, current) };
  }

  private async lastEvent(streamId: string, operation: string): Promise<EsdbResolvedEvent | undefined> {
    try {
      const raw = await drain(this.client.readStream(streamId, { fromRevision: END, direction: BACKWARDS, maxCount: 1, resolveLinkTos: false }));
      return raw[0];
    } catch (e) {
      if (isMissingStreamError(e)) return undefined;
      throw translateClientError(e, { operation, streamId });
    }
  }

  private async positionOf(streamId: string, revision: number): Promise<bigint> {
    let raw: EsdbResolvedEvent[];
    try {
      raw = await drain(this.client.readStream(streamId, { fromRevision: BigInt(revision), direction: FORWARDS, maxCount: 1, resolveLinkTos: false }));
    } catch (e) {
      throw translateClientError(e, { operation: 'append', streamId });
    }
    const r = raw[0];
    const record = r?.event ?? r?.link;
    const position = usablePosition(record?.position?.commit) ?? usablePosition(r?.commitPosition);
    if (record === undefined || position === undefined) {
      throw ledgerError(
        'STORE_UNAVAILABLE',
        `the EventStoreDB server did not report the position of revision ${revision} of stream ${streamId} after an append (EventStoreDB 22.6 or later reports it)`,
        { operation: 'append', streamId, revision, retryable: false },
      );
    }
    return position;
  }

  /**
   * Reads `$all` forwards in bounded requests of `batch` events (+1 for the
   * inclusive start), yielding every record strictly after `after`, system
   * events included. Each request resumes at the exact (commit, prepare) position
   * of the last record seen.
   */
  private async *rawAll(after: bigint | undefined, batch: number, operation: string): AsyncGenerator<EsdbResolvedEvent[]> {
    let last: EsdbPosition | undefined = after === undefined ? undefined : { commit: after, prepare: after };
    for (;;) {
      this.assertOpen();
      const want = batch + 1;
      let raw: EsdbResolvedEvent[];
      try {
        raw = await drain(this.client.readAll({ fromPosition: last ?? START, direction: FORWARDS, maxCount: want, resolveLinkTos: false }));
      } catch (e) {
        throw translateClientError(e, { operation });
      }
      const fresh: EsdbResolvedEvent[] = [];
      for (const r of raw) {
        const position = rawPosition(r);
        if (position === undefined) {
          throw ledgerError('MALFORMED_EVENT', `an event read from $all has no position (stream ${r.event?.streamId ?? r.link?.streamId ?? '<unknown>'})`, {
            streamId: r.event?.streamId ?? r.link?.streamId ?? null,
          });
        }
        if (last !== undefined && comparePositions(position, last) <= 0) continue; // the inclusive start, or the event at `after`
        fresh.push(r);
        last = position;
      }
      if (fresh.length > 0) yield fresh;
      if (raw.length < want) return;
      if (fresh.length === 0) {
        throw ledgerError('STORE_UNAVAILABLE', `reading $all made no progress at position ${String(last?.commit)}`, { operation, retryable: false });
      }
    }
  }
}

async function drain<E>(read: AsyncIterable<E>): Promise<E[]> {
  const out: E[] = [];
  for await (const item of read) out.push(item);
  return out;
}

/**
 * Opens an EventStoreDB store from a connection string
 * (`esdb://host:2113?tls=false`, `esdb+discover://cluster.dns:2113`, with optional
 * `user:password@`). The client connects lazily, on the first operation; an
 * unreachable server surfaces there as STORE_UNAVAILABLE. A malformed connection
 * string is UNSUPPORTED_STORE_URL (credentials are redacted from the message).
 */
export function openEventStoreDB(connectionString: string, options: EventStoreDBOptions = {}): EventStoreDBEventStore {
  if (typeof connectionString !== 'string' || !/^(esdb|kurrentdb)(\+discover)?:\/\//.test(connectionString.trim())) {
    throw ledgerError(
      'UNSUPPORTED_STORE_URL',
      `not an EventStoreDB / KurrentDB connection string (expected esdb://, kurrentdb:// or their +discover forms): ${redact(String(connectionString))}`,
      { url: redact(String(connectionString)) },
    );
  }
  const pkg = loadClientPackage();
  let client: EsdbClientLike;
  try {
    client = pkg.connect(connectionString) as EsdbClientLike;
  } catch (e) {
    throw new LedgerError(
      'UNSUPPORTED_STORE_URL',
      `malformed EventStoreDB connection string ${redact(connectionString)}: ${redact(e instanceof Error ? e.message.split('\n')[0]! : String(e), connectionString)}`,
      { url: redact(connectionString) },
    );
  }
  return new EventStoreDBEventStore(client, options);
}
