/**
 * The event envelope: the fields every ledger event carries beside its data, the run
 * streams, and the upcasters of old schema versions.
 *
 * In the store an event is { eventId, type, data, metadata }: `data` is the
 * event's payload (the catalogue codec), `metadata` carries the envelope fields
 * (schemaVersion, runId, seq, recordedAt, correlationId, causationId). One stream
 * per run: `run-<runId>`; `seq` equals the event's 0-based stream revision. The
 * mapping to and from the store's events is on the store side of the port
 * (src/store/events.ts).
 */
import { EventDataOf, EventType } from './catalogue';
import { Id, NonNegativeInt, nullable, PositiveInt, Str, struct, Timestamp } from './codecs';

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
