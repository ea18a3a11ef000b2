/**
 * Call and operation commands: external calls made from a node state or an operation, and
 * the operations (source loads, sink writes) that are not a token's visit to a node.
 */
import * as t from 'io-ts';
import { CallStatus, CallType, OperationType } from '../../events/catalogue';
import { Id, JsonValue, literalUnion, NonEmptyString, NonNegativeInt, NonNegativeNumber, Str, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one, PayloadBody, withBodies } from './command';
import { invalid, requireFreshId, requireNode, requireRunning, requireState, transition } from './guards';
import { payloadOf } from './hashing';

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

export type RecordCallInput = t.TypeOf<typeof RecordCallInput>;
export type BeginOperationInput = t.TypeOf<typeof BeginOperationInput>;
export type CompleteOperationInput = t.TypeOf<typeof CompleteOperationInput>;

function decideRecordCall(state: RunState, i: RecordCallInput, ctx: DecideContext): Decision<{ callId: string; callIndex: number; requestHash: string; responseHash: string | null }> {
  requireRunning(state);
  const hasState = i.stateId !== undefined;
  const hasOp = i.operationId !== undefined;
  if (hasState === hasOp) {
    throw ledgerError('CALL_PARENT_INVALID', `a call needs exactly one parent: give stateId or operationId, not ${hasState ? 'both' : 'neither'}`, {
      path: hasState ? 'operationId' : 'stateId',
    });
  }
  let parentId: string;
  let existing: string[] | undefined;
  if (hasState) {
    const ns = requireState(state, i.stateId!, 'stateId');
    if (ns.status !== 'open' && ns.status !== 'pending') {
      transition(`stateId: node state ${ns.stateId} is ${ns.status}; calls are recorded while it is open`, { path: 'stateId', status: ns.status });
    }
    parentId = ns.stateId;
    existing = state.callsByState.get(parentId);
  } else {
    const op = state.operations.get(i.operationId!);
    if (op === undefined) {
      throw ledgerError('OPERATION_NOT_FOUND', `operationId: operation ${i.operationId!} does not exist in run ${state.runId}`, { path: 'operationId' });
    }
    if (op.status !== 'open' && op.status !== 'pending') {
      transition(`operationId: operation ${op.operationId} is ${op.status}; calls are recorded while it is open`, { path: 'operationId', status: op.status });
    }
    parentId = op.operationId;
    existing = state.callsByOperation.get(parentId);
  }
  const used = new Set((existing ?? []).map((id) => state.calls.get(id)!.callIndex));
  let callIndex: number;
  if (i.callIndex !== undefined) {
    if (used.has(i.callIndex)) throw ledgerError('DUPLICATE_ID', `callIndex: ${parentId} already has call ${i.callIndex}`, { path: 'callIndex' });
    callIndex = i.callIndex;
  } else {
    callIndex = used.size === 0 ? 0 : Math.max(...used) + 1;
  }
  // a reference given by the caller is kept as it is (the body lives where the caller put it)
  const bodies: PayloadBody[] = [];
  const noStore: DecideContext = { newId: ctx.newId };
  const request = payloadOf(i.requestData, 'requestData', i.requestRef === undefined ? ctx : noStore, bodies);
  const response = i.responseData === undefined ? null : payloadOf(i.responseData, 'responseData', i.responseRef === undefined ? ctx : noStore, bodies);
  const requestHash = request.hash;
  const responseHash = response?.hash ?? null;
  const callId = ctx.newId();
  return withBodies(bodies, one(
    ev('CallRecorded', {
      callId,
      stateId: i.stateId ?? null,
      operationId: i.operationId ?? null,
      callIndex,
      callType: i.callType,
      status: i.status,
      requestHash,
      requestRef: i.requestRef ?? request.ref,
      responseHash,
      responseRef: i.responseRef ?? response?.ref ?? null,
      errorJson: i.error ?? null,
      latencyMs: i.latencyMs ?? null,
    }),
    { callId, callIndex, requestHash, responseHash },
  ));
}

function decideBeginOperation(state: RunState, i: BeginOperationInput, ctx: DecideContext): Decision<{ operationId: string; inputDataHash: string | null }> {
  requireRunning(state);
  requireNode(state, i.nodeId, 'nodeId');
  const operationId = i.operationId ?? ctx.newId();
  requireFreshId(state, state.operations.has(operationId), operationId, 'operationId');
  const bodies: PayloadBody[] = [];
  const input = i.inputData === undefined ? null : payloadOf(i.inputData, 'inputData', ctx, bodies);
  const inputDataHash = input?.hash ?? null;
  return withBodies(
    bodies,
    one(ev('OperationStarted', { operationId, nodeId: i.nodeId, operationType: i.operationType, inputDataHash, inputDataRef: input?.ref ?? null }), {
      operationId,
      inputDataHash,
    }),
  );
}

function decideCompleteOperation(state: RunState, i: CompleteOperationInput, ctx: DecideContext): Decision<{ operationId: string; status: 'completed' | 'failed' | 'pending' }> {
  requireRunning(state);
  const op = state.operations.get(i.operationId);
  if (op === undefined) {
    throw ledgerError('OPERATION_NOT_FOUND', `operationId: operation ${i.operationId} does not exist in run ${state.runId}`, { path: 'operationId' });
  }
  if (op.status !== 'open') {
    transition(`operationId: operation ${i.operationId} is already ${op.status}`, { path: 'operationId', from: op.status, to: i.status });
  }
  if (i.status === 'failed' && i.error === undefined) invalid('error', 'a failed operation needs its error');
  if (i.status !== 'failed' && i.error !== undefined) invalid('error', `a ${i.status} operation has no error`);
  const bodies: PayloadBody[] = [];
  const output = i.outputData === undefined ? null : payloadOf(i.outputData, 'outputData', ctx, bodies);
  return withBodies(
    bodies,
    one(
      ev('OperationCompleted', {
        operationId: i.operationId,
        status: i.status,
        outputDataHash: output?.hash ?? null,
        outputDataRef: output?.ref ?? null,
        errorMessage: i.error ?? null,
        durationMs: i.durationMs,
      }),
      { operationId: i.operationId, status: i.status },
    ),
  );
}

export const callCommands = {
  recordCall: command(RecordCallInput, decideRecordCall),
  beginOperation: command(BeginOperationInput, decideBeginOperation),
  completeOperation: command(CompleteOperationInput, decideCompleteOperation),
};
