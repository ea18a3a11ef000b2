/**
 * Landscape rows of one run → our export records (src/export/records.ts field names), in our
 * export's order, each with the Landscape table and key it came from. The field values follow
 * LANDSCAPE_MAPPING (mapping.ts); the derived fields are computed here, as the mapping says.
 */
import { recordFieldNames } from '../export/records';
import type { RecordType } from '../projections/entities';
import type { LandscapeRow, LandscapeTable, RunTables } from './landscape';
import { ConversionError, convert, LANDSCAPE_MAPPING, TableMapping } from './mapping';

/** Where a record came from: the Landscape table and the row's key. */
export interface Origin {
  readonly table: LandscapeTable;
  readonly key: Readonly<Record<string, unknown>>;
}

/** A Landscape fact that breaks a rule: its table, its key, the rule's code and what is wrong. */
export interface LandscapeAnomaly {
  readonly table: LandscapeTable;
  readonly key: Readonly<Record<string, unknown>>;
  /** A check code (src/lineage/check.ts), or CONVERSION / DECODE / MISSING_TABLE_LINK for facts that cannot become records or events. */
  readonly rule: string;
  readonly message: string;
}

export interface BuiltRecords {
  readonly records: Record<string, unknown>[];
  readonly origins: Origin[];
  /** Facts that could not be converted: the run cannot be imported. */
  readonly problems: LandscapeAnomaly[];
}

const BY_TABLE = new Map<LandscapeTable, TableMapping>(LANDSCAPE_MAPPING.map((m) => [m.table, m]));

function keyOf(m: TableMapping, row: LandscapeRow): Record<string, unknown> {
  const columns = m.table === 'batch_outputs' ? ['batch_output_id'] : m.key.map((k) => m.fields[k]?.column ?? k);
  return Object.fromEntries(columns.map((c) => [c, row[c] ?? null]));
}

/** Formats a key for messages: `outcome_id=out_02bf3ffba302`. */
export function describeKey(key: Readonly<Record<string, unknown>>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

const str = (v: unknown): string => String(v);
const byTime = (field: string, tie: string) => (a: LandscapeRow, b: LandscapeRow): number =>
  str(a[field]) < str(b[field]) ? -1 : str(a[field]) > str(b[field]) ? 1 : str(a[tie]) < str(b[tie]) ? -1 : str(a[tie]) > str(b[tie]) ? 1 : 0;
const group = (rows: readonly LandscapeRow[], field: string): Map<string, LandscapeRow[]> => {
  const m = new Map<string, LandscapeRow[]>();
  for (const r of rows) {
    const k = str(r[field]);
    const l = m.get(k);
    if (l === undefined) m.set(k, [r]);
    else l.push(r);
  }
  return m;
};

/** Builds our records of one run. `marker`: an extra preflight record (the imported-with-anomalies mark), or null. */
export function buildRecords(runId: string, t: RunTables, marker: Record<string, unknown> | null = null): BuiltRecords {
  const records: Record<string, unknown>[] = [];
  const origins: Origin[] = [];
  const problems: LandscapeAnomaly[] = [];
  const run = t.runs[0]!;

  // ---- derived facts
  const members = group(t.batch_members, 'batch_id');
  for (const l of members.values()) l.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
  const batchById = new Map(t.batches.map((b) => [str(b.batch_id), b]));
  const tokenById = new Map(t.tokens.map((x) => [str(x.token_id), x]));
  const outcomesByToken = group(t.token_outcomes, 'token_id');
  const parentsByToken = group(t.token_parents, 'token_id');
  for (const l of parentsByToken.values()) l.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
  /** output token → batch */
  const outputBatch = new Map<string, string>();
  for (const o of t.batch_outputs) if (o.output_type === 'token') outputBatch.set(str(o.output_id), str(o.batch_id));
  if (t.batch_outputs.length === 0) {
    // ELSPETH itself never fills batch_outputs: an aggregation output is an expand child whose parent was not EXPANDED but CONSUMED_IN_BATCH
    for (const tok of t.tokens) {
      if (tok.expand_group_id === null) continue;
      const parent = parentsByToken.get(str(tok.token_id))?.[0];
      if (parent === undefined) continue;
      const pOutcomes = outcomesByToken.get(str(parent.parent_token_id)) ?? [];
      if (pOutcomes.some((o) => o.outcome === 'expanded' && o.expand_group_id === tok.expand_group_id)) continue;
      const consumed = pOutcomes.find((o) => o.outcome === 'consumed_in_batch' && o.batch_id !== null);
      if (consumed !== undefined) outputBatch.set(str(tok.token_id), str(consumed.batch_id));
    }
  }
  const quarantinedHashes = new Set(t.validation_errors.map((v) => str(v.row_hash)));
  const rowIndexByHash = new Map<string, number>();
  for (const r of t.rows) if (!rowIndexByHash.has(str(r.source_data_hash))) rowIndexByHash.set(str(r.source_data_hash), Number(r.row_index));
  // retried batches: attempt n > 0 ← the failed batch of attempt n - 1 at the same node with the same members
  const memberKey = (batchId: string): string => (members.get(batchId) ?? []).map((m) => `${str(m.token_id)}#${str(m.ordinal)}`).join(',');
  const retriedFrom = new Map<string, string>();
  for (const b of t.batches) {
    if (Number(b.attempt) === 0) continue;
    const from = t.batches.find(
      (x) =>
        x.status === 'failed' && Number(x.attempt) === Number(b.attempt) - 1 && x.aggregation_node_id === b.aggregation_node_id && memberKey(str(x.batch_id)) === memberKey(str(b.batch_id)),
    );
    if (from !== undefined) retriedFrom.set(str(b.batch_id), str(from.batch_id));
  }

  // ---- one record
  const emit = (table: LandscapeTable, row: LandscapeRow, extra: Record<string, unknown> = {}): void => {
    const m = BY_TABLE.get(table)!;
    const rt: RecordType = m.record;
    const out: Record<string, unknown> = { record_type: rt, run_id: runId };
    for (const field of recordFieldNames(rt)) {
      if (field === 'record_type' || field === 'run_id') continue;
      if (Object.prototype.hasOwnProperty.call(extra, field)) {
        out[field] = extra[field];
        continue;
      }
      const f = m.fields[field];
      if (f === undefined || f.column === null) {
        out[field] = null;
        continue;
      }
      try {
        out[field] = convert(f.conversion, row[f.column]);
      } catch (e) {
        if (!(e instanceof ConversionError)) throw e;
        problems.push({ table, key: keyOf(m, row), rule: 'CONVERSION', message: `column ${f.column} ${e.message}` });
        out[field] = null;
      }
    }
    records.push(out);
    origins.push({ table, key: keyOf(m, row) });
  };

  emit('runs', run);
  for (const s of [...t.secret_resolutions].sort((a, b) => Number(a.timestamp) - Number(b.timestamp) || (str(a.resolution_id) < str(b.resolution_id) ? -1 : 1))) {
    emit('secret_resolutions', s, { recorded_at: convert('timestamp', run.started_at) });
  }
  for (const p of t.preflight_results) emit('preflight_results', p);
  if (marker !== null) {
    records.push(marker);
    origins.push({ table: 'runs', key: { run_id: runId } });
  }
  for (const n of t.nodes) emit('nodes', n);
  for (const e of t.edges) emit('edges', e);
  const callsByState = group(t.calls.filter((c) => c.state_id !== null), 'state_id');
  const callsByOp = group(t.calls.filter((c) => c.operation_id !== null), 'operation_id');
  const byIndex = (a: LandscapeRow, b: LandscapeRow): number => Number(a.call_index) - Number(b.call_index);
  for (const op of t.operations) {
    emit('operations', op);
    for (const c of [...(callsByOp.get(str(op.operation_id)) ?? [])].sort(byIndex)) emit('calls', c);
  }

  const statesByToken = group(t.node_states, 'token_id');
  const routingByState = group(t.routing_events, 'state_id');
  const tokensByRow = group(t.tokens, 'row_id');
  const emitToken = (tok: LandscapeRow): void => {
    const id = str(tok.token_id);
    const batchId = outputBatch.get(id) ?? null;
    emit('tokens', tok, batchId === null ? { batch_id: null, expand_group_id: tok.expand_group_id ?? null } : { batch_id: batchId, expand_group_id: null });
    if (batchId !== null) {
      // an aggregation output: every member of its batch is a parent (Landscape links the first only)
      const links = parentsByToken.get(id) ?? [];
      for (const m of members.get(batchId) ?? []) {
        const own = links.find((l) => l.parent_token_id === m.token_id);
        emit('token_parents', own ?? { token_id: id, parent_token_id: m.token_id, ordinal: m.ordinal }, { ordinal: Number(m.ordinal) });
      }
    } else {
      for (const l of parentsByToken.get(id) ?? []) emit('token_parents', l);
    }
    for (const o of outcomesByToken.get(id) ?? []) emit('token_outcomes', o);
    const states = [...(statesByToken.get(id) ?? [])].sort((a, b) => Number(a.step_index) - Number(b.step_index) || Number(a.attempt) - Number(b.attempt));
    for (const ns of states) {
      emit('node_states', ns);
      for (const r of routingByState.get(str(ns.state_id)) ?? []) emit('routing_events', r);
      for (const c of [...(callsByState.get(str(ns.state_id)) ?? [])].sort(byIndex)) emit('calls', c);
    }
  };
  const rowIds = new Set<string>();
  for (const row of t.rows) {
    rowIds.add(str(row.row_id));
    emit('rows', row, { quarantined: quarantinedHashes.has(str(row.source_data_hash)) });
    for (const tok of tokensByRow.get(str(row.row_id)) ?? []) emitToken(tok);
  }
  // facts that hang on nothing (broken references) still become records, so the checks see them
  for (const tok of t.tokens) if (!rowIds.has(str(tok.row_id))) emitToken(tok);
  for (const o of t.token_outcomes) if (!tokenById.has(str(o.token_id))) emit('token_outcomes', o);
  for (const ns of t.node_states) if (!tokenById.has(str(ns.token_id))) emit('node_states', ns);

  for (const b of t.batches) {
    const id = str(b.batch_id);
    emit('batches', b, { retried_from_batch_id: retriedFrom.get(id) ?? null });
    for (const m of members.get(id) ?? []) emit('batch_members', m);
    const outs = t.batch_outputs.filter((o) => o.batch_id === b.batch_id);
    const tokenOuts =
      t.batch_outputs.length === 0
        ? [...outputBatch].filter(([, bid]) => bid === id).map(([tokenId]) => ({ batch_output_id: null, batch_id: id, output_type: 'token', output_id: tokenId }))
        : outs.filter((o) => o.output_type === 'token');
    tokenOuts.sort((x, y) => byTime('created_at', 'token_id')(tokenById.get(str(x.output_id)) ?? {}, tokenById.get(str(y.output_id)) ?? {}));
    let ordinal = 0;
    for (const o of tokenOuts) emit('batch_outputs', o, { ordinal: ordinal++, expand_group_id: tokenById.get(str(o.output_id))?.expand_group_id ?? null });
    for (const o of outs.filter((x) => x.output_type !== 'token')) emit('batch_outputs', o, { ordinal: ordinal++, expand_group_id: null });
    if (!batchById.has(id)) continue;
  }
  for (const a of t.artifacts) emit('artifacts', a, { produced_by_state_ids: [a.produced_by_state_id] });
  for (const v of t.validation_errors) emit('validation_errors', v, { row_index: rowIndexByHash.get(str(v.row_hash)) ?? null });
  for (const e of t.transform_errors) emit('transform_errors', e);
  for (const c of t.checkpoints) emit('checkpoints', c);
  return { records, origins, problems };
}
