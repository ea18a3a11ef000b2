/**
 * Run metadata commands: resolved secrets, preflight results, checkpoints, the source field
 * resolution, the run's and nodes' contracts, and the export status.
 */
import type * as t from 'io-ts';
import { ExportStatus, PreflightType } from '../../events/catalogue';
import { arrayOf, Hash, Id, Int, JsonObjectC, JsonValue, NonEmptyString, NonNegativeInt, NonNegativeNumber, Str, struct, Timestamp } from '../../events/codecs';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one } from './command';
import { invalid, requireNode, requireRunning, requireStarted, requireToken, transition } from './guards';
import { hashOf } from './hashing';

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

export type SecretResolutionInput = t.TypeOf<typeof SecretResolutionInput>;
export type PreflightResultInput = t.TypeOf<typeof PreflightResultInput>;
export type RecordCheckpointInput = t.TypeOf<typeof RecordCheckpointInput>;
export type RecordSourceFieldResolutionInput = t.TypeOf<typeof RecordSourceFieldResolutionInput>;
export type UpdateRunContractInput = t.TypeOf<typeof UpdateRunContractInput>;
export type UpdateNodeOutputContractInput = t.TypeOf<typeof UpdateNodeOutputContractInput>;
export type SetExportStatusInput = t.TypeOf<typeof SetExportStatusInput>;

function decideRecordSecretResolutions(state: RunState, list: SecretResolutionInput[], ctx: DecideContext): Decision<{ resolutionIds: string[] }> {
  requireRunning(state);
  const resolutions = list.map((r) => ({
    resolutionId: ctx.newId(),
    resolvedAt: r.resolvedAt,
    envVarName: r.envVarName,
    source: r.source,
    vaultUrl: r.vaultUrl ?? null,
    secretName: r.secretName ?? null,
    fingerprint: r.fingerprint,
    resolutionLatencyMs: r.resolutionLatencyMs ?? null,
  }));
  return one(ev('SecretsResolved', { resolutions }), { resolutionIds: resolutions.map((r) => r.resolutionId) });
}

function decideRecordPreflightResults(state: RunState, list: PreflightResultInput[], ctx: DecideContext): Decision<{ resultIds: string[] }> {
  requireRunning(state);
  const results = list.map((r) => ({ resultId: ctx.newId(), resultType: r.resultType, name: r.name, resultJson: r.result }));
  return one(ev('PreflightRecorded', { results }), { resultIds: results.map((r) => r.resultId) });
}

function decideRecordCheckpoint(state: RunState, i: RecordCheckpointInput, ctx: DecideContext): Decision<{ checkpointId: string }> {
  requireRunning(state);
  requireToken(state, i.tokenId, 'tokenId');
  requireNode(state, i.nodeId, 'nodeId');
  const checkpointId = ctx.newId();
  return one(
    ev('CheckpointTaken', {
      checkpointId,
      tokenId: i.tokenId,
      nodeId: i.nodeId,
      sequenceNumber: i.sequenceNumber,
      aggregationStateJson: i.aggregationState ?? null,
      coalesceStateJson: i.coalesceState ?? null,
      upstreamTopologyHash: i.upstreamTopologyHash,
      checkpointNodeConfigHash: i.checkpointNodeConfigHash,
      formatVersion: i.formatVersion,
    }),
    { checkpointId },
  );
}

function decideRecordSourceFieldResolution(state: RunState, i: RecordSourceFieldResolutionInput): Decision<Record<string, never>> {
  requireRunning(state);
  if (state.run!.sourceFieldResolutionJson !== null) transition('the source field resolution is already recorded for this run', {});
  return one(
    ev('SourceFieldResolutionRecorded', { resolutionMapping: i.resolutionMapping, normalizationVersion: i.normalizationVersion ?? null }),
    {},
  );
}

function decideUpdateRunContract(state: RunState, i: UpdateRunContractInput): Decision<{ schemaContractHash: string }> {
  requireRunning(state);
  if (state.run!.schemaContractJson !== null) transition('the run already has a schema contract; it is locked once', {});
  const schemaContractHash = hashOf(i.contract, 'contract');
  return one(ev('RunContractLocked', { schemaContractJson: i.contract, schemaContractHash }), { schemaContractHash });
}

function decideUpdateNodeOutputContract(state: RunState, i: UpdateNodeOutputContractInput): Decision<Record<string, never>> {
  requireRunning(state);
  requireNode(state, i.nodeId, 'nodeId');
  return one(ev('NodeOutputContractUpdated', { nodeId: i.nodeId, outputContractJson: i.contract }), {});
}

function decideSetExportStatus(state: RunState, i: SetExportStatusInput): Decision<{ status: 'pending' | 'completed' | 'failed' }> {
  requireStarted(state);
  if (i.error !== undefined && i.status !== 'failed') invalid('error', 'an export error goes only with status failed');
  if (i.status === 'failed' && i.error === undefined) invalid('error', 'a failed export needs its error');
  return one(
    ev('ExportStatusChanged', { status: i.status, error: i.error ?? null, format: i.format ?? null, sink: i.sink ?? null }),
    { status: i.status },
  );
}

export const runMetadataCommands = {
  recordSecretResolutions: command(RecordSecretResolutionsInput, decideRecordSecretResolutions),
  recordPreflightResults: command(RecordPreflightResultsInput, decideRecordPreflightResults),
  recordCheckpoint: command(RecordCheckpointInput, decideRecordCheckpoint),
  recordSourceFieldResolution: command(RecordSourceFieldResolutionInput, decideRecordSourceFieldResolution),
  updateRunContract: command(UpdateRunContractInput, decideUpdateRunContract),
  updateNodeOutputContract: command(UpdateNodeOutputContractInput, decideUpdateNodeOutputContract),
  setExportStatus: command(SetExportStatusInput, decideSetExportStatus),
};
