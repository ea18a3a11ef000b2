/**
 * Import: rebuild a run in a store from a verified export alone.
 *
 * 1. The export is verified exactly as `verifyExport` does (same options: key, --no-signature,
 *    expected run); a problem refuses the import (IMPORT_FAILED, naming it) and nothing is written.
 * 2. Events are synthesised whose fold gives exactly the exported state, in four stages (each
 *    its own function, below): decode (every record back into its entity, checked by its codec),
 *    invert (every event type's inverse, kept beside its fold in EVENT_FOLDS, gives the events of
 *    its type: one per fact, e.g. RunStarted, NodeRegistered, RowCreated, TokenCreated /
 *    TokenForked / TokenExpanded / TokensCoalesced / BatchOutputsProduced, NodeStateOpened + its
 *    completion; every record must be created by exactly one event), order, and build (the
 *    envelopes: each event checked by its codec, with the timestamp its record carries as
 *    `recordedAt`, a fresh event id and seq = position in the stream).
 * 3. Within a block the export orders entities by creation, so the events are ordered by a
 *    topological sort (Kahn, smallest record position first) of: causal edges (an event after the
 *    entities it names) and block-order edges (consecutive records of one block are created in
 *    their order), between the run's opening and closing events. The original log is one valid
 *    order, so an order always exists for an export of an anomaly-free run; a cycle is reported,
 *    never half-imported.
 * 4. The events are folded in memory and re-exported: if the records, chain head or Merkle root
 *    differ from the export's, the import is refused with the first differing record, before
 *    anything is written.
 * 5. All events are appended in ONE append to the new stream `run-<runId>` (expected revision
 *    no_stream): a run that exists already fails with DUPLICATE_ID and the store is unchanged; an
 *    append is atomic on every adapter. On EventStoreDB one append is limited by the server's
 *    MaxAppendSize (1 MiB by default): a larger run is refused with APPEND_TOO_LARGE, never split.
 * 6. The run is read back from the store and exported once more; a difference (which would be a
 *    bug) fails loudly with IMPORT_FAILED saying that the run has been written.
 *
 * The imported run's event history is a reconstruction: its final state (and so its export
 * records, chain head and root) is identical, but it has other event ids, fewer events (a
 * node state that went pending then completed is one completion), and time travel (`--as-of`)
 * on it shows the reconstructed history. Its manifest's last_seq is that of the new stream.
 */
import { createHash, randomUUID } from 'node:crypto';
import { isLeft } from 'fp-ts/Either';
import type * as t from 'io-ts';
import { canonicalize } from '../canonical/jcs';
import { EVENT_CATALOGUE, EVENT_TYPES, EventDataOf, EventType } from '../events/catalogue';
import { firstError } from '../events/codecs';
import { LedgerEvent, runStreamId } from '../events/envelope';
import { toProposedEvent } from '../store/events';
import { isLedgerError, ledgerError } from '../errors';
import type { EventStore } from '../store/port';
import { ENTITY_CODECS, EntityOf, RecordType, RECORD_TYPES } from '../projections/entities';
import { EVENT_FOLDS, foldEvents, type EventFold, type EventFolds } from '../projections/evolve';
import { RunRecords, type Inverted, type Seat } from '../projections/inverse';
import { emptyRunState, RunState } from '../projections/state';
import { describeRecord, digestRecords, ExportManifest, RecordsDigest } from './bundle';
import { RECORD_FIELDS, recordFieldNames, runRecords } from './records';
import { verifyExport, VerifyOptions, VerifyReport } from './verify';

export interface ImportOptions extends Omit<VerifyOptions, 'onRecord'> {
  /**
   * Event id generator. Default: ids derived from the export's Merkle root and each event's place
   * (importEventIds), so an import that stopped part-way is resumed by running it again.
   */
  readonly newId?: () => string;
}

export interface ImportResult {
  readonly runId: string;
  readonly events: number;
  readonly records: number;
  readonly chainHead: string;
  readonly merkleRoot: string;
  readonly report: VerifyReport;
  /** Appends the events took: 1, or more on a store with an append size limit (see appendImportedRun). */
  readonly appends: number;
  /** The revision an import that had stopped part-way went on from, or null. */
  readonly resumedAt: number | null;
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw ledgerError('IMPORT_FAILED', message, details);
}

/** Where an import writes a run (a Ledger is one): the event store, and a read of the run written. */
export interface ImportTarget {
  readonly store: EventStore;
  loadRun(runId: string): Promise<RunState>;
}

/** Verifies an export and rebuilds its run in the target's store (see the module comment). */
export async function importExport(ledger: ImportTarget, exportPath: string, options: ImportOptions = {}): Promise<ImportResult> {
  const records: Record<string, unknown>[] = [];
  const report = await verifyExport(exportPath, { ...options, onRecord: (r) => records.push(r) });
  if (!report.ok || report.manifest === null) {
    fail(`${exportPath} did not verify, nothing was imported: ${report.problem ?? 'unknown problem'}`, { path: exportPath, checks: report.checks });
  }
  const manifest = report.manifest;
  const runId = manifest.run_id;
  const events = synthesizeRunEvents(runId, records, { newId: options.newId ?? importEventIds(`${manifest.merkle_root}:${runId}`) });

  // Dry run: the events must give the exported records exactly, before anything is written.
  const state = foldEvents(emptyRunState(runId), events);
  if (state.anomalies.length > 0) {
    const a = state.anomalies[0]!;
    fail(`the events rebuilt from ${exportPath} fold with ${state.anomalies.length} anomalies (first: ${a.eventType}: ${a.message}); nothing was imported`, {
      anomalies: state.anomalies.slice(0, 20),
    });
  }
  const rebuilt = compareWithExport(state, manifest, records);
  if (rebuilt !== null) fail(`cannot rebuild the run from ${exportPath}: ${rebuilt}; nothing was imported`, { runId });

  const written = await appendImportedRun(ledger.store, runId, events);

  // Read back from the store and export again.
  const stored = await ledger.loadRun(runId);
  const again = compareWithExport(stored, manifest, records);
  if (again !== null || stored.anomalies.length > 0) {
    fail(
      `run ${runId} WAS WRITTEN to the store, but reading it back does not give the export: ${again ?? `${stored.anomalies.length} anomalies`}. This is a bug; the imported run is not a faithful copy`,
      { runId, written: true },
    );
  }
  return { runId, events: events.length, records: records.length, chainHead: manifest.chain_head, merkleRoot: manifest.merkle_root, report, ...written };
}

/**
 * Event ids for an import, the same for every import of the same export: version-8 UUIDs made from
 * SHA-256 of `seed` and the event's place. With them, a run whose import stopped part-way (a store
 * that took it in several appends) is recognised and completed by the next import of that export.
 */
export function importEventIds(seed: string): () => string {
  let n = 0;
  return () => {
    const h = createHash('sha256').update(`${seed}:${n++}`).digest();
    h[6] = (h[6]! & 0x0f) | 0x80; // version 8 (custom)
    h[8] = (h[8]! & 0x3f) | 0x80; // RFC 9562 variant
    const x = h.toString('hex', 0, 16);
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
  };
}

/** Events per append tried first when the whole run does not fit in one. */
const FIRST_CHUNK = 4096;

/**
 * Writes an imported run's events to its stream. In one append when the store takes it (then the
 * import is atomic). A store with an append size limit (EventStoreDB's MaxAppendSize) refuses a
 * large run with APPEND_TOO_LARGE: then the events go in chunks, each appended at the revision the
 * one before left and halved until the store takes it. The run's RunCompleted (or RunFailed status)
 * is its last event, so until the last chunk has landed every reader sees the run still running,
 * never complete. When the stream already holds a first part of these very events (same ids: an
 * import of the same export that stopped part-way), the rest is appended after it; a stream holding
 * anything else is DUPLICATE_ID and nothing is written.
 */
export async function appendImportedRun(store: EventStore, runId: string, events: readonly LedgerEvent[]): Promise<{ appends: number; resumedAt: number | null }> {
  const streamId = runStreamId(runId);
  const exists = (): never => {
    throw ledgerError('DUPLICATE_ID', `run ${runId} already exists in the ${store.kind} store; nothing was imported`, { runId });
  };
  const current = await store.streamRevision(streamId);
  let from = 0;
  if (current !== null) {
    // a first part of these events, written by an import that stopped? then go on after it
    if (current + 1 >= events.length) exists();
    let i = 0;
    for await (const page of store.readStream(streamId)) {
      for (const e of page) if (e.eventId !== events[i++]?.eventId) exists();
    }
    if (i !== current + 1) exists();
    from = i;
  }
  const resumedAt = current === null ? null : from;
  let chunk = events.length - from;
  let appends = 0;
  while (from < events.length) {
    const part = events.slice(from, from + chunk);
    try {
      await store.append(streamId, part.map(toProposedEvent), from === 0 ? 'no_stream' : from - 1);
    } catch (e) {
      if (isLedgerError(e, 'APPEND_TOO_LARGE') && chunk > 1) {
        chunk = Math.min(Math.ceil(chunk / 2), chunk === events.length - from ? FIRST_CHUNK : chunk);
        continue;
      }
      if (isLedgerError(e, 'CONCURRENCY_CONFLICT') && from === 0) exists();
      throw e;
    }
    appends++;
    from += part.length;
  }
  return { appends, resumedAt };
}

/** null when the state's export is the manifest's (count, chain head, root); else the first difference. */
function compareWithExport(state: RunState, manifest: ExportManifest, records: readonly Record<string, unknown>[]): string | null {
  const d: RecordsDigest = digestRecords(state.runId, runRecords(state));
  if (d.recordCount === manifest.record_count && d.chainHead === manifest.chain_head && d.merkleRoot === manifest.merkle_root) return null;
  let i = 0;
  for (const r of runRecords(state)) {
    const want = records[i];
    if (want === undefined) return `the rebuilt run has more records than the export (${describeRecord(i, r)} is extra)`;
    if (canonicalize(r) !== canonicalize(want)) {
      const fields = [...new Set([...Object.keys(r), ...Object.keys(want)])].filter(
        (k) => canonicalize((r as Record<string, unknown>)[k] ?? null) !== canonicalize(want[k] ?? null),
      );
      return `${describeRecord(i, want)} comes out differently (fields ${fields.join(', ')}; rebuilt as ${describeRecord(i, r)})`;
    }
    i++;
  }
  if (i < records.length) return `the rebuilt run lacks ${describeRecord(i, records[i]!)} and the ${records.length - i - 1} after it`;
  return `the rebuilt records differ from the export (count ${d.recordCount}/${manifest.record_count}, root ${d.merkleRoot}/${manifest.merkle_root})`;
}

// ---------------------------------------------------------------------------
// Synthesis: decode the records, invert them into events, order the events, build the envelopes

/**
 * Events whose fold gives exactly the state these records (in export order) describe.
 * Throws IMPORT_FAILED when the records cannot come from a fold (see the module comment).
 */
export function synthesizeRunEvents(runId: string, records: readonly Record<string, unknown>[], options: { newId?: () => string } = {}): LedgerEvent[] {
  const decoded = decodeRecords(runId, records);
  const ordered = orderEvents(decoded, invertRecords(decoded));
  return buildEvents(runId, ordered, { newId: options.newId ?? randomUUID, describe: decoded.describe });
}

/**
 * Stage 1, decode: every record back into its entity, checked by the entity codec, with exactly
 * the fields its type has; the first is the run record and no other is. A refusal names the
 * record (details: `index`, and `path`, the bad field's path in the record, for a codec error).
 */
export function decodeRecords(runId: string, records: readonly Record<string, unknown>[]): RunRecords {
  const n = records.length;
  if (n === 0) fail('the export holds no records: there is no run to import');
  const types = new Array<RecordType>(n);
  const entities = new Array<EntityOf<RecordType>>(n);
  const known = new Set<string>(RECORD_TYPES);
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    const rt = rec.record_type as RecordType;
    if (!known.has(rt)) fail(`${describeRecord(i, rec)} has an unknown record type`, { index: i });
    if (rec.run_id !== runId) fail(`${describeRecord(i, rec)} belongs to run ${String(rec.run_id)}, not ${runId}`, { index: i });
    types[i] = rt;
    entities[i] = toEntity(rt, rec, i);
  }
  if (types[0] !== 'run') fail(`${describeRecord(0, records[0]!)} is not the run record: an export starts with its run`);
  for (let i = 1; i < n; i++) if (types[i] === 'run') fail(`${describeRecord(i, records[i]!)} is a second run record`, { index: i });
  return new RunRecords(types, entities, (i) => describeRecord(i, records[i] ?? null));
}

/** Turns a record back into its entity (exact fields, decoded by the entity codec). */
function toEntity(rt: RecordType, rec: Record<string, unknown>, index: number): EntityOf<RecordType> {
  const allowed = new Set(recordFieldNames(rt));
  for (const k of Object.keys(rec)) if (!allowed.has(k)) fail(`${describeRecord(index, rec)} has a field ${k} that a ${rt} record does not have`, { index });
  const obj: Record<string, unknown> = {};
  for (const [key, field] of RECORD_FIELDS[rt]) {
    if (!Object.prototype.hasOwnProperty.call(rec, field)) fail(`${describeRecord(index, rec)} lacks its field ${field}`, { index });
    obj[key] = rec[field];
  }
  const d = (ENTITY_CODECS[rt] as unknown as t.Decoder<unknown, EntityOf<RecordType>>).decode(obj);
  if (isLeft(d)) {
    const e = firstError(d.left);
    fail(`${describeRecord(index, rec)} is not a valid ${rt}: ${e.message}`, { index, path: recordPath(rt, e.path) });
  }
  return d.right;
}

/** An entity path (`producedByStateIds[0]`) as the path in the record (`produced_by_state_ids[0]`). */
function recordPath(rt: RecordType, entityPath: string): string {
  const head = /^[^.[]*/.exec(entityPath)![0];
  const field = RECORD_FIELDS[rt].find(([key]) => key === head)?.[1];
  return field === undefined ? entityPath : field + entityPath.slice(head.length);
}

/** One event of the rebuilt run: what it is, where it goes, and the records it makes. */
export interface InvertedEvent {
  /** Position in the order the inverses gave the events (the last tie-break of the order). */
  readonly id: number;
  readonly type: EventType;
  readonly seat: Seat;
  readonly data: Record<string, unknown>;
  /** recordedAt, or null to take the previous event's. */
  readonly at: string | null;
  /** Records it creates, or the one it changes (a refusal of the event names the first). */
  readonly records: readonly number[];
  /** Record positions whose creating events must come first (a change comes after what it changes). */
  readonly needs: readonly number[];
  /** Record positions whose creating events must come after. */
  readonly before: readonly number[];
  /** The smallest record position it creates or changes: the order's priority. */
  readonly prio: number;
}

export interface InvertedRun {
  /** In the order the inverses gave them: body inverses by event type, then those that take the rest, then the run's opening and closing. */
  readonly events: readonly InvertedEvent[];
  /** For every record position, the id of the event that creates it. */
  readonly creator: Int32Array;
}

/** Why a record of a type can be left uncreated by every inverse (what a refusal says of it). */
const UNCREATED: Partial<Record<RecordType, string>> = {
  token: 'has parents but no fork, expand, join or batch that would create them',
  token_parent: 'is a parent link that no token creation makes',
  batch_output: 'is a batch output that no event produces',
};

/**
 * Stage 2, invert: every event type's inverse (EVENT_FOLDS, beside its fold) gives the events of
 * its type that the records call for. The body's inverses run first, in catalogue order, then
 * those that take the records no other event creates; then every record but the run's must be
 * created by exactly one event; then the run's opening and closing (the run record's events).
 */
export function invertRecords(records: RunRecords, folds: EventFolds = EVENT_FOLDS): InvertedRun {
  const events: InvertedEvent[] = [];
  const creator = new Int32Array(records.size).fill(-1);
  const add = (type: EventType, seat: Seat, e: Inverted<EventType>): void => {
    const id = events.length;
    const changed = e.changes === undefined ? [] : [e.changes];
    const made = e.creates.length > 0 ? e.creates : changed;
    if (made.length === 0) throw new Error(`an inverse of ${type} gave an event that neither creates nor changes a record`);
    events.push({ id, type, seat, data: e.data as Record<string, unknown>, at: e.at, records: made, needs: [...(e.needs ?? []), ...changed], before: e.before ?? [], prio: Math.min(...made) });
    for (const r of e.creates) {
      if (creator[r] !== -1) fail(`${records.describe(r)} would be created by two events (${events[creator[r]!]!.type} and ${type})`, { index: r });
      creator[r] = id;
    }
  };
  const isCreated = (position: number): boolean => creator[position] !== -1;
  const run = (pick: (seat: Seat) => boolean, rest: boolean): void => {
    for (const type of EVENT_TYPES) {
      const inverse = folds[type] as EventFold<EventType>;
      const inv = inverse.inverse;
      if ('carriedBy' in inv || !pick(inv.seat)) continue;
      if ('invert' in inv && !rest) for (const e of inv.invert(records)) add(type, inv.seat, e);
      if ('invertRest' in inv && rest) for (const e of inv.invertRest(records, isCreated)) add(type, inv.seat, e);
    }
  };
  const body = (seat: Seat): boolean => seat === 'body';
  run(body, false);
  run(body, true);
  for (let i = 1; i < records.size; i++) {
    if (creator[i] === -1) fail(`${records.describe(i)} ${UNCREATED[records.typeOf(i)] ?? 'is created by no event'}`, { index: i });
  }
  run((seat) => !body(seat), false);
  run((seat) => !body(seat), true);
  if (creator[0] === -1) fail(`${records.describe(0)} is created by no event`, { index: 0 });
  return { events, creator };
}

/**
 * The export's blocks (see src/export/records.ts): the records of one block are listed in the
 * order they were created, so their creating events must keep that order. null: the run, and
 * the types listed in another order (rows by index, parent links and batch outputs by ordinal).
 */
const BLOCKS: { readonly [R in RecordType]: ((e: EntityOf<R>) => string) | null } = {
  run: null,
  secret_resolution: () => 'secret_resolution',
  preflight_result: () => 'preflight_result',
  node: () => 'node',
  edge: () => 'edge',
  operation: () => 'operation',
  call: (e) => `call ${e.stateId ?? ''} ${e.operationId ?? ''}`,
  row: null,
  token: (e) => `token ${e.rowId}`,
  token_parent: null,
  token_outcome: (e) => `outcome ${e.tokenId}`,
  node_state: (e) => `state ${e.tokenId}`,
  routing_event: (e) => `routing ${e.stateId}`,
  batch: () => 'batch',
  batch_member: (e) => `member ${e.batchId}`,
  batch_output: null,
  artifact: () => 'artifact',
  validation_error: () => 'validation_error',
  transform_error: () => 'transform_error',
  checkpoint: () => 'checkpoint',
};

/**
 * Stage 3, order: the run's opening, the body, the run's closing. The body is a topological
 * sort (Kahn, smallest record position first) of causal edges (an event after the creation of
 * the records it needs, before that of the records it must precede) and block-order edges
 * (consecutive records of one block are created in their order). The original log is one valid
 * order, so one exists for an export of an anomaly-free run; a cycle is refused.
 */
export function orderEvents(records: RunRecords, inverted: InvertedRun): InvertedEvent[] {
  const { events, creator } = inverted;
  const body = events.filter((e) => e.seat === 'body');
  const isBody = (id: number): boolean => id !== -1 && events[id]!.seat === 'body';
  const succ = new Map<number, number[]>(body.map((e) => [e.id, []]));
  const indeg = new Map<number, number>(body.map((e) => [e.id, 0]));
  const edge = (a: number, b: number): void => {
    succ.get(a)!.push(b);
    indeg.set(b, indeg.get(b)! + 1);
  };
  for (const e of body) {
    for (const r of e.needs) if (isBody(creator[r]!) && creator[r] !== e.id) edge(creator[r]!, e.id);
    for (const r of e.before) if (isBody(creator[r]!) && creator[r] !== e.id) edge(e.id, creator[r]!);
  }
  const last = new Map<string, number>();
  for (let i = 1; i < records.size; i++) {
    const rt = records.typeOf(i);
    const block = BLOCKS[rt] as ((e: EntityOf<RecordType>) => string) | null;
    if (block === null) continue;
    const key = block(records.get(i, rt));
    const c = creator[i]!;
    const prev = last.get(key);
    if (prev !== undefined && prev !== c) edge(prev, c);
    last.set(key, c);
  }

  const heap = new MinHeap((a: InvertedEvent, b: InvertedEvent) => a.prio - b.prio || a.id - b.id);
  for (const e of body) if (indeg.get(e.id) === 0) heap.push(e);
  const order: InvertedEvent[] = [];
  while (heap.size > 0) {
    const e = heap.pop()!;
    order.push(e);
    for (const s of succ.get(e.id)!) {
      const d = indeg.get(s)! - 1;
      indeg.set(s, d);
      if (d === 0) heap.push(events[s]!);
    }
  }
  if (order.length < body.length) {
    const stuck = body
      .filter((e) => indeg.get(e.id)! > 0)
      .sort((a, b) => a.prio - b.prio)
      .slice(0, 5);
    fail(
      `the records' order cannot be reproduced by any order of events (a cycle among the events for ${stuck.map((x) => `${x.type} of ${records.describe(x.records[0]!)}`).join('; ')})`,
      { records: stuck.map((x) => x.records[0]) },
    );
  }
  const seated = (side: 'opening' | 'closing'): InvertedEvent[] =>
    events
      .filter((e) => typeof e.seat === 'object' && side in e.seat)
      .map((e) => ({ e, rank: (e.seat as Record<string, number>)[side]! }))
      .sort((a, b) => a.rank - b.rank || a.e.id - b.e.id)
      .map((x) => x.e);
  return [...seated('opening'), ...order, ...seated('closing')];
}

/** What the build stage needs of an event. */
export type EventSketch = Pick<InvertedEvent, 'type' | 'data' | 'at' | 'records'>;

/**
 * Stage 4, build: the envelopes, in the given order. Each event's data is checked by its codec
 * (a refusal names the event's first record); seq is the position, recordedAt the event's time
 * or the previous event's, event ids are new.
 */
export function buildEvents(runId: string, events: readonly EventSketch[], options: { newId: () => string; describe: (position: number) => string }): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  let lastAt: string | null = null;
  for (let seq = 0; seq < events.length; seq++) {
    const d = events[seq]!;
    const codec = EVENT_CATALOGUE[d.type].codec as unknown as t.Decoder<unknown, EventDataOf<EventType>>;
    const decoded = codec.decode(d.data);
    if (isLeft(decoded)) {
      fail(`${options.describe(d.records[0]!)} cannot be written as a ${d.type} event: ${firstError(decoded.left).message}`, { index: d.records[0], type: d.type });
    }
    const at: string | null = d.at ?? lastAt;
    if (at === null) throw new Error(`buildEvents: the first event (${d.type}) has no time`);
    lastAt = at;
    out.push({
      eventId: options.newId(),
      type: d.type,
      schemaVersion: EVENT_CATALOGUE[d.type].schemaVersion,
      runId,
      seq,
      recordedAt: at,
      correlationId: null,
      causationId: null,
      data: decoded.right,
    } as LedgerEvent);
  }
  return out;
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const end = a.pop()!;
    if (a.length > 0) {
      a[0] = end;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
