/**
 * Verifier for the recorder-level kill trials: after the kill, the store opens, every
 * acknowledged event is at its acknowledged seq, no event is partial (each decodes
 * against the event codecs) or duplicated, revisions are dense, and every run's
 * projection rebuilds without anomalies.
 */
import * as path from 'node:path';
import { decodeStoredEvent, isLedgerError, openLedger, runStreamId } from '../../../src';
import { collectPages, StoredEvent } from '../../../src/store/port';
import { openSqliteStore, SqliteEventStore } from '../../../src/store/sqlite';
import { openStore } from '../../../src/store/url';
import { TrialContext, TrialVerdict } from './kill-harness';

export const RECORDER_KILL_CHILD = path.resolve(__dirname, 'kill-recorder-child.ts');

interface RecorderAck {
  readonly s: string;
  readonly r: number;
  readonly ids: readonly string[];
}

export async function verifyRecorderTrial(ctx: TrialContext): Promise<TrialVerdict> {
  const problems: string[] = [];
  const acks: RecorderAck[] = [];
  for (const a of ctx.acks) {
    if (typeof a.s === 'string' && typeof a.r === 'number' && Array.isArray(a.ids)) acks.push(a as unknown as RecorderAck);
    else problems.push(`the child reported: ${JSON.stringify(a).slice(0, 300)}`);
  }
  const acknowledged = acks.reduce((n, a) => n + a.ids.length, 0);
  let store;
  try {
    store = await (ctx.dbPath.startsWith('postgres') ? openStore(ctx.dbPath) : openSqliteStore(ctx.dbPath));
  } catch (e) {
    const what = isLedgerError(e) ? `${e.code}: ${e.message}` : `untyped error: ${String(e)}`;
    return { acknowledged, stored: 0, lost: acknowledged, partial: 0, duplicates: 0, problems: [...problems, `the store does not open after the kill: ${what}`] };
  }
  const ledger = await openLedger({ store });
  try {
    const events = await collectPages(store.readAll());
    const ids = new Map<string, StoredEvent>();
    const byStream = new Map<string, StoredEvent[]>();
    let partial = 0;
    let duplicates = 0;
    for (const e of events) {
      if (ids.has(e.eventId)) {
        duplicates++;
        problems.push(`event id ${e.eventId} is stored twice`);
      }
      ids.set(e.eventId, e);
      const list = byStream.get(e.streamId) ?? [];
      list.push(e);
      byStream.set(e.streamId, list);
      try {
        decodeStoredEvent(e);
      } catch (err) {
        partial++;
        if (partial <= 5) problems.push(`event ${e.eventId} at ${e.streamId}@${e.revision} does not decode: ${(err as Error).message}`);
      }
    }
    let lost = 0;
    for (const a of acks) {
      a.ids.forEach((id, k) => {
        const found = ids.get(id);
        if (found === undefined || found.streamId !== a.s || found.revision !== a.r + k) {
          lost++;
          if (lost <= 5) problems.push(`acknowledged event ${id} (${a.s}@${a.r + k}) is missing`);
        }
      });
    }
    for (const [streamId, list] of byStream) {
      if (!list.every((e, k) => e.revision === k)) problems.push(`stream ${streamId}: revisions are not dense`);
    }
    for (const run of await ledger.listRuns()) {
      try {
        // A server store may still commit what the killed child sent just before it died (a COMMIT in
        // flight), so the stream may have grown since the events were read: the projection must
        // reach the stream's end as it is around the read, at least the events read above.
        const streamId = runStreamId(run.runId);
        const before = Math.max(byStream.get(streamId)!.length - 1, (await store.streamRevision(streamId)) ?? -1);
        const state = await ledger.loadRun(run.runId);
        const after = (await store.streamRevision(streamId)) ?? -1;
        if (state.anomalies.length > 0) problems.push(`run ${run.runId}: ${state.anomalies.length} anomalies, first: ${state.anomalies[0]!.message}`);
        if (state.version < before || state.version > after) problems.push(`run ${run.runId}: projection stops at seq ${state.version}, the stream ends at ${before}..${after}`);
      } catch (err) {
        problems.push(`run ${run.runId} does not rebuild: ${(err as Error).message}`);
      }
    }
    if (store instanceof SqliteEventStore) {
      try {
        await store.verifyIntegrity('full');
      } catch (e) {
        problems.push(`verifyIntegrity: ${isLedgerError(e) ? `${e.code}: ${e.message}` : String(e)}`);
      }
    }
    return { acknowledged, stored: events.length, lost, partial, duplicates, problems };
  } finally {
    await ledger.close();
  }
}
