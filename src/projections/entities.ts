/**
 * The run projection's entities. Each codec here is BOTH the shape the folds
 * build and the shape of one export record type: the exporter maps every key of
 * the codec to its snake_case field, so a field added to an entity reaches the
 * export without anyone remembering to add it (the seed bug class, where an
 * exporter forgot `expand_group_id`, cannot come back). Every field is always
 * present; absent values are null.
 */
import * as t from 'io-ts';
import {
  EVENT_CATALOGUE,
  BatchStatus,
  ExportStatus,
  NodeStateStatus,
  OperationStatus,
  OperationType,
  ReproducibilityGrade,
  RoutingMode,
  RunStatus,
  TriggerType,
} from '../events/catalogue';
import {
  arrayOf,
  Bool,
  Digest,
  Hash,
  Id,
  JsonValue,
  literalUnion,
  NonEmptyString,
  NonNegativeInt,
  NonNegativeNumber,
  nullable,
  Str,
  struct,
  Timestamp,
} from '../events/codecs';

export const RunEntity = struct('run', {
  runId: Id,
  status: RunStatus,
  startedAt: Timestamp,
  completedAt: nullable(Timestamp),
  canonicalVersion: NonEmptyString,
  configHash: Hash,
  settings: JsonValue,
  reproducibilityGrade: nullable(ReproducibilityGrade),
  sourceSchemaJson: nullable(JsonValue),
  sourceFieldResolutionJson: nullable(JsonValue),
  schemaContractJson: nullable(JsonValue),
  schemaContractHash: nullable(Digest),
  exportStatus: nullable(ExportStatus),
  exportError: nullable(Str),
  exportedAt: nullable(Timestamp),
  exportFormat: nullable(NonEmptyString),
  exportSink: nullable(NonEmptyString),
});

export const NodeEntity = struct('node', { ...EVENT_CATALOGUE.NodeRegistered.codec.required, registeredAt: Timestamp });

export const EdgeEntity = struct('edge', { ...EVENT_CATALOGUE.EdgeRegistered.codec.required, createdAt: Timestamp });

export const OperationEntity = struct('operation', {
  operationId: Id,
  nodeId: Id,
  operationType: OperationType,
  status: OperationStatus,
  startedAt: Timestamp,
  completedAt: nullable(Timestamp),
  durationMs: nullable(NonNegativeNumber),
  errorMessage: nullable(Str),
  inputDataRef: nullable(NonEmptyString),
  inputDataHash: nullable(Hash),
  outputDataRef: nullable(NonEmptyString),
  outputDataHash: nullable(Hash),
});

export const CallEntity = struct('call', { ...EVENT_CATALOGUE.CallRecorded.codec.required, createdAt: Timestamp });

export const RowEntity = struct('row', { ...EVENT_CATALOGUE.RowCreated.codec.required, createdAt: Timestamp });

export const TokenEntity = struct('token', {
  tokenId: Id,
  rowId: Id,
  stepInPipeline: nullable(NonNegativeInt),
  branchName: nullable(NonEmptyString),
  forkGroupId: nullable(Id),
  joinGroupId: nullable(Id),
  expandGroupId: nullable(Id),
  /** The aggregation batch whose output this token is (null for other tokens). */
  batchId: nullable(Id),
  createdAt: Timestamp,
});

export const TokenParentEntity = struct('token_parent', {
  tokenId: Id,
  parentTokenId: Id,
  ordinal: NonNegativeInt,
});

export const TokenOutcomeEntity = struct('token_outcome', {
  ...EVENT_CATALOGUE.TokenOutcomeRecorded.codec.required,
  isTerminal: Bool,
  recordedAt: Timestamp,
});

export const NodeStateEntity = struct('node_state', {
  stateId: Id,
  tokenId: Id,
  nodeId: Id,
  stepIndex: NonNegativeInt,
  attempt: NonNegativeInt,
  status: NodeStateStatus,
  inputHash: Hash,
  outputHash: nullable(Hash),
  durationMs: nullable(NonNegativeNumber),
  startedAt: Timestamp,
  completedAt: nullable(Timestamp),
  contextBeforeJson: nullable(JsonValue),
  contextAfterJson: nullable(JsonValue),
  errorJson: nullable(JsonValue),
  successReasonJson: nullable(JsonValue),
});

export const RoutingEventEntity = struct('routing_event', {
  eventId: Id,
  stateId: Id,
  edgeId: Id,
  routingGroupId: Id,
  ordinal: NonNegativeInt,
  mode: RoutingMode,
  reasonHash: nullable(Hash),
  reasonRef: nullable(NonEmptyString),
  createdAt: Timestamp,
});

export const BatchEntity = struct('batch', {
  batchId: Id,
  aggregationNodeId: Id,
  aggregationStateId: nullable(Id),
  attempt: NonNegativeInt,
  status: BatchStatus,
  triggerType: nullable(TriggerType),
  triggerReason: nullable(Str),
  retriedFromBatchId: nullable(Id),
  createdAt: Timestamp,
  completedAt: nullable(Timestamp),
});

export const BatchMemberEntity = struct('batch_member', {
  batchId: Id,
  tokenId: Id,
  ordinal: NonNegativeInt,
});

export const BatchOutputEntity = struct('batch_output', {
  batchId: Id,
  outputType: literalUnion('BatchOutputType', ['token', 'artifact']),
  outputId: Id,
  ordinal: NonNegativeInt,
  /** For a token output of an imported ELSPETH run: the expand group ELSPETH created it in (null otherwise). */
  expandGroupId: nullable(Id),
});

export const ArtifactEntity = struct('artifact', {
  artifactId: Id,
  sinkNodeId: Id,
  /** The first writing state (Landscape's single link). */
  producedByStateId: Id,
  /** Every state that wrote into the artifact, in order. */
  producedByStateIds: arrayOf(Id, { nonEmpty: true }),
  artifactType: NonEmptyString,
  pathOrUri: NonEmptyString,
  contentHash: Hash,
  sizeBytes: NonNegativeInt,
  idempotencyKey: nullable(NonEmptyString),
  createdAt: Timestamp,
});

export const ValidationErrorEntity = struct('validation_error', { ...EVENT_CATALOGUE.ValidationErrorRecorded.codec.required, createdAt: Timestamp });

export const TransformErrorEntity = struct('transform_error', { ...EVENT_CATALOGUE.TransformErrorRecorded.codec.required, createdAt: Timestamp });

export const SecretResolutionEntity = struct('secret_resolution', {
  resolutionId: Id,
  /** When the secret was resolved (may precede the run start). */
  timestamp: Timestamp,
  envVarName: NonEmptyString,
  source: NonEmptyString,
  vaultUrl: nullable(NonEmptyString),
  secretName: nullable(NonEmptyString),
  fingerprint: Hash,
  resolutionLatencyMs: nullable(NonNegativeNumber),
  recordedAt: Timestamp,
});

export const PreflightResultEntity = struct('preflight_result', { ...EVENT_CATALOGUE.PreflightRecorded.codec.required.results.item.required, createdAt: Timestamp });

export const CheckpointEntity = struct('checkpoint', { ...EVENT_CATALOGUE.CheckpointTaken.codec.required, createdAt: Timestamp });

/** Every record type, with the entity codec that defines its fields. Order = the export's block order. */
export const ENTITY_CODECS = {
  run: RunEntity,
  secret_resolution: SecretResolutionEntity,
  preflight_result: PreflightResultEntity,
  node: NodeEntity,
  edge: EdgeEntity,
  operation: OperationEntity,
  call: CallEntity,
  row: RowEntity,
  token: TokenEntity,
  token_parent: TokenParentEntity,
  token_outcome: TokenOutcomeEntity,
  node_state: NodeStateEntity,
  routing_event: RoutingEventEntity,
  batch: BatchEntity,
  batch_member: BatchMemberEntity,
  batch_output: BatchOutputEntity,
  artifact: ArtifactEntity,
  validation_error: ValidationErrorEntity,
  transform_error: TransformErrorEntity,
  checkpoint: CheckpointEntity,
} as const;

export type RecordType = keyof typeof ENTITY_CODECS;

/** The ONE list of record primary keys: the fields that identify a record of each type (export, import, the ELSPETH mapping and messages read it). */
export const RECORD_KEYS: { readonly [R in RecordType]: readonly string[] } = {
  run: ['run_id'],
  secret_resolution: ['resolution_id'],
  preflight_result: ['result_id'],
  node: ['node_id'],
  edge: ['edge_id'],
  operation: ['operation_id'],
  call: ['call_id'],
  row: ['row_id'],
  token: ['token_id'],
  token_parent: ['token_id', 'parent_token_id'],
  token_outcome: ['outcome_id'],
  node_state: ['state_id'],
  routing_event: ['event_id'],
  batch: ['batch_id'],
  batch_member: ['batch_id', 'token_id'],
  batch_output: ['batch_id', 'output_id'],
  artifact: ['artifact_id'],
  validation_error: ['error_id'],
  transform_error: ['error_id'],
  checkpoint: ['checkpoint_id'],
};
export const RECORD_TYPES = Object.keys(ENTITY_CODECS) as RecordType[];
export type EntityOf<R extends RecordType> = t.TypeOf<(typeof ENTITY_CODECS)[R]>;

export type Run = EntityOf<'run'>;
export type Node = EntityOf<'node'>;
export type Edge = EntityOf<'edge'>;
export type Operation = EntityOf<'operation'>;
export type Call = EntityOf<'call'>;
export type Row = EntityOf<'row'>;
export type Token = EntityOf<'token'>;
export type TokenParent = EntityOf<'token_parent'>;
export type TokenOutcome = EntityOf<'token_outcome'>;
export type NodeState = EntityOf<'node_state'>;
export type RoutingEvent = EntityOf<'routing_event'>;
export type Batch = EntityOf<'batch'>;
export type BatchMember = EntityOf<'batch_member'>;
export type BatchOutput = EntityOf<'batch_output'>;
export type Artifact = EntityOf<'artifact'>;
export type ValidationError = EntityOf<'validation_error'>;
export type TransformError = EntityOf<'transform_error'>;
export type SecretResolution = EntityOf<'secret_resolution'>;
export type PreflightResult = EntityOf<'preflight_result'>;
export type Checkpoint = EntityOf<'checkpoint'>;
