/**
 * Node state commands: a token's visit to a node opens a state, which then completes, fails
 * or waits (pending).
 */
import * as t from 'io-ts';
import { Hash, Id, JsonValue, literalUnion, NonNegativeInt, NonNegativeNumber, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one } from './command';
import { invalid, requireFreshId, requireLiveToken, requireNode, requireRunning, requireState, transition } from './guards';
import { hashOf } from './hashing';

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

export type BeginNodeStateInput = t.TypeOf<typeof BeginNodeStateInput>;
export type CompleteNodeStateInput = t.TypeOf<typeof CompleteNodeStateInput>;

function decideBeginNodeState(state: RunState, i: BeginNodeStateInput, ctx: DecideContext): Decision<{ stateId: string; inputHash: string }> {
  requireRunning(state);
  requireLiveToken(state, i.tokenId, 'tokenId');
  requireNode(state, i.nodeId, 'nodeId');
  const attempt = i.attempt ?? 0;
  // (token, node, attempt) and (token, step, attempt) are unique: a token has only a few states
  for (const sid of state.statesByToken.get(i.tokenId) ?? []) {
    const other = state.nodeStates.get(sid)!;
    if (other.attempt !== attempt) continue;
    if (other.nodeId === i.nodeId) {
      throw ledgerError('DUPLICATE_ID', `attempt: token ${i.tokenId} already has attempt ${attempt} at node ${i.nodeId} (${sid})`, { path: 'attempt' });
    }
    if (other.stepIndex === i.stepIndex) {
      throw ledgerError('DUPLICATE_ID', `stepIndex: token ${i.tokenId} already has attempt ${attempt} at step ${i.stepIndex} (${sid})`, { path: 'stepIndex' });
    }
  }
  if ((i.inputData === undefined) === (i.inputHash === undefined)) invalid('inputData', 'give exactly one of inputData or inputHash');
  const inputHash = i.inputHash ?? hashOf(i.inputData, 'inputData');
  const stateId = i.stateId ?? ctx.newId();
  requireFreshId(state, state.nodeStates.has(stateId), stateId, 'stateId');
  return one(
    ev('NodeStateOpened', {
      stateId,
      tokenId: i.tokenId,
      nodeId: i.nodeId,
      stepIndex: i.stepIndex,
      attempt,
      inputHash,
      contextBeforeJson: i.contextBefore ?? null,
    }),
    { stateId, inputHash },
  );
}

function decideCompleteNodeState(state: RunState, i: CompleteNodeStateInput): Decision<{ stateId: string; status: 'completed' | 'failed' | 'pending'; outputHash: string | null }> {
  requireRunning(state);
  const ns = requireState(state, i.stateId, 'stateId');
  const ok = ns.status === 'open' || (ns.status === 'pending' && i.status !== 'pending');
  if (!ok) {
    transition(`stateId: node state ${i.stateId} is ${ns.status}; it cannot become ${i.status}`, { path: 'stateId', from: ns.status, to: i.status });
  }
  if (i.outputData !== undefined && i.outputHash !== undefined) invalid('outputData', 'give at most one of outputData or outputHash');
  const outputHash = i.outputHash ?? (i.outputData === undefined ? null : hashOf(i.outputData, 'outputData'));
  if (i.status === 'completed') {
    if (outputHash === null) invalid('outputData', 'a completed state needs its output (outputData or outputHash)');
    if (i.error !== undefined) invalid('error', 'a completed state has no error');
    return one(
      ev('NodeStateCompleted', {
        stateId: i.stateId,
        outputHash,
        durationMs: i.durationMs,
        successReasonJson: i.successReason ?? null,
        contextAfterJson: i.contextAfter ?? null,
      }),
      { stateId: i.stateId, status: 'completed', outputHash },
    );
  }
  if (i.successReason !== undefined) invalid('successReason', `a ${i.status} state has no success reason`);
  if (i.status === 'failed') {
    if (i.error === undefined) invalid('error', 'a failed state needs its error');
    return one(
      ev('NodeStateFailed', {
        stateId: i.stateId,
        outputHash,
        durationMs: i.durationMs,
        errorJson: i.error,
        contextAfterJson: i.contextAfter ?? null,
      }),
      { stateId: i.stateId, status: 'failed', outputHash },
    );
  }
  if (outputHash !== null) invalid('outputData', 'a pending state has no output yet');
  if (i.error !== undefined) invalid('error', 'a pending state has no error');
  return one(ev('NodeStatePending', { stateId: i.stateId, durationMs: i.durationMs, contextAfterJson: i.contextAfter ?? null }), {
    stateId: i.stateId,
    status: 'pending',
    outputHash: null,
  });
}

export const nodeStateCommands = {
  beginNodeState: command(BeginNodeStateInput, decideBeginNodeState),
  completeNodeState: command(CompleteNodeStateInput, decideCompleteNodeState),
};
