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
import { AppendResult, conflictError, EncodedEvent, ExpectedRevision, expectedRevisionMatches, retryStart } from '../port';
import { messageOf, SQL, sqliteCode } from './schema';


export interface BatchAppend {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly events: readonly EncodedEvent[];
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
type Touched = Map<string, { revision: number; createdAt: bigint | null }>;

export function createWriter(db: Database.Database, sql: typeof SQL = SQL): Writer {
  const p = (text: string): Statement => db.prepare(text);
  const s = {
    begin: p(sql.begin),
    commit: p(sql.commit),
    rollback: p(sql.rollback),
    dataVersion: p(sql.dataVersion).pluck(),
    streamRevision: p(sql.streamRevision).pluck(),
    insertStream: p(sql.insertStream),
    updateStream: p(sql.updateStream),
    insertEvent: p(sql.insertEvent).safeIntegers(true),
    deleteFrom: p(sql.deleteFrom),
    streamSlice: p(sql.streamSlice).safeIntegers(true).raw(true),
    revisionOfEvent: p(sql.revisionOfEvent).pluck(true),
  };
  /** Stream revisions as of our last commit; valid while data_version equals `dataVersion`. */
  const revisions = new Map<string, number>();
  let dataVersion = -1;

  const currentRevision = (streamId: string, touched: Touched): number | null => {
    const t = touched.get(streamId);
    if (t !== undefined) return t.revision;
    const cached = revisions.get(streamId);
    if (cached !== undefined) return cached;
    const r = s.streamRevision.get(streamId) as number | bigint | undefined;
    return r === undefined ? null : Number(r);
  };

  const slice = (streamId: string, first: number, count: number): [string, bigint][] => s.streamSlice.all(streamId, first, count) as [string, bigint][];

  /** An append whose events are already stored at the expected place succeeds again (idempotent retry). */
  const idempotentRetry = (a: BatchAppend, current: number | null): AppendResult | null => {
    const { streamId, events, expected } = a;
    const first = retryStart(expected, current, events.length, () => {
      const r = s.revisionOfEvent.get(events[0]!.eventId, streamId) as number | bigint | undefined;
      return r === undefined ? null : Number(r);
    });
    if (first === null) return null;
    const rows = slice(streamId, first, events.length);
    if (rows.length !== events.length) return null;
    for (let i = 0; i < events.length; i++) if (rows[i]![0] !== events[i]!.eventId) return null;
    return { nextExpectedRevision: first + events.length - 1, position: rows[rows.length - 1]![1] };
  };

  /** Checks and writes one append inside the open transaction; throws a LedgerError in APPEND_FAILURES when this append alone fails. */
  const applyOne = (a: BatchAppend, touched: Touched): AppendResult => {
    const { streamId, events, expected } = a;
    const current = currentRevision(streamId, touched);
    if (!expectedRevisionMatches(expected, current)) {
      const retry = idempotentRetry(a, current);
      if (retry !== null) return retry;
      throw conflictError(streamId, expected, current);
    }
    if (typeof expected === 'string' && expected !== 'no_stream') {
      const retry = idempotentRetry(a, current);
      if (retry !== null) return retry;
    }
    if (events.length === 0) {
      if (current === null) throw ledgerError('INVALID_INPUT', `empty append to missing stream ${streamId}`, { streamId });
      const rows = slice(streamId, current, 1);
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
    let revision = current === null ? 0 : current + 1;
    let first = 0n;
    let position = 0n;
    let i = 0;
    try {
      for (; i < events.length; i++) {
        const e = events[i]!;
        position = s.insertEvent.run(streamId, revision, e.eventId, e.type, e.data, e.metadata).lastInsertRowid as bigint;
        if (i === 0) first = position;
        revision++;
      }
    } catch (e) {
      // SQLite undid the failing statement; undo this append's earlier inserts too.
      if (i > 0) s.deleteFrom.run(first);
      if (sqliteCode(e) === 'SQLITE_CONSTRAINT_UNIQUE') {
        if (messageOf(e).includes('events.stream_id') || messageOf(e).includes('events_by_stream')) {
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
    else touched.set(streamId, { revision: last, createdAt: current === null ? first : null });
    return { nextExpectedRevision: last, position };
  };

  return {
    write(batch) {
      try {
        s.begin.run();
        const version = Number(s.dataVersion.get());
        if (version !== dataVersion) {
          revisions.clear();
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
          for (const [streamId, t] of touched) {
            if (t.createdAt !== null) s.insertStream.run(streamId, t.revision, t.createdAt);
            else s.updateStream.run(t.revision, streamId);
          }
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
        revisions.clear();
        return { committed: false, error: fatal };
      }
      for (const [streamId, t] of touched) revisions.set(streamId, t.revision);
      return { committed: true, outcomes, events: written };
    },
  };
}
