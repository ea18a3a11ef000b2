/**
 * PostgreSQL store (node-postgres): `postgres://user:pass@host:port/db?schema=<name>`.
 *
 * Tables live in one schema (default `public`), created on first use and versioned in
 * `ledger_meta`; a schema that holds other tables and no ledger marker is refused without
 * being modified, and a newer schema version is refused.
 *
 * Appends. Appends issued while a write is in flight are group-committed: one transaction
 * per batch, each append checked on its own (expected revision, event ids) before anything of
 * it is inserted, so one append's failure leaves the others of the batch intact. Every
 * write transaction first takes the row lock of the single `positions` row (SELECT ... FOR
 * UPDATE), which serialises writers of every process and machine on the database; under
 * that lock the revisions and stored event ids it reads cannot change, and it allocates the
 * next global positions from the row's counter.
 *
 * Why a follower never skips an event: positions are handed out only under that lock, and
 * the lock is held until the transaction has committed (PostgreSQL releases a transaction's
 * row locks after its commit is visible). So when any reader can see position p, every
 * transaction that took a position below p has already committed or rolled back, and a
 * rolled-back one also rolled back the counter: the positions a reader sees are always a
 * gap-free prefix. (A sequence would not do: its values are taken outside the lock order
 * and commit out of order.) test/store/postgres.test.ts races writers against a follower.
 *
 * An append's promise resolves after its COMMIT returned (synchronous_commit as the server
 * is configured; on by default, so an acknowledged append is on the server's disk).
 *
 * Projection tables: the same collections as SQLite's (src/projections/persisted.ts), read
 * and written synchronously through a connection in a worker thread (sync-client.ts).
 */
import { randomUUID } from 'node:crypto';
import { Client, Pool, type PoolClient } from 'pg';
import { isLedgerError, LedgerError, ledgerError } from '../../errors';
import {
  AppendResult,
  conflictError,
  EncodedEvent,
  encodeEvent,
  EventStore,
  ExpectedRevision,
  expectedRevisionMatches,
  notifyListeners,
  pagesFrom,
  PROJECTION_FOLD_VERSION,
  ProjectionDelta,
  ProjectionRow,
  ProjectionStore,
  ProjectionTables,
  ProposedEvent,
  ReadAllOptions,
  ReadStreamOptions,
  retryStart,
  StoredEvent,
  StoredProjection,
  StoreListener,
  StreamInfo,
} from '../port';
import { SyncPgClient, SyncQueryError } from './sync-client';

/** Schema version written by (and the newest understood by) this library, kept in ledger_meta. */
export const POSTGRES_SCHEMA_VERSION = 1;
const APPLICATION = 'lineage-ledger';
const NOTIFY_CHANNEL = 'lineage_ledger_events';

const TABLES = ['ledger_meta', 'positions', 'streams', 'events', 'projection_runs', 'projection'] as const;

function schemaSql(s: string): string {
  return `
CREATE TABLE ${s}.ledger_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE ${s}.positions (id smallint PRIMARY KEY CHECK (id = 1), last bigint NOT NULL);
INSERT INTO ${s}.positions VALUES (1, 0);
CREATE TABLE ${s}.streams (
  stream_id        text COLLATE "C" PRIMARY KEY,
  revision         bigint NOT NULL,
  created_position bigint NOT NULL UNIQUE
);
CREATE TABLE ${s}.events (
  position  bigint PRIMARY KEY,
  stream_id text COLLATE "C" NOT NULL,
  revision  bigint NOT NULL,
  event_id  text COLLATE "C" NOT NULL UNIQUE,
  type      text NOT NULL,
  data      text NOT NULL,
  metadata  text NOT NULL,
  UNIQUE (stream_id, revision)
);
CREATE TABLE ${s}.projection_runs (
  run_key     bigserial PRIMARY KEY,
  stream_id   text COLLATE "C" NOT NULL UNIQUE,
  version     bigint NOT NULL,
  recorded_at text
);
CREATE TABLE ${s}.projection (
  run_key bigint NOT NULL,
  map     integer NOT NULL,
  key     bytea NOT NULL,
  num     double precision,
  id      bigint NOT NULL,
  value   text NOT NULL,
  PRIMARY KEY (run_key, map, key)
);
CREATE INDEX projection_by_order ON ${s}.projection (run_key, map, id);
CREATE INDEX projection_by_num ON ${s}.projection (run_key, map, num) WHERE num IS NOT NULL;
INSERT INTO ${s}.ledger_meta VALUES ('application', '${APPLICATION}'), ('schema_version', '${POSTGRES_SCHEMA_VERSION}'), ('projection_fold', '${PROJECTION_FOLD_VERSION}');
`;
}

export interface PostgresStoreOptions {
  /** Schema of the tables (default `public`). */
  readonly schema?: string;
  /** Create the tables when the schema has none (default true). False: a database without a ledger is NOT_FOUND and nothing is created. */
  readonly create?: boolean;
  /** Connections in the pool used for appends and reads (default 4). */
  readonly poolSize?: number;
}

/** The URL without its password, for messages. */
export function redactUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'TIMEOUT', 'CLOSED']);

/** Translates a pg (or sync client) error into a LedgerError; never includes the password. */
export function translatePgError(e: unknown, where: string, doing: string): LedgerError {
  if (isLedgerError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const text = e instanceof Error ? e.message : String(e);
  const details = { store: where, pgCode: typeof code === 'string' ? code : undefined };
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || CONNECTION_CODES.has(code)) {
      return ledgerError('STORE_UNAVAILABLE', `${where}: the server cannot be reached or went away while ${doing} (${code}: ${text})`, details);
    }
    if (code === '28P01' || code === '28000') return ledgerError('STORE_UNAVAILABLE', `${where}: authentication failed (${code})`, details);
    if (code === '3D000') return ledgerError('STORE_UNAVAILABLE', `${where}: the database does not exist (${code}: ${text})`, details);
    if (code === '25006' || code === '42501') return ledgerError('READ_ONLY', `${where}: the server refused the write while ${doing} (${code}: ${text})`, details);
    return ledgerError('STORE_UNAVAILABLE', `${where}: ${doing} failed (${code}: ${text})`, details);
  }
  if (/Connection terminated|not queryable|Client was closed|timeout/i.test(text)) {
    return ledgerError('STORE_UNAVAILABLE', `${where}: the connection was lost while ${doing} (${text})`, details);
  }
  return ledgerError('STORE_UNAVAILABLE', `${where}: ${doing} failed: ${text}`, details);
}

const quoteIdent = (name: string): string => `"${name}"`;
const searchPathOption = (schema: string): string => `-c search_path=${schema}`;

/** Opens (creating on first use) the ledger tables of a PostgreSQL database. */
export async function openPostgresStore(connectionString: string, options: PostgresStoreOptions = {}): Promise<PostgresEventStore> {
  const schema = options.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw ledgerError('UNSUPPORTED_STORE_URL', `schema "${schema}" is not a plain lowercase PostgreSQL name (letters, digits, _)`, { schema });
  }
  const where = redactUrl(connectionString);
  const s = quoteIdent(schema);
  // every connection starts with the schema as its search path (a startup parameter, no extra round trip)
  const pool = new Pool({ connectionString, options: searchPathOption(schema), max: options.poolSize ?? 4, application_name: 'lineage-ledger' });
  pool.on('error', () => undefined); // an idle client's loss is seen by the next query
  try {
    await prepareSchema(pool, s, schema, where, options.create ?? true);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw translatePgError(e, where, 'opening the store');
  }
  return new PostgresEventStore(pool, connectionString, where, schema);
}

async function prepareSchema(pool: Pool, s: string, schema: string, where: string, create: boolean): Promise<void> {
  const c = await pool.connect();
  try {
    // one creator at a time across processes; the lock key is the schema's name
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lineage-ledger:${schema}`]);
    const tables = (await c.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1', [schema])).rows.map((r) => r.name);
    if (tables.includes('ledger_meta')) {
      const meta = new Map((await c.query<{ key: string; value: string }>(`SELECT key, value FROM ${s}.ledger_meta`)).rows.map((r) => [r.key, r.value]));
      if (meta.get('application') !== APPLICATION) {
        throw ledgerError('NOT_A_LEDGER', `${where}: schema ${schema} has a ledger_meta table that is not lineage-ledger's; nothing was changed`, { store: where, schema });
      }
      const version = Number(meta.get('schema_version'));
      if (!Number.isInteger(version) || version > POSTGRES_SCHEMA_VERSION) {
        throw ledgerError(
          'STORE_VERSION_UNSUPPORTED',
          `${where}: schema ${schema} was written by a newer lineage-ledger (schema version ${String(meta.get('schema_version'))}; this library reads up to ${POSTGRES_SCHEMA_VERSION})`,
          { store: where, schema },
        );
      }
      const missing = TABLES.filter((t) => !tables.includes(t));
      if (missing.length > 0) throw ledgerError('STORE_CORRUPT', `${where}: schema ${schema} lacks the ledger tables ${missing.join(', ')}`, { store: where, schema });
      // projection rows written by another version of the fold are deleted (rebuilt from the events on the first read; see PROJECTION_FOLD_VERSION)
      if ((meta.get('projection_fold') ?? '1') !== String(PROJECTION_FOLD_VERSION)) {
        await c.query(`DELETE FROM ${s}.projection`);
        await c.query(`DELETE FROM ${s}.projection_runs`);
        await c.query(`INSERT INTO ${s}.ledger_meta VALUES ('projection_fold', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [String(PROJECTION_FOLD_VERSION)]);
      }
      await c.query('COMMIT');
      return;
    }
    if (tables.length > 0) {
      throw ledgerError(
        'NOT_A_LEDGER',
        `${where}: schema ${schema} holds ${tables.length} tables of something else and no lineage-ledger tables; nothing was changed (choose an empty schema with ?schema=<name>)`,
        { store: where, schema },
      );
    }
    if (!create) throw ledgerError('NOT_FOUND', `${where}: no lineage-ledger store in schema ${schema} (nothing was created)`, { store: where, schema });
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await c.query(schemaSql(s));
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

interface PendingAppend {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly events: readonly EncodedEvent[];
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

type Outcome = { ok: true; value: AppendResult } | { ok: false; error: LedgerError };

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  readonly projections: ProjectionStore;
  private queue: PendingAppend[] = [];
  private writing = false;
  private scheduled = false;
  private closed = false;
  private readonly listeners = new Set<StoreListener>();
  private listener: Client | null = null;
  private readonly instance = randomUUID();
  private readonly sync: SyncPgClient;
  private readonly counters = { commits: 0, appends: 0, failedAppends: 0, events: 0, largestBatch: 0 };

  /** @internal Use openPostgresStore. */
  constructor(
    private readonly pool: Pool,
    private readonly connectionString: string,
    /** The URL without its password. */
    readonly where: string,
    readonly schema: string,
  ) {
    this.sync = new SyncPgClient(connectionString, searchPathOption(schema));
    this.projections = new PostgresProjectionStore(this.sync, where, () => this.assertOpen());
  }

  get stats(): typeof this.counters {
    return { ...this.counters };
  }

  append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    try {
      this.assertOpen();
      if (typeof streamId !== 'string' || streamId === '') throw ledgerError('INVALID_INPUT', 'append needs a non-empty stream id', { path: 'streamId' });
      if (!Array.isArray(events)) throw ledgerError('INVALID_INPUT', `append to stream ${streamId}: events must be an array`, { path: 'events' });
      const encoded = events.map((e, i) => encodeEvent(e, i, streamId));
      return new Promise<AppendResult>((resolve, reject) => {
        this.queue.push({ streamId, expected, events: encoded, resolve, reject });
        this.schedule();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Writes every queued append in one transaction; one batch in flight at a time (appends queued meanwhile form the next). */
  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > this.counters.largestBatch) this.counters.largestBatch = batch.length;
    try {
      const outcomes = await this.writeBatch(batch);
      this.counters.commits++;
      const written = new Set<string>();
      batch.forEach((p, i) => {
        const o = outcomes[i]!;
        if (o.ok) {
          this.counters.appends++;
          this.counters.events += p.events.length;
          if (p.events.length > 0) written.add(p.streamId);
          p.resolve(o.value);
        } else {
          this.counters.failedAppends++;
          p.reject(o.error);
        }
      });
      for (const streamId of written) notifyListeners(this.listeners, streamId);
    } catch (e) {
      const error = translatePgError(e, this.where, 'appending');
      this.counters.failedAppends += batch.length;
      for (const p of batch) p.reject(error);
    } finally {
      this.writing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private async writeBatch(batch: readonly PendingAppend[]): Promise<Outcome[]> {
    const c = await this.pool.connect();
    let committing = false;
    let broken: Error | undefined;
    const onError = (): void => undefined; // a lost connection fails the statement in flight, which is handled below
    c.on('error', onError);
    try {
      await c.query('BEGIN');
      const last = BigInt((await c.query<{ last: string }>('SELECT last FROM positions WHERE id = 1 FOR UPDATE')).rows[0]!.last);
      const streamIds = [...new Set(batch.map((a) => a.streamId))];
      const revisions = new Map<string, number>();
      for (const r of (await c.query<{ stream_id: string; revision: string }>('SELECT stream_id, revision FROM streams WHERE stream_id = ANY($1)', [streamIds])).rows) {
        revisions.set(r.stream_id, Number(r.revision));
      }
      const allIds = batch.flatMap((a) => a.events.map((e) => e.eventId));
      const stored = new Set(
        allIds.length === 0 ? [] : (await c.query<{ event_id: string }>('SELECT event_id FROM events WHERE event_id = ANY($1)', [allIds])).rows.map((r) => r.event_id),
      );
      const created = new Map<string, bigint>();
      const ins = { position: [] as string[], stream: [] as string[], revision: [] as number[], id: [] as string[], type: [] as string[], data: [] as string[], metadata: [] as string[] };
      const inBatch = new Set<string>();
      let position = last;
      const outcomes: Outcome[] = [];
      for (const a of batch) {
        try {
          outcomes.push({ ok: true, value: await this.applyOne(c, a, revisions, stored, inBatch) });
        } catch (e) {
          if (isLedgerError(e)) {
            outcomes.push({ ok: false, error: e });
            continue;
          }
          throw e;
        }
        const o = outcomes[outcomes.length - 1] as { ok: true; value: AppendResult };
        if (o.value.position !== -1n) continue; // idempotent retry or empty append: nothing to insert
        const first = revisions.get(a.streamId);
        let revision = first === undefined ? 0 : first + 1;
        for (const e of a.events) {
          position++;
          if (revision === 0 && !created.has(a.streamId)) created.set(a.streamId, position);
          ins.position.push(position.toString());
          ins.stream.push(a.streamId);
          ins.revision.push(revision++);
          ins.id.push(e.eventId);
          ins.type.push(e.type);
          ins.data.push(e.data);
          ins.metadata.push(e.metadata);
          inBatch.add(e.eventId);
        }
        revisions.set(a.streamId, revision - 1);
        outcomes[outcomes.length - 1] = { ok: true, value: { nextExpectedRevision: revision - 1, position } };
      }
      if (ins.position.length > 0) {
        await c.query(
          'INSERT INTO events (position, stream_id, revision, event_id, type, data, metadata) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])',
          [ins.position, ins.stream, ins.revision, ins.id, ins.type, ins.data, ins.metadata],
        );
        const touched = [...new Set(ins.stream)];
        await c.query(
          'INSERT INTO streams (stream_id, revision, created_position) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision',
          [touched, touched.map((t) => revisions.get(t)!), touched.map((t) => (created.get(t) ?? 0n).toString())],
        );
        await c.query('UPDATE positions SET last = $1 WHERE id = 1', [position.toString()]);
        await c.query(`SELECT pg_notify('${NOTIFY_CHANNEL}', $1 || ' ' || s) FROM unnest($2::text[]) s`, [`${this.schema} ${this.instance}`, touched]);
      }
      committing = true;
      await c.query('COMMIT');
      return outcomes;
    } catch (e) {
      // a connection that failed a statement of ours is not given back to the pool
      broken = e instanceof Error ? e : new Error(String(e));
      await c.query('ROLLBACK').catch(() => undefined);
      if (committing) {
        const error = translatePgError(e, this.where, 'committing appends');
        throw ledgerError('STORE_UNAVAILABLE', `${error.message}; the outcome of that commit is unknown: retry the same appends (same event ids, same expected revision) and a committed one succeeds again without being stored twice`, { store: this.where });
      }
      throw e;
    } finally {
      c.off('error', onError);
      c.release(broken);
    }
  }

  /**
   * Checks one append under the positions lock. Returns its result with position -1n when its
   * events are to be inserted, or the stored result of an idempotent retry / empty append.
   */
  private async applyOne(c: PoolClient, a: PendingAppend, revisions: Map<string, number>, stored: Set<string>, inBatch: Set<string>): Promise<AppendResult> {
    const { streamId, events, expected } = a;
    const current = revisions.get(streamId) ?? null;
    const storedAt = async (): Promise<number | null> => {
      if (events.length === 0) return null;
      const row = (await c.query<{ revision: string }>('SELECT revision FROM events WHERE event_id = $1 AND stream_id = $2', [events[0]!.eventId, streamId])).rows[0];
      return row === undefined ? null : Number(row.revision);
    };
    const anyRetry = typeof expected === 'string' && expected !== 'no_stream' && current !== null ? await storedAt() : null;
    const matches = expectedRevisionMatches(expected, current);
    if (!matches || anyRetry !== null) {
      const first = retryStart(expected, current, events.length, () => anyRetry);
      if (first !== null) {
        const rows = (
          await c.query<{ event_id: string; position: string }>('SELECT event_id, position FROM events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3', [
            streamId,
            first,
            events.length,
          ])
        ).rows;
        if (rows.length === events.length && rows.every((r, i) => r.event_id === events[i]!.eventId)) {
          return { nextExpectedRevision: first + events.length - 1, position: BigInt(rows[rows.length - 1]!.position) };
        }
      }
      if (!matches) throw conflictError(streamId, expected, current);
    }
    if (events.length === 0) {
      if (current === null) throw ledgerError('INVALID_INPUT', `empty append to missing stream ${streamId}`, { streamId });
      const row = (await c.query<{ position: string }>('SELECT position FROM events WHERE stream_id = $1 AND revision = $2', [streamId, current])).rows[0];
      if (row === undefined) throw ledgerError('STORE_CORRUPT', `${this.where}: stream ${streamId} has no event at its revision ${current}`, { streamId });
      return { nextExpectedRevision: current, position: BigInt(row.position) };
    }
    const seen = new Set<string>();
    for (const e of events) {
      if (seen.has(e.eventId)) throw ledgerError('DUPLICATE_EVENT_ID', `event id ${e.eventId} appears twice in one append (stream ${streamId})`, { streamId, eventId: e.eventId });
      seen.add(e.eventId);
      if (stored.has(e.eventId) || inBatch.has(e.eventId)) {
        throw ledgerError('DUPLICATE_EVENT_ID', `event id ${e.eventId} is already stored (stream ${streamId})`, { streamId, eventId: e.eventId });
      }
    }
    return { nextExpectedRevision: -1, position: -1n };
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    yield* pagesFrom(
      Math.max(0, options.fromRevision ?? 0),
      options,
      (from, limit) =>
        this.readPage(
          'SELECT position, stream_id, revision, event_id, type, data, metadata FROM events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3',
          [streamId, from, limit],
          'reading a stream',
        ),
      (last) => last.revision + 1,
    );
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    this.assertOpen();
    yield* pagesFrom(
      options.after ?? 0n,
      options,
      (after, limit) =>
        this.readPage('SELECT position, stream_id, revision, event_id, type, data, metadata FROM events WHERE position > $1 ORDER BY position LIMIT $2', [after.toString(), limit], 'reading all events'),
      (last) => last.position,
    );
  }

  private async readPage(text: string, values: unknown[], doing: string): Promise<StoredEvent[]> {
    this.assertOpen();
    let rows: unknown[][];
    try {
      rows = (await this.pool.query({ text, values, rowMode: 'array' })).rows as unknown[][];
    } catch (e) {
      throw translatePgError(e, this.where, doing);
    }
    return rows.map((r) => {
      const [position, streamId, revision, eventId, type, data, metadata] = r as [string, string, string, string, string, string, string];
      try {
        return {
          position: BigInt(position),
          streamId,
          revision: Number(revision),
          eventId,
          type,
          data: JSON.parse(data) as Record<string, unknown>,
          metadata: JSON.parse(metadata) as Record<string, unknown>,
        };
      } catch {
        throw ledgerError('STORE_CORRUPT', `${this.where}: the event at position ${position} is unreadable (its data is not JSON)`, { store: this.where, position });
      }
    });
  }

  async listStreams(): Promise<readonly StreamInfo[]> {
    this.assertOpen();
    try {
      const rows = (await this.pool.query<{ stream_id: string; revision: string }>('SELECT stream_id, revision FROM streams ORDER BY created_position')).rows;
      return rows.map((r) => ({ streamId: r.stream_id, revision: Number(r.revision) }));
    } catch (e) {
      throw translatePgError(e, this.where, 'listing streams');
    }
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    try {
      const row = (await this.pool.query<{ revision: string }>('SELECT revision FROM streams WHERE stream_id = $1', [streamId])).rows[0];
      return row === undefined ? null : Number(row.revision);
    } catch (e) {
      throw translatePgError(e, this.where, 'reading a stream revision');
    }
  }

  /**
   * Live notification: appends of this instance, and (through LISTEN on a connection of its
   * own, opened with the first listener) appends of every other process on the same schema.
   * Subscribers still poll (src/subscriptions/follow.ts): a lost LISTEN connection only delays them.
   */
  watch(listener: StoreListener): () => void {
    const entry: StoreListener = (streamId) => listener(streamId);
    this.listeners.add(entry);
    if (this.listener === null && !this.closed) this.startListening();
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0 && this.listener !== null) {
        void this.listener.end().catch(() => undefined);
        this.listener = null;
      }
    };
  }

  private startListening(): void {
    const client = new Client({ connectionString: this.connectionString, options: searchPathOption(this.schema), application_name: 'lineage-ledger listen' });
    this.listener = client;
    client.on('error', () => {
      if (this.listener === client) this.listener = null;
    });
    client.on('notification', (n) => {
      const [schema, instance, streamId] = (n.payload ?? '').split(' ');
      if (schema === this.schema && instance !== this.instance && streamId !== undefined) notifyListeners(this.listeners, streamId);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${NOTIFY_CHANNEL}`))
      .catch(() => {
        if (this.listener === client) this.listener = null;
      });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // let queued and in-flight appends finish first
    while (this.scheduled || this.writing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.closed = true;
    this.listeners.clear();
    if (this.listener !== null) await this.listener.end().catch(() => undefined);
    this.listener = null;
    this.sync.close();
    await this.pool.end().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw ledgerError('STORE_CLOSED', `${this.where}: the store is closed`, { store: this.where });
  }
}

const hex = (k: string | number): string => Buffer.from(String(k), 'utf8').toString('hex');

/**
 * The projection tables in PostgreSQL: the format of src/projections/persisted.ts, as in
 * SQLite. Keys are the UTF-8 bytes of the key (bytea: composite keys hold U+0000, which
 * PostgreSQL text cannot, and bytes compare as SQLite compares text), sent and read as hex;
 * numeric keys also fill `num`, which orders them numerically (a map's keys are all numbers
 * or all text).
 */
class PostgresProjectionStore implements ProjectionStore {
  constructor(
    private readonly db: SyncPgClient,
    private readonly where: string,
    private readonly assertOpen: () => void,
  ) {}

  private q(text: string, values: readonly unknown[], doing: string): unknown[][] {
    this.assertOpen();
    try {
      return this.db.query(text, values);
    } catch (e) {
      throw translatePgError(e instanceof SyncQueryError ? e : e, this.where, doing);
    }
  }

  private runRow(streamId: string): [number, number, string | null] | undefined {
    const r = this.q('SELECT run_key, version, recorded_at FROM projection_runs WHERE stream_id = $1', [streamId], 'reading a projection')[0];
    return r === undefined ? undefined : [Number(r[0]), Number(r[1]), r[2] as string | null];
  }

  open(streamId: string): StoredProjection {
    const row = this.runRow(streamId);
    return { version: row?.[1] ?? -1, recordedAt: row?.[2] ?? null, tables: this.tables(streamId, row?.[0] ?? null) };
  }

  private tables(streamId: string, known: number | null): ProjectionTables {
    let runKey = known;
    const key = (): number | null => {
      if (runKey === null) runKey = this.runRow(streamId)?.[0] ?? null;
      return runKey;
    };
    const read = (text: string, values: readonly unknown[]): unknown[][] => this.q(text, values, 'reading a projection');
    /** The value of an entry, decoded; STORE_CORRUPT when the row does not hold JSON text. */
    const decode = (text: unknown, map: number, k: string | number): unknown => {
      if (typeof text === 'string') {
        try {
          return JSON.parse(text);
        } catch {
          // reported below
        }
      }
      throw ledgerError('STORE_CORRUPT', `${this.where}: the projection entry ${JSON.stringify(k)} of table ${map} of stream ${streamId} is unreadable (its value is not JSON)`, {
        store: this.where,
        streamId,
        map,
        key: String(k),
      });
    };
    const rows = (r: unknown[][], map: number): ProjectionRow[] =>
      r.map((x) => {
        const k = x[3] === null ? Buffer.from(x[1] as string, 'hex').toString('utf8') : Number(x[3]);
        return [Number(x[0]), k, decode(x[2], map, k)] as const;
      });
    const COLS = "SELECT id, encode(key, 'hex'), value, num FROM projection WHERE run_key = $1 AND map = $2";
    return {
      get(map, k) {
        const r = key();
        if (r === null) return undefined;
        const row = read("SELECT value FROM projection WHERE run_key = $1 AND map = $2 AND key = decode($3, 'hex')", [r, map, hex(k)])[0];
        return row === undefined ? undefined : decode(row[0], map, k);
      },
      has(map, k) {
        const r = key();
        if (r === null) return false;
        return read("SELECT 1 FROM projection WHERE run_key = $1 AND map = $2 AND key = decode($3, 'hex')", [r, map, hex(k)]).length > 0;
      },
      count(map) {
        const r = key();
        if (r === null) return 0;
        return Number(read('SELECT count(*) FROM projection WHERE run_key = $1 AND map = $2', [r, map])[0]![0]);
      },
      page(map, after, limit) {
        const r = key();
        if (r === null) return [];
        return rows(read(`${COLS} AND id > $3 ORDER BY id LIMIT $4`, [r, map, after, limit]), map);
      },
      pageFromKey(map, from, limit) {
        const r = key();
        if (r === null) return [];
        return rows(
          typeof from === 'number'
            ? read(`${COLS} AND num >= $3 ORDER BY num LIMIT $4`, [r, map, from, limit])
            : read(`${COLS} AND key >= decode($3, 'hex') ORDER BY key LIMIT $4`, [r, map, hex(from), limit]),
          map,
        );
      },
      pageByKey(map, after, limit) {
        const r = key();
        if (r === null) return [];
        if (after === null) return rows(read(`${COLS} ORDER BY num, key LIMIT $3`, [r, map, limit]), map);
        return rows(
          typeof after === 'number'
            ? read(`${COLS} AND num > $3 ORDER BY num LIMIT $4`, [r, map, after, limit])
            : read(`${COLS} AND key > decode($3, 'hex') ORDER BY key LIMIT $4`, [r, map, hex(after), limit]),
          map,
        );
      },
    };
  }

  write(streamId: string, delta: ProjectionDelta): void {
    this.assertOpen();
    // The entries in order, the last write of a key winning (a delta's entries are merged already).
    const last = new Map<string, number>();
    delta.entries.forEach(([map, k], i) => last.set(`${map}\u0000${typeof k}\u0000${String(k)}`, i));
    const maps: number[] = [];
    const keys: string[] = [];
    const nums: Array<number | null> = [];
    const values: Array<string | null> = [];
    delta.entries.forEach(([map, k, value], i) => {
      if (last.get(`${map}\u0000${typeof k}\u0000${String(k)}`) !== i) return;
      maps.push(map);
      keys.push(hex(k));
      nums.push(typeof k === 'number' ? k : null);
      values.push(value);
    });
    try {
      this.db.run([{ text: 'BEGIN' }]);
      try {
        const [runRows, revRows] = this.db.run([
          { text: 'SELECT run_key, version FROM projection_runs WHERE stream_id = $1 FOR UPDATE', values: [streamId] },
          { text: 'SELECT revision FROM streams WHERE stream_id = $1', values: [streamId] },
        ]) as [unknown[][], unknown[][]];
        const version = runRows[0] === undefined ? -1 : Number(runRows[0][1]);
        if (version !== delta.fromVersion) {
          throw ledgerError('CONCURRENCY_CONFLICT', `projection of ${streamId} is at ${version}, not ${delta.fromVersion}`, { streamId, expected: delta.fromVersion, actual: version });
        }
        const revision = revRows[0] === undefined ? undefined : Number(revRows[0][0]);
        if (revision === undefined || delta.toVersion > revision) {
          throw ledgerError('INVALID_INPUT', `projection of ${streamId}: seq ${delta.toVersion} is past the stream's last event (${String(revision)})`, { streamId });
        }
        const runKey =
          runRows[0] !== undefined
            ? Number(runRows[0][0])
            : Number(this.db.query('INSERT INTO projection_runs (stream_id, version, recorded_at) VALUES ($1, -1, NULL) RETURNING run_key', [streamId])[0]![0]);
        this.db.run([
          {
            text: `WITH input AS (
                     SELECT map, decode(hexkey, 'hex') AS key, num, value, ord
                     FROM unnest($2::int[], $3::text[], $4::float8[], $5::text[]) WITH ORDINALITY AS i(map, hexkey, num, value, ord)
                   ),
                   del AS (
                     DELETE FROM projection p USING input i WHERE i.value IS NULL AND p.run_key = $1 AND p.map = i.map AND p.key = i.key
                   ),
                   upd AS (
                     UPDATE projection p SET value = i.value FROM input i WHERE i.value IS NOT NULL AND p.run_key = $1 AND p.map = i.map AND p.key = i.key RETURNING p.map, p.key
                   ),
                   fresh AS (
                     SELECT i.* FROM input i WHERE i.value IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM projection p WHERE p.run_key = $1 AND p.map = i.map AND p.key = i.key)
                   ),
                   top AS (
                     SELECT m.map, coalesce((SELECT max(id) FROM projection p WHERE p.run_key = $1 AND p.map = m.map), 0) AS top
                     FROM (SELECT DISTINCT map FROM fresh) m
                   )
                   INSERT INTO projection (run_key, map, key, num, id, value)
                   SELECT $1, f.map, f.key, f.num, t.top + row_number() OVER (PARTITION BY f.map ORDER BY f.ord), f.value
                   FROM fresh f JOIN top t USING (map)`,
            values: [runKey, maps, keys, nums, values],
          },
          { text: 'UPDATE projection_runs SET version = $1, recorded_at = $2 WHERE run_key = $3', values: [delta.toVersion, delta.recordedAt, runKey] },
          { text: 'COMMIT' },
        ]);
      } catch (e) {
        try {
          this.db.run([{ text: 'ROLLBACK' }]);
        } catch {
          // the transaction is gone either way
        }
        throw e;
      }
    } catch (e) {
      throw translatePgError(e, this.where, 'writing a projection');
    }
  }

  drop(streamId: string): void {
    this.assertOpen();
    try {
      this.db.run([
        { text: 'BEGIN' },
        { text: 'DELETE FROM projection WHERE run_key IN (SELECT run_key FROM projection_runs WHERE stream_id = $1)', values: [streamId] },
        { text: 'DELETE FROM projection_runs WHERE stream_id = $1', values: [streamId] },
        { text: 'COMMIT' },
      ]);
    } catch (e) {
      try {
        this.db.run([{ text: 'ROLLBACK' }]);
      } catch {
        // nothing to undo
      }
      throw translatePgError(e, this.where, 'dropping a projection');
    }
  }
}
