/**
 * Command inputs: what callers pass to the run handle's methods. Each is an
 * io-ts codec (unknown keys rejected, paths reported), named like Landscape's
 * recorder arguments in camelCase.
 */
import * as t from 'io-ts';
import {
  CallStatus,
  CallType,
  Determinism,
  ExportStatus,
  NodeType,
  OperationType,
  OutcomeC,
  PreflightType,
  ReproducibilityGrade,
  RoutingMode,
  SchemaMode,
  TerminalRunStatus,
  TriggerType,
  ViolationType,
} from '../events/catalogue';
import {
  arrayOf,
  Hash,
  Id,
  Int,
  JsonObjectC,
  JsonValue,
  literalUnion,
  NonEmptyString,
  NonNegativeInt,
  NonNegativeNumber,
  Bool,
  refined,
  Str,
  struct,
  Timestamp,
} from '../events/codecs';

export const BeginRunInput = struct(
  'BeginRunInput',
  { config: JsonValue },
  {
    runId: Id,
    canonicalVersion: NonEmptyString,
    reproducibilityGrade: ReproducibilityGrade,
    sourceSchema: JsonValue,
    schemaContract: JsonValue,
    correlationId: Str,
    causationId: Str,
  },
);

export const RegisterNodeInput = struct(
  'RegisterNodeInput',
  { pluginName: NonEmptyString, nodeType: NodeType, pluginVersion: NonEmptyString, config: JsonValue },
  {
    nodeId: Id,
    determinism: Determinism,
    schemaHash: Hash,
    schemaMode: SchemaMode,
    schemaFields: JsonValue,
    sequence: NonNegativeInt,
    inputContract: JsonValue,
    outputContract: JsonValue,
  },
);

export const RegisterEdgeInput = struct('RegisterEdgeInput', { fromNodeId: Id, toNodeId: Id, label: NonEmptyString, mode: RoutingMode }, { edgeId: Id });

export const CreateRowInput = struct(
  'CreateRowInput',
  { sourceNodeId: Id, rowIndex: NonNegativeInt, data: t.unknown },
  { rowId: Id, quarantined: Bool, withToken: Bool },
);

export const CreateTokenInput = struct('CreateTokenInput', { rowId: Id }, { tokenId: Id, branchName: NonEmptyString, stepInPipeline: NonNegativeInt });

/**
 * The most tokens one command may create (expand children, batch output tokens, fork branches):
 * they are one event, written atomically, and an event must stay well inside what a store
 * accepts in one append (EventStoreDB: 1 MiB by default). Larger fan-outs are refused with
 * INVALID_INPUT, never truncated.
 */
export const MAX_TOKENS_PER_COMMAND = 10_000;

const tokenCount = (min: 0 | 1) =>
  refined(
    min === 0 ? 'TokenCount' : 'PositiveTokenCount',
    (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= min && u <= MAX_TOKENS_PER_COMMAND,
    `an integer from ${min} to ${MAX_TOKENS_PER_COMMAND.toLocaleString('en-US')} (the most tokens one command may create)`,
  );

export const ForkTokenInput = struct(
  'ForkTokenInput',
  { parentTokenId: Id, rowId: Id, branches: arrayOf(NonEmptyString, { nonEmpty: true, maxLength: MAX_TOKENS_PER_COMMAND }) },
  { stepInPipeline: NonNegativeInt, context: JsonValue },
);

export const ExpandTokenInput = struct(
  'ExpandTokenInput',
  { parentTokenId: Id, rowId: Id, count: tokenCount(1) },
  { stepInPipeline: NonNegativeInt, context: JsonValue },
);

export const CoalesceTokensInput = struct(
  'CoalesceTokensInput',
  { parentTokenIds: arrayOf(Id, { nonEmpty: true }), rowId: Id },
  {
    stepInPipeline: NonNegativeInt,
    branchName: NonEmptyString,
    /** Open states of the parents at the coalesce node, completed by the same event. */
    completeStates: arrayOf(struct('CoalesceStateInput', { stateId: Id, durationMs: NonNegativeNumber })),
    metadata: JsonValue,
  },
);

export const BeginNodeStateInput = struct(
  'BeginNodeStateInput',
  { tokenId: Id, nodeId: Id, stepIndex: NonNegativeInt },
  { inputData: t.unknown, inputHash: Hash, attempt: NonNegativeInt, contextBefore: JsonValue, stateId: Id },
);

export const CompleteNodeStateInput = struct(
  'CompleteNodeStateInput',
  { stateId: Id, status: literalUnion('NodeStateEndStatus', ['completed', 'failed', 'pending']), durationMs: NonNegativeNumber },
  { outputData: t.unknown, outputHash: Hash, error: JsonValue, successReason: JsonValue, contextAfter: JsonValue },
);

const RouteInput = struct('RouteInput', { edgeId: Id, mode: RoutingMode });
export const RecordRoutingEventInput = struct('RecordRoutingEventInput', { stateId: Id, edgeId: Id, mode: RoutingMode }, { reason: JsonValue });
export const RecordRoutingEventsInput = struct(
  'RecordRoutingEventsInput',
  { stateId: Id, routes: arrayOf(RouteInput, { nonEmpty: true }) },
  { reason: JsonValue },
);

export const RecordCallInput = struct(
  'RecordCallInput',
  { callType: CallType, status: CallStatus, requestData: t.unknown },
  {
    stateId: Id,
    operationId: Id,
    callIndex: NonNegativeInt,
    responseData: t.unknown,
    error: JsonValue,
    latencyMs: NonNegativeNumber,
    requestRef: NonEmptyString,
    responseRef: NonEmptyString,
  },
);

export const BeginOperationInput = struct('BeginOperationInput', { nodeId: Id, operationType: OperationType }, { inputData: t.unknown, operationId: Id });

export const CompleteOperationInput = struct(
  'CompleteOperationInput',
  { operationId: Id, status: literalUnion('OperationEndStatus', ['completed', 'failed', 'pending']), durationMs: NonNegativeNumber },
  { outputData: t.unknown, error: Str },
);

export const CreateBatchInput = struct('CreateBatchInput', { aggregationNodeId: Id }, { batchId: Id, attempt: NonNegativeInt });
export const AddBatchMemberInput = struct('AddBatchMemberInput', { batchId: Id, tokenId: Id }, { ordinal: NonNegativeInt });
export const UpdateBatchStatusInput = struct(
  'UpdateBatchStatusInput',
  { batchId: Id, status: literalUnion('BatchNewStatus', ['executing', 'completed', 'failed']) },
  { triggerType: TriggerType, triggerReason: Str, stateId: Id },
);
export const RetryBatchInput = struct('RetryBatchInput', { batchId: Id }, { newBatchId: Id });
export const RecordBatchOutputsInput = struct(
  'RecordBatchOutputsInput',
  { batchId: Id },
  { tokenCount: tokenCount(0), artifactIds: arrayOf(Id), stepInPipeline: NonNegativeInt },
);

export const RegisterArtifactInput = struct(
  'RegisterArtifactInput',
  {
    stateIds: arrayOf(Id, { nonEmpty: true }),
    sinkNodeId: Id,
    artifactType: NonEmptyString,
    pathOrUri: NonEmptyString,
    contentHash: Hash,
    sizeBytes: NonNegativeInt,
  },
  { idempotencyKey: NonEmptyString, artifactId: Id },
);

export const RecordTokenOutcomeInput = struct(
  'RecordTokenOutcomeInput',
  { tokenId: Id, outcome: OutcomeC },
  {
    sinkName: NonEmptyString,
    batchId: Id,
    errorHash: Hash,
    context: JsonValue,
  },
);

export const RecordValidationErrorInput = struct(
  'RecordValidationErrorInput',
  { rowData: t.unknown, error: NonEmptyString, schemaMode: SchemaMode, destination: NonEmptyString },
  {
    nodeId: Id,
    rowIndex: NonNegativeInt,
    violation: struct(
      'ContractViolation',
      { violationType: ViolationType },
      { originalFieldName: Str, normalizedFieldName: Str, expectedType: Str, actualType: Str },
    ),
  },
);

export const RecordTransformErrorInput = struct(
  'RecordTransformErrorInput',
  { tokenId: Id, transformId: Id, rowData: t.unknown, errorDetails: t.unknown, destination: NonEmptyString },
  {},
);

export const SecretResolutionInput = struct(
  'SecretResolutionInput',
  { envVarName: NonEmptyString, source: NonEmptyString, fingerprint: Hash, resolvedAt: Timestamp },
  { vaultUrl: NonEmptyString, secretName: NonEmptyString, resolutionLatencyMs: NonNegativeNumber },
);
export const RecordSecretResolutionsInput = arrayOf(SecretResolutionInput, { nonEmpty: true });

export const PreflightResultInput = struct('PreflightResultInput', { resultType: PreflightType, name: NonEmptyString, result: JsonValue });
export const RecordPreflightResultsInput = arrayOf(PreflightResultInput, { nonEmpty: true });

export const RecordCheckpointInput = struct(
  'RecordCheckpointInput',
  {
    tokenId: Id,
    nodeId: Id,
    sequenceNumber: NonNegativeInt,
    upstreamTopologyHash: Hash,
    checkpointNodeConfigHash: Hash,
    formatVersion: Int,
  },
  { aggregationState: JsonValue, coalesceState: JsonValue },
);

export const RecordSourceFieldResolutionInput = struct(
  'RecordSourceFieldResolutionInput',
  { resolutionMapping: JsonObjectC },
  { normalizationVersion: NonEmptyString },
);

export const UpdateRunContractInput = struct('UpdateRunContractInput', { contract: JsonValue });
export const UpdateNodeOutputContractInput = struct('UpdateNodeOutputContractInput', { nodeId: Id, contract: JsonValue });

export const SetExportStatusInput = struct(
  'SetExportStatusInput',
  { status: ExportStatus },
  { error: Str, format: NonEmptyString, sink: NonEmptyString },
);

export const UpdateRunStatusInput = struct('UpdateRunStatusInput', { status: literalUnion('ResumeStatus', ['running']) }, { reason: Str });

export const CompleteRunInput = struct('CompleteRunInput', { status: TerminalRunStatus }, { reproducibilityGrade: ReproducibilityGrade });

export type BeginRunInput = t.TypeOf<typeof BeginRunInput>;
export type RegisterNodeInput = t.TypeOf<typeof RegisterNodeInput>;
export type RegisterEdgeInput = t.TypeOf<typeof RegisterEdgeInput>;
export type CreateRowInput = t.TypeOf<typeof CreateRowInput>;
export type CreateTokenInput = t.TypeOf<typeof CreateTokenInput>;
export type ForkTokenInput = t.TypeOf<typeof ForkTokenInput>;
export type ExpandTokenInput = t.TypeOf<typeof ExpandTokenInput>;
export type CoalesceTokensInput = t.TypeOf<typeof CoalesceTokensInput>;
export type BeginNodeStateInput = t.TypeOf<typeof BeginNodeStateInput>;
export type CompleteNodeStateInput = t.TypeOf<typeof CompleteNodeStateInput>;
export type RecordRoutingEventInput = t.TypeOf<typeof RecordRoutingEventInput>;
export type RecordRoutingEventsInput = t.TypeOf<typeof RecordRoutingEventsInput>;
export type RecordCallInput = t.TypeOf<typeof RecordCallInput>;
export type BeginOperationInput = t.TypeOf<typeof BeginOperationInput>;
export type CompleteOperationInput = t.TypeOf<typeof CompleteOperationInput>;
export type CreateBatchInput = t.TypeOf<typeof CreateBatchInput>;
export type AddBatchMemberInput = t.TypeOf<typeof AddBatchMemberInput>;
export type UpdateBatchStatusInput = t.TypeOf<typeof UpdateBatchStatusInput>;
export type RetryBatchInput = t.TypeOf<typeof RetryBatchInput>;
export type RecordBatchOutputsInput = t.TypeOf<typeof RecordBatchOutputsInput>;
export type RegisterArtifactInput = t.TypeOf<typeof RegisterArtifactInput>;
export type RecordTokenOutcomeInput = t.TypeOf<typeof RecordTokenOutcomeInput>;
export type RecordValidationErrorInput = t.TypeOf<typeof RecordValidationErrorInput>;
export type RecordTransformErrorInput = t.TypeOf<typeof RecordTransformErrorInput>;
export type SecretResolutionInput = t.TypeOf<typeof SecretResolutionInput>;
export type PreflightResultInput = t.TypeOf<typeof PreflightResultInput>;
export type RecordCheckpointInput = t.TypeOf<typeof RecordCheckpointInput>;
export type RecordSourceFieldResolutionInput = t.TypeOf<typeof RecordSourceFieldResolutionInput>;
export type UpdateRunContractInput = t.TypeOf<typeof UpdateRunContractInput>;
export type UpdateNodeOutputContractInput = t.TypeOf<typeof UpdateNodeOutputContractInput>;
export type SetExportStatusInput = t.TypeOf<typeof SetExportStatusInput>;
export type UpdateRunStatusInput = t.TypeOf<typeof UpdateRunStatusInput>;
export type CompleteRunInput = t.TypeOf<typeof CompleteRunInput>;
