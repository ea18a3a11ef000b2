/**
 * Ledger events as the store holds them: `toProposedEvent` maps an event to what the
 * store's `append` takes, `decodeStoredEvent` checks and decodes what a read returns
 * (src/events/envelope.ts describes the envelope and the run streams).
 */
import { isLeft } from 'fp-ts/Either';
import { ledgerError } from '../errors';
import { EVENT_CATALOGUE, EventType, isEventType } from '../events/catalogue';
import { firstError } from '../events/codecs';
import { EventMetadata, LedgerEvent, runIdOfStream, UPCASTERS, UpcasterTable } from '../events/envelope';
import type { ProposedEvent, StoredEvent } from './port';

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
