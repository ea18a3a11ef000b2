/**
 * What reaches the end of the pipeline: the artifacts sinks write, and the outcomes of tokens
 * (those not recorded atomically by fork, expand or coalesce).
 */
import type * as t from 'io-ts';
import { OutcomeC } from '../../events/catalogue';
import { arrayOf, Hash, Id, JsonValue, NonEmptyString, NonNegativeInt, struct } from '../../events/codecs';
import { OUTCOME_TABLE, outcomeFieldProblem, OutcomeRule, TokenOutcomeInput } from '../../events/outcomes';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, commandTaking, DecideContext, Decision, ev, one } from './command';
import { invalid, requireBatch, requireFreshId, requireLiveToken, requireNode, requireRunning, requireState } from './guards';

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

export type RegisterArtifactInput = t.TypeOf<typeof RegisterArtifactInput>;
export type RecordTokenOutcomeInput = t.TypeOf<typeof RecordTokenOutcomeInput>;

function decideRegisterArtifact(state: RunState, i: RegisterArtifactInput, ctx: DecideContext): Decision<{ artifactId: string }> {
  requireRunning(state);
  const sink = requireNode(state, i.sinkNodeId, 'sinkNodeId');
  if (sink.nodeType !== 'sink') invalid('sinkNodeId', `node ${sink.nodeId} is a ${sink.nodeType}, not a sink`);
  const seen = new Set<string>();
  i.stateIds.forEach((sid, k) => {
    const field = `stateIds[${k}]`;
    if (seen.has(sid)) invalid(field, `state ${sid} is listed twice`);
    seen.add(sid);
    const ns = requireState(state, sid, field);
    if (ns.nodeId !== i.sinkNodeId) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: state ${sid} is at node ${ns.nodeId}, not at sink ${i.sinkNodeId}`, { path: field });
    }
  });
  const artifactId = i.artifactId ?? ctx.newId();
  requireFreshId(state, state.artifacts.has(artifactId), artifactId, 'artifactId');
  return one(
    ev('ArtifactRegistered', {
      artifactId,
      sinkNodeId: i.sinkNodeId,
      stateIds: [...i.stateIds],
      artifactType: i.artifactType,
      pathOrUri: i.pathOrUri,
      contentHash: i.contentHash,
      sizeBytes: i.sizeBytes,
      idempotencyKey: i.idempotencyKey ?? null,
    }),
    { artifactId },
  );
}

function decideRecordTokenOutcome(state: RunState, i: RecordTokenOutcomeInput, ctx: DecideContext): Decision<{ outcomeId: string; isTerminal: boolean }> {
  requireRunning(state);
  const rule: OutcomeRule = OUTCOME_TABLE[i.outcome];
  if (rule.recordedBy !== 'recordTokenOutcome') {
    invalid('outcome', `${i.outcome} is recorded atomically by ${rule.recordedBy}, not by recordTokenOutcome`);
  }
  const fields = {
    sinkName: i.sinkName ?? null,
    errorHash: i.errorHash ?? null,
    batchId: i.batchId ?? null,
    forkGroupId: null,
    joinGroupId: null,
    expandGroupId: null,
    expectedBranchesJson: null,
  };
  const problem = outcomeFieldProblem(i.outcome, fields);
  if (problem !== null) {
    if (problem.problem === 'missing') {
      throw ledgerError('OUTCOME_FIELD_MISSING', `${problem.field}: a ${i.outcome} outcome requires ${problem.field}`, {
        path: problem.field,
        outcome: i.outcome,
      });
    }
    invalid(problem.field, `a ${i.outcome} outcome does not take ${problem.field}`);
  }
  requireLiveToken(state, i.tokenId, 'tokenId');
  if (fields.batchId !== null) {
    requireBatch(state, fields.batchId, 'batchId');
    const member = (state.batchMembers.get(fields.batchId) ?? []).some((m) => m.tokenId === i.tokenId);
    if (!member) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `batchId: token ${i.tokenId} is not a member of batch ${fields.batchId}`, { path: 'batchId' });
    }
  }
  const outcomeId = ctx.newId();
  return one(
    ev('TokenOutcomeRecorded', {
      outcomeId,
      tokenId: i.tokenId,
      outcome: i.outcome,
      ...fields,
      contextJson: i.context ?? null,
    }),
    { outcomeId, isTerminal: rule.terminal },
  );
}

export const outcomeCommands = {
  registerArtifact: command(RegisterArtifactInput, decideRegisterArtifact),
  /** Typed per outcome from the outcome table (required fields required, others absent); the decider checks the same rule for untyped callers. */
  recordTokenOutcome: commandTaking<TokenOutcomeInput>()(RecordTokenOutcomeInput, decideRecordTokenOutcome),
};
