/**
 * The writers of the multi-process test, run both in the jest process and in forked
 * children (mp-child.ts): each appends to one stream shared by every writer of every
 * process (re-reading the revision and retrying on CONCURRENCY_CONFLICT) and to a
 * stream of its own.
 */
import { isLedgerError } from '../../../src/errors';
import { EventStore, ProposedEvent } from '../../../src/store/port';

export const SHARED_STREAM = 'shared';

export interface WriterReport {
  readonly writer: string;
  /** Event ids whose append resolved, in the order the writer issued them. */
  readonly acknowledged: string[];
  /** CONCURRENCY_CONFLICT rejections (each followed by a retry). */
  conflicts: number;
  /** Any other failure: `code: message`, or `untyped: ...` when it was not a LedgerError. */
  readonly errors: string[];
}

function event(writer: string, stream: string, seq: number, part: number): ProposedEvent {
  return {
    eventId: `${writer}/${stream === SHARED_STREAM ? 'shared' : 'own'}/${seq}/${part}`,
    type: 'MpWrite',
    data: { writer, seq, part },
    metadata: { pid: process.pid },
  };
}

/** One writer: `rounds` appends of 1-3 events to the shared stream and to `${writer}-own`. */
export async function runWriter(store: EventStore, writer: string, rounds: number): Promise<WriterReport> {
  const report: WriterReport = { writer, acknowledged: [], conflicts: 0, errors: [] };
  const own = `${writer}-own`;
  let ownExpected: 'no_stream' | number = 'no_stream';
  for (let seq = 0; seq < rounds; seq++) {
    const size = 1 + (seq % 3);
    const shared = Array.from({ length: size }, (_, part) => event(writer, SHARED_STREAM, seq, part));
    for (let attempt = 0; ; attempt++) {
      if (attempt > 10_000) {
        report.errors.push('gave up after 10000 conflicts');
        return report;
      }
      try {
        const revision = await store.streamRevision(SHARED_STREAM);
        await store.append(SHARED_STREAM, shared, revision === null ? 'no_stream' : revision);
        report.acknowledged.push(...shared.map((e) => e.eventId));
        break;
      } catch (e) {
        if (isLedgerError(e, 'CONCURRENCY_CONFLICT')) {
          report.conflicts++;
          continue;
        }
        report.errors.push(isLedgerError(e) ? `${e.code}: ${e.message}` : `untyped: ${String(e)}`);
        return report;
      }
    }
    const mine = Array.from({ length: size }, (_, part) => event(writer, own, seq, part));
    try {
      const r = await store.append(own, mine, ownExpected);
      ownExpected = r.nextExpectedRevision;
      report.acknowledged.push(...mine.map((e) => e.eventId));
    } catch (e) {
      report.errors.push(isLedgerError(e) ? `${e.code}: ${e.message}` : `untyped: ${String(e)}`);
      return report;
    }
  }
  return report;
}
