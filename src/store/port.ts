/**
 * The EventStore port: the only thing the recorder, the projections' loaders and
 * the exporter know about storage. Adapters (memory, SQLite, EventStoreDB) implement
 * it and all run the same contract test suite (test/store/contract.ts).
 *
 * Semantics every adapter honours:
 * - A stream is an ordered list of events; revisions are 0-based and dense.
 * - `append` is atomic: all events of one call are stored, or none.
 * - `append` checks the expected revision first; a mismatch fails with the
 *   LedgerError code CONCURRENCY_CONFLICT and writes nothing.
 * - Retrying a successful append at the same expected revision with the same
 *   event ids succeeds again without storing anything twice (idempotent retries,
 *   as EventStoreDB does); with 'any' or 'stream_exists' an exact repeat of stored
 *   events (found by the first event id) is idempotent too; any other reuse of a
 *   stored event id is refused (DUPLICATE_EVENT_ID).
 * - A promise returned by `append` resolves only once the events are durable in
 *   the adapter's sense (see each adapter's documentation).
 * - Reads return pages (arrays) of events in order; a missing stream reads as empty.
 * - `readAll` returns every stream's events in one global order; `after` is exclusive.
 */
import { LedgerError, ledgerError } from '../errors';

/**
 * The version of what the fold writes into persisted projections. A store keeps the version its
 * projection rows were written with (ledger_meta `projection_fold`); when it differs from this
 * one, a writable open deletes the persisted projections (they are rebuilt from the events on
 * the first read of each run) and a read-only open does not use them (reads fold the events).
 * Bump it whenever a change to the fold changes the rows it writes for events already stored.
 * Version 2: a fork or expand child's parent link ordinal is its position in the group (was 0).
 */
export const PROJECTION_FOLD_VERSION = 2;

/** The revision a writer expects the stream to be at before its append. */
export type ExpectedRevision =
  | 'no_stream' // the stream must not exist yet
  | 'any' // no check
  | 'stream_exists' // the stream must have at least one event
  | number; // the revision of the stream's last event (0-based)

/** An event as handed to the store. `data` and `metadata` are JSON objects. */
export interface ProposedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** An event as read back, with its place in its stream and in the store. */
export interface StoredEvent extends ProposedEvent {
  readonly streamId: string;
  /** 0-based position in the stream. */
  readonly revision: number;
  /** Position in the store's global order (strictly increasing in read order). */
  readonly position: bigint;
}

export interface AppendResult {
  /** Revision of the last event in the stream after the append (-1 never happens: an empty append on a missing stream fails). */
  readonly nextExpectedRevision: number;
  /** Global position of the last event written (or of the stream's last event on an idempotent retry). */
  readonly position: bigint;
}

/**
 * Run projections persisted beside the events (src/projections/persisted.ts): tables written by
 * the recorder's fold shortly after the events (never before them), caught up from the events by
 * readers when behind, rebuildable from the events at any time.
 */
export interface ProjectionStore {
  /** The stored projection of a stream (version -1 and empty tables when none is stored yet). */
  open(streamId: string): StoredProjection;
  /** Writes a catch-up step, in one transaction. CONCURRENCY_CONFLICT when the stored version is not `delta.fromVersion`. */
  write(streamId: string, delta: ProjectionDelta): void;
  /** Deletes a stream's projection; the next read rebuilds it from the events. */
  drop(streamId: string): void;
  /** A named checkpoint kept beside the tables (the projection feed's global position), or null when none is saved. */
  checkpoint?(name: string): string | null;
  saveCheckpoint?(name: string, value: string): void;
}

/**
 * One change to a projection table: the entry's value as JSON text, or null to delete the entry.
 * Text, not the value itself: it is taken when the delta is collected, so the fold's later
 * changes to the same objects (it updates entities in place) cannot reach a write still pending.
 */
export type ProjectionEntry = readonly [map: number, key: string | number, value: string | null];

/** The projection changes of one append (or of a catch-up step): from the state at `fromVersion` to `toVersion`. */
export interface ProjectionDelta {
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly recordedAt: string | null;
  readonly entries: readonly ProjectionEntry[];
}

/** A row of a projection table as read: [ordinal, key, value]; the value is decoded (what JSON.parse gives for the text written). */
export type ProjectionRow = readonly [ordinal: number, key: string | number, value: unknown];
/** An entry of a read across maps (pageAllFromKey): its map, key and value (decoded). */
export type ProjectionMapRow = readonly [map: number, key: string | number, value: unknown];

/**
 * One run's projection tables, as a store keeps them. Keys are unique per map; pages come in insertion order.
 * Reads return decoded values, each a new object per read (the store parses the JSON text it keeps);
 * a value that does not parse is STORE_CORRUPT.
 */
export interface ProjectionTables {
  /** The entry's value; undefined only when the map has no entry for `key` (a stored JSON null reads as null). */
  get(map: number, key: string | number): unknown;
  has(map: number, key: string | number): boolean;
  count(map: number): number;
  /** Entries with ordinal > `after`, in insertion order. */
  page(map: number, after: number, limit: number): readonly ProjectionRow[];
  /** Entries with key >= `from`, in key order. */
  pageFromKey(map: number, from: string | number, limit: number): readonly ProjectionRow[];
  /** Entries with key > `after` (null: from the first), in key order. */
  pageByKey(map: number, after: string | number | null, limit: number): readonly ProjectionRow[];
  /**
   * Entries of EVERY map with key >= `from`, in order of key then map: [map, key, value]. Present
   * where the table is clustered by key (SQLite), so that one query reads ahead for all the maps.
   */
  pageAllFromKey?(from: string | number, limit: number): readonly ProjectionMapRow[];
  /** The key order of pageFromKey, pageByKey and pageAllFromKey, when it is not JavaScript's `<` on the keys (SQLite keeps UUID keys as bytes, after other text). */
  readonly compareKeys?: (a: string | number, b: string | number) => number;
  /**
   * Runs `read` (synchronous) with all its reads in one read transaction, where the store has
   * them: every read sees the same committed state, and each costs less (SQLite starts no
   * transaction per statement). Inside a transaction already open, `read` just runs.
   */
  readonly snapshot?: <T>(read: () => T) => T;
}

/** A store's persisted projection of one run, as found when opened. */
export interface StoredProjection {
  /** seq of the last event folded into the tables; -1 when none. */
  readonly version: number;
  readonly recordedAt: string | null;
  readonly tables: ProjectionTables;
}

export interface ReadStreamOptions {
  /** First revision to read (inclusive). Default 0. */
  readonly fromRevision?: number;
  /** Maximum number of events in all pages together. Default: no limit. */
  readonly maxCount?: number;
  /** Events per page (a hint). */
  readonly pageSize?: number;
}

export interface ReadAllOptions {
  /** Read events strictly after this global position. Default: from the start. */
  readonly after?: bigint;
  readonly maxCount?: number;
  readonly pageSize?: number;
}

export interface StreamInfo {
  readonly streamId: string;
  /** Revision of the stream's last event. */
  readonly revision: number;
}

export interface EventStore {
  /** Adapter name: 'memory', 'sqlite', 'eventstoredb', ... */
  readonly kind: string;
  append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Present when the store persists run projections (SQLite); absent when readers fold the events themselves. */
  readonly projections?: ProjectionStore | null;
  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<readonly StoredEvent[]>;
  readAll(options?: ReadAllOptions): AsyncIterable<readonly StoredEvent[]>;
  /** Every stream with its last revision, in order of creation. */
  listStreams(): Promise<readonly StreamInfo[]>;
  /** The revision of the stream's last event, or null when the stream does not exist. */
  streamRevision(streamId: string): Promise<number | null>;
  close(): Promise<void>;
  /**
   * Optional live notification, used by catch-up subscriptions (src/subscriptions/follow.ts)
   * to read new events at once instead of waiting for their next poll.
   *
   * `listener(streamId)` is called after an append that went through THIS store instance
   * has succeeded (its events are durable and readable), at the latest when the append's
   * promise resolves; at most once per append, possibly also for an idempotent retry.
   * Appends made by other processes or other instances on the same database are NOT
   * reported: a subscriber must still poll for them. A listener must not throw (what it
   * throws is ignored) and should only schedule work. Returns a function that removes the
   * listener. Adapters without live notification leave the method out.
   */
  watch?(listener: StoreListener): () => void;
}

/** A listener for `EventStore.watch`: receives the id of the stream an append wrote to. */
export type StoreListener = (streamId: string) => void;

/** Calls every listener with `streamId`, ignoring what a listener throws (helper for adapters). */
export function notifyListeners(listeners: Iterable<StoreListener>, streamId: string): void {
  for (const listener of listeners) {
    try {
      listener(streamId);
    } catch {
      // a listener's failure is the listener's business; the append has succeeded
    }
  }
}

export const DEFAULT_PAGE_SIZE = 1024;

/** The page size to use for a read: the hint when it is a positive integer, else the default. */
export function pageSizeOf(hint: number | undefined): number {
  return hint !== undefined && Number.isSafeInteger(hint) && hint > 0 ? hint : DEFAULT_PAGE_SIZE;
}

/** Describes an expected revision for error messages. */
export function describeExpected(expected: ExpectedRevision): string {
  return typeof expected === 'number' ? `revision ${expected}` : expected;
}

/** The CONCURRENCY_CONFLICT error of an append whose expected revision does not match the stream. */
export function conflictError(streamId: string, expected: ExpectedRevision, current: number | null): LedgerError {
  return ledgerError(
    'CONCURRENCY_CONFLICT',
    `append to stream ${streamId} expected ${describeExpected(expected)} but the stream is at ${current === null ? 'no_stream' : `revision ${current}`}`,
    { streamId, expected, actual: current },
  );
}

/** Checks an expected revision against a stream's current revision (null = no stream). */
export function expectedRevisionMatches(expected: ExpectedRevision, current: number | null): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === null;
    case 'stream_exists':
      return current !== null;
    default:
      return current === expected;
  }
}

/**
 * The revision an append's first event would already have if the append is a retry of an
 * earlier one (then the adapter compares the stored event ids from there), or null when it
 * cannot be a retry. At an exact expected revision the place follows from it; with 'any' or
 * 'stream_exists' it is where the first event id is stored in the stream (`firstStoredAt`), so an
 * exact repeat is idempotent on every adapter, as on EventStoreDB.
 */
export function retryStart(expected: ExpectedRevision, current: number | null, count: number, firstStoredAt: () => number | null = () => null): number | null {
  if (current === null || count === 0) return null;
  let first: number;
  if (expected === 'no_stream') first = 0;
  else if (typeof expected === 'number') first = expected + 1;
  else {
    // 'any' / 'stream_exists': a retry is recognised by where its first event is stored (as EventStoreDB does)
    const at = firstStoredAt();
    if (at === null) return null;
    first = at;
  }
  if (!Number.isInteger(first) || first < 0 || first + count - 1 > current) return null;
  return first;
}

/** An event as a SQL adapter writes it: JSON-encoded when append() was called. */
export interface EncodedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

/** Checks the shape of an event handed to append() and encodes its data and metadata as JSON text (SQL adapters). */
export function encodeEvent(e: ProposedEvent, index: number, streamId: string): EncodedEvent {
  if (typeof e !== 'object' || e === null || typeof e.eventId !== 'string' || typeof e.type !== 'string') {
    throw ledgerError('INVALID_INPUT', `event ${index} of the append to stream ${streamId} needs a string eventId and type`, { path: ['events', index] });
  }
  let data: string | undefined;
  let metadata: string | undefined;
  try {
    data = JSON.stringify(e.data);
    metadata = JSON.stringify(e.metadata);
  } catch (err) {
    throw ledgerError('INVALID_INPUT', `event ${e.eventId} cannot be written as JSON: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`, {
      path: ['events', index],
      eventId: e.eventId,
    });
  }
  if (data === undefined || metadata === undefined) {
    throw ledgerError('INVALID_INPUT', `event ${e.eventId}: data and metadata must be JSON objects`, { path: ['events', index], eventId: e.eventId });
  }
  return { eventId: e.eventId, type: e.type, data, metadata };
}

/**
 * The pages of a read that goes on from a cursor: `read(cursor, limit)` returns at most `limit`
 * items from the cursor on, `next(last)` is the cursor after a page's last item. Stops at an empty
 * or short page, or when `maxCount` items are read (adapters' readStream / readAll).
 */
export async function* pagesFrom<T, C>(
  cursor: C,
  options: { readonly maxCount?: number | undefined; readonly pageSize?: number | undefined },
  read: (cursor: C, limit: number) => T[] | Promise<T[]>,
  next: (last: T) => C,
): AsyncIterable<readonly T[]> {
  const pageSize = pageSizeOf(options.pageSize);
  let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining);
    const page = await read(cursor, limit);
    if (page.length === 0) return;
    remaining -= page.length;
    cursor = next(page[page.length - 1]!);
    yield page;
    if (page.length < limit) return;
  }
}

/** Reads every page of an async page iterable into one array (tests, small streams). */
export async function collectPages<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) for (const item of page) out.push(item);
  return out;
}
