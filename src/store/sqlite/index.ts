/**
 * SQLite EventStore adapter: one database file (WAL mode) holds every stream.
 *
 * Durability: an append's promise resolves once the COMMIT of the transaction that
 * holds it has returned. With `synchronous: 'full'` (the default) the COMMIT is on disk
 * (an fsync per commit): an acknowledged append survives a power loss or OS crash, as an
 * audit trail promises. `synchronous: 'normal'` (opt-in; WAL mode) still survives a crash
 * of the process (SIGKILL included) but may lose the last commits on power loss.
 *
 * Group commit: appends issued in the same tick (before the previous flush ran) are
 * queued and written in ONE transaction on a `setImmediate` tick, in queue order.
 * A conflicting or duplicate append fails alone (nothing of it stays written) and
 * the others of the batch still commit.
 *
 * Several processes may open the same file: writers serialise through SQLite's write
 * lock (`BEGIN IMMEDIATE`, waiting up to `busyTimeoutMs`), and the expected revision
 * is always read inside the write transaction. Waiting for the lock blocks this
 * process's event loop (better-sqlite3 is synchronous); write transactions are short.
 *
 * Every failure is a LedgerError: SQLITE_CORRUPT / SQLITE_NOTADB -> STORE_CORRUPT,
 * SQLITE_BUSY after the timeout -> STORE_UNAVAILABLE, a closed store -> STORE_CLOSED.
 *
 * What opening a file does (nothing is ever written to a file that is not a ledger):
 * - missing file: created and initialised (`create: false` or `readonly`: NOT_FOUND);
 * - zero-length file, or a SQLite database with no schema at all: initialised
 *   (`create: false` or `readonly`: NOT_A_LEDGER);
 * - a file that does not start with the SQLite header: NOT_A_LEDGER;
 * - a SQLite database with another application id, or tables but no application id:
 *   NOT_A_LEDGER, decided from the file's header bytes without opening it with SQLite;
 * - a ledger with a newer schema version: STORE_VERSION_UNSUPPORTED;
 * - a damaged file: STORE_CORRUPT (a file that is not SQLite at all is NOT_A_LEDGER: the
 *   header is the only thing that tells them apart, and a wrong path is the likelier cause).
 *
 * Damage detection. On open (O(1), from the header and file sizes, when no -wal file
 * holds commits, i.e. after a clean close or a checkpoint): a header cut short, a size
 * that is not a whole number of pages (SQLite itself reads a cut last page as zeros and
 * may return its rows silently wrong), fewer pages than the header records, a malformed
 * or missing schema. On use: damaged b-tree pages a read or append touches (SQLite's
 * SQLITE_CORRUPT), rows whose data/metadata no longer parse as JSON or have the wrong
 * types. Only by `verifyIntegrity()` / `verifyOnOpen` (reads the whole file): damage on
 * pages no read has touched, indexes disagreeing with the table ('full'), invalid JSON
 * anywhere ('full'), revisions that are not dense, a streams table that disagrees with
 * the events. Not detected: a -wal file cut or damaged (SQLite keeps the commits before
 * the damage and drops the rest, exactly as after a crash); a main file cut while its
 * -wal still holds commits (the open-time size checks are skipped then); a file cut to
 * zero bytes (it is a new, empty store); changes to a row's text that still parse as
 * JSON (SQLite keeps no checksums of page contents).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as os from 'node:os';
import { createWriter, Writer } from './writer';
import Database from 'better-sqlite3';
import { LedgerError, ledgerError } from '../../errors';
import {
  AppendResult,
  EventStore,
  ExpectedRevision,
  pagesFrom,
  PROJECTION_FOLD_VERSION,
  ProjectionDelta,
  ProjectionMapRow,
  ProjectionRow,
  ProjectionStore,
  ProjectionTables,
  ProposedEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StoredProjection,
  StoreListener,
  notifyListeners,
  StreamInfo,
} from '../port';
import {
  decodeEventRow,
  encodeEventRow,
  EventRow,
  FileInspection,
  inspectFile,
  LEGACY_REQUIRED_OBJECTS,
  LEGACY_SQL,
  messageOf,
  compareProjectionKeys,
  projectionKeyColumn,
  projectionKeyOf,
  projectionValueColumn,
  projectionValueOf,
  REQUIRED_OBJECTS,
  PROJECTION_ENTRIES_SQL,
  PROJECTION_FILE_APPLICATION_ID,
  PROJECTION_LAYOUT_VERSION,
  PROJECTION_TABLES_SQL,
  SCHEMA_SQL,
  SQL,
  TABLES_SQL,
  SQLITE_APPLICATION_ID,
  SQLITE_SCHEMA_VERSION,
  sqliteCode,
  translateError,
} from './schema';

export { SQL as SQLITE_STATEMENTS, SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION } from './schema';

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's write lock before failing with STORE_UNAVAILABLE. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * `'full'` (default): every acknowledged append is on disk and survives power loss or an OS
   * crash (an fsync per commit; group commit shares it among the appends of one tick).
   * `'normal'` (opt-in): in WAL mode every committed transaction survives a process crash
   * (SIGKILL); the last commits may be lost on power loss or OS crash.
   */
  readonly synchronous?: 'normal' | 'full';
  /** Open for reading only: appends fail with READ_ONLY; the file must be an existing ledger. Default false. */
  readonly readonly?: boolean;
  /** Create (and initialise) the file when it does not exist. Default true; when false a missing file is NOT_FOUND. */
  readonly create?: boolean;
  /**
   * Check the whole file when opening: `'quick'` runs `verifyIntegrity('quick')`, `'full'` runs
   * `verifyIntegrity('full')`. Default `'none'`: both read every page, so their cost grows with
   * the file (measured on a 2-core VM, 200,000 events / 58 MB: open alone ~1 ms, quick ~70 ms,
   * full ~210 ms), while truncation is caught on every open by cheap header/size checks.
   */
  readonly verifyOnOpen?: 'none' | IntegrityLevel;
}

export type IntegrityLevel = 'quick' | 'full';

export interface IntegrityReport {
  readonly level: IntegrityLevel;
  readonly events: number;
  readonly streams: number;
}

/** Counters since the store was opened (read-only snapshot). */
export interface SqliteStoreStats {
  /** Write transactions committed (one per group-commit batch that wrote or checked anything). */
  readonly commits: number;
  /** Appends that succeeded (idempotent retries and empty appends included). */
  readonly appends: number;
  /** Appends that failed (conflicts, duplicates, invalid input, failed transactions). */
  readonly failedAppends: number;
  /** Events written. */
  readonly events: number;
  /** The largest number of appends flushed in one transaction. */
  readonly largestBatch: number;
}

type Statement = Database.Statement<unknown[], unknown>;

interface PendingAppend {
  readonly streamId: string;
  readonly events: readonly EventRow[];
  readonly expected: ExpectedRevision;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Read statements of the main connection (writes go through the writer, see writer.js). */
interface Statements {
  readonly streamRevision: Statement;
  /** The key of a stream (schema version 3). */
  readonly stream: Statement;
  readonly readStream: Statement;
  readonly readAll: Statement;
  readonly listStreams: Statement;
}

/**
 * Opens (creating and initialising if needed) a SQLite ledger store.
 * `path` may be `':memory:'` for a private in-memory database (no file, no WAL).
 */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteEventStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const synchronous = options.synchronous ?? 'full';
  const readonly = options.readonly ?? false;
  const create = options.create ?? true;
  const verifyOnOpen = options.verifyOnOpen ?? 'none';
  if (typeof path !== 'string' || path === '') throw ledgerError('INVALID_INPUT', 'the SQLite store path must be a non-empty string', { path });
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw ledgerError('INVALID_INPUT', `busyTimeoutMs must be a non-negative number, got ${String(busyTimeoutMs)}`, { path: ['busyTimeoutMs'] });
  }
  if (synchronous !== 'normal' && synchronous !== 'full') {
    throw ledgerError('INVALID_INPUT', `synchronous must be 'normal' or 'full', got ${String(synchronous)}`, { path: ['synchronous'] });
  }
  if (verifyOnOpen !== 'none' && verifyOnOpen !== 'quick' && verifyOnOpen !== 'full') {
    throw ledgerError('INVALID_INPUT', `verifyOnOpen must be 'none', 'quick' or 'full', got ${String(verifyOnOpen)}`, { path: ['verifyOnOpen'] });
  }

  const inMemory = path === ':memory:';
  const file = inMemory ? path : nodePath.resolve(path);
  let isNew = inMemory;
  if (!inMemory) {
    let found = inspectFile(file);
    if (found.kind === 'ask-sqlite') found = probeWithSqlite(file, busyTimeoutMs);
    refuseUnlessOpenable(file, found, { readonly, create });
    isNew = found.kind === 'missing' || found.kind === 'empty';
  }

  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly || !create, timeout: busyTimeoutMs });
  } catch (e) {
    throw translateError(e, file, 'opening the store');
  }
  try {
    db.defaultSafeIntegers(false);
    if (!readonly) {
      if (!inMemory) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw ledgerError('STORE_UNAVAILABLE', `${file}: cannot switch the store to WAL mode (journal mode is ${String(mode)})`, { path: file });
      }
      db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // A page cache large enough for the indexes of a big run (random event ids land on random pages).
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      if (isNew) initialiseIfEmpty(db, file);
      else upgradeIfOlder(db, file);
      resetStaleProjections(db, file);
    }
    checkLedger(db, file);
    const writer = readonly ? null : createWriter(db);
    const store = new SqliteEventStore(db, file, readonly, writer, synchronous);
    if (verifyOnOpen !== 'none') {
      await store.verifyIntegrity(verifyOnOpen);
    }
    return store;
  } catch (e) {
    try {
      db.close();
    } catch {
      // the original error is the one worth reporting
    }
    throw translateError(e, file, 'opening the store');
  }
}

function refuseUnlessOpenable(file: string, found: FileInspection, o: { readonly: boolean; create: boolean }): void {
  switch (found.kind) {
    case 'missing': {
      if (o.readonly || !o.create) {
        throw ledgerError('NOT_FOUND', `${file}: no such store file${o.readonly ? ' (opened read-only)' : ' (nothing was created)'}`, { path: file });
      }
      const dir = nodePath.dirname(file);
      if (!fs.existsSync(dir)) throw ledgerError('NOT_FOUND', `${file}: the directory ${dir} does not exist`, { path: file });
      return;
    }
    case 'empty':
      if (o.readonly || !o.create) {
        throw ledgerError('NOT_A_LEDGER', `${file}: the file is empty, not an initialised lineage-ledger store${o.readonly ? ' (opened read-only)' : ' (create is false)'}`, { path: file });
      }
      return;
    case 'not-sqlite':
      throw ledgerError('NOT_A_LEDGER', `${file}: not a lineage-ledger store (not a SQLite database)`, { path: file });
    case 'foreign':
      throw ledgerError('NOT_A_LEDGER', `${file}: not a lineage-ledger store (${found.reason})`, { path: file });
    case 'corrupt':
      throw ledgerError('STORE_CORRUPT', `${file}: the store file is damaged: ${found.reason}`, { path: file, reason: found.reason });
    case 'ledger':
      if (found.version > SQLITE_SCHEMA_VERSION) throw versionUnsupported(file, found.version);
      return;
    case 'ask-sqlite':
      throw new Error('unreachable: probe first');
  }
}

/** Reads the identification of a file whose -wal holds commits, through a read-only connection (which never writes the main file). */
function probeWithSqlite(file: string, busyTimeoutMs: number): FileInspection {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    const applicationId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    const objects = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
    if (applicationId === SQLITE_APPLICATION_ID) return { kind: 'ledger', version };
    if (applicationId === 0 && version === 0 && objects === 0) return { kind: 'empty' };
    return {
      kind: 'foreign',
      reason: applicationId !== 0 ? `application id 0x${(applicationId >>> 0).toString(16)} is not lineage-ledger's` : 'it is a SQLite database without the lineage-ledger application id',
      applicationId,
    };
  } catch (e) {
    if (sqliteCode(e) === 'SQLITE_NOTADB') {
      throw ledgerError('STORE_CORRUPT', `${file}: the store file is damaged (SQLITE_NOTADB: its header is not valid)`, { path: file, sqliteCode: 'SQLITE_NOTADB' });
    }
    throw translateError(e, file, 'inspecting the store file');
  } finally {
    try {
      db?.close();
    } catch {
      // nothing to do
    }
  }
}

/** Creates the schema in an empty database, inside one write transaction (safe against another process doing the same). */
function initialiseIfEmpty(db: Database.Database, file: string): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const applicationId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    const objects = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
    if (applicationId === 0 && version === 0 && objects === 0) {
      db.exec(SCHEMA_SQL);
      db.exec(TABLES_SQL);
      const meta = db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?)');
      meta.run('schema_version', String(SQLITE_SCHEMA_VERSION));
      meta.run('created_by', 'lineage-ledger');
      meta.run('created_at', new Date().toISOString());
      meta.run('projection_fold', String(PROJECTION_FOLD_VERSION));
      meta.run('projection_layout', String(PROJECTION_LAYOUT_VERSION));
      db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw translateError(e, file, 'initialising the store');
  }
}

/** Events copied per statement by an upgrade. */
const UPGRADE_PAGE = 2000;

/**
 * Brings a store of schema version 1 or 2 up to version 3, in one write transaction (all or
 * nothing): every event is rewritten in the compact layout, at its position, with its stream,
 * revision, id, type, data and metadata unchanged; the projection tables are recreated empty
 * (they are rebuilt from the events on the first read of each run). The pages the old tables
 * used are free pages afterwards: `VACUUM` gives them back to the file system.
 */
function upgradeIfOlder(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version !== 1 && version !== 2) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    const now = db.pragma('user_version', { simple: true }) as number;
    if ((now === 1 || now === 2) && (db.pragma('application_id', { simple: true }) as number) === SQLITE_APPLICATION_ID) {
      db.exec(`
        ALTER TABLE events RENAME TO legacy_events;
        ALTER TABLE streams RENAME TO legacy_streams;
        DROP INDEX events_by_stream;
        DROP INDEX events_by_event_id;
        DROP INDEX streams_by_creation;
        DROP TABLE IF EXISTS projection;
        DROP TABLE IF EXISTS projection_runs;
      `);
      db.exec(TABLES_SQL);
      db.exec('INSERT INTO streams (stream_id, revision) SELECT stream_id, revision FROM legacy_streams ORDER BY created_position');
      const keys = new Map(db.prepare('SELECT stream_id, stream_key FROM streams').raw().all() as [string, number][]);
      const read = db.prepare('SELECT position, stream_id, revision, event_id, type, data, metadata FROM legacy_events WHERE position > ? ORDER BY position LIMIT ?').raw();
      const insert = db.prepare('INSERT INTO events (position, stream_key, revision, event_id, type, body) VALUES (?, ?, ?, ?, ?, ?)');
      let after = 0;
      for (;;) {
        const rows = read.all(after, UPGRADE_PAGE) as [number, string, number, string, string, string, string][];
        for (const [position, streamId, revision, eventId, type, data, metadata] of rows) {
          const key = keys.get(streamId);
          let row: EventRow;
          try {
            if (key === undefined) throw new Error(`its stream ${streamId} is not in the streams table`);
            row = encodeEventRow({ eventId, type, data: JSON.parse(data) as Record<string, unknown>, metadata: JSON.parse(metadata) as Record<string, unknown> }, 0, streamId, revision);
          } catch (e) {
            throw ledgerError('STORE_CORRUPT', `${file}: the store file is damaged: the event at position ${position} cannot be upgraded (${messageOf(e)}); nothing was changed`, { path: file, position });
          }
          insert.run(position, key, revision, row.id, row.type, row.body);
          after = position;
        }
        if (rows.length < UPGRADE_PAGE) break;
      }
      db.exec('DROP TABLE legacy_events; DROP TABLE legacy_streams');
      setMeta(db, 'projection_fold', PROJECTION_FOLD_VERSION);
      setMeta(db, 'projection_layout', PROJECTION_LAYOUT_VERSION);
      db.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'").run(String(SQLITE_SCHEMA_VERSION));
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw translateError(e, file, `upgrading the store from schema version ${version} to ${SQLITE_SCHEMA_VERSION}`);
  }
}

/** The fold version the file's projection rows were written with (1 when not recorded: written before versions were kept). */
function projectionFoldOf(db: Database.Database): number {
  const v = db.prepare("SELECT value FROM ledger_meta WHERE key = 'projection_fold'").pluck().get() as string | undefined;
  return v === undefined ? 1 : Number(v);
}

/** The layout of the file's projection table (1 when not recorded; see PROJECTION_LAYOUT_VERSION). */
function projectionLayoutOf(db: Database.Database): number {
  const v = db.prepare("SELECT value FROM ledger_meta WHERE key = 'projection_layout'").pluck().get() as string | undefined;
  return v === undefined ? 1 : Number(v);
}

/** Whether the file's projection rows can be read as they are: written by this fold, in this layout. */
function projectionIsCurrent(db: Database.Database): boolean {
  return projectionFoldOf(db) === PROJECTION_FOLD_VERSION && projectionLayoutOf(db) === PROJECTION_LAYOUT_VERSION;
}

function setMeta(db: Database.Database, key: string, value: number | string): void {
  db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, String(value));
}

/**
 * Inside a write transaction: empties the projection tables of a file whose rows were written by
 * another fold version (see PROJECTION_FOLD_VERSION) or in another layout (the table is made again
 * in this one; see PROJECTION_LAYOUT_VERSION). They are rebuilt from the events on the next read.
 */
function resetProjectionTables(db: Database.Database): void {
  if (projectionLayoutOf(db) !== PROJECTION_LAYOUT_VERSION) {
    db.exec('DROP TABLE projection');
    db.exec(PROJECTION_ENTRIES_SQL);
  } else db.exec('DELETE FROM projection');
  db.exec('DELETE FROM projection_runs');
  setMeta(db, 'projection_fold', PROJECTION_FOLD_VERSION);
  setMeta(db, 'projection_layout', PROJECTION_LAYOUT_VERSION);
}

/** Resets projection rows of another fold version or layout (resetProjectionTables), in one write transaction. */
function resetStaleProjections(db: Database.Database, file: string): void {
  const hasProjection = (): boolean => (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'projection_runs'").pluck().get() as number) === 1;
  if (!hasProjection() || projectionIsCurrent(db)) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    if (!projectionIsCurrent(db)) resetProjectionTables(db);
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw translateError(e, file, 'resetting projections written by another version of the fold or in another layout');
  }
}

/** Confirms that an open database is a ledger this library can read (no writes). */
function checkLedger(db: Database.Database, file: string): void {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  if (applicationId !== SQLITE_APPLICATION_ID) {
    throw ledgerError('NOT_A_LEDGER', `${file}: not a lineage-ledger store (application id 0x${(applicationId >>> 0).toString(16)})`, { path: file });
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_SCHEMA_VERSION) throw versionUnsupported(file, version);
  const required = version < SQLITE_SCHEMA_VERSION ? LEGACY_REQUIRED_OBJECTS : REQUIRED_OBJECTS;
  const present = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE name IN (${required.map(() => '?').join(', ')})`).pluck().all(...required) as string[]),
  );
  const missing = required.filter((n) => !present.has(n));
  if (version < 1 || missing.length > 0) {
    throw ledgerError('STORE_CORRUPT', `${file}: the store file is damaged: schema version ${version}, missing ${missing.join(', ') || 'nothing'}`, {
      path: file,
      version,
      missing,
    });
  }
  const metaVersion = Number(db.prepare("SELECT value FROM ledger_meta WHERE key = 'schema_version'").pluck().get());
  if (metaVersion > SQLITE_SCHEMA_VERSION) throw versionUnsupported(file, metaVersion);
  if (metaVersion !== version) {
    throw ledgerError('STORE_CORRUPT', `${file}: the store file is damaged: user_version ${version} but ledger_meta says schema version ${String(metaVersion)}`, {
      path: file,
      version,
      metaVersion,
    });
  }
}

function versionUnsupported(file: string, found: number): LedgerError {
  return ledgerError(
    'STORE_VERSION_UNSUPPORTED',
    `${file}: the store has schema version ${found}; this version of lineage-ledger supports schema version ${SQLITE_SCHEMA_VERSION} only (upgrade lineage-ledger)`,
    { path: file, found, supported: SQLITE_SCHEMA_VERSION },
  );
}

// ---------------------------------------------------------------------------------------------

/** SQLite EventStore. Obtain one with `openSqliteStore`. */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  /** Absolute path of the database file (or ':memory:'). */
  readonly path: string;
  readonly readonly: boolean;

  private db: Database.Database | null;
  private readonly s: Statements;
  private readonly writer: Writer | null;
  private queue: PendingAppend[] = [];
  /** A flush is scheduled for the next turn of the event loop. */
  private scheduled = false;
  private closing = false;
  private readonly listeners = new Set<StoreListener>();
  private readonly counters = { commits: 0, appends: 0, failedAppends: 0, events: 0, largestBatch: 0 };
  /** The write-ahead log this connection commits to (device and inode), noted at its first commit; see checkWal. */
  private wal: { dev: number; ino: number } | null | 'unwatched' = null;
  /** Set once the write-ahead log was found deleted or replaced: every later append fails with it. */
  private walLost: LedgerError | null = null;
  /** The persisted run projections of this file (null for a file of an older schema version opened read-only: reads fold the events). */
  readonly projections: ProjectionStore | null;
  /** A file of schema version 1 or 2 (JSON text rows), open read-only. */
  private readonly legacy: boolean;

  /** @internal Use openSqliteStore. */
  constructor(
    db: Database.Database,
    path: string,
    readonly: boolean,
    writer: Writer | null,
    /** The durability setting of this connection's commits. */
    readonly synchronous: 'normal' | 'full' = 'full',
  ) {
    this.db = db;
    this.path = path;
    this.readonly = readonly;
    this.writer = writer;
    const p = (sql: string, safeIntegers = false, raw = false): Statement => {
      const st = db.prepare(sql);
      if (safeIntegers) st.safeIntegers(true);
      if (raw) st.raw(true);
      return st;
    };
    // a file of schema version 1 or 2 is only ever open read-only here (a read-write open upgrades it)
    this.legacy = (db.pragma('user_version', { simple: true }) as number) < SQLITE_SCHEMA_VERSION;
    const sql = this.legacy ? { ...LEGACY_SQL, stream: SQL.stream } : SQL;
    this.s = {
      streamRevision: p(sql.streamRevision).pluck(),
      stream: this.legacy ? p('SELECT 1') : p(SQL.stream).raw(true),
      readStream: p(sql.readStream, true, true),
      readAll: p(sql.readAll, true, true),
      listStreams: p(sql.listStreams, false, true),
    };
    const hasProjection = !this.legacy && (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'projection_runs'").pluck().get() as number) === 1;
    // rows of another fold version or layout are not used (a writable open has already reset them)
    const current = hasProjection && projectionIsCurrent(db);
    this.projections = current ? new SqliteProjectionStore(db, path, readonly, () => this.assertOpen()) : null;
  }

  get stats(): SqliteStoreStats {
    return { ...this.counters };
  }

  append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    try {
      this.assertOpen();
      if (this.readonly) throw ledgerError('READ_ONLY', `${this.path}: the store was opened read-only and accepts no appends`, { path: this.path, streamId });
      if (typeof streamId !== 'string') throw ledgerError('INVALID_INPUT', 'streamId must be a string', { path: ['streamId'] });
      if (!Array.isArray(events)) throw ledgerError('INVALID_INPUT', 'events must be an array', { path: ['events'] });
      // Encode now: later changes to the caller's objects cannot reach the store, and a value that
      // cannot be written fails this append alone, before it joins a batch. An exact expected
      // revision says each event's revision (an append at another one fails as a conflict).
      const first = expected === 'no_stream' ? 0 : typeof expected === 'number' ? expected + 1 : null;
      const encoded = events.map((e, i) => encodeEventRow(e, i, streamId, first === null ? null : first + i));
      return new Promise<AppendResult>((resolve, reject) => {
        this.queue.push({ streamId, events: encoded, expected, resolve, reject });
        this.scheduleFlush();
      });
    } catch (e) {
      this.counters.failedAppends++;
      return Promise.reject(e);
    }
  }

  /** Writes queued appends on the next turn of the event loop, so that appends issued together share a transaction. */
  private scheduleFlush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes every queued append in one transaction; settles each append's promise after the COMMIT returned. */
  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (batch.length > this.counters.largestBatch) this.counters.largestBatch = batch.length;
    if (this.writer === null || this.db === null) {
      this.failAll(batch, ledgerError('STORE_CLOSED', `${this.path}: the store is closed`, { path: this.path }));
      return;
    }
    if (this.walLost !== null) {
      this.failAll(batch, this.walLost);
      return;
    }
    const result = this.writer.write(batch);
    if (!result.committed) {
      this.failAll(batch, translateError(result.error, this.path, 'appending'));
      return;
    }
    const lost = this.checkWal();
    if (lost !== null) {
      this.failAll(batch, lost);
      return;
    }
    this.counters.commits++;
    this.counters.events += result.events;
    batch.forEach((p, i) => {
      const o = result.outcomes[i]!;
      if (o.ok) {
        this.counters.appends++;
        p.resolve(o.value);
      } else {
        this.counters.failedAppends++;
        p.reject(o.error);
      }
    });
    if (this.listeners.size > 0) {
      const written = new Set<string>();
      batch.forEach((p, i) => {
        if (result.outcomes[i]!.ok && p.events.length > 0) written.add(p.streamId);
      });
      for (const streamId of written) notifyListeners(this.listeners, streamId);
    }
  }

  /**
   * Live notification (see EventStore.watch): called once per stream written by a committed
   * group-commit batch of THIS store instance. Appends by other connections or processes are
   * not reported (subscribers poll for those).
   */
  watch(listener: StoreListener): () => void {
    const entry: StoreListener = (streamId) => listener(streamId);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /**
   * An append is acknowledged only while the write-ahead log it was committed to is still the
   * file's log. Deleting `<file>-wal` under a running writer (an operator "cleaning up") leaves
   * this connection committing into an unlinked file that no other connection and no later open
   * will read, so after each commit the log's identity is compared with the one noted at the
   * first commit. When it is gone or replaced, the commit is not acknowledged: the writer
   * checkpoints what its log holds into the database file (saving what can be saved), refuses
   * every later append with STORE_CORRUPT, and says so. What cannot be detected: a log deleted
   * while no writer is open (its committed, not yet checkpointed transactions are lost
   * without trace), so the README says never to delete it.
   */
  private checkWal(): LedgerError | null {
    if (this.wal === 'unwatched' || this.path === ':memory:' || this.db === null) return null;
    let now: { dev: number; ino: number } | null;
    try {
      const st = fs.statSync(`${this.path}-wal`);
      now = { dev: st.dev, ino: st.ino };
    } catch {
      now = null;
    }
    if (this.wal === null) {
      // no log beside the file after a commit: SQLite keeps it elsewhere (a symlinked path); not watched
      this.wal = now ?? 'unwatched';
      return null;
    } else if (now !== null && now.dev === this.wal.dev && now.ino === this.wal.ino) {
      return null;
    }
    let saved = 'the checkpoint of what this writer held failed';
    try {
      const [row] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      if (row !== undefined && row.busy === 0 && row.checkpointed === row.log) saved = 'what this writer held was checkpointed into the database file';
    } catch {
      // reported below
    }
    this.walLost = ledgerError(
      'STORE_CORRUPT',
      `${this.path}: the write-ahead log (${this.path}-wal) was deleted or replaced while this store was writing; the last commit is not acknowledged and this store accepts no more appends (${saved}; close it and reopen the file, then check the runs it was recording)`,
      { path: this.path },
    );
    return this.walLost;
  }

  private failAll(batch: readonly PendingAppend[], error: LedgerError): void {
    this.counters.failedAppends += batch.length;
    for (const p of batch) p.reject(error);
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    const from = Math.max(0, options.fromRevision ?? 0);
    if (this.legacy) {
      yield* pagesFrom(from, options, (at, limit) => this.readPage(this.s.readStream, [streamId, at, limit], 'reading a stream').map((r) => this.decodeLegacy(r)), (last) => last.revision + 1);
      return;
    }
    let key: number | undefined;
    try {
      key = (this.s.stream.get(streamId) as [number, number] | undefined)?.[0];
    } catch (e) {
      throw translateError(e, this.path, 'reading a stream');
    }
    if (key === undefined) return;
    yield* pagesFrom(
      from,
      options,
      (at, limit) => this.readPage(this.s.readStream, [key, at, limit], 'reading a stream').map((r) => this.decode(r[0], streamId, r[1], r[2], r[3], r[4])),
      (last) => last.revision + 1,
    );
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    const decode = this.legacy ? (r: unknown[]) => this.decodeLegacy(r) : (r: unknown[]) => this.decode(r[0], r[1], r[2], r[3], r[4], r[5]);
    yield* pagesFrom(options.after ?? 0n, options, (after, limit) => this.readPage(this.s.readAll, [after, limit], 'reading all events').map(decode), (last) => last.position);
  }

  private readPage(statement: Statement, params: unknown[], doing: string): unknown[][] {
    this.assertOpen();
    try {
      return statement.all(...params) as unknown[][];
    } catch (e) {
      throw translateError(e, this.path, doing);
    }
  }

  /** A row of schema version 3 as a StoredEvent (STORE_CORRUPT when it cannot be read). */
  private decode(position: unknown, streamId: unknown, revision: unknown, id: unknown, type: unknown, body: unknown): StoredEvent {
    if (typeof position !== 'bigint' || typeof streamId !== 'string' || typeof revision !== 'bigint') throw this.corruptRow(position, 'a column has the wrong type');
    const r = Number(revision);
    const e = decodeEventRow(streamId, r, id, type, body);
    if (typeof e === 'string') throw this.corruptRow(position, e);
    return { streamId, revision: r, position, eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata };
  }

  /** A row of schema version 1 or 2 (JSON text) as a StoredEvent. */
  private decodeLegacy(r: unknown[]): StoredEvent {
    const [position, streamId, revision, eventId, type, data, metadata] = r;
    if (
      typeof position !== 'bigint' ||
      typeof streamId !== 'string' ||
      typeof revision !== 'bigint' ||
      typeof eventId !== 'string' ||
      typeof type !== 'string' ||
      typeof data !== 'string' ||
      typeof metadata !== 'string'
    ) {
      throw this.corruptRow(position, 'a column has the wrong type');
    }
    let parsedData: Record<string, unknown>;
    let parsedMetadata: Record<string, unknown>;
    try {
      parsedData = JSON.parse(data) as Record<string, unknown>;
      parsedMetadata = JSON.parse(metadata) as Record<string, unknown>;
    } catch {
      throw this.corruptRow(position, 'its data or metadata is not valid JSON');
    }
    return { streamId, revision: Number(revision), position, eventId, type, data: parsedData, metadata: parsedMetadata };
  }

  private corruptRow(position: unknown, why: string): LedgerError {
    return ledgerError('STORE_CORRUPT', `${this.path}: the store file is damaged: the event at position ${String(position)} is unreadable (${why})`, {
      path: this.path,
      position: typeof position === 'bigint' ? position.toString() : String(position),
    });
  }

  async listStreams(): Promise<readonly StreamInfo[]> {
    this.assertOpen();
    try {
      return (this.s.listStreams.all() as [string, number][]).map(([streamId, revision]) => ({ streamId, revision }));
    } catch (e) {
      throw translateError(e, this.path, 'listing streams');
    }
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    try {
      const revision = (this.s.streamRevision.get(streamId) as number | undefined) ?? null;
      return revision === null || revision < 0 ? null : revision;
    } catch (e) {
      throw translateError(e, this.path, 'reading a stream revision');
    }
  }

  /**
   * Reads the whole file and checks it: SQLite's `quick_check` ('quick': every b-tree page is
   * well formed) or `integrity_check` ('full': also indexes agree with the table, every text is
   * valid JSON); then the ledger's own invariants (each stream's revisions are dense from 0 and
   * match the streams table). Throws STORE_CORRUPT listing the problems found.
   */
  async verifyIntegrity(level: IntegrityLevel = 'quick'): Promise<IntegrityReport> {
    this.assertOpen();
    const db = this.db!;
    const problems: string[] = [];
    let events = 0;
    let streams = 0;
    try {
      const check = db.prepare(level === 'full' ? 'PRAGMA integrity_check(100)' : 'PRAGMA quick_check(100)').pluck().all() as string[];
      if (!(check.length === 1 && check[0] === 'ok')) problems.push(...check);
      if (problems.length === 0) {
        const sql = this.legacy ? LEGACY_SQL : SQL;
        const perStream = new Map<string, number>();
        for (const [streamId, revision] of db.prepare(sql.streamRevisions).raw().all() as [string, number][]) {
          perStream.set(streamId, revision);
        }
        streams = perStream.size;
        const grouped = db.prepare(sql.eventRevisions).raw().all() as [string, number, number, number][];
        const seen = new Set<string>();
        for (const [streamId, count, min, max] of grouped) {
          events += count;
          seen.add(streamId);
          const recorded = perStream.get(streamId);
          if (min !== 0 || max !== count - 1) problems.push(`stream ${streamId}: revisions ${min}..${max} are not dense (${count} events)`);
          if (recorded === undefined) problems.push(`stream ${streamId}: has events but no entry in the streams table`);
          else if (recorded !== max) problems.push(`stream ${streamId}: streams table says revision ${recorded}, events end at ${max}`);
        }
        for (const streamId of perStream.keys()) if (!seen.has(streamId)) problems.push(`stream ${streamId}: listed but has no events`);
        if (level === 'full' && this.legacy) {
          const bad = db.prepare('SELECT position FROM events WHERE NOT json_valid(data) OR NOT json_valid(metadata) LIMIT 20').pluck().all() as number[];
          for (const position of bad) problems.push(`event at position ${position}: data or metadata is not valid JSON`);
        } else if (level === 'full') {
          // every body is read back (SQLite cannot check the packed encoding itself)
          const page = db.prepare(SQL.readAll).raw(true).safeIntegers(true);
          let after = 0n;
          let bad = 0;
          for (;;) {
            const rows = page.all(after, 2000) as unknown[][];
            for (const r of rows) {
              after = r[0] as bigint;
              const e = decodeEventRow(String(r[1]), Number(r[2]), r[3], r[4], r[5]);
              if (typeof e === 'string' && bad++ < 20) problems.push(`event at position ${after}: ${e}`);
            }
            if (rows.length < 2000) break;
          }
        }
      }
    } catch (e) {
      throw translateError(e, this.path, 'checking integrity');
    }
    if (problems.length > 0) {
      throw ledgerError('STORE_CORRUPT', `${this.path}: the store file is damaged: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}`, {
        path: this.path,
        problems: problems.slice(0, 100),
      });
    }
    return { level, events, streams };
  }

  /** Waits for queued appends to be written, then closes the database. Later calls of any method fail with STORE_CLOSED. */
  async close(): Promise<void> {
    if (this.db === null) return;
    this.closing = true;
    // let a scheduled flush run: queued appends are written before the database closes
    while (this.scheduled || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    this.listeners.clear();
    const db = this.db;
    this.db = null;
    if (db === null) return;
    try {
      db.close();
    } catch (e) {
      throw translateError(e, this.path, 'closing the store');
    }
  }

  private assertOpen(): void {
    if (this.db === null || this.closing) throw ledgerError('STORE_CLOSED', `${this.path}: the store is closed`, { path: this.path });
  }
}



/**
 * The projection tables of a SQLite store (schema in schema.ts, format in
 * src/projections/persisted.ts). Reads use the main connection; catch-up writes
 * take the write lock like appends do.
 */
/** A temporary projection store (see openScratchProjections). */
export interface ScratchProjections {
  readonly projections: ProjectionStore;
  /** Closes the file and deletes it. */
  close(): void;
}

/**
 * A projection store in a temporary file of its own (under the system's temporary folder, or
 * `dir`), for folding a run's events into tables when the run is too large to hold in memory
 * (a read as of an earlier point of a large run). Nothing in it needs to survive a crash:
 * no journal, no syncs. `close` deletes it.
 */
export function openScratchProjections(dir: string = os.tmpdir()): ScratchProjections {
  const folder = fs.mkdtempSync(nodePath.join(dir, 'lineage-ledger-scratch-'));
  const file = nodePath.join(folder, 'projection.db');
  let db: Database.Database | null = null;
  try {
    db = new Database(file);
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(SCHEMA_SQL);
    db.exec(TABLES_SQL);
  } catch (e) {
    db?.close();
    fs.rmSync(folder, { recursive: true, force: true });
    throw translateError(e, file, 'creating a scratch projection');
  }
  const open = db;
  return separateProjections(open, file, 'scratch projection', () => fs.rmSync(folder, { recursive: true, force: true }));
}

/** The local projection of a server store, in a file of its own (see openProjectionFile). */
export interface ProjectionFile {
  readonly path: string;
  readonly projections: ProjectionStore;
  close(): void;
}

/**
 * Opens (creating it when missing) a projection file: the run projections of a store that keeps
 * none itself (EventStoreDB), in SQLite tables of the same layout as a ledger file's, so that reads
 * use them instead of folding the run's events. It is written the way a ledger file's tables are
 * (by the recorder after its appends are acknowledged, and by a reader that finds them behind the
 * events, which folds only the events after the recorded seq: that seq is the checkpoint), and can
 * be deleted at any time: it is rebuilt from the events on the next read. It belongs to one store:
 * `source` (the store's URL without credentials) is kept in it, and a file of another source is
 * refused, as is a file that is not a projection file (nothing is written to it). Not durable on
 * power loss by design (synchronous=NORMAL): what is lost is folded again.
 */
export function openProjectionFile(path: string, source: string, options: { readonly busyTimeoutMs?: number } = {}): ProjectionFile {
  const file = nodePath.resolve(path);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let found = inspectFile(file);
  if (found.kind === 'ask-sqlite') found = probeWithSqlite(file, busyTimeoutMs);
  const refuse = (why: string): never => {
    throw ledgerError('NOT_A_LEDGER', `${file}: not a lineage-ledger projection file (${why}); give a new file's path, or delete this one if it is an old projection file`, { path: file });
  };
  switch (found.kind) {
    case 'missing':
      if (!fs.existsSync(nodePath.dirname(file))) throw ledgerError('NOT_FOUND', `${file}: the directory ${nodePath.dirname(file)} does not exist`, { path: file });
      break;
    case 'empty':
      break;
    case 'ledger':
      refuse('it is a ledger store');
      break;
    case 'foreign':
      if (found.applicationId !== PROJECTION_FILE_APPLICATION_ID) refuse(found.reason);
      break;
    case 'not-sqlite':
      refuse('not a SQLite database');
      break;
    case 'corrupt':
      throw ledgerError('STORE_CORRUPT', `${file}: the projection file is damaged: ${found.reason}; delete it (it is rebuilt from the events)`, { path: file });
    case 'ask-sqlite':
      throw new Error('unreachable: probed');
  }
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (e) {
    throw translateError(e, file, 'opening the projection file');
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('BEGIN IMMEDIATE');
    try {
      const objects = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
      if (objects === 0) {
        db.exec(SCHEMA_SQL);
        db.exec(PROJECTION_TABLES_SQL);
        const meta = db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?)');
        meta.run('schema_version', String(SQLITE_SCHEMA_VERSION));
        meta.run('source', source);
        meta.run('projection_fold', String(PROJECTION_FOLD_VERSION));
        meta.run('projection_layout', String(PROJECTION_LAYOUT_VERSION));
        db.pragma(`application_id = ${PROJECTION_FILE_APPLICATION_ID}`);
        db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
      } else {
        const meta = (key: string): string | undefined => db.prepare('SELECT value FROM ledger_meta WHERE key = ?').pluck().get(key) as string | undefined;
        if (Number(meta('schema_version')) !== SQLITE_SCHEMA_VERSION) {
          // a cache of another layout: start again
          db.exec('DELETE FROM projection; DELETE FROM projection_runs');
        }
        const was = meta('source');
        if (was !== source) {
          throw ledgerError('INVALID_INPUT', `${file}: this projection file belongs to the store ${String(was)}, not ${source}; give each store its own projection file`, { path: file });
        }
        if (!projectionIsCurrent(db)) resetProjectionTables(db);
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
  } catch (e) {
    db.close();
    throw translateError(e, file, 'opening the projection file');
  }
  return { path: file, ...separateProjections(db, file, 'projection file') };
}

/** A projection store over a database of its own (a scratch file, a projection file); `close` closes it, then runs `after`. */
function separateProjections(db: Database.Database, file: string, what: string, after: () => void = () => undefined): { projections: ProjectionStore; close(): void } {
  let closed = false;
  const projections = new SqliteProjectionStore(
    db,
    file,
    false,
    () => {
      if (closed) throw ledgerError('STORE_CLOSED', `${file}: the ${what} is closed`, { path: file });
    },
    true,
  );
  return {
    projections,
    close() {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } finally {
        after();
      }
    },
  };
}

class SqliteProjectionStore implements ProjectionStore {
  private readonly s: Record<
    | 'run'
    | 'insertRun'
    | 'updateRun'
    | 'dropRun'
    | 'drop'
    | 'upsert'
    | 'delete'
    | 'get'
    | 'pageFromKey'
    | 'has'
    | 'count'
    | 'page'
    | 'firstByKey'
    | 'pageByKey'
    | 'pageAll'
    | 'begin'
    | 'beginRead'
    | 'revision'
    | 'commit'
    | 'rollback',
    Statement
  >;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly readonly: boolean,
    private readonly assertOpen: () => void,
    /** A scratch projection or a projection file: its events are elsewhere, so writes are not checked against this file's streams. */
    private readonly scratch = false,
  ) {
    const p = (sql: string): Statement => db.prepare(sql);
    this.s = {
      run: p(SQL.projectionRun).raw(true),
      insertRun: p(SQL.insertProjectionRun),
      updateRun: p(SQL.updateProjectionRun),
      dropRun: p(SQL.dropProjectionRun),
      drop: p(SQL.dropProjection),
      upsert: p(SQL.upsertProjection),
      delete: p(SQL.deleteProjection),
      get: p(SQL.projectionGet).pluck(),
      pageFromKey: p(SQL.projectionPageFromKey).raw(true),
      has: p(SQL.projectionHas).pluck(),
      count: p(SQL.projectionCount).pluck(),
      page: p(SQL.projectionPage).raw(true),
      firstByKey: p(SQL.projectionFirstByKey).raw(true),
      pageByKey: p(SQL.projectionPageByKey).raw(true),
      pageAll: p(SQL.projectionPageAll).raw(true),
      begin: p(SQL.begin),
      beginRead: p(SQL.beginRead),
      // a scratch projection or projection file checks nothing against streams (it has none)
      revision: p(scratch ? 'SELECT NULL' : SQL.streamRevision).pluck(),
      commit: p(SQL.commit),
      rollback: p(SQL.rollback),
    };
  }

  private runRow(streamId: string): [number, number, string | null] | undefined {
    this.assertOpen();
    return this.s.run.get(streamId) as [number, number, string | null] | undefined;
  }

  open(streamId: string): StoredProjection {
    try {
      const row = this.runRow(streamId);
      return { version: row?.[1] ?? -1, recordedAt: row?.[2] ?? null, tables: this.tables(streamId, row?.[0] ?? null) };
    } catch (e) {
      throw translateError(e, this.path, 'reading a projection');
    }
  }

  /** Tables of one run; a run whose projection row does not exist yet is looked up again until it does. */
  private tables(streamId: string, known: number | null): ProjectionTables {
    let runKey = known;
    const s = this.s;
    const db = this.db;
    const assertOpen = (): void => this.assertOpen();
    const path = this.path;
    const key = (): number | null => {
      this.assertOpen();
      if (runKey === null) runKey = this.runRow(streamId)?.[0] ?? null;
      return runKey;
    };
    const fail = (e: unknown): never => {
      throw translateError(e, path, 'reading a projection');
    };
    /** The key and value of an entry, decoded; STORE_CORRUPT when the row cannot be read. */
    const keyOf = (column: unknown, map: number): string | number => {
      try {
        return projectionKeyOf(column);
      } catch (e) {
        throw this.corruptEntry(streamId, map, '?', messageOf(e));
      }
    };
    const decode = (column: unknown, map: number, k: string | number): unknown => {
      try {
        return projectionValueOf(column, k);
      } catch (e) {
        throw this.corruptEntry(streamId, map, k, `its value cannot be read: ${messageOf(e)}`);
      }
    };
    /**
     * Decodes the keys and values of a page in place (better-sqlite3 hands out a new array per row);
     * `map` null: each row's map is its first column (a read across maps).
     */
    const decodeRows = <R>(rows: unknown[][], map: number | null): R[] => {
      for (const row of rows) {
        const m = map ?? (row[0] as number);
        const k = keyOf(row[1], m);
        row[1] = k;
        row[2] = decode(row[2], m, k);
      }
      return rows as unknown as R[];
    };
    // hot paths (every cache miss of the recorder): no closures allocated per call
    return {
      compareKeys: compareProjectionKeys,
      snapshot<T>(read: () => T): T {
        assertOpen();
        if (db.inTransaction) return read();
        try {
          s.beginRead.run();
        } catch (e) {
          return fail(e);
        }
        try {
          return read();
        } finally {
          // a read transaction: ending it cannot lose anything (and a failure to end it would surface on the next statement)
          if (db.inTransaction) s.commit.run();
        }
      },
      get(map, k) {
        const r = key();
        if (r === null) return undefined;
        let text: unknown;
        try {
          text = s.get.get(r, map, projectionKeyColumn(k));
        } catch (e) {
          return fail(e);
        }
        return text === undefined ? undefined : decode(text, map, k);
      },
      pageFromKey(map, from, limit) {
        const r = key();
        if (r === null) return [];
        let rows: unknown[][];
        try {
          rows = s.pageFromKey.all(r, map, projectionKeyColumn(from), limit) as unknown[][];
        } catch (e) {
          return fail(e);
        }
        return decodeRows<ProjectionRow>(rows, map);
      },
      has(map, k) {
        const r = key();
        if (r === null) return false;
        try {
          return s.has.get(r, map, projectionKeyColumn(k)) !== undefined;
        } catch (e) {
          return fail(e);
        }
      },
      count(map) {
        const r = key();
        if (r === null) return 0;
        try {
          return s.count.get(r, map) as number;
        } catch (e) {
          return fail(e);
        }
      },
      page(map, after, limit) {
        const r = key();
        if (r === null) return [];
        let rows: unknown[][];
        try {
          rows = s.page.all(r, map, after, limit) as unknown[][];
        } catch (e) {
          return fail(e);
        }
        return decodeRows<ProjectionRow>(rows, map);
      },
      pageAllFromKey(from, limit) {
        const r = key();
        if (r === null) return [];
        let rows: unknown[][];
        try {
          rows = s.pageAll.all(r, projectionKeyColumn(from), limit) as unknown[][];
        } catch (e) {
          return fail(e);
        }
        return decodeRows<ProjectionMapRow>(rows, null);
      },
      pageByKey(map, after, limit) {
        const r = key();
        if (r === null) return [];
        let rows: unknown[][];
        try {
          rows = (after === null ? s.firstByKey.all(r, map, limit) : s.pageByKey.all(r, map, projectionKeyColumn(after), limit)) as unknown[][];
        } catch (e) {
          return fail(e);
        }
        return decodeRows<ProjectionRow>(rows, map);
      },
    };
  }

  private corruptEntry(streamId: string, map: number, key: unknown, why: string): LedgerError {
    return ledgerError('STORE_CORRUPT', `${this.path}: the store file is damaged: the projection entry ${JSON.stringify(key)} of table ${map} of stream ${streamId} is unreadable (${why})`, {
      path: this.path,
      streamId,
      map,
      key: String(key),
    });
  }

  write(streamId: string, delta: ProjectionDelta): void {
    this.assertOpen();
    if (this.readonly) throw ledgerError('READ_ONLY', `${this.path}: the store was opened read-only; its projection cannot be brought up to date`, { path: this.path, streamId });
    try {
      this.s.begin.run();
      try {
        const row = this.runRow(streamId);
        const version = row?.[1] ?? -1;
        if (version !== delta.fromVersion) {
          throw ledgerError('CONCURRENCY_CONFLICT', `projection of ${streamId} is at ${version}, not ${delta.fromVersion}`, { streamId, expected: delta.fromVersion, actual: version });
        }
        const revision = this.scratch ? delta.toVersion : (this.s.revision.get(streamId) as number | undefined);
        if (revision === undefined || delta.toVersion > revision) {
          throw ledgerError('INVALID_INPUT', `projection of ${streamId}: seq ${delta.toVersion} is past the stream's last event (${String(revision)})`, { streamId });
        }
        const runKey = row?.[0] ?? Number(this.s.insertRun.run(streamId).lastInsertRowid);
        for (const [map, key, value] of delta.entries) {
          const k = projectionKeyColumn(key);
          if (value === null) this.s.delete.run(runKey, map, k);
          else this.s.upsert.run({ r: runKey, m: map, k, v: projectionValueColumn(value, key) });
        }
        this.s.updateRun.run(delta.toVersion, delta.recordedAt, runKey);
        this.s.commit.run();
      } catch (e) {
        if (this.db.inTransaction) this.s.rollback.run();
        throw e;
      }
    } catch (e) {
      throw translateError(e, this.path, 'writing a projection');
    }
  }

  checkpoint(name: string): string | null {
    this.assertOpen();
    try {
      return (this.db.prepare('SELECT value FROM ledger_meta WHERE key = ?').pluck().get(`checkpoint:${name}`) as string | undefined) ?? null;
    } catch (e) {
      throw translateError(e, this.path, 'reading a checkpoint');
    }
  }

  saveCheckpoint(name: string, value: string): void {
    this.assertOpen();
    if (this.readonly) throw ledgerError('READ_ONLY', `${this.path}: the store was opened read-only`, { path: this.path });
    try {
      setMeta(this.db, `checkpoint:${name}`, value);
    } catch (e) {
      throw translateError(e, this.path, 'writing a checkpoint');
    }
  }

  drop(streamId: string): void {
    this.assertOpen();
    if (this.readonly) throw ledgerError('READ_ONLY', `${this.path}: the store was opened read-only`, { path: this.path, streamId });
    try {
      const row = this.runRow(streamId);
      if (row === undefined) return;
      this.s.begin.run();
      this.s.drop.run(row[0]);
      this.s.dropRun.run(row[0]);
      this.s.commit.run();
    } catch (e) {
      if (this.db.inTransaction) this.s.rollback.run();
      throw translateError(e, this.path, 'dropping a projection');
    }
  }
}
