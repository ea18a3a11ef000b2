/**
 * Batch commands: an aggregation's batches, their members, status, retry and outputs.
 */
import type * as t from 'io-ts';
import { TriggerType } from '../../events/catalogue';
import { arrayOf, Id, literalUnion, NonNegativeInt, Str, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one, TokenRef, tokenCount } from './command';
import { invalid, requireBatch, requireFreshId, requireLiveToken, requireNode, requireRunning, requireState, transition } from './guards';

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

export type CreateBatchInput = t.TypeOf<typeof CreateBatchInput>;
export type AddBatchMemberInput = t.TypeOf<typeof AddBatchMemberInput>;
export type UpdateBatchStatusInput = t.TypeOf<typeof UpdateBatchStatusInput>;
export type RetryBatchInput = t.TypeOf<typeof RetryBatchInput>;
export type RecordBatchOutputsInput = t.TypeOf<typeof RecordBatchOutputsInput>;

function decideCreateBatch(state: RunState, i: CreateBatchInput, ctx: DecideContext): Decision<{ batchId: string; attempt: number }> {
  requireRunning(state);
  const node = requireNode(state, i.aggregationNodeId, 'aggregationNodeId');
  if (node.nodeType !== 'aggregation') invalid('aggregationNodeId', `node ${node.nodeId} is a ${node.nodeType}, not an aggregation`);
  const batchId = i.batchId ?? ctx.newId();
  requireFreshId(state, state.batches.has(batchId) || state.groups.has(batchId), batchId, 'batchId');
  const attempt = i.attempt ?? 0;
  return one(ev('BatchCreated', { batchId, aggregationNodeId: i.aggregationNodeId, attempt }), { batchId, attempt });
}

function decideAddBatchMember(state: RunState, i: AddBatchMemberInput): Decision<{ batchId: string; tokenId: string; ordinal: number }> {
  requireRunning(state);
  const batch = requireBatch(state, i.batchId, 'batchId');
  if (batch.status !== 'draft') transition(`batchId: batch ${i.batchId} is ${batch.status}; members join only while it is a draft`, { path: 'batchId' });
  requireLiveToken(state, i.tokenId, 'tokenId');
  const members = state.batchMembers.get(i.batchId)!;
  if (members.some((m) => m.tokenId === i.tokenId)) {
    throw ledgerError('DUPLICATE_ID', `tokenId: token ${i.tokenId} is already a member of batch ${i.batchId}`, { path: 'tokenId' });
  }
  const ordinal = i.ordinal ?? members.length;
  if (members.some((m) => m.ordinal === ordinal)) {
    throw ledgerError('DUPLICATE_ID', `ordinal: batch ${i.batchId} already has a member at ordinal ${ordinal}`, { path: 'ordinal' });
  }
  return one(ev('BatchMemberAdded', { batchId: i.batchId, tokenId: i.tokenId, ordinal }), { batchId: i.batchId, tokenId: i.tokenId, ordinal });
}

function decideUpdateBatchStatus(state: RunState, i: UpdateBatchStatusInput): Decision<{ batchId: string; status: 'executing' | 'completed' | 'failed' }> {
  requireRunning(state);
  const batch = requireBatch(state, i.batchId, 'batchId');
  const allowed: Record<string, readonly string[]> = { draft: ['executing', 'failed'], executing: ['completed', 'failed'], completed: [], failed: [] };
  if (!allowed[batch.status]!.includes(i.status)) {
    transition(`status: batch ${i.batchId} is ${batch.status}; it cannot become ${i.status}`, { path: 'status', from: batch.status, to: i.status });
  }
  if (i.stateId !== undefined) {
    const ns = requireState(state, i.stateId, 'stateId');
    if (ns.nodeId !== batch.aggregationNodeId) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `stateId: state ${i.stateId} is at node ${ns.nodeId}, not the batch's aggregation node`, { path: 'stateId' });
    }
  }
  return one(
    ev('BatchStatusChanged', {
      batchId: i.batchId,
      status: i.status,
      triggerType: i.triggerType ?? null,
      triggerReason: i.triggerReason ?? null,
      aggregationStateId: i.stateId ?? null,
    }),
    { batchId: i.batchId, status: i.status },
  );
}

function decideRetryBatch(state: RunState, i: RetryBatchInput, ctx: DecideContext): Decision<{ batchId: string; attempt: number; retriedFromBatchId: string }> {
  requireRunning(state);
  const batch = requireBatch(state, i.batchId, 'batchId');
  // a batch is retried once: asking again (crash recovery) gets that retry back, nothing is written
  const earlier = state.retryOfBatch.get(i.batchId);
  if (earlier !== undefined) {
    if (i.newBatchId !== undefined && i.newBatchId !== earlier) {
      transition(`batchId: batch ${i.batchId} was already retried as batch ${earlier}`, { path: 'newBatchId', retriedAs: earlier });
    }
    return { events: [], result: { batchId: earlier, attempt: state.batches.get(earlier)!.attempt, retriedFromBatchId: i.batchId } };
  }
  if (batch.status !== 'failed') transition(`batchId: batch ${i.batchId} is ${batch.status}; only a failed batch can be retried`, { path: 'batchId' });
  const members = state.batchMembers.get(i.batchId)!;
  members.forEach((m, k) => requireLiveToken(state, m.tokenId, `members[${k}]`));
  const batchId = i.newBatchId ?? ctx.newId();
  requireFreshId(state, state.batches.has(batchId) || state.groups.has(batchId), batchId, 'newBatchId');
  const attempt = batch.attempt + 1;
  return one(
    ev('BatchRetried', {
      batchId,
      retriedFromBatchId: i.batchId,
      aggregationNodeId: batch.aggregationNodeId,
      attempt,
      members: members.map((m) => ({ tokenId: m.tokenId, ordinal: m.ordinal })),
    }),
    { batchId, attempt, retriedFromBatchId: i.batchId },
  );
}

function decideRecordBatchOutputs(state: RunState, i: RecordBatchOutputsInput, ctx: DecideContext): Decision<{ batchId: string; tokens: TokenRef[]; artifactIds: string[] }> {
  requireRunning(state);
  const batch = requireBatch(state, i.batchId, 'batchId');
  if (batch.status !== 'completed') transition(`batchId: batch ${i.batchId} is ${batch.status}; outputs come from a completed batch`, { path: 'batchId' });
  if ((state.batchOutputs.get(i.batchId) ?? []).length > 0) transition(`batchId: batch ${i.batchId} already recorded its outputs`, { path: 'batchId' });
  const members = state.batchMembers.get(i.batchId)!;
  const count = i.tokenCount ?? 0;
  const artifactIds = i.artifactIds ?? [];
  if (count === 0 && artifactIds.length === 0) invalid('tokenCount', 'a batch output needs at least one token or artifact');
  if (count > 0 && members.length === 0) invalid('tokenCount', `batch ${i.batchId} has no members to derive output tokens from`);
  artifactIds.forEach((a, k) => {
    if (!state.artifacts.has(a)) throw ledgerError('ARTIFACT_NOT_FOUND', `artifactIds[${k}]: artifact ${a} does not exist`, { path: `artifactIds[${k}]` });
  });
  const rowId = count > 0 ? state.tokens.get(members[0]!.tokenId)!.rowId : '';
  const tokens = Array.from({ length: count }, () => ({ tokenId: ctx.newId(), rowId }));
  return one(ev('BatchOutputsProduced', { batchId: i.batchId, stepInPipeline: i.stepInPipeline ?? null, tokens, artifactIds }), {
    batchId: i.batchId,
    tokens: tokens.map((t) => ({ tokenId: t.tokenId, rowId: t.rowId, branchName: null })),
    artifactIds,
  });
}

export const batchCommands = {
  createBatch: command(CreateBatchInput, decideCreateBatch),
  addBatchMember: command(AddBatchMemberInput, decideAddBatchMember),
  updateBatchStatus: command(UpdateBatchStatusInput, decideUpdateBatchStatus),
  retryBatch: command(RetryBatchInput, decideRetryBatch),
  /** Output tokens of a completed batch (each has every member as an ordered parent) and its artifacts. */
  recordBatchOutputs: command(RecordBatchOutputsInput, decideRecordBatchOutputs),
};
