/**
 * `importElspeth`: each run of a Landscape database becomes a run of ours.
 *
 * 1. The run's rows are read (landscape.ts) and turned into our export records (records.ts,
 *    following the mapping in mapping.ts).
 * 2. Those records go through the same path as `lineage-ledger import` of one of our exports:
 *    decoded by the entity codecs, ordered into events and each event decoded by its catalogue
 *    codec (synthesizeRunEvents in src/export/import.ts), then folded, and the fold's state
 *    checked by the audit check (src/lineage/check.ts). A fact that breaks a rule is an
 *    anomaly, reported with its Landscape table, the row's key and the rule (the check's
 *    code). For a run left `running` or `interrupted`, what is merely unfinished (open states,
 *    tokens without an outcome, a draft batch, the run itself) is how it was left, not an
 *    anomaly.
 * 3. A run with anomalies is refused unless `allowAnomalies`; it is then imported with a mark
 *    a reader of our export sees: a preflight_result record `readiness_check` named
 *    IMPORT_ANOMALIES_MARK whose result lists the anomalies. A fact that cannot be converted or
 *    decoded at all refuses the run even then.
 * 4. The events are appended in one append to a new stream: a run that exists already is
 *    DUPLICATE_ID and the store is unchanged. Nothing is written for a refused run.
 * 5. The payload bodies the run references are copied from the Landscape payload folder into the
 *    ledger's payload store, each verified against its hash (PayloadStore.putVerified); one that
 *    is missing, or whose bytes do not match, is reported and the import goes on (the hashes are
 *    kept either way, as after a purge).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EVENT_CATALOGUE } from '../events/catalogue';
import { isPayloadHash } from '../payloads/store';
import { LedgerEvent, runStreamId } from '../events/envelope';
import { uuidv7 } from '../events/ids';
import { isLedgerError, ledgerError } from '../errors';
import { appendImportedRun, synthesizeRunEvents } from '../export/import';
import type { Ledger } from '../ledger';
import { checkRun, Violation, ViolationCode } from '../lineage/check';
import { foldEvents } from '../projections/evolve';
import { emptyRunState } from '../projections/state';
import { LandscapeDb, LandscapeTable, RunTables } from './landscape';
import { buildRecords, describeKey, LandscapeAnomaly, Origin } from './records';

/** The name of the preflight result that marks a run imported with anomalies. */
export const IMPORT_ANOMALIES_MARK = 'lineage-ledger import-elspeth: imported with anomalies';

export interface ImportElspethOptions {
  /** The Landscape payload folder (`<2 hex>/<sha256>`); default `payloads/` beside the database when it exists, else none. */
  readonly payloads?: string | null;
  /** Import only this run (default: every run). */
  readonly runId?: string;
  /** Import runs with anomalies, marked (default false: refused). */
  readonly allowAnomalies?: boolean;
  /** Called after each run. */
  readonly onRun?: (done: number, total: number) => void;
}

export interface PayloadReport {
  /** Distinct payload refs the run references. */
  readonly referenced: number;
  /** Bodies copied into (or already in) the ledger's payload store, verified. */
  readonly copied: number;
  /** Refs whose body is not in the Landscape payload folder. */
  readonly missing: string[];
  /** Refs whose body does not hash to the ref (not copied). */
  readonly mismatched: string[];
  /** Why no body was copied at all (no source folder, or no payload store), else null. */
  readonly skipped: string | null;
}

export interface RunImportReport {
  readonly runId: string;
  /** The run's status in Landscape (and so in ours). */
  readonly landscapeStatus: string;
  readonly result: 'imported' | 'imported_with_anomalies' | 'refused';
  /** Why a run was refused: ANOMALIES, UNREADABLE (a fact cannot be converted or decoded) or DUPLICATE_ID. */
  readonly refusal: 'ANOMALIES' | 'UNREADABLE' | 'DUPLICATE_ID' | null;
  readonly message: string | null;
  readonly events: number;
  readonly records: number;
  readonly rows: number;
  readonly tokens: number;
  readonly payloads: PayloadReport;
  readonly anomalies: LandscapeAnomaly[];
}

export interface ImportElspethReport {
  readonly database: string;
  readonly runs: RunImportReport[];
  readonly imported: number;
  readonly refused: number;
}

/** Check codes that only say a run is unfinished: for a run left running or interrupted they are how it was left. */
const UNFINISHED: ReadonlySet<ViolationCode> = new Set<ViolationCode>([
  'RUN_NOT_FINISHED',
  'TOKEN_WITHOUT_TERMINAL_OUTCOME',
  'BUFFERED_NOT_RESOLVED',
  'STATE_NOT_FINISHED',
  'OPERATION_NOT_FINISHED',
  'BATCH_NOT_FINISHED',
]);

/** Imports the runs of a Landscape database into the ledger's store (see the module comment). */
export async function importElspeth(ledger: Ledger, dbPath: string, options: ImportElspethOptions = {}): Promise<ImportElspethReport> {
  const db = LandscapeDb.open(dbPath);
  try {
    const all = db.runs();
    if (options.runId !== undefined && !all.some((r) => r.runId === options.runId)) {
      throw ledgerError('RUN_NOT_FOUND', `run ${options.runId} is not in the Landscape database ${dbPath}`, { path: 'run', runId: options.runId });
    }
    const chosen = options.runId === undefined ? all : all.filter((r) => r.runId === options.runId);
    const source = payloadSource(dbPath, options.payloads);
    const reports: RunImportReport[] = [];
    for (const r of chosen) {
      reports.push(await importRun(ledger, r.runId, db.readRun(r.runId), source, options.allowAnomalies === true));
      options.onRun?.(reports.length, chosen.length);
    }
    return { database: dbPath, runs: reports, imported: reports.filter((r) => r.result !== 'refused').length, refused: reports.filter((r) => r.result === 'refused').length };
  } finally {
    db.close();
  }
}

function payloadSource(dbPath: string, given: string | null | undefined): string | null {
  if (given === null) return null;
  if (given !== undefined) {
    if (!fs.existsSync(given) || !fs.statSync(given).isDirectory()) throw ledgerError('NOT_FOUND', `the Landscape payload folder ${given} does not exist`, { path: 'payloads' });
    return given;
  }
  const beside = path.join(path.dirname(dbPath), 'payloads');
  return fs.existsSync(beside) && fs.statSync(beside).isDirectory() ? beside : null;
}

const NO_PAYLOADS: PayloadReport = { referenced: 0, copied: 0, missing: [], mismatched: [], skipped: null };

async function importRun(ledger: Ledger, runId: string, tables: RunTables, source: string | null, allowAnomalies: boolean): Promise<RunImportReport> {
  const landscapeStatus = String(tables.runs[0]!.status);
  const base = { runId, landscapeStatus, rows: tables.rows.length, tokens: tables.tokens.length };
  const refused = (refusal: 'ANOMALIES' | 'UNREADABLE' | 'DUPLICATE_ID', message: string, anomalies: LandscapeAnomaly[], events = 0, records = 0): RunImportReport => ({
    ...base,
    result: 'refused',
    refusal,
    message,
    events,
    records,
    payloads: NO_PAYLOADS,
    anomalies,
  });
  if ((await ledger.store.streamRevision(runStreamId(runId))) !== null) {
    return refused('DUPLICATE_ID', `run ${runId} already exists in the ${ledger.store.kind} store; nothing was imported`, []);
  }

  const first = buildRecords(runId, tables);
  if (first.problems.length > 0) return refused('UNREADABLE', `${first.problems.length} Landscape values cannot be converted; nothing was imported`, first.problems);
  const synth = synthesize(runId, first.records, first.origins);
  if ('problem' in synth) return refused('UNREADABLE', `${synth.problem.message}; nothing was imported`, [synth.problem]);
  const anomalies = anomaliesOf(runId, synth.events, landscapeStatus);
  let events = synth.events;
  let recordCount = first.records.length;
  if (anomalies.length > 0) {
    if (!allowAnomalies) {
      return refused('ANOMALIES', `${anomalies.length} Landscape facts break the ledger's rules; nothing was imported (--allow-anomalies imports the run, marked)`, anomalies, events.length, recordCount);
    }
    const marker = {
      record_type: 'preflight_result',
      run_id: runId,
      result_id: 'elspeth-import-anomalies',
      result_type: 'readiness_check',
      name: IMPORT_ANOMALIES_MARK,
      result_json: { source: 'elspeth-landscape', anomalies: anomalies.map((a) => ({ table: a.table, key: a.key, rule: a.rule, message: a.message })) },
      created_at: String(first.records[0]!.started_at),
    };
    const second = buildRecords(runId, tables, marker);
    const again = synthesize(runId, second.records, second.origins);
    if ('problem' in again) return refused('UNREADABLE', `${again.problem.message}; nothing was imported`, [again.problem]);
    events = again.events;
    recordCount = second.records.length;
  }

  try {
    // one append, or chunks on a store with an append size limit (a reader sees the run running until the last lands)
    await appendImportedRun(ledger.store, runId, events);
  } catch (e) {
    if (isLedgerError(e, 'CONCURRENCY_CONFLICT') || isLedgerError(e, 'DUPLICATE_ID')) {
      return refused('DUPLICATE_ID', `run ${runId} already exists in the ${ledger.store.kind} store; nothing was imported`, []);
    }
    throw e;
  }
  const payloads = copyPayloads(ledger, tables, source);
  return {
    ...base,
    result: anomalies.length > 0 ? 'imported_with_anomalies' : 'imported',
    refusal: null,
    message: null,
    events: events.length,
    records: recordCount,
    payloads,
    anomalies,
  };
}

function synthesize(runId: string, records: Record<string, unknown>[], origins: Origin[]): { events: LedgerEvent[] } | { problem: LandscapeAnomaly } {
  try {
    return { events: synthesizeRunEvents(runId, records, { newId: () => uuidv7() }) };
  } catch (e) {
    if (!isLedgerError(e, 'IMPORT_FAILED')) throw e;
    const index = typeof e.details?.index === 'number' ? e.details.index : null;
    const origin = index === null ? origins[0]! : origins[index]!;
    const message = e.message.replace(/^record \d+ \([^)]*\)/, `the ${origin.table} row ${describeKey(origin.key)}`);
    return { problem: { table: origin.table, key: origin.key, rule: 'DECODE', message } };
  }
}

/** Event type → the Landscape table (and the id field of its data) that the fact came from. */
const EVENT_ORIGIN: Partial<Record<keyof typeof EVENT_CATALOGUE, [LandscapeTable, string, string]>> = {
  NodeRegistered: ['nodes', 'nodeId', 'node_id'],
  EdgeRegistered: ['edges', 'edgeId', 'edge_id'],
  RowCreated: ['rows', 'rowId', 'row_id'],
  TokenCreated: ['tokens', 'tokenId', 'token_id'],
  TokenForked: ['tokens', 'parentTokenId', 'token_id'],
  TokenExpanded: ['tokens', 'parentTokenId', 'token_id'],
  TokensCoalesced: ['tokens', 'mergedTokenId', 'token_id'],
  NodeStateOpened: ['node_states', 'stateId', 'state_id'],
  NodeStateCompleted: ['node_states', 'stateId', 'state_id'],
  NodeStateFailed: ['node_states', 'stateId', 'state_id'],
  NodeStatePending: ['node_states', 'stateId', 'state_id'],
  RoutingDecided: ['routing_events', 'routingGroupId', 'routing_group_id'],
  CallRecorded: ['calls', 'callId', 'call_id'],
  OperationStarted: ['operations', 'operationId', 'operation_id'],
  OperationCompleted: ['operations', 'operationId', 'operation_id'],
  BatchCreated: ['batches', 'batchId', 'batch_id'],
  BatchMemberAdded: ['batch_members', 'batchId', 'batch_id'],
  BatchStatusChanged: ['batches', 'batchId', 'batch_id'],
  BatchRetried: ['batches', 'batchId', 'batch_id'],
  BatchOutputsProduced: ['batch_outputs', 'batchId', 'batch_id'],
  ArtifactRegistered: ['artifacts', 'artifactId', 'artifact_id'],
  TokenOutcomeRecorded: ['token_outcomes', 'outcomeId', 'outcome_id'],
  ValidationErrorRecorded: ['validation_errors', 'errorId', 'error_id'],
  TransformErrorRecorded: ['transform_errors', 'errorId', 'error_id'],
  CheckpointTaken: ['checkpoints', 'checkpointId', 'checkpoint_id'],
};

/** Where a violation points in Landscape: the most specific id it names. */
function originOfViolation(runId: string, v: Violation, events: readonly LedgerEvent[]): { table: LandscapeTable; key: Record<string, unknown> } {
  if (v.code === 'EVENT_ANOMALY' && v.seq !== undefined) {
    const e = events[v.seq];
    const o = e === undefined ? undefined : EVENT_ORIGIN[e.type];
    if (e !== undefined && o !== undefined) return { table: o[0], key: { [o[2]]: (e.data as unknown as Record<string, unknown>)[o[1]] ?? null } };
  }
  if (v.outcomeId !== undefined) return { table: 'token_outcomes', key: { outcome_id: v.outcomeId } };
  if (v.callId !== undefined) return { table: 'calls', key: { call_id: v.callId } };
  if (v.stateId !== undefined) return { table: 'node_states', key: { state_id: v.stateId } };
  if (v.artifactId !== undefined) return { table: 'artifacts', key: { artifact_id: v.artifactId } };
  if (v.operationId !== undefined) return { table: 'operations', key: { operation_id: v.operationId } };
  if (v.batchId !== undefined) return { table: 'batches', key: { batch_id: v.batchId } };
  if (v.tokenId !== undefined) return { table: 'tokens', key: { token_id: v.tokenId } };
  if (v.nodeId !== undefined) return { table: 'nodes', key: { node_id: v.nodeId } };
  return { table: 'runs', key: { run_id: runId } };
}

function anomaliesOf(runId: string, events: readonly LedgerEvent[], landscapeStatus: string): LandscapeAnomaly[] {
  const state = foldEvents(emptyRunState(runId), events);
  const unfinishedRun = landscapeStatus === 'running' || landscapeStatus === 'interrupted';
  const out: LandscapeAnomaly[] = [];
  for (const v of checkRun(state).violations) {
    if (unfinishedRun && UNFINISHED.has(v.code)) continue;
    const o = originOfViolation(runId, v, events);
    out.push({ table: o.table, key: o.key, rule: v.code, message: v.message });
  }
  return out;
}

/** Copies every body the run references into the ledger's payload store, verified by hash. */
function copyPayloads(ledger: Ledger, t: RunTables, source: string | null): PayloadReport {
  const refs = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'string' && v !== '') refs.add(v);
  };
  for (const r of t.rows) add(r.source_data_ref);
  for (const c of t.calls) {
    add(c.request_ref);
    add(c.response_ref);
  }
  for (const r of t.routing_events) add(r.reason_ref);
  for (const o of t.operations) {
    add(o.input_data_ref);
    add(o.output_data_ref);
  }
  const sorted = [...refs].sort();
  const store = ledger.payloads;
  if (source === null) return { referenced: sorted.length, copied: 0, missing: [], mismatched: [], skipped: 'no Landscape payload folder (--payloads) given' };
  if (store === null) return { referenced: sorted.length, copied: 0, missing: [], mismatched: [], skipped: 'the ledger has no payload store (--payload-store)' };
  let copied = 0;
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const ref of sorted) {
    if (!isPayloadHash(ref)) {
      missing.push(ref);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(source, ref.slice(0, 2), ref));
    } catch {
      missing.push(ref);
      continue;
    }
    try {
      store.putVerified(ref, bytes);
      copied++;
    } catch (e) {
      if (!isLedgerError(e, 'STORE_CORRUPT')) throw e;
      mismatched.push(ref);
    }
  }
  return { referenced: sorted.length, copied, missing, mismatched, skipped: null };
}
