/**
 * The store-level kill workload: what kill-child.ts writes (deterministic payloads,
 * derivable from the event id alone) and the verifier that checks a killed child's
 * store against its acknowledgements.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isLedgerError } from '../../../src/errors';
import { collectPages, ProposedEvent, StoredEvent } from '../../../src/store/port';
import { openSqliteStore } from '../../../src/store/sqlite';
import { TrialContext, TrialVerdict } from './kill-harness';

export const STORE_KILL_CHILD = path.resolve(__dirname, 'kill-child.ts');
export const EVENT_TYPE = 'KillWrite';
/** Prefix of the event ids of appends made to fail on purpose (a wrong expected revision): none may ever be stored. */
export const CONFLICT_PREFIX = 'conflict~';

/** One acknowledgement line: the append to `s` starting at revision `r` of the events `ids` resolved at position `pos`. */
export interface StoreAck {
  readonly s: string;
  readonly r: number;
  readonly ids: readonly string[];
  readonly pos: string;
}

export function eventIdOf(streamId: string, revision: number): string {
  return `${streamId}/${revision}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The data of an event, a function of its id only. Sizes vary from a few bytes to
 * several pages (1 event in 32 is 6-10 KB: overflow pages), and `sum` is a checksum
 * of the rest, so a torn or mixed-up row cannot pass for a whole one.
 */
export function payloadFor(eventId: string): { id: string; pad: string; sum: string } {
  const h = sha256(eventId);
  const big = parseInt(h.slice(4, 6), 16) % 32 === 0;
  const size = big ? 6000 + (parseInt(h.slice(0, 4), 16) % 4000) : parseInt(h.slice(0, 4), 16) % 400;
  const pad = h.repeat(Math.ceil(size / h.length) + 1).slice(0, size);
  return { id: eventId, pad, sum: sha256(`${eventId}:${pad}`).slice(0, 16) };
}

export function eventFor(streamId: string, revision: number): ProposedEvent {
  const eventId = eventIdOf(streamId, revision);
  return { eventId, type: EVENT_TYPE, data: payloadFor(eventId), metadata: { stream: streamId, revision } };
}

function isExactEvent(e: StoredEvent): boolean {
  const slash = e.eventId.lastIndexOf('/');
  if (slash < 0 || e.eventId.startsWith(CONFLICT_PREFIX)) return false;
  const streamId = e.eventId.slice(0, slash);
  const revision = Number(e.eventId.slice(slash + 1));
  const want = eventFor(streamId, revision);
  const data = e.data as { id?: unknown; pad?: unknown; sum?: unknown };
  return (
    e.streamId === streamId &&
    e.revision === revision &&
    e.type === want.type &&
    typeof data.pad === 'string' &&
    data.sum === sha256(`${e.eventId}:${data.pad}`).slice(0, 16) &&
    JSON.stringify(e.data) === JSON.stringify(want.data) &&
    JSON.stringify(e.metadata) === JSON.stringify(want.metadata)
  );
}

/** Opens the killed child's store (recovering its WAL) and checks it against the acknowledgements. */
export async function verifyStoreTrial(ctx: TrialContext): Promise<TrialVerdict> {
  const problems: string[] = [];
  const acks: StoreAck[] = [];
  for (const a of ctx.acks) {
    if (typeof a.s === 'string' && typeof a.r === 'number' && Array.isArray(a.ids) && typeof a.pos === 'string') acks.push(a as unknown as StoreAck);
    else problems.push(`the child reported: ${JSON.stringify(a).slice(0, 300)}`);
  }
  const acknowledged = acks.reduce((n, a) => n + a.ids.length, 0);
  let store;
  try {
    store = await openSqliteStore(ctx.dbPath);
  } catch (e) {
    const what = isLedgerError(e) ? `${e.code}: ${e.message}` : `untyped error: ${String(e)}`;
    return { acknowledged, stored: 0, lost: acknowledged, partial: 0, duplicates: 0, problems: [...problems, `the store does not open after the kill: ${what}`] };
  }
  try {
    const events = await collectPages(store.readAll());
    const byId = new Map<string, StoredEvent[]>();
    const byStream = new Map<string, StoredEvent[]>();
    let partial = 0;
    for (const e of events) {
      byId.set(e.eventId, [...(byId.get(e.eventId) ?? []), e]);
      const list = byStream.get(e.streamId) ?? [];
      list.push(e);
      byStream.set(e.streamId, list);
      if (!isExactEvent(e)) {
        partial++;
        if (partial <= 5) problems.push(`event ${e.eventId} at position ${e.position} is not what the child wrote`);
      }
    }
    let duplicates = 0;
    for (const [id, list] of byId) {
      if (list.length > 1) {
        duplicates += list.length - 1;
        problems.push(`event id ${id} is stored ${list.length} times`);
      }
    }
    let lost = 0;
    for (const a of acks) {
      a.ids.forEach((id, i) => {
        const found = byId.get(id);
        if (found === undefined || found[0]!.streamId !== a.s || found[0]!.revision !== a.r + i) {
          lost++;
          if (lost <= 5) problems.push(`acknowledged event ${id} (stream ${a.s}, revision ${a.r + i}) is missing`);
        }
      });
      const last = byId.get(a.ids[a.ids.length - 1]!);
      if (last !== undefined && last[0]!.position.toString() !== a.pos) problems.push(`append ending with ${a.ids[a.ids.length - 1]} was acknowledged at position ${a.pos}, stored at ${last[0]!.position}`);
    }
    for (let i = 1; i < events.length; i++) {
      if (!(events[i]!.position > events[i - 1]!.position)) problems.push(`positions do not increase at ${events[i]!.position}`);
    }
    const listed = new Map((await store.listStreams()).map((s) => [s.streamId, s.revision]));
    for (const [streamId, list] of byStream) {
      if (!list.every((e, i) => e.revision === i)) problems.push(`stream ${streamId}: revisions are not dense`);
      if (listed.get(streamId) !== list.length - 1) problems.push(`stream ${streamId}: streams table says ${String(listed.get(streamId))}, events end at ${list.length - 1}`);
    }
    for (const streamId of listed.keys()) if (!byStream.has(streamId)) problems.push(`stream ${streamId} is listed but has no events`);
    try {
      await store.verifyIntegrity('full');
    } catch (e) {
      problems.push(`verifyIntegrity: ${isLedgerError(e) ? `${e.code}: ${e.message}` : String(e)}`);
    }
    return { acknowledged, stored: events.length, lost, partial, duplicates, problems };
  } catch (e) {
    const what = isLedgerError(e) ? `${e.code}: ${e.message}` : `untyped error: ${String(e)}`;
    return { acknowledged, stored: 0, lost: acknowledged, partial: 0, duplicates: 0, problems: [...problems, `reading the store after the kill failed: ${what}`] };
  } finally {
    await store.close();
  }
}
