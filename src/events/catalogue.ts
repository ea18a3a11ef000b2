/**
 * The event catalogue: one io-ts codec per event type's `data`. These codecs are
 * the single source of the event types (t.TypeOf), of the JSON Schema published
 * for other languages, and of the README's event reference.
 *
 * Rules: names are past-tense facts; a fact that spans several records (fork:
 * children + parent links + the parent's outcome) is ONE event; adding a field
 * means a new schema version with an upcaster (see envelope.ts).
 */
import * as t from 'io-ts';
import {
  arrayOf,
  Bool,
  Digest,
  Hash,
  Id,
  Int,
  JsonObjectC,
  JsonValue,
  literalUnion,
  NonEmptyString,
  NonNegativeInt,
  NonNegativeNumber,
  nullable,
  PositiveInt,
  Str,
  struct,
  Timestamp,
} from './codecs';
import { OUTCOMES } from './outcomes';

// ---------------------------------------------------------------------------
// Enumerations (values are stored verbatim, lowercase, as in Landscape)

export const RUN_STATUSES = ['running', 'completed', 'failed', 'interrupted'] as const;
export const TERMINAL_RUN_STATUSES = ['completed', 'failed', 'interrupted'] as const;
export const NODE_TYPES = ['source', 'transform', 'gate', 'aggregation', 'coalesce', 'sink'] as const;
export const DETERMINISM = ['deterministic', 'seeded', 'io_read', 'io_write', 'external_call', 'non_deterministic'] as const;
export const ROUTING_MODES = ['move', 'copy', 'divert'] as const;
export const NODE_STATE_STATUSES = ['open', 'pending', 'completed', 'failed'] as const;
export const CALL_TYPES = ['llm', 'http', 'http_redirect', 'sql', 'vector', 'filesystem'] as const;
export const CALL_STATUSES = ['success', 'error'] as const;
export const OPERATION_TYPES = ['source_load', 'sink_write'] as const;
export const OPERATION_STATUSES = ['open', 'completed', 'failed', 'pending'] as const;
export const BATCH_STATUSES = ['draft', 'executing', 'completed', 'failed'] as const;
export const TRIGGER_TYPES = ['count', 'timeout', 'condition', 'end_of_source', 'manual'] as const;
export const EXPORT_STATUSES = ['pending', 'completed', 'failed'] as const;
export const REPRODUCIBILITY_GRADES = ['full_reproducible', 'replay_reproducible', 'attributable_only'] as const;
export const SCHEMA_MODES = ['observed', 'fixed', 'flexible', 'parse'] as const;
export const VIOLATION_TYPES = ['type_mismatch', 'missing_field', 'extra_field'] as const;
export const PREFLIGHT_TYPES = ['dependency_run', 'commencement_gate', 'readiness_check'] as const;

export const RunStatus = literalUnion('RunStatus', RUN_STATUSES);
export const TerminalRunStatus = literalUnion('TerminalRunStatus', TERMINAL_RUN_STATUSES);
export const NodeType = literalUnion('NodeType', NODE_TYPES);
export const Determinism = literalUnion('Determinism', DETERMINISM);
export const RoutingMode = literalUnion('RoutingMode', ROUTING_MODES);
export const NodeStateStatus = literalUnion('NodeStateStatus', NODE_STATE_STATUSES);
export const CallType = literalUnion('CallType', CALL_TYPES);
export const CallStatus = literalUnion('CallStatus', CALL_STATUSES);
export const OperationType = literalUnion('OperationType', OPERATION_TYPES);
export const OperationStatus = literalUnion('OperationStatus', OPERATION_STATUSES);
export const BatchStatus = literalUnion('BatchStatus', BATCH_STATUSES);
export const TriggerType = literalUnion('TriggerType', TRIGGER_TYPES);
export const ExportStatus = literalUnion('ExportStatus', EXPORT_STATUSES);
export const ReproducibilityGrade = literalUnion('ReproducibilityGrade', REPRODUCIBILITY_GRADES);
export const SchemaMode = literalUnion('SchemaMode', SCHEMA_MODES);
export const ViolationType = literalUnion('ViolationType', VIOLATION_TYPES);
export const PreflightType = literalUnion('PreflightType', PREFLIGHT_TYPES);
export const OutcomeC = literalUnion('Outcome', OUTCOMES);

// ---------------------------------------------------------------------------
// Event data codecs

const RunStarted = struct('RunStarted', {
  config: JsonValue,
  configHash: Hash,
  canonicalVersion: NonEmptyString,
  reproducibilityGrade: nullable(ReproducibilityGrade),
  sourceSchemaJson: nullable(JsonValue),
  schemaContractJson: nullable(JsonValue),
  schemaContractHash: nullable(Digest),
});

const RunStatusChanged = struct('RunStatusChanged', {
  status: RunStatus,
  reason: nullable(Str),
});

const RunCompleted = struct('RunCompleted', {
  status: TerminalRunStatus,
  reproducibilityGrade: nullable(ReproducibilityGrade),
});

const ExportStatusChanged = struct('ExportStatusChanged', {
  status: ExportStatus,
  error: nullable(Str),
  format: nullable(NonEmptyString),
  sink: nullable(NonEmptyString),
});

const SourceFieldResolutionRecorded = struct('SourceFieldResolutionRecorded', {
  resolutionMapping: JsonObjectC,
  normalizationVersion: nullable(NonEmptyString),
});

const RunContractLocked = struct('RunContractLocked', {
  schemaContractJson: JsonValue,
  schemaContractHash: Digest,
});

const NodeRegistered = struct('NodeRegistered', {
  nodeId: Id,
  pluginName: NonEmptyString,
  nodeType: NodeType,
  pluginVersion: NonEmptyString,
  determinism: Determinism,
  config: JsonValue,
  configHash: Hash,
  schemaHash: nullable(Digest),
  schemaMode: nullable(SchemaMode),
  schemaFields: nullable(JsonValue),
  sequenceInPipeline: nullable(NonNegativeInt),
  inputContractJson: nullable(JsonValue),
  outputContractJson: nullable(JsonValue),
});

const NodeOutputContractUpdated = struct('NodeOutputContractUpdated', {
  nodeId: Id,
  outputContractJson: JsonValue,
});

const EdgeRegistered = struct('EdgeRegistered', {
  edgeId: Id,
  fromNodeId: Id,
  toNodeId: Id,
  label: NonEmptyString,
  defaultMode: RoutingMode,
});

const RowCreated = struct('RowCreated', {
  rowId: Id,
  sourceNodeId: Id,
  rowIndex: NonNegativeInt,
  sourceDataHash: Hash,
  sourceDataRef: nullable(NonEmptyString),
  quarantined: Bool,
});

const TokenCreated = struct('TokenCreated', {
  tokenId: Id,
  rowId: Id,
  branchName: nullable(NonEmptyString),
  stepInPipeline: nullable(NonNegativeInt),
});

const ForkChild = struct('ForkChild', { tokenId: Id, branchName: NonEmptyString });
const TokenForked = struct(
  'TokenForked',
  {
    parentTokenId: Id,
    rowId: Id,
    forkGroupId: Id,
    stepInPipeline: nullable(NonNegativeInt),
    /** In branch order: a child's parent link has its position here as ordinal. */
    children: arrayOf(ForkChild, { nonEmpty: true }),
    /** The parent's FORKED outcome, recorded by this same event. */
    outcomeId: Id,
    contextJson: nullable(JsonValue),
  },
  {
    /** Version 2: when the outcome was recorded, if not at the event's time (imported runs; absent otherwise). */
    outcomeRecordedAt: Timestamp,
  },
);

const ExpandChild = struct('ExpandChild', { tokenId: Id });
const TokenExpanded = struct(
  'TokenExpanded',
  {
    parentTokenId: Id,
    rowId: Id,
    expandGroupId: Id,
    stepInPipeline: nullable(NonNegativeInt),
    /** In order: a child's parent link has its position here as ordinal. */
    children: arrayOf(ExpandChild, { nonEmpty: true }),
    /** The parent's EXPANDED outcome, recorded by this same event. */
    outcomeId: Id,
    contextJson: nullable(JsonValue),
  },
  {
    /** Version 2: when the outcome was recorded, if not at the event's time (imported runs; absent otherwise). */
    outcomeRecordedAt: Timestamp,
  },
);

const CoalescedParent = struct(
  'CoalescedParent',
  {
    tokenId: Id,
    /** The parent's COALESCED outcome, recorded by this same event. */
    outcomeId: Id,
    /** The parent's open state at the coalesce node, completed by this same event (null when none). */
    stateId: nullable(Id),
    /** Duration written on that state (null exactly when stateId is null). */
    durationMs: nullable(NonNegativeNumber),
  },
  {
    /** Version 2: when the outcome was recorded, if not at the event's time (imported runs; absent otherwise). */
    outcomeRecordedAt: Timestamp,
  },
);
const TokensCoalesced = struct('TokensCoalesced', {
  mergedTokenId: Id,
  rowId: Id,
  joinGroupId: Id,
  stepInPipeline: nullable(NonNegativeInt),
  branchName: nullable(NonEmptyString),
  parents: arrayOf(CoalescedParent, { nonEmpty: true }),
  /** Output hash written on every parent state completed here ({"merged_into": mergedTokenId}). */
  stateOutputHash: Hash,
  contextJson: nullable(JsonValue),
});

const NodeStateOpened = struct('NodeStateOpened', {
  stateId: Id,
  tokenId: Id,
  nodeId: Id,
  stepIndex: NonNegativeInt,
  attempt: NonNegativeInt,
  inputHash: Hash,
  contextBeforeJson: nullable(JsonValue),
});

const NodeStateCompleted = struct('NodeStateCompleted', {
  stateId: Id,
  outputHash: Hash,
  durationMs: NonNegativeNumber,
  successReasonJson: nullable(JsonValue),
  contextAfterJson: nullable(JsonValue),
});

const NodeStateFailed = struct('NodeStateFailed', {
  stateId: Id,
  outputHash: nullable(Hash),
  durationMs: NonNegativeNumber,
  errorJson: JsonValue,
  contextAfterJson: nullable(JsonValue),
});

const NodeStatePending = struct('NodeStatePending', {
  stateId: Id,
  durationMs: NonNegativeNumber,
  contextAfterJson: nullable(JsonValue),
});

const Route = struct('Route', {
  /** The routing event's id (one per destination). */
  eventId: Id,
  edgeId: Id,
  mode: RoutingMode,
  ordinal: NonNegativeInt,
});
const RoutingDecided = struct('RoutingDecided', {
  stateId: Id,
  routingGroupId: Id,
  routes: arrayOf(Route, { nonEmpty: true }),
  reasonHash: nullable(Hash),
  reasonRef: nullable(NonEmptyString),
});

const CallRecorded = struct('CallRecorded', {
  callId: Id,
  stateId: nullable(Id),
  operationId: nullable(Id),
  callIndex: NonNegativeInt,
  callType: CallType,
  status: CallStatus,
  requestHash: Hash,
  requestRef: nullable(NonEmptyString),
  responseHash: nullable(Hash),
  responseRef: nullable(NonEmptyString),
  errorJson: nullable(JsonValue),
  latencyMs: nullable(NonNegativeNumber),
});

const OperationStarted = struct('OperationStarted', {
  operationId: Id,
  nodeId: Id,
  operationType: OperationType,
  inputDataHash: nullable(Hash),
  inputDataRef: nullable(NonEmptyString),
});

const OperationCompleted = struct('OperationCompleted', {
  operationId: Id,
  status: literalUnion('OperationEndStatus', ['completed', 'failed', 'pending']),
  outputDataHash: nullable(Hash),
  outputDataRef: nullable(NonEmptyString),
  errorMessage: nullable(Str),
  durationMs: NonNegativeNumber,
});

const BatchCreated = struct('BatchCreated', {
  batchId: Id,
  aggregationNodeId: Id,
  attempt: NonNegativeInt,
});

const BatchMemberAdded = struct('BatchMemberAdded', {
  batchId: Id,
  tokenId: Id,
  ordinal: NonNegativeInt,
});

const BatchStatusChanged = struct('BatchStatusChanged', {
  batchId: Id,
  status: literalUnion('BatchNewStatus', ['executing', 'completed', 'failed']),
  triggerType: nullable(TriggerType),
  triggerReason: nullable(Str),
  aggregationStateId: nullable(Id),
});

const BatchRetried = struct('BatchRetried', {
  batchId: Id,
  retriedFromBatchId: Id,
  aggregationNodeId: Id,
  attempt: PositiveInt,
  members: arrayOf(struct('RetriedMember', { tokenId: Id, ordinal: NonNegativeInt })),
});

const BatchOutputToken = struct(
  'BatchOutputToken',
  {
    tokenId: Id,
    /** The row the output token is filed under: the first member's row. */
    rowId: Id,
  },
  {
    /** Version 2: the id ELSPETH gave the outputs' expand group (imported runs; absent otherwise). */
    expandGroupId: nullable(Id),
  },
);
const BatchOutputsProduced = struct('BatchOutputsProduced', {
  batchId: Id,
  stepInPipeline: nullable(NonNegativeInt),
  /** New tokens; each has every batch member as an ordered parent. */
  tokens: arrayOf(BatchOutputToken),
  /** Existing artifacts the batch produced. */
  artifactIds: arrayOf(Id),
});

const ArtifactRegistered = struct('ArtifactRegistered', {
  artifactId: Id,
  sinkNodeId: Id,
  /** Every node state that wrote into the artifact, in order. */
  stateIds: arrayOf(Id, { nonEmpty: true }),
  artifactType: NonEmptyString,
  pathOrUri: NonEmptyString,
  contentHash: Hash,
  sizeBytes: NonNegativeInt,
  idempotencyKey: nullable(NonEmptyString),
});

const TokenOutcomeRecorded = struct('TokenOutcomeRecorded', {
  outcomeId: Id,
  tokenId: Id,
  outcome: OutcomeC,
  sinkName: nullable(NonEmptyString),
  batchId: nullable(Id),
  forkGroupId: nullable(Id),
  joinGroupId: nullable(Id),
  expandGroupId: nullable(Id),
  errorHash: nullable(Digest),
  contextJson: nullable(JsonValue),
  expectedBranchesJson: nullable(JsonValue),
});

const ValidationErrorRecorded = struct('ValidationErrorRecorded', {
  errorId: Id,
  nodeId: nullable(Id),
  rowIndex: nullable(NonNegativeInt),
  rowHash: Hash,
  rowDataJson: nullable(JsonValue),
  error: NonEmptyString,
  schemaMode: SchemaMode,
  destination: NonEmptyString,
  violationType: nullable(ViolationType),
  originalFieldName: nullable(Str),
  normalizedFieldName: nullable(Str),
  expectedType: nullable(Str),
  actualType: nullable(Str),
});

const TransformErrorRecorded = struct('TransformErrorRecorded', {
  errorId: Id,
  tokenId: Id,
  transformId: Id,
  rowHash: Hash,
  rowDataJson: nullable(JsonValue),
  errorDetailsJson: JsonValue,
  destination: NonEmptyString,
});

const SecretResolution = struct('SecretResolution', {
  resolutionId: Id,
  resolvedAt: Timestamp,
  envVarName: NonEmptyString,
  source: NonEmptyString,
  vaultUrl: nullable(NonEmptyString),
  secretName: nullable(NonEmptyString),
  fingerprint: Hash,
  resolutionLatencyMs: nullable(NonNegativeNumber),
});
const SecretsResolved = struct('SecretsResolved', {
  resolutions: arrayOf(SecretResolution, { nonEmpty: true }),
});

const PreflightResult = struct('PreflightResult', {
  resultId: Id,
  resultType: PreflightType,
  name: NonEmptyString,
  resultJson: JsonValue,
});
const PreflightRecorded = struct('PreflightRecorded', {
  results: arrayOf(PreflightResult, { nonEmpty: true }),
});

const CheckpointTaken = struct('CheckpointTaken', {
  checkpointId: Id,
  tokenId: Id,
  nodeId: Id,
  sequenceNumber: NonNegativeInt,
  aggregationStateJson: nullable(JsonValue),
  coalesceStateJson: nullable(JsonValue),
  upstreamTopologyHash: Hash,
  checkpointNodeConfigHash: Hash,
  formatVersion: Int,
});

const PayloadsPurged = struct('PayloadsPurged', {
  /** Hashes whose bodies the purge deleted from the payload store (the hashes stay in the facts); at most 10,000 per event. */
  hashes: arrayOf(Hash, { nonEmpty: true }),
  purgedAt: Timestamp,
  /** The run's grade after the purge (replay_reproducible becomes attributable_only), or null when unchanged. */
  reproducibilityGrade: nullable(ReproducibilityGrade),
});

/** Every event type with its data codec and current schema version. */
export const EVENT_CATALOGUE = {
  RunStarted: { codec: RunStarted, schemaVersion: 1, summary: 'a run began with this configuration' },
  RunStatusChanged: { codec: RunStatusChanged, schemaVersion: 1, summary: 'a non-terminal run status change (e.g. resumed)' },
  RunCompleted: { codec: RunCompleted, schemaVersion: 1, summary: 'the run ended: completed, failed or interrupted' },
  ExportStatusChanged: { codec: ExportStatusChanged, schemaVersion: 1, summary: 'export of the run was requested, finished or failed' },
  SourceFieldResolutionRecorded: { codec: SourceFieldResolutionRecorded, schemaVersion: 1, summary: 'the source header mapping (original to final field names)' },
  RunContractLocked: { codec: RunContractLocked, schemaVersion: 1, summary: 'the run schema contract was locked (inferred from the first row)' },
  NodeRegistered: { codec: NodeRegistered, schemaVersion: 1, summary: 'a DAG node (plugin instance) was registered' },
  NodeOutputContractUpdated: { codec: NodeOutputContractUpdated, schemaVersion: 1, summary: "a node's output contract changed" },
  EdgeRegistered: { codec: EdgeRegistered, schemaVersion: 1, summary: 'a labelled DAG edge was registered' },
  RowCreated: { codec: RowCreated, schemaVersion: 1, summary: 'a source row was read (its payload hashed)' },
  TokenCreated: { codec: TokenCreated, schemaVersion: 1, summary: 'an initial token was created for a row' },
  TokenForked: { codec: TokenForked, schemaVersion: 2, summary: 'a token forked into branch tokens; the parent is FORKED (atomic)' },
  TokenExpanded: { codec: TokenExpanded, schemaVersion: 2, summary: 'a token was deaggregated into children; the parent is EXPANDED (atomic)' },
  TokensCoalesced: { codec: TokensCoalesced, schemaVersion: 2, summary: 'branch tokens merged into one; parents COALESCED and their coalesce states completed (atomic)' },
  NodeStateOpened: { codec: NodeStateOpened, schemaVersion: 1, summary: 'a token began a visit (attempt) at a node' },
  NodeStateCompleted: { codec: NodeStateCompleted, schemaVersion: 1, summary: 'a node visit completed with an output' },
  NodeStateFailed: { codec: NodeStateFailed, schemaVersion: 1, summary: 'a node visit failed with an error' },
  NodeStatePending: { codec: NodeStatePending, schemaVersion: 1, summary: 'a node visit is waiting on asynchronous work' },
  RoutingDecided: { codec: RoutingDecided, schemaVersion: 1, summary: 'a gate chose one or more edges (one routing group)' },
  CallRecorded: { codec: CallRecorded, schemaVersion: 1, summary: 'an external call made under a node state or an operation' },
  OperationStarted: { codec: OperationStarted, schemaVersion: 1, summary: 'a source load or sink write began' },
  OperationCompleted: { codec: OperationCompleted, schemaVersion: 1, summary: 'a source load or sink write ended' },
  BatchCreated: { codec: BatchCreated, schemaVersion: 1, summary: 'an aggregation batch was opened (draft)' },
  BatchMemberAdded: { codec: BatchMemberAdded, schemaVersion: 1, summary: 'a token joined a batch' },
  BatchStatusChanged: { codec: BatchStatusChanged, schemaVersion: 1, summary: 'a batch moved to executing, completed or failed' },
  BatchRetried: { codec: BatchRetried, schemaVersion: 1, summary: 'a failed batch was retried as a new batch with the same members' },
  BatchOutputsProduced: { codec: BatchOutputsProduced, schemaVersion: 2, summary: 'a batch produced output tokens (parents: every member) and artifacts' },
  ArtifactRegistered: { codec: ArtifactRegistered, schemaVersion: 1, summary: 'a sink output, linked to every state that wrote into it' },
  TokenOutcomeRecorded: { codec: TokenOutcomeRecorded, schemaVersion: 1, summary: "a token's outcome (terminal, or buffered)" },
  ValidationErrorRecorded: { codec: ValidationErrorRecorded, schemaVersion: 1, summary: 'a source row failed schema validation (also when discarded)' },
  TransformErrorRecorded: { codec: TransformErrorRecorded, schemaVersion: 1, summary: 'a transform rejected a row' },
  SecretsResolved: { codec: SecretsResolved, schemaVersion: 1, summary: 'secrets were resolved (fingerprints only, never values)' },
  PreflightRecorded: { codec: PreflightRecorded, schemaVersion: 1, summary: 'preflight results (dependency runs, gates, readiness checks)' },
  CheckpointTaken: { codec: CheckpointTaken, schemaVersion: 1, summary: 'a resume checkpoint was taken' },
  PayloadsPurged: { codec: PayloadsPurged, schemaVersion: 1, summary: 'retention deleted payload bodies of the ended run (hashes kept); the grade may drop' },
} as const;

export type EventType = keyof typeof EVENT_CATALOGUE;
export const EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as EventType[];
export type EventDataOf<T extends EventType> = t.TypeOf<(typeof EVENT_CATALOGUE)[T]['codec']>;
export type EventDataMap = { [T in EventType]: EventDataOf<T> };

export function isEventType(s: string): s is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_CATALOGUE, s);
}
