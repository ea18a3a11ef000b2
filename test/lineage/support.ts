/** Shared helpers of the lineage, check and replay tests. */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../../src/canonical/hash';
import { isLedgerError, LedgerError } from '../../src/errors';
import { EVENT_CATALOGUE, EventDataOf, EventType } from '../../src/events/catalogue';
import { LedgerEvent, runStreamId } from '../../src/events/envelope';
import { toProposedEvent } from '../../src/store/events';
import type { Ledger } from '../../src/ledger';
import type { EventStore } from '../../src/store/port';

export const hash = (s: string): string => sha256Hex(s);
export const uuid = (): string => randomUUID();

/** Every event of a run, decoded, in order. */
export async function runEvents(ledger: Ledger, runId: string): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const page of ledger.readRunEvents(runId)) out.push(...page);
  return out;
}

/** Events of one type, with their data typed. */
export function ofType<T extends EventType>(events: readonly LedgerEvent[], type: T): (LedgerEvent & { type: T; data: EventDataOf<T> })[] {
  return events.filter((e) => e.type === type) as (LedgerEvent & { type: T; data: EventDataOf<T> })[];
}

/**
 * Builds a run's events by hand and appends them straight to a store, around
 * the recorder's checks (the only way to write the broken runs `check` must find).
 */
export class EventRunBuilder {
  readonly events: LedgerEvent[] = [];
  private clock = Date.parse('2026-03-01T12:00:00.000Z');

  constructor(readonly runId: string = uuid()) {}

  add<T extends EventType>(type: T, data: EventDataOf<T>): this {
    this.clock += 1000;
    this.events.push({
      eventId: uuid(),
      type,
      schemaVersion: EVENT_CATALOGUE[type].schemaVersion,
      runId: this.runId,
      seq: this.events.length,
      recordedAt: new Date(this.clock).toISOString(),
      correlationId: null,
      causationId: null,
      data,
    } as LedgerEvent);
    return this;
  }

  async appendTo(store: EventStore): Promise<void> {
    await store.append(runStreamId(this.runId), this.events.map(toProposedEvent), 'no_stream');
  }

  // -- shortcuts for the common facts

  start(): this {
    return this.add('RunStarted', {
      config: { pipeline: 'hand-built' },
      configHash: hash('config'),
      canonicalVersion: 'sha256-rfc8785-v1',
      reproducibilityGrade: null,
      sourceSchemaJson: null,
      schemaContractJson: null,
      schemaContractHash: null,
    });
  }

  node(nodeType: 'source' | 'gate' | 'transform' | 'aggregation' | 'coalesce' | 'sink', pluginName: string = nodeType): string {
    const nodeId = uuid();
    this.add('NodeRegistered', {
      nodeId,
      pluginName,
      nodeType,
      pluginVersion: '1',
      determinism: 'deterministic',
      config: {},
      configHash: hash(pluginName),
      schemaHash: null,
      schemaMode: null,
      schemaFields: null,
      sequenceInPipeline: null,
      inputContractJson: null,
      outputContractJson: null,
    });
    return nodeId;
  }

  row(sourceNodeId: string, rowIndex: number): string {
    const rowId = uuid();
    this.add('RowCreated', { rowId, sourceNodeId, rowIndex, sourceDataHash: hash(`row ${rowIndex}`), sourceDataRef: null, quarantined: false });
    return rowId;
  }

  token(rowId: string, tokenId: string = uuid()): string {
    this.add('TokenCreated', { tokenId, rowId, branchName: null, stepInPipeline: null });
    return tokenId;
  }

  openState(tokenId: string, nodeId: string, stepIndex: number, stateId: string = uuid()): string {
    this.add('NodeStateOpened', { stateId, tokenId, nodeId, stepIndex, attempt: 0, inputHash: hash('in'), contextBeforeJson: null });
    return stateId;
  }

  completeState(stateId: string): this {
    return this.add('NodeStateCompleted', { stateId, outputHash: hash('out'), durationMs: 1, successReasonJson: null, contextAfterJson: null });
  }

  state(tokenId: string, nodeId: string, stepIndex: number): string {
    const s = this.openState(tokenId, nodeId, stepIndex);
    this.completeState(s);
    return s;
  }

  outcome(
    tokenId: string,
    outcome: EventDataOf<'TokenOutcomeRecorded'>['outcome'],
    fields: Partial<Omit<EventDataOf<'TokenOutcomeRecorded'>, 'outcomeId' | 'tokenId' | 'outcome'>> = {},
  ): string {
    const outcomeId = uuid();
    this.add('TokenOutcomeRecorded', {
      outcomeId,
      tokenId,
      outcome,
      sinkName: null,
      batchId: null,
      forkGroupId: null,
      joinGroupId: null,
      expandGroupId: null,
      errorHash: null,
      contextJson: null,
      expectedBranchesJson: null,
      ...fields,
    });
    return outcomeId;
  }

  complete(status: 'completed' | 'failed' | 'interrupted' = 'completed'): this {
    return this.add('RunCompleted', { status, reproducibilityGrade: null });
  }
}

/** Collects what a CLI command writes. */

export function makeTempDir(prefix = 'll-lineage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Awaits `work` and returns the LedgerError it failed with. */
export async function ledgerErrorOf(work: Promise<unknown> | (() => Promise<unknown>)): Promise<LedgerError> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    if (isLedgerError(e)) return e;
    throw e;
  }
  throw new Error('expected a LedgerError, but the call succeeded');
}

/**
 * A projection as plain data, for deep equality: Maps become arrays of
 * [key, value] entries and Sets arrays, both in insertion order (replay must
 * reproduce the order too, which the export relies on).
 */
export function plain(value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()].map(([k, v]) => [plain(k), plain(v)]);
  if (value instanceof Set) return [...value.values()].map(plain);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) out[k] = plain((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}
