/**
 * The SQLite store's writer: applies a batch of appends (a group commit) in ONE
 * write transaction.
 *
 * No savepoint per append: every check that can fail an append alone (expected
 * revision, event ids repeated inside the append) runs before its first insert, and
 * an event id already stored elsewhere (a unique-index failure part-way through an
 * append) is undone by deleting the rows this append inserted (positions are
 * allocated above every committed row while the write lock is held). Stream
 * revisions are cached between batches and trusted only while `PRAGMA data_version`
 * shows that no other connection has committed.
 */
import type Database from 'better-sqlite3';
import { isLedgerError, LedgerError, ledgerError } from '../../errors';
import { AppendResult, conflictError, ExpectedRevision, expectedRevisionMatches, retryStart } from '../port';
import { EventRow, messageOf, SQL, sqliteCode } from './schema';

export interface BatchAppend {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly events: readonly EventRow[];
}

export type AppendOutcome = { readonly ok: true; readonly value: AppendResult } | { readonly ok: false; readonly error: LedgerError };

export type BatchResult =
  | { readonly committed: true; readonly outcomes: readonly AppendOutcome[]; readonly events: number }
  /** The transaction was rolled back: nothing of the batch is written. */
  | { readonly committed: false; readonly error: unknown };

export interface Writer {
  write(batch: readonly BatchAppend[]): BatchResult;
}

/** Failures of one append: nothing of it stays written and the batch goes on. */
const APPEND_FAILURES = new Set(['CONCURRENCY_CONFLICT', 'DUPLICATE_EVENT_ID', 'INVALID_INPUT']);

type Statement = Database.Statement<unknown[], unknown>;
/** Streams written by the open transaction, with their key and revision. */
type Touched = Map<string, { key: number; revision: number }>;

export function createWriter(db: Database.Database, sql: typeof SQL = SQL): Writer {
  const p = (text: string): Statement => db.prepare(text);
  const s = {
    begin: p(sql.begin),
    commit: p(sql.commit),
    rollback: p(sql.rollback),
    dataVersion: p(sql.dataVersion).pluck(),
    stream: p(sql.stream).raw(true),
    insertStream: p(sql.insertStream),
    deleteStream: p(sql.deleteStream),
    updateStream: p(sql.updateStream),
    insertEvent: p(sql.insertEvent).safeIntegers(true),
    deleteFrom: p(sql.deleteFrom),
    streamSlice: p(sql.streamSlice).safeIntegers(true).raw(true),
    revisionOfEvent: p(sql.revisionOfEvent).pluck(true),
  };
  /** Stream keys and revisions as of our last commit; valid while data_version equals `dataVersion`. */
  const streams = new Map<string, { key: number; revision: number }>();
  let dataVersion = -1;

  const currentStream = (streamId: string, touched: Touched): { key: number; revision: number } | null => {
    const t = touched.get(streamId);
    if (t !== undefined) return t;
    const cached = streams.get(streamId);
    if (cached !== undefined) return cached;
    const r = s.stream.get(streamId) as [number | bigint, number | bigint] | undefined;
    return r === undefined ? null : { key: Number(r[0]), revision: Number(r[1]) };
  };

  const sameId = (stored: unknown, e: EventRow): boolean =>
    typeof e.id === 'string' ? stored === e.id : Buffer.isBuffer(stored) && stored.equals(e.id);

  const slice = (key: number, first: number, count: number): [unknown, bigint][] => s.streamSlice.all(key, first, count) as [unknown, bigint][];

  /** An append whose events are already stored at the expected place succeeds again (idempotent retry). */
  const idempotentRetry = (a: BatchAppend, stream: { key: number; revision: number } | null): AppendResult | null => {
    const { events, expected } = a;
    if (stream === null) return null;
    const first = retryStart(expected, stream.revision, events.length, () => {
      const r = s.revisionOfEvent.get(events[0]!.id, stream.key) as number | bigint | undefined;
      return r === undefined ? null : Number(r);
    });
    if (first === null) return null;
    const rows = slice(stream.key, first, events.length);
    if (rows.length !== events.length) return null;
    for (let i = 0; i < events.length; i++) if (!sameId(rows[i]![0], events[i]!)) return null;
    return { nextExpectedRevision: first + events.length - 1, position: rows[rows.length - 1]![1] };
  };

  /** Checks and writes one append inside the open transaction; throws a LedgerError in APPEND_FAILURES when this append alone fails. */
  const applyOne = (a: BatchAppend, touched: Touched): AppendResult => {
    const { streamId, events, expected } = a;
    const stream = currentStream(streamId, touched);
    const current = stream === null ? null : stream.revision;
    if (!expectedRevisionMatches(expected, current)) {
      const retry = idempotentRetry(a, stream);
      if (retry !== null) return retry;
      throw conflictError(streamId, expected, current);
    }
    if (typeof expected === 'string' && expected !== 'no_stream') {
      const retry = idempotentRetry(a, stream);
      if (retry !== null) return retry;
    }
    if (events.length === 0) {
      if (stream === null || current === null) throw ledgerError('INVALID_INPUT', `empty append to missing stream ${streamId}`, { streamId });
      const rows = slice(stream.key, current, 1);
      if (rows.length === 0) {
        throw ledgerError('STORE_CORRUPT', `the store file is damaged: stream ${streamId} has no event at its revision ${current}`, { streamId, revision: current });
      }
      return { nextExpectedRevision: current, position: rows[0]![1] };
    }
    if (events.length > 1) {
      const seen = new Set<string>();
      for (const e of events) {
        if (seen.has(e.eventId)) {
          throw ledgerError('DUPLICATE_EVENT_ID', `event id ${e.eventId} appears twice in one append (stream ${streamId})`, { streamId, eventId: e.eventId });
        }
        seen.add(e.eventId);
      }
    }
    // a new stream gets its key now (its row says revision -1 until the commit)
    const key = stream !== null ? stream.key : Number(s.insertStream.run(streamId).lastInsertRowid);
    let revision = current === null ? 0 : current + 1;
    let first = 0n;
    let position = 0n;
    let i = 0;
    try {
      for (; i < events.length; i++) {
        const e = events[i]!;
        position = s.insertEvent.run(key, revision, e.id, e.type, e.body).lastInsertRowid as bigint;
        if (i === 0) first = position;
        revision++;
      }
    } catch (e) {
      // SQLite undid the failing statement; undo this append's earlier inserts (and the stream it created) too.
      if (i > 0) s.deleteFrom.run(first);
      if (stream === null) s.deleteStream.run(key);
      if (sqliteCode(e) === 'SQLITE_CONSTRAINT_UNIQUE') {
        if (messageOf(e).includes('events.stream_key') || messageOf(e).includes('events_by_stream')) {
          // cannot happen while the revision is read under the write lock; report it as the conflict it would be
          throw ledgerError('CONCURRENCY_CONFLICT', `append to stream ${streamId}: revision already taken (the stream was at ${String(current)})`, {
            streamId,
            actual: current,
          });
        }
        const eventId = events[i]!.eventId;
        throw ledgerError('DUPLICATE_EVENT_ID', `event id ${eventId} is already stored (stream ${streamId})`, { streamId, eventId });
      }
      throw e;
    }
    const last = revision - 1;
    const t = touched.get(streamId);
    if (t !== undefined) t.revision = last;
    else touched.set(streamId, { key, revision: last });
    return { nextExpectedRevision: last, position };
  };

  return {
    write(batch) {
      try {
        s.begin.run();
        const version = Number(s.dataVersion.get());
        if (version !== dataVersion) {
          streams.clear();
          dataVersion = version;
        }
      } catch (e) {
        if (db.inTransaction) s.rollback.run();
        return { committed: false, error: e };
      }
      const outcomes: AppendOutcome[] = [];
      const touched: Touched = new Map();
      let written = 0;
      let fatal: unknown = null;
      for (const a of batch) {
        try {
          outcomes.push({ ok: true, value: applyOne(a, touched) });
          written += a.events.length;
        } catch (e) {
          if (isLedgerError(e) && APPEND_FAILURES.has(e.code)) {
            outcomes.push({ ok: false, error: e });
            continue;
          }
          fatal = e;
          break;
        }
      }
      if (fatal === null) {
        try {
          for (const t of touched.values()) s.updateStream.run(t.revision, t.key);
          s.commit.run();
        } catch (e) {
          fatal = e;
        }
      }
      if (fatal !== null) {
        if (db.inTransaction) {
          try {
            s.rollback.run();
          } catch {
            // the transaction is gone either way
          }
        }
        streams.clear();
        return { committed: false, error: fatal };
      }
      for (const [streamId, t] of touched) streams.set(streamId, { key: t.key, revision: t.revision });
      return { committed: true, outcomes, events: written };
    },
  };
}
