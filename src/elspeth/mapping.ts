/**
 * The mapping of ELSPETH Landscape tables and columns to our export records, written down
 * once: the importer builds its records from it, and the comparison test reads it to match
 * ELSPETH's own export field by field.
 *
 * Every field of every record type of ours appears here, either read from a column (with a
 * value conversion) or derived (with the rule written out). ELSPETH's export names a field
 * as its column, except where `exported` says otherwise (run.settings, node.config,
 * node.schema_fields, which it parses). Conversions apply to the database value and to
 * ELSPETH's export value alike, so one function serves the import and the comparison.
 */
import { RECORD_KEYS, type RecordType } from '../projections/entities';
import type { LandscapeTable } from './landscape';

/**
 * - `none`: the value as stored.
 * - `timestamp`: Landscape's naive UTC (`2026-11-30 12:34:56.123456`, or the export's
 *   `2026-11-30T12:34:56.123456`) to ISO-8601 with `Z`, microseconds kept
 *   (`2026-11-30T12:34:56.123456Z`).
 * - `json`: JSON text parsed (the export keeps `*_json` fields as text).
 * - `bool`: INTEGER 0/1 to false/true.
 * - `epoch`: REAL epoch seconds to ISO-8601 with `Z`, to the microsecond.
 */
export type Conversion = 'none' | 'timestamp' | 'json' | 'bool' | 'epoch';

export interface FieldMapping {
  /** The Landscape column, or null for a derived field. */
  readonly column: string | null;
  readonly conversion: Conversion;
  /** The field's name in ELSPETH's export when it differs from the column. */
  readonly exported?: string;
  /** How a derived field is found (column null). */
  readonly derived?: string;
}

export interface TableMapping {
  readonly table: LandscapeTable;
  /** Our export record type. */
  readonly record: RecordType;
  /** ELSPETH's export record type, or null when its exporter leaves the table out. */
  readonly exportRecord: string | null;
  /** The record's key (RECORD_KEYS: our fields, the same names in ELSPETH's export). */
  readonly key: readonly string[];
  /** Our record field → where its value comes from. */
  readonly fields: Readonly<Record<string, FieldMapping>>;
}

const col = (column: string, conversion: Conversion = 'none', exported?: string): FieldMapping =>
  exported === undefined ? { column, conversion } : { column, conversion, exported };
const derived = (rule: string): FieldMapping => ({ column: null, conversion: 'none', derived: rule });
const same = (...columns: string[]): Record<string, FieldMapping> => Object.fromEntries(columns.map((c) => [c, col(c)]));
const times = (...columns: string[]): Record<string, FieldMapping> => Object.fromEntries(columns.map((c) => [c, col(c, 'timestamp')]));
const jsons = (...columns: string[]): Record<string, FieldMapping> => Object.fromEntries(columns.map((c) => [c, col(c, 'json')]));

const TABLES: ReadonlyArray<Omit<TableMapping, 'key'>> = [
  {
    table: 'runs',
    record: 'run',
    exportRecord: 'run',
    fields: {
      ...same('run_id', 'status', 'canonical_version', 'config_hash', 'reproducibility_grade', 'schema_contract_hash', 'export_status', 'export_error', 'export_format', 'export_sink'),
      ...times('started_at', 'completed_at', 'exported_at'),
      settings: col('settings_json', 'json', 'settings'),
      ...jsons('source_schema_json', 'source_field_resolution_json', 'schema_contract_json'),
    },
  },
  {
    table: 'secret_resolutions',
    record: 'secret_resolution',
    exportRecord: 'secret_resolution',
    fields: {
      ...same('resolution_id', 'env_var_name', 'source', 'vault_url', 'secret_name', 'fingerprint', 'resolution_latency_ms'),
      timestamp: col('timestamp', 'epoch'),
      recorded_at: derived("the run's started_at (Landscape records no separate time for the row)"),
    },
  },
  {
    table: 'preflight_results',
    record: 'preflight_result',
    exportRecord: null,
    fields: { ...same('result_id', 'result_type', 'name'), result_json: col('result_json', 'json'), created_at: col('created_at', 'timestamp') },
  },
  {
    table: 'nodes',
    record: 'node',
    exportRecord: 'node',
    fields: {
      ...same('node_id', 'plugin_name', 'node_type', 'plugin_version', 'determinism', 'config_hash', 'schema_hash', 'schema_mode', 'sequence_in_pipeline'),
      config: col('config_json', 'json', 'config'),
      schema_fields: col('schema_fields_json', 'json', 'schema_fields'),
      ...jsons('input_contract_json', 'output_contract_json'),
      registered_at: col('registered_at', 'timestamp'),
    },
  },
  {
    table: 'edges',
    record: 'edge',
    exportRecord: 'edge',
    fields: { ...same('edge_id', 'from_node_id', 'to_node_id', 'label', 'default_mode'), created_at: col('created_at', 'timestamp') },
  },
  {
    table: 'operations',
    record: 'operation',
    exportRecord: 'operation',
    fields: {
      ...same('operation_id', 'node_id', 'operation_type', 'status', 'duration_ms', 'error_message', 'input_data_ref', 'input_data_hash', 'output_data_ref', 'output_data_hash'),
      ...times('started_at', 'completed_at'),
    },
  },
  {
    table: 'calls',
    record: 'call',
    exportRecord: 'call',
    fields: {
      ...same('call_id', 'state_id', 'operation_id', 'call_index', 'call_type', 'status', 'request_hash', 'request_ref', 'response_hash', 'response_ref', 'latency_ms'),
      error_json: col('error_json', 'json'),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'rows',
    record: 'row',
    exportRecord: 'row',
    fields: {
      ...same('row_id', 'source_node_id', 'row_index', 'source_data_hash', 'source_data_ref'),
      quarantined: derived("true when a validation_errors row of the run has row_hash = the row's source_data_hash (how Landscape links a quarantined row to its error)"),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'tokens',
    record: 'token',
    exportRecord: 'token',
    fields: {
      ...same('token_id', 'row_id', 'step_in_pipeline', 'branch_name', 'fork_group_id', 'join_group_id'),
      expand_group_id: derived(
        'the column, except for an aggregation output: its expand group is how ELSPETH made the output, not an expansion of ours, so the value moves to the batch_output record (expand_group_id) and the token has batch_id',
      ),
      batch_id: derived(
        'the batch whose output the token is: from batch_outputs (output_type token) when filled, else the batch named by the CONSUMED_IN_BATCH outcome of the parent of an expand group whose parent was not EXPANDED',
      ),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'token_parents',
    record: 'token_parent',
    exportRecord: 'token_parent',
    fields: {
      ...same('token_id', 'parent_token_id', 'ordinal'),
    },
  },
  {
    table: 'token_outcomes',
    record: 'token_outcome',
    exportRecord: 'token_outcome',
    fields: {
      ...same('outcome_id', 'token_id', 'outcome', 'sink_name', 'batch_id', 'fork_group_id', 'join_group_id', 'expand_group_id', 'error_hash'),
      ...jsons('context_json', 'expected_branches_json'),
      is_terminal: col('is_terminal', 'bool'),
      recorded_at: col('recorded_at', 'timestamp'),
    },
  },
  {
    table: 'node_states',
    record: 'node_state',
    exportRecord: 'node_state',
    fields: {
      ...same('state_id', 'token_id', 'node_id', 'step_index', 'attempt', 'status', 'input_hash', 'output_hash', 'duration_ms'),
      ...times('started_at', 'completed_at'),
      ...jsons('context_before_json', 'context_after_json', 'error_json', 'success_reason_json'),
    },
  },
  {
    table: 'routing_events',
    record: 'routing_event',
    exportRecord: 'routing_event',
    fields: { ...same('event_id', 'state_id', 'edge_id', 'routing_group_id', 'ordinal', 'mode', 'reason_hash', 'reason_ref'), created_at: col('created_at', 'timestamp') },
  },
  {
    table: 'batches',
    record: 'batch',
    exportRecord: 'batch',
    fields: {
      ...same('batch_id', 'aggregation_node_id', 'aggregation_state_id', 'attempt', 'status', 'trigger_type', 'trigger_reason'),
      retried_from_batch_id: derived(
        'for a batch of attempt n > 0: the failed batch of attempt n - 1 at the same aggregation node with the same members (Landscape keeps no link; retry_batch copies the members)',
      ),
      ...times('created_at', 'completed_at'),
    },
  },
  {
    table: 'batch_members',
    record: 'batch_member',
    exportRecord: 'batch_member',
    fields: { ...same('batch_id', 'token_id', 'ordinal') },
  },
  {
    table: 'batch_outputs',
    record: 'batch_output',
    exportRecord: null,
    fields: {
      ...same('batch_id', 'output_type', 'output_id'),
      ordinal: derived('token outputs in creation order, then artifact outputs (Landscape keeps no order)'),
      expand_group_id: derived("a token output's expand_group_id in Landscape (null for artifacts)"),
    },
  },
  {
    table: 'artifacts',
    record: 'artifact',
    exportRecord: 'artifact',
    fields: {
      ...same('artifact_id', 'sink_node_id', 'produced_by_state_id', 'artifact_type', 'path_or_uri', 'content_hash', 'size_bytes', 'idempotency_key'),
      produced_by_state_ids: derived('[produced_by_state_id]: Landscape links an artifact to the first state its sink wrote only'),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'validation_errors',
    record: 'validation_error',
    exportRecord: null,
    fields: {
      ...same('error_id', 'node_id', 'row_hash', 'error', 'schema_mode', 'destination', 'violation_type', 'original_field_name', 'normalized_field_name', 'expected_type', 'actual_type'),
      row_index: derived('the row_index of the run row whose source_data_hash = row_hash (null for a discarded row, which has no row)'),
      row_data_json: col('row_data_json', 'json'),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'transform_errors',
    record: 'transform_error',
    exportRecord: null,
    fields: {
      ...same('error_id', 'token_id', 'transform_id', 'row_hash', 'destination'),
      ...jsons('row_data_json', 'error_details_json'),
      created_at: col('created_at', 'timestamp'),
    },
  },
  {
    table: 'checkpoints',
    record: 'checkpoint',
    exportRecord: null,
    fields: {
      ...same('checkpoint_id', 'token_id', 'node_id', 'sequence_number', 'upstream_topology_hash', 'checkpoint_node_config_hash', 'format_version'),
      ...jsons('aggregation_state_json', 'coalesce_state_json'),
      created_at: col('created_at', 'timestamp'),
    },
  },
];

export const LANDSCAPE_MAPPING: readonly TableMapping[] = TABLES.map((t) => ({ ...t, key: RECORD_KEYS[t.record] }));

/**
 * What ELSPETH's export carries that is not a Landscape fact, so our records have no field for
 * it: written down here, and the comparison test skips exactly these.
 */
export const ELSPETH_EXPORT_NOT_FACTS = {
  /** Every record's HMAC under ELSPETH's signing key; our export signs its own way (hash chain, Merkle root, signed manifest). */
  fields: ['signature'] as readonly string[],
  /** ELSPETH's closing record (its final hash, count and signature); ours has its own manifest. */
  recordTypes: ['manifest'] as readonly string[],
};

/**
 * Where an exported value went when the importer moved it. ELSPETH makes an aggregation output
 * as an expand child of the batch's first member; ours is an output of the batch, with every
 * member as a parent. The expansion's group id and the output's position in it (ELSPETH's
 * token_parent ordinal) are on the batch_output record whose output_id is the token.
 */
export const MOVED_ELSPETH_FIELDS: Readonly<Record<string, { readonly record: RecordType; readonly field: string; readonly when: string }>> = {
  'token.expand_group_id': { record: 'batch_output', field: 'expand_group_id', when: 'the token is an aggregation output' },
  'token_parent.ordinal': { record: 'batch_output', field: 'ordinal', when: 'the token is an aggregation output' },
};

/** The mapping of one of our record types. */
export function mappingOf(record: RecordType): TableMapping {
  const m = LANDSCAPE_MAPPING.find((x) => x.record === record);
  if (m === undefined) throw new Error(`no Landscape mapping for record type ${record}`);
  return m;
}

/** The mapping whose ELSPETH export record type is `exportRecord`. */
export function mappingOfExport(exportRecord: string): TableMapping | undefined {
  return LANDSCAPE_MAPPING.find((x) => x.exportRecord === exportRecord);
}

const NAIVE_RE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)$/;
const OFFSET_RE = /(Z|[+-]\d{2}:\d{2})$/;

/** Landscape's naive UTC text to ISO-8601 with Z (microseconds kept); a value with an offset is kept. Null when it is not a time. */
export function landscapeTime(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  if (OFFSET_RE.test(v)) return v.replace(' ', 'T');
  const m = NAIVE_RE.exec(v);
  return m === null ? null : `${m[1]}T${m[2]}Z`;
}

/** REAL epoch seconds to ISO-8601 with Z, to the microsecond. */
export function epochTime(v: unknown): string | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const micros = Math.round(v * 1e6);
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // ...HH:MM:SS.mmmZ
  return `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

export class ConversionError extends Error {}

/** Applies a conversion; a value it cannot convert throws ConversionError (the caller names the table and key). */
export function convert(conversion: Conversion, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (conversion) {
    case 'none':
      return v;
    case 'timestamp': {
      const t = landscapeTime(v);
      if (t === null) throw new ConversionError('is not a Landscape timestamp (YYYY-MM-DD HH:MM:SS.ffffff, UTC)');
      return t;
    }
    case 'json': {
      if (typeof v !== 'string') return v;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        throw new ConversionError('is not valid JSON text');
      }
    }
    case 'bool':
      if (v === 0 || v === 1) return v === 1;
      if (typeof v === 'boolean') return v;
      throw new ConversionError('is not 0 or 1');
    case 'epoch': {
      const t = epochTime(v);
      if (t === null) throw new ConversionError('is not a number of epoch seconds');
      return t;
    }
  }
}
