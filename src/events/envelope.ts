/**
 * The event envelope and its mapping to and from the store.
 *
 * In the store an event is { eventId, type, data, metadata }: `data` is the
 * event's payload (the catalogue codec), `metadata` carries the envelope fields
 * (schemaVersion, runId, seq, recordedAt, correlationId, causationId). One stream
 * per run: `run-<runId>`; `seq` equals the event's 0-based stream revision.
 */
import { isLeft } from 'fp-ts/Either';
import { ledgerError } from '../errors';
import type { ProposedEvent, StoredEvent } from '../store/port';
import { EVENT_CATALOGUE, EventDataOf, EventType, isEventType } from './catalogue';
import { firstError, Id, NonNegativeInt, nullable, PositiveInt, Str, struct, Timestamp } from './codecs';

export interface EventEnvelope<T extends EventType = EventType> {
  readonly eventId: string;
  readonly type: T;
  readonly schemaVersion: number;
  readonly runId: string;
  /** Run-local sequence number, equal to the 0-based revision in the run stream. */
  readonly seq: number;
  /** UTC ISO-8601 with offset. */
  readonly recordedAt: string;
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly data: EventDataOf<T>;
}

/** Any ledger event, discriminated by `type`. */
export type LedgerEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

export const EventMetadata = struct('EventMetadata', {
  schemaVersion: PositiveInt,
  runId: Id,
  seq: NonNegativeInt,
  recordedAt: Timestamp,
  correlationId: nullable(Str),
  causationId: nullable(Str),
});

export const RUN_STREAM_PREFIX = 'run-';

export function runStreamId(runId: string): string {
  return RUN_STREAM_PREFIX + runId;
}

/** The run id of a run stream, or null for any other stream. */
export function runIdOfStream(streamId: string): string | null {
  return streamId.startsWith(RUN_STREAM_PREFIX) ? streamId.slice(RUN_STREAM_PREFIX.length) : null;
}

export function toProposedEvent(e: LedgerEvent): ProposedEvent {
  return {
    eventId: e.eventId,
    type: e.type,
    data: e.data as unknown as Record<string, unknown>,
    metadata: {
      schemaVersion: e.schemaVersion,
      runId: e.runId,
      seq: e.seq,
      recordedAt: e.recordedAt,
      correlationId: e.correlationId,
      causationId: e.causationId,
    },
  };
}

/**
 * Upcasters turn the data of an old schema version into the next version's:
 * UPCASTERS[type][v] maps version v to v + 1. A new field gets a new version of its
 * type and an entry here.
 */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
export type UpcasterTable = Partial<Record<EventType, Readonly<Record<number, Upcaster>>>>;
export const UPCASTERS: UpcasterTable = {
  // version 2 added the optional BatchOutputToken.expandGroupId: a version 1 event reads as it is
  BatchOutputsProduced: { 1: (data) => data },
  // version 2 added the optional outcomeRecordedAt (of the outcomes these events record): a version 1 event reads as it is
  TokenForked: { 1: (data) => data },
  TokenExpanded: { 1: (data) => data },
  TokensCoalesced: { 1: (data) => data },
};

export interface DecodeOptions {
  readonly upcasters?: UpcasterTable;
  /** Current schema version per type (default: the catalogue's). */
  readonly currentVersion?: (type: EventType) => number;
}

function malformed(stored: StoredEvent, problem: string, extra: Record<string, unknown> = {}): never {
  throw ledgerError('MALFORMED_EVENT', `event at ${stored.streamId}@${stored.revision} (id ${stored.eventId}, type ${stored.type}): ${problem}`, {
    streamId: stored.streamId,
    revision: stored.revision,
    eventId: stored.eventId,
    type: stored.type,
    ...extra,
  });
}

/**
 * Decodes a stored event against the envelope and catalogue codecs, upcasting
 * old schema versions. Anything that does not fit (a foreign event in a run
 * stream, a wrong seq, an unknown field) is a MALFORMED_EVENT naming the stream
 * and revision; it is never skipped.
 */
export function decodeStoredEvent(stored: StoredEvent, options: DecodeOptions = {}): LedgerEvent {
  if (!isEventType(stored.type)) malformed(stored, `unknown event type "${stored.type}"`);
  const type = stored.type;
  const meta = EventMetadata.decode(stored.metadata);
  if (isLeft(meta)) malformed(stored, `metadata ${firstError(meta.left).message}`, { path: firstError(meta.left).path });
  const m = meta.right;
  const current = options.currentVersion ? options.currentVersion(type) : EVENT_CATALOGUE[type].schemaVersion;
  if (m.schemaVersion > current) {
    throw ledgerError(
      'UNSUPPORTED_SCHEMA_VERSION',
      `event at ${stored.streamId}@${stored.revision} is ${type} schema version ${m.schemaVersion}; this library reads up to version ${current}`,
      { streamId: stored.streamId, revision: stored.revision, type, schemaVersion: m.schemaVersion, supported: current },
    );
  }
  const expectedRun = runIdOfStream(stored.streamId);
  if (expectedRun !== null && expectedRun !== m.runId) malformed(stored, `runId ${m.runId} does not belong in stream ${stored.streamId}`);
  if (expectedRun !== null && m.seq !== stored.revision) malformed(stored, `seq ${m.seq} differs from its stream revision ${stored.revision}`);
  let data = stored.data as Record<string, unknown>;
  let version = m.schemaVersion;
  const table = (options.upcasters ?? UPCASTERS)[type];
  while (version < current) {
    const up = table?.[version];
    if (up === undefined) malformed(stored, `no upcaster from ${type} version ${version} to ${version + 1}`);
    data = up(data);
    version++;
  }
  const decoded = EVENT_CATALOGUE[type].codec.decode(data);
  if (isLeft(decoded)) {
    const err = firstError(decoded.left);
    malformed(stored, `data ${err.message}`, { path: err.path });
  }
  return {
    eventId: stored.eventId,
    type,
    schemaVersion: current,
    runId: m.runId,
    seq: m.seq,
    recordedAt: m.recordedAt,
    correlationId: m.correlationId,
    causationId: m.causationId,
    data: decoded.right,
  } as LedgerEvent;
}
