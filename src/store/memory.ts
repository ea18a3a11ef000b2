import { ledgerError } from '../errors';
import {
  AppendResult,
  conflictError,
  EventStore,
  ExpectedRevision,
  expectedRevisionMatches,
  pageSizeOf,
  retryStart,
  ProposedEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StoreListener,
  notifyListeners,
  StreamInfo,
} from './port';

interface Row {
  readonly streamId: string;
  readonly revision: number;
  readonly position: bigint;
  readonly eventId: string;
  readonly type: string;
  /** Events are kept as JSON text, as a real store would: later changes to the caller's objects cannot reach them. */
  readonly data: string;
  readonly metadata: string;
}

/**
 * In-memory EventStore. Durable for the life of the process only; appends resolve
 * once the events are in the store's arrays. Useful for tests, replay and
 * short-lived pipelines.
 */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory';
  private readonly all: Row[] = [];
  private readonly streams = new Map<string, Row[]>();
  private readonly eventIds = new Map<string, Row>();
  private readonly listeners = new Set<StoreListener>();
  private closed = false;

  async append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.appendSync(streamId, events, expected);
  }

  /** Synchronous append, for callers (tests, import) that do not need to yield. */
  appendSync(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): AppendResult {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    const current = stream === undefined ? null : stream.length - 1;
    if (!expectedRevisionMatches(expected, current)) {
      const retry = this.idempotentRetry(stream, events, expected);
      if (retry !== null) return retry;
      throw conflictError(streamId, expected, current);
    }
    if (typeof expected === 'string' && expected !== 'no_stream') {
      const retry = this.idempotentRetry(stream, events, expected);
      if (retry !== null) return retry;
    }
    if (events.length === 0) {
      if (current === null) throw ledgerError('INVALID_INPUT', `empty append to missing stream ${streamId}`, { streamId });
      return { nextExpectedRevision: current, position: stream![current]!.position };
    }
    const seen = new Set<string>();
    for (const e of events) {
      if (seen.has(e.eventId) || this.eventIds.has(e.eventId)) {
        throw ledgerError('DUPLICATE_EVENT_ID', `event id ${e.eventId} is already stored (stream ${streamId})`, { streamId, eventId: e.eventId });
      }
      seen.add(e.eventId);
    }
    // Serialise everything before touching the store: a value that cannot be written leaves the store unchanged.
    let encoded: Array<{ e: ProposedEvent; data: string; metadata: string }>;
    try {
      encoded = events.map((e) => ({ e, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) }));
    } catch (err) {
      throw ledgerError('INVALID_INPUT', `append to ${streamId}: an event cannot be written as JSON (${(err as Error).message})`, { streamId }, err);
    }
    const target = stream ?? [];
    if (stream === undefined) this.streams.set(streamId, target);
    let revision = current === null ? 0 : current + 1;
    let last: Row | undefined;
    for (const { e, data, metadata } of encoded) {
      const row: Row = {
        streamId,
        revision,
        position: BigInt(this.all.length + 1),
        eventId: e.eventId,
        type: e.type,
        data,
        metadata,
      };
      this.all.push(row);
      target.push(row);
      this.eventIds.set(e.eventId, row);
      revision++;
      last = row;
    }
    notifyListeners(this.listeners, streamId);
    return { nextExpectedRevision: last!.revision, position: last!.position };
  }

  /** Live notification (see EventStore.watch): called synchronously after each append that wrote events. */
  watch(listener: StoreListener): () => void {
    const entry: StoreListener = (streamId) => listener(streamId);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private idempotentRetry(stream: Row[] | undefined, events: readonly ProposedEvent[], expected: ExpectedRevision): AppendResult | null {
    const first = retryStart(expected, stream === undefined ? null : stream.length - 1, events.length, () => {
      if (stream === undefined || !this.eventIds.has(events[0]!.eventId)) return null;
      const at = stream.findIndex((r) => r.eventId === events[0]!.eventId);
      return at < 0 ? null : at;
    });
    if (stream === undefined || first === null) return null;
    for (let i = 0; i < events.length; i++) if (stream[first + i]!.eventId !== events[i]!.eventId) return null;
    const lastRow = stream[first + events.length - 1]!;
    return { nextExpectedRevision: lastRow.revision, position: lastRow.position };
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    const pageSize = pageSizeOf(options.pageSize);
    let i = Math.max(0, options.fromRevision ?? 0);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (i < stream.length && remaining > 0) {
      const n = Math.min(pageSize, remaining, stream.length - i);
      const page = stream.slice(i, i + n).map(toStored);
      i += n;
      remaining -= n;
      yield page;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    const pageSize = pageSizeOf(options.pageSize);
    // position p is stored at index p - 1
    let i = options.after === undefined ? 0 : Number(options.after);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (i < this.all.length && remaining > 0) {
      const n = Math.min(pageSize, remaining, this.all.length - i);
      const page = this.all.slice(i, i + n).map(toStored);
      i += n;
      remaining -= n;
      yield page;
    }
  }

  async listStreams(): Promise<readonly StreamInfo[]> {
    this.assertOpen();
    return [...this.streams].map(([streamId, rows]) => ({ streamId, revision: rows.length - 1 }));
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    return stream === undefined ? null : stream.length - 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw ledgerError('STORE_CLOSED', 'the memory store is closed');
  }
}

function toStored(r: Row): StoredEvent {
  return {
    streamId: r.streamId,
    revision: r.revision,
    position: r.position,
    eventId: r.eventId,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  };
}
