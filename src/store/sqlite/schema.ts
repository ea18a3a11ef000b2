/**
 * The SQLite store's file format: schema, identification constants, the SQL of
 * every statement, the read-only inspection of a file before it is opened, and
 * the translation of SQLite errors into LedgerErrors.
 *
 * Nothing in this file writes to a database file.
 */
import * as fs from 'node:fs';
import { isLedgerError, LedgerError, ledgerError } from '../../errors';
import type { ProposedEvent } from '../port';
import { isPackableUuid, pack, packedName, packedNameIndex, unpack, uuidBytesInto, uuidText } from '../packed';

/** `PRAGMA application_id` of every lineage-ledger SQLite store ('LLDG'). */
export const SQLITE_APPLICATION_ID = 0x4c4c4447;

/** `PRAGMA application_id` of a projection file, the local projection of a server store ('LLPJ'). */
export const PROJECTION_FILE_APPLICATION_ID = 0x4c4c504a;

/** Schema version written by (and the newest understood by) this library. Kept in `PRAGMA user_version` and `ledger_meta`. */
export const SQLITE_SCHEMA_VERSION = 3;

/**
 * Tables of schema version 3 (the compact layout).
 *
 * - `streams`: one row per stream; `stream_key` is given in creation order, so it orders the list.
 * - `events`: the stream is its key; `event_id` is the 16 bytes of a lowercase UUID (any other id
 *   is kept as its text); `type` is the event type's index in PACKED_NAMES (an unknown type is kept
 *   as its text); `body` is `[data, metadata]` packed (src/store/packed.ts) with the context
 *   [run id of the stream, revision], so an envelope does not repeat what its row already says.
 * - `projection_runs` / `projection`: the persisted run projection (src/projections/persisted.ts),
 *   one row per projected stream with the seq folded in so far, and one row per entry of each
 *   projection collection, clustered by (run, key, map) (see PROJECTION_LAYOUT_VERSION) and
 *   numbered in insertion order per (run, map) (`id`, for iteration in creation order). `key` has
 *   no declared type, so numbers stay numbers and text stays text; `value` is packed.
 *   Everything in them can be deleted: it is rebuilt from the events on the next read.
 */
export const SCHEMA_SQL = `
CREATE TABLE ledger_meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/** The event tables. */
export const EVENT_TABLES_SQL = `
CREATE TABLE streams (
  stream_key INTEGER PRIMARY KEY,
  stream_id  TEXT    NOT NULL UNIQUE,
  revision   INTEGER NOT NULL
);

CREATE TABLE events (
  position   INTEGER PRIMARY KEY,
  stream_key INTEGER NOT NULL,
  revision   INTEGER NOT NULL,
  event_id   BLOB    NOT NULL,
  type               NOT NULL,
  body       BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_by_stream ON events (stream_key, revision);
CREATE UNIQUE INDEX events_by_event_id ON events (event_id);
`;

/**
 * The layout of the `projection` table, kept in ledger_meta `projection_layout` (absent: 1).
 * - 1 (the first files of schema version 3): clustered by (run, map, key).
 * - 2: clustered by (run, key, map). Every entry under one id (a token's record and its index
 *   entries: parents, states, outcomes, batches, errors) is on the same page, and ids made
 *   together (time-ordered UUIDs of a row, its tokens and their states) are neighbours, so
 *   explaining a token reads a few pages instead of one per entry, and a reader walking the run
 *   reads every map ahead with one query.
 * The entries are rebuilt from the events: a writable open of a file of another layout recreates
 * the table empty; a read-only open folds the events instead of reading it.
 */
export const PROJECTION_LAYOUT_VERSION = 2;

/** The projection entries table in the current layout (see PROJECTION_LAYOUT_VERSION). */
export const PROJECTION_ENTRIES_SQL = `
CREATE TABLE projection (
  run_key INTEGER NOT NULL,
  map     INTEGER NOT NULL,
  key             NOT NULL,
  id      INTEGER NOT NULL,
  value   BLOB    NOT NULL,
  PRIMARY KEY (run_key, key, map)
) WITHOUT ROWID;
CREATE INDEX projection_by_order ON projection (run_key, map, id);
`;

/** The projection tables (of a ledger file, and alone in a projection file: see openProjectionFile). */
export const PROJECTION_TABLES_SQL =
  `
CREATE TABLE projection_runs (
  run_key     INTEGER PRIMARY KEY,
  stream_id   TEXT    NOT NULL UNIQUE,
  version     INTEGER NOT NULL,
  recorded_at TEXT
);
` + PROJECTION_ENTRIES_SQL;

/** The tables of a ledger file but ledger_meta (what an upgrade from an older version creates). */
export const TABLES_SQL = EVENT_TABLES_SQL + PROJECTION_TABLES_SQL;

/** Tables (and indexes) a store of the current schema version must have. */
export const REQUIRED_OBJECTS: readonly string[] = ['ledger_meta', 'events', 'streams', 'events_by_stream', 'events_by_event_id', 'projection_runs', 'projection', 'projection_by_order'];

/**
 * Schema versions 1 and 2 (JSON text, stream and event ids as text), read when such a file is
 * opened read-only; a read-write open converts the file to version 3 first (see the adapter).
 * Their projection tables (version 2) are not read: reads fold the events instead.
 */
export const LEGACY_REQUIRED_OBJECTS: readonly string[] = ['ledger_meta', 'events', 'streams', 'events_by_stream', 'events_by_event_id', 'streams_by_creation'];

const LEGACY_EVENT_COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata';

/** The reads of a version 1 or 2 file (rows: position, stream_id, revision, event_id, type, data JSON, metadata JSON). */
export const LEGACY_SQL = {
  streamRevision: 'SELECT revision FROM streams WHERE stream_id = ?',
  readStream: `SELECT ${LEGACY_EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
  readAll: `SELECT ${LEGACY_EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`,
  listStreams: 'SELECT stream_id, revision FROM streams ORDER BY created_position',
  streamRevisions: 'SELECT stream_id, revision FROM streams',
  eventRevisions: 'SELECT stream_id, count(*), min(revision), max(revision) FROM events GROUP BY stream_id',
} as const;

/** Every statement of the adapter. Exported so tests can check their query plans. */
export const SQL = {
  begin: 'BEGIN IMMEDIATE',
  beginRead: 'BEGIN DEFERRED',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  streamRevision: 'SELECT revision FROM streams WHERE stream_id = ?',
  /** The key and revision of a stream (the writer). */
  stream: 'SELECT stream_key, revision FROM streams WHERE stream_id = ?',
  /** Changes when another connection commits (our own commits do not change it). */
  dataVersion: 'PRAGMA data_version',
  /** Undoes the inserts of one failed append inside the write transaction. */
  deleteFrom: 'DELETE FROM events WHERE position >= ?',
  /** A new stream, at revision -1 until the transaction that creates it commits. */
  insertStream: 'INSERT INTO streams (stream_id, revision) VALUES (?, -1)',
  deleteStream: 'DELETE FROM streams WHERE stream_key = ?',
  updateStream: 'UPDATE streams SET revision = ? WHERE stream_key = ?',
  insertEvent: 'INSERT INTO events (stream_key, revision, event_id, type, body) VALUES (?, ?, ?, ?, ?)',
  /** Stored event ids and positions of `count` events of a stream from a revision (idempotent-retry check, empty appends). */
  streamSlice: 'SELECT event_id, position FROM events WHERE stream_key = ? AND revision >= ? ORDER BY revision LIMIT ?',
  revisionOfEvent: 'SELECT revision FROM events WHERE event_id = ? AND stream_key = ?',
  readStream: 'SELECT position, revision, event_id, type, body FROM events WHERE stream_key = ? AND revision >= ? ORDER BY revision LIMIT ?',
  readAll:
    'SELECT e.position, s.stream_id, e.revision, e.event_id, e.type, e.body FROM events e JOIN streams s ON s.stream_key = e.stream_key WHERE e.position > ? ORDER BY e.position LIMIT ?',
  listStreams: 'SELECT stream_id, revision FROM streams WHERE revision >= 0 ORDER BY stream_key',
  streamRevisions: 'SELECT stream_id, revision FROM streams',
  eventRevisions: 'SELECT s.stream_id, count(*), min(e.revision), max(e.revision) FROM events e JOIN streams s ON s.stream_key = e.stream_key GROUP BY e.stream_key',
  projectionRun: 'SELECT run_key, version, recorded_at FROM projection_runs WHERE stream_id = ?',
  insertProjectionRun: 'INSERT INTO projection_runs (stream_id, version, recorded_at) VALUES (?, -1, NULL)',
  updateProjectionRun: 'UPDATE projection_runs SET version = ?, recorded_at = ? WHERE run_key = ?',
  dropProjectionRun: 'DELETE FROM projection_runs WHERE run_key = ?',
  dropProjection: 'DELETE FROM projection WHERE run_key = ?',
  upsertProjection:
    'INSERT INTO projection (run_key, map, key, id, value) VALUES (@r, @m, @k, (SELECT coalesce(max(id), 0) + 1 FROM projection WHERE run_key = @r AND map = @m), @v) ON CONFLICT (run_key, key, map) DO UPDATE SET value = excluded.value',
  deleteProjection: 'DELETE FROM projection WHERE run_key = ? AND map = ? AND key = ?',
  projectionGet: 'SELECT value FROM projection WHERE run_key = ? AND map = ? AND key = ?',
  projectionHas: 'SELECT 1 FROM projection WHERE run_key = ? AND map = ? AND key = ?',
  projectionCount: 'SELECT count(*) FROM projection WHERE run_key = ? AND map = ?',
  projectionPage: 'SELECT id, key, value FROM projection WHERE run_key = ? AND map = ? AND id > ? ORDER BY id LIMIT ?',
  projectionFirstByKey: 'SELECT id, key, value FROM projection WHERE run_key = ? AND map = ? ORDER BY key LIMIT ?',
  /** Entries of every map from a key on, in (key, map) order: the shared read-ahead. */
  projectionPageAll: 'SELECT map, key, value FROM projection WHERE run_key = ? AND key >= ? ORDER BY key, map LIMIT ?',
  projectionPageFromKey: 'SELECT id, key, value FROM projection WHERE run_key = ? AND map = ? AND key >= ? ORDER BY key LIMIT ?',
  projectionPageByKey: 'SELECT id, key, value FROM projection WHERE run_key = ? AND map = ? AND key > ? ORDER BY key LIMIT ?',
} as const;

// ---------------------------------------------------------------------------------------------
// Rows of schema version 3

/** An event as the writer inserts it (columns of `events`, encoded when append() was called). */
export interface EventRow {
  readonly eventId: string;
  /** The `event_id` column. */
  readonly id: Buffer | string;
  readonly type: number | string;
  readonly body: Buffer;
}

/** The `event_id` column of an event id. */
export function eventIdColumn(eventId: string): Buffer | string {
  const bytes = Buffer.allocUnsafe(16);
  return uuidBytesInto(eventId, bytes) ? bytes : eventId;
}

/** An event id read from the `event_id` column. */
export function eventIdOf(column: unknown): string | undefined {
  if (typeof column === 'string') return column;
  if (Buffer.isBuffer(column) && column.length === 16) return uuidText(column);
  return undefined;
}

/** What an event's body is packed against: what its row already says (the run id of its stream, its revision). */
function bodyContext(streamId: string, revision: number | null): unknown[] {
  const runId = streamId.startsWith('run-') ? streamId.slice(4) : streamId;
  return revision === null ? [runId] : [runId, revision];
}

/**
 * Encodes one event of an append. `revision` is the revision the event will have when it is known
 * from the expected revision (null otherwise: then the body does not refer to it). Throws
 * INVALID_INPUT for an event that cannot be written as JSON.
 */
export function encodeEventRow(e: ProposedEvent, index: number, streamId: string, revision: number | null): EventRow {
  if (typeof e !== 'object' || e === null || typeof e.eventId !== 'string' || typeof e.type !== 'string') {
    throw ledgerError('INVALID_INPUT', `event ${index} of the append to stream ${streamId} needs a string eventId and type`, { path: ['events', index] });
  }
  const notObject = (v: unknown): boolean => typeof v !== 'object' || v === null || Array.isArray(v);
  if (notObject(e.data) || notObject(e.metadata)) {
    throw ledgerError('INVALID_INPUT', `event ${e.eventId}: data and metadata must be JSON objects`, { path: ['events', index], eventId: e.eventId });
  }
  let body: Buffer;
  try {
    body = pack([e.data, e.metadata], bodyContext(streamId, revision));
  } catch (err) {
    throw ledgerError('INVALID_INPUT', `event ${e.eventId} cannot be written as JSON: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`, {
      path: ['events', index],
      eventId: e.eventId,
    });
  }
  return { eventId: e.eventId, id: eventIdColumn(e.eventId), type: packedNameIndex(e.type) ?? e.type, body };
}

/** The columns of an event row decoded, or a reason why they cannot be (a damaged row). */
export function decodeEventRow(
  streamId: string,
  revision: number,
  idColumn: unknown,
  typeColumn: unknown,
  bodyColumn: unknown,
): { eventId: string; type: string; data: Record<string, unknown>; metadata: Record<string, unknown> } | string {
  const eventId = eventIdOf(idColumn);
  const type = typeof typeColumn === 'number' ? packedName(typeColumn) : typeof typeColumn === 'string' ? typeColumn : undefined;
  if (eventId === undefined || type === undefined || !Buffer.isBuffer(bodyColumn)) return 'a column has the wrong type';
  let body: unknown;
  try {
    body = unpack(bodyColumn, bodyContext(streamId, revision));
  } catch (err) {
    return `its body cannot be read: ${messageOf(err)}`;
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!Array.isArray(body) || body.length !== 2 || !isObject(body[0]) || !isObject(body[1])) return 'its body is not [data, metadata]';
  return { eventId, type, data: body[0], metadata: body[1] };
}

/**
 * The `key` column of a projection entry: the 16 bytes of a lowercase UUID, else the key itself.
 * A UUID's bytes are in a buffer reused by the next call: bind it at once (SQLite copies it).
 */
export function projectionKeyColumn(key: string | number): Buffer | string | number {
  return typeof key === 'string' && uuidBytesInto(key, KEY_SCRATCH) ? KEY_SCRATCH : key;
}

const KEY_SCRATCH = Buffer.alloc(16);

/** A projection key read from its `key` column. */
export function projectionKeyOf(column: unknown): string | number {
  if (Buffer.isBuffer(column) && column.length === 16) return uuidText(column);
  if (typeof column === 'string' || typeof column === 'number') return column;
  throw new TypeError('a projection key has the wrong type');
}

/**
 * The order of projection keys in the `key` column (the order of the key-ordered reads): numbers,
 * then text (by UTF-8 bytes: JS order for ASCII), then UUIDs (by their bytes, which is the order of
 * their lowercase text).
 */
export function compareProjectionKeys(a: string | number, b: string | number): number {
  const ca = keyClass(a);
  const cb = keyClass(b);
  if (ca !== cb) return ca - cb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyClass(k: string | number): number {
  return typeof k === 'number' ? 0 : isPackableUuid(k) ? 2 : 1;
}

/** The `value` column of a projection entry: its JSON text packed, its own key referred to. */
export function projectionValueColumn(json: string, key: string | number): Buffer {
  return pack(JSON.parse(json), [key]);
}

/** A projection entry's value read from its `value` column (PackedFormatError when damaged). */
export function projectionValueOf(column: unknown, key: string | number): unknown {
  if (!Buffer.isBuffer(column)) throw new TypeError('a projection value is not a blob');
  return unpack(column, [key]);
}

// ---------------------------------------------------------------------------------------------
// Inspecting a file before opening it

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const HEADER_SIZE = 100;

/** What the bytes of a file say about it, read without SQLite (and so without any side effect). */
export type FileInspection =
  | { readonly kind: 'missing' }
  | { readonly kind: 'empty' } // zero bytes, or a SQLite database with no schema at all: a new store
  | { readonly kind: 'not-sqlite' }
  | { readonly kind: 'corrupt'; readonly reason: string }
  | { readonly kind: 'foreign'; readonly reason: string; readonly applicationId: number } // a SQLite database that is not a ledger
  | { readonly kind: 'ledger'; readonly version: number }
  /** The main file's header is not the whole truth: a non-empty -wal file exists. Ask SQLite (read-only). */
  | { readonly kind: 'ask-sqlite'; readonly applicationId: number; readonly version: number };

/**
 * Classifies a file by reading its 100-byte SQLite header (and the size of its -wal file).
 *
 * When there is no non-empty `-wal` file, the main file holds every committed
 * transaction, so its header's application id, user version and page count are
 * authoritative: a foreign database is recognised without ever being opened by
 * SQLite (opening a WAL-mode database, even read-only, creates -wal/-shm files next to it).
 */
export function inspectFile(path: string): FileInspection {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw fileError(path, e);
  }
  let size: number;
  const header = Buffer.alloc(HEADER_SIZE);
  let got: number;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw ledgerError('INVALID_INPUT', `${path} is not a regular file`, { path });
    size = st.size;
    got = size === 0 ? 0 : fs.readSync(fd, header, 0, HEADER_SIZE, 0);
  } catch (e) {
    if (isLedgerError(e)) throw e;
    throw fileError(path, e);
  } finally {
    fs.closeSync(fd);
  }
  if (size === 0) return { kind: 'empty' };
  const magicLength = Math.min(got, SQLITE_MAGIC.length);
  if (!header.subarray(0, magicLength).equals(SQLITE_MAGIC.subarray(0, magicLength))) return { kind: 'not-sqlite' };
  if (got < HEADER_SIZE) return { kind: 'corrupt', reason: `only ${size} bytes long, shorter than a SQLite header (truncated)` };

  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return { kind: 'corrupt', reason: `invalid page size ${rawPageSize} in the header` };
  const changeCounter = header.readUInt32BE(24);
  const headerPages = header.readUInt32BE(28);
  const validFor = header.readUInt32BE(92);
  const version = header.readInt32BE(60);
  const applicationId = header.readInt32BE(68);

  if (walHasContent(path)) return { kind: 'ask-sqlite', applicationId, version };

  // No WAL content: the main file is complete, so it must hold whole pages and at least as many as its header says.
  if (size % pageSize !== 0) return { kind: 'corrupt', reason: `size ${size} is not a multiple of the page size ${pageSize} (truncated or damaged)` };
  const filePages = size / pageSize;
  const pages = headerPages !== 0 && changeCounter === validFor ? headerPages : filePages;
  if (pages > filePages) return { kind: 'corrupt', reason: `holds ${filePages} pages but its header says ${pages} (truncated)` };

  if (applicationId === SQLITE_APPLICATION_ID) return { kind: 'ledger', version };
  if (applicationId !== 0) {
    return { kind: 'foreign', reason: `application id 0x${(applicationId >>> 0).toString(16)} is not lineage-ledger's`, applicationId };
  }
  // A database of one page has only the schema table's root page: it cannot hold any table.
  if (pages <= 1 && version === 0) return { kind: 'empty' };
  return { kind: 'foreign', reason: 'it is a SQLite database without the lineage-ledger application id', applicationId };
}

function walHasContent(path: string): boolean {
  try {
    return fs.statSync(`${path}-wal`).size > 0;
  } catch {
    return false;
  }
}

function fileError(path: string, e: unknown): LedgerError {
  const code = (e as NodeJS.ErrnoException).code;
  return ledgerError('STORE_UNAVAILABLE', `${path}: cannot read the store file (${code ?? messageOf(e)})`, { path, errno: code });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A better-sqlite3 SqliteError (recognised by shape: its class is not part of the typed API). */
export function sqliteCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * The one-line message of a thrown value. Duck-typed on purpose: errors made by the native
 * addon may come from another realm (jest's per-file contexts), where `instanceof Error` fails.
 */
export function messageOf(e: unknown): string {
  const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined;
  return (typeof message === 'string' ? message : String(e)).replace(/\s+/g, ' ');
}

/**
 * Translates anything thrown by better-sqlite3 into a LedgerError whose message is one
 * line naming the store file. LedgerErrors pass through unchanged.
 */
export function translateError(e: unknown, path: string, doing: string): LedgerError {
  if (isLedgerError(e)) return e;
  const code = sqliteCode(e);
  const text = messageOf(e);
  const details = { path, sqliteCode: code, sqliteMessage: text };
  if (code === undefined) {
    if (/database connection is not open/i.test(text)) return ledgerError('STORE_CLOSED', `${path}: the store is closed`, details);
    return ledgerError('STORE_UNAVAILABLE', `${path}: ${doing} failed: ${text}`, details);
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return ledgerError('STORE_CORRUPT', `${path}: the store file is damaged (${code}: ${text}) while ${doing}`, details);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return ledgerError('STORE_UNAVAILABLE', `${path}: the database is locked by another process (${code}) while ${doing}; gave up after the busy timeout`, details);
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return ledgerError('READ_ONLY', `${path}: the store is read-only (${code}) while ${doing}`, details);
  }
  if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_CANTOPEN_')) {
    return ledgerError('STORE_UNAVAILABLE', `${path}: cannot open the store file (${code}: ${text})`, details);
  }
  return ledgerError('STORE_UNAVAILABLE', `${path}: ${doing} failed (${code}: ${text})`, details);
}
