/**
 * Projection state → export records.
 *
 * A record is a flat JSON object: `record_type`, `run_id`, then one snake_case
 * field per key of the entity codec (src/projections/entities.ts), every field
 * always present, null when not applicable. The mapping is computed from the
 * codecs, not written out by hand, so no field of the state can be left out.
 *
 * Order (deterministic; exporting the same events twice gives the same bytes):
 *
 *   run
 *   secret_resolution*            creation order
 *   preflight_result*             creation order
 *   node*                         registration order
 *   edge*                         registration order
 *   for each operation            start order
 *     operation
 *     call*                       call_index
 *   for each row                  row_index
 *     row
 *     for each token of the row   creation order
 *       token
 *       token_parent*             ordinal
 *       token_outcome*            recording order
 *       for each node_state       step_index, attempt
 *         node_state
 *         routing_event*          decision order, then ordinal
 *         call*                   call_index
 *   for each batch                creation order
 *     batch
 *     batch_member*               ordinal
 *     batch_output*               ordinal
 *   artifact*                     registration order
 *   validation_error*             recording order
 *   transform_error*              recording order
 *   checkpoint*                   recording order
 */
import type { Json } from '../events/codecs';
import { ENTITY_CODECS, EntityOf, RECORD_TYPES, RecordType } from '../projections/entities';
import type { RunState } from '../projections/state';
import type { Row } from '../projections/entities';
import { entriesByKey, setReadAhead } from '../projections/persisted';

/** Entries read ahead per miss when exporting from persisted tables. */
const EXPORT_READ_AHEAD = 512;

/** `fooBarBaz` → `foo_bar_baz` at the type level (what `snakeCase` does to a field name). */
type Snake<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}` : S;

/** The record of one record type: its entity's fields in snake_case, absent optional fields written as null. */
export type RecordOf<R extends RecordType> = { readonly record_type: R; readonly run_id: string } & {
  readonly [K in keyof EntityOf<R> as K extends string ? Snake<K> : never]-?: undefined extends EntityOf<R>[K] ? Exclude<EntityOf<R>[K], undefined> | null : EntityOf<R>[K];
};

/**
 * An export record: a union discriminated by `record_type`, so after `r.record_type === 'token'`
 * the compiler knows `r.expand_group_id` (`string | null`) and refuses a misspelt field.
 */
export type ExportRecord = { [R in RecordType]: RecordOf<R> }[RecordType];

/** Narrows a record to its type: `isRecordOf(r, 'token')` gives `RecordOf<'token'>`. */
export function isRecordOf<R extends RecordType>(record: ExportRecord, rt: R): record is Extract<ExportRecord, { record_type: R }> {
  return record.record_type === rt;
}

/** The records of one type, typed. */
export function recordsOf<R extends RecordType>(records: Iterable<ExportRecord>, rt: R): Array<RecordOf<R>> {
  const out: unknown[] = [];
  for (const r of records) if (r.record_type === rt) out.push(r);
  return out as Array<RecordOf<R>>;
}

/** Any record read as a plain JSON object (field by name, for generic code such as encoders and views). */
export type RecordFields = { readonly record_type: RecordType; readonly run_id: string } & { readonly [field: string]: Json };

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** For every record type, its fields as [entity key, record field], in codec order. */
export const RECORD_FIELDS: { readonly [R in RecordType]: ReadonlyArray<readonly [string, string]> } = Object.fromEntries(
  RECORD_TYPES.map((rt) => [rt, ENTITY_CODECS[rt].keys.map((k) => [k, snakeCase(k)] as const)]),
) as { [R in RecordType]: Array<readonly [string, string]> };

/** Every field name of a record type, including record_type and run_id. */
export function recordFieldNames(rt: RecordType): string[] {
  const names = ['record_type', 'run_id'];
  for (const [, f] of RECORD_FIELDS[rt]) if (!names.includes(f)) names.push(f);
  return names;
}

export function toRecord<R extends RecordType>(rt: R, runId: string, entity: EntityOf<R>): RecordOf<R> {
  const out: Record<string, unknown> = { record_type: rt, run_id: runId };
  const src = entity as unknown as Record<string, unknown>;
  for (const [key, field] of RECORD_FIELDS[rt]) {
    const v = src[key];
    out[field] = v === undefined ? null : v;
  }
  return out as RecordOf<R>;
}

function byOrdinal<T extends { ordinal: number }>(a: T, b: T): number {
  return a.ordinal - b.ordinal;
}

/** Yields the run's records in the documented order. */
export function* runRecords(state: RunState): Generator<ExportRecord> {
  const runId = state.runId;
  if (state.run === null) return;
  // the walk below follows creation order: read the persisted tables ahead of it
  setReadAhead(state, EXPORT_READ_AHEAD);
  yield toRecord('run', runId, state.run);
  for (const s of state.secretResolutions.values()) yield toRecord('secret_resolution', runId, s);
  for (const p of state.preflightResults.values()) yield toRecord('preflight_result', runId, p);
  for (const n of state.nodes.values()) yield toRecord('node', runId, n);
  for (const e of state.edges.values()) yield toRecord('edge', runId, e);

  for (const op of state.operations.values()) {
    yield toRecord('operation', runId, op);
    yield* callsOf(state, state.callsByOperation.get(op.operationId));
  }

  // rows in row-index order, read a page at a time when the projection is persisted
  for (const [, rowId] of entriesByKey(state.rowByIndex)) {
    const row = state.rows.get(rowId);
    if (row !== undefined) yield* rowRecords(state, row);
  }
  // rows created twice under one index (an anomaly) still appear, after the others
  if (state.rowByIndex.size !== state.rows.size) {
    for (const row of state.rows.values()) if (state.rowByIndex.get(row.rowIndex) !== row.rowId) yield* rowRecords(state, row);
  }
  // tokens filed under a row that does not exist (an anomaly) still appear
  for (const [rowId, tokenIds] of state.tokensByRow) if (!state.rows.has(rowId)) for (const t of tokenIds) yield* tokenRecords(state, t);

  for (const b of state.batches.values()) {
    yield toRecord('batch', runId, b);
    for (const m of [...(state.batchMembers.get(b.batchId) ?? [])].sort(byOrdinal)) yield toRecord('batch_member', runId, m);
    for (const o of [...(state.batchOutputs.get(b.batchId) ?? [])].sort(byOrdinal)) yield toRecord('batch_output', runId, o);
  }
  for (const a of state.artifacts.values()) yield toRecord('artifact', runId, a);
  for (const v of state.validationErrors.values()) yield toRecord('validation_error', runId, v);
  for (const t of state.transformErrors.values()) yield toRecord('transform_error', runId, t);
  for (const c of state.checkpoints.values()) yield toRecord('checkpoint', runId, c);
}

function* rowRecords(state: RunState, row: Row): Generator<ExportRecord> {
  yield toRecord('row', state.runId, row);
  for (const tokenId of state.tokensByRow.get(row.rowId) ?? []) yield* tokenRecords(state, tokenId);
}

function* tokenRecords(state: RunState, tokenId: string): Generator<ExportRecord> {
  const runId = state.runId;
  const token = state.tokens.get(tokenId);
  if (token === undefined) return;
  yield toRecord('token', runId, token);
  const parents = state.parents.get(tokenId);
  if (parents !== undefined) for (const p of [...parents].sort(byOrdinal)) yield toRecord('token_parent', runId, p);
  for (const oid of state.outcomesByToken.get(tokenId) ?? []) yield toRecord('token_outcome', runId, state.outcomes.get(oid)!);
  const stateIds = state.statesByToken.get(tokenId);
  if (stateIds === undefined) return;
  const states = stateIds.map((id) => state.nodeStates.get(id)!);
  if (states.length > 1) states.sort((a, b) => a.stepIndex - b.stepIndex || a.attempt - b.attempt);
  for (const ns of states) {
    yield toRecord('node_state', runId, ns);
    const routing = state.routingByState.get(ns.stateId);
    if (routing !== undefined) for (const rid of routing) yield toRecord('routing_event', runId, state.routingEvents.get(rid)!);
    yield* callsOf(state, state.callsByState.get(ns.stateId));
  }
}

function* callsOf(state: RunState, callIds: readonly string[] | undefined): Generator<ExportRecord> {
  if (callIds === undefined) return;
  const calls = callIds.map((id) => state.calls.get(id)!);
  if (calls.length > 1) calls.sort((a, b) => a.callIndex - b.callIndex);
  for (const c of calls) yield toRecord('call', state.runId, c);
}

/** Number of records of each type in the state (same counting as runRecords). */
export function recordCounts(state: RunState): Record<RecordType, number> {
  const counts = Object.fromEntries(RECORD_TYPES.map((rt) => [rt, 0])) as Record<RecordType, number>;
  for (const r of runRecords(state)) counts[r.record_type]++;
  return counts;
}
