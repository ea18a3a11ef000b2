/**
 * Guards shared by the deciders: lookups that fail with the right code, and the rejections
 * every domain uses. Each throws a LedgerError; `command()` turns it into the decision's Left.
 */
import { ledgerError } from '../../errors';
import type { NodeState, Token } from '../../projections/entities';
import type { RunState } from '../../projections/state';

/** The run, once it has started (RUN_NOT_FOUND before). */
export function requireStarted(state: RunState): NonNullable<RunState['run']> {
  if (state.run === null) throw ledgerError('RUN_NOT_FOUND', `run ${state.runId} has not started`, { runId: state.runId });
  return state.run;
}

/** The run has started and still accepts facts (RUN_NOT_FOUND, RUN_NOT_RUNNING). */
export function requireRunning(state: RunState): void {
  const run = requireStarted(state);
  if (run.status !== 'running') {
    throw ledgerError('RUN_NOT_RUNNING', `run ${state.runId} is ${run.status} and accepts no more facts`, {
      runId: state.runId,
      status: run.status,
    });
  }
}

export function requireNode(state: RunState, nodeId: string, field: string) {
  const n = state.nodes.get(nodeId);
  if (n === undefined) throw ledgerError('NODE_NOT_FOUND', `${field}: node ${nodeId} is not registered in run ${state.runId}`, { path: field, nodeId });
  return n;
}

export function requireRow(state: RunState, rowId: string, field: string) {
  const r = state.rows.get(rowId);
  if (r === undefined) throw ledgerError('ROW_NOT_FOUND', `${field}: row ${rowId} does not exist in run ${state.runId}`, { path: field, rowId });
  return r;
}

export function requireToken(state: RunState, tokenId: string, field: string): Token {
  const t = state.tokens.get(tokenId);
  if (t === undefined) throw ledgerError('TOKEN_NOT_FOUND', `${field}: token ${tokenId} does not exist in run ${state.runId}`, { path: field, tokenId });
  return t;
}

/** A token without a terminal outcome (TERMINAL_OUTCOME_EXISTS naming the outcome it has). */
export function requireLiveToken(state: RunState, tokenId: string, field: string): Token {
  const t = requireToken(state, tokenId, field);
  const terminal = state.terminalOutcome.get(tokenId);
  if (terminal !== undefined) {
    const o = state.outcomes.get(terminal)!;
    throw ledgerError('TERMINAL_OUTCOME_EXISTS', `${field}: token ${tokenId} already has its terminal outcome ${o.outcome} (${o.outcomeId})`, {
      path: field,
      tokenId,
      outcome: o.outcome,
      outcomeId: o.outcomeId,
    });
  }
  return t;
}

export function requireState(state: RunState, stateId: string, field: string): NodeState {
  const s = state.nodeStates.get(stateId);
  if (s === undefined) throw ledgerError('STATE_NOT_FOUND', `${field}: node state ${stateId} does not exist in run ${state.runId}`, { path: field, stateId });
  return s;
}

export function requireBatch(state: RunState, batchId: string, field: string) {
  const b = state.batches.get(batchId);
  if (b === undefined) throw ledgerError('BATCH_NOT_FOUND', `${field}: batch ${batchId} does not exist in run ${state.runId}`, { path: field, batchId });
  return b;
}

export function requireFreshId(state: RunState, exists: boolean, id: string, field: string): void {
  if (exists) throw ledgerError('DUPLICATE_ID', `${field}: id ${id} is already used in run ${state.runId}`, { path: field, id });
}

/** The token belongs to the row (LINEAGE_SCOPE_VIOLATION otherwise). */
export function sameRow(token: Token, rowId: string, field: string): void {
  if (token.rowId !== rowId) {
    throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: token ${token.tokenId} belongs to row ${token.rowId}, not row ${rowId}`, {
      path: field,
      tokenId: token.tokenId,
      rowId: token.rowId,
    });
  }
}

export function invalid(path: string, message: string): never {
  throw ledgerError('INVALID_INPUT', `${path}: ${message}`, { path });
}

export function transition(message: string, details: Record<string, unknown>): never {
  throw ledgerError('INVALID_TRANSITION', message, details);
}
