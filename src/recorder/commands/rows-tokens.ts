/**
 * Row and token commands: source rows, their tokens, and the fork, expand and coalesce of
 * tokens (each written as one event with the parent links and outcomes it implies).
 */
import * as t from 'io-ts';
import { stableHash } from '../../canonical/hash';
import { arrayOf, Bool, Id, JsonValue, NonEmptyString, NonNegativeInt, NonNegativeNumber, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, EventDraft, MAX_TOKENS_PER_COMMAND, one, PayloadBody, TokenRef, tokenCount } from './command';
import { invalid, requireFreshId, requireLiveToken, requireNode, requireRow, requireRunning, requireState, sameRow, transition } from './guards';
import { asJsonOrTagged, payloadOf, tier3Hash } from './hashing';

export const CreateRowInput = struct(
  'CreateRowInput',
  { sourceNodeId: Id, rowIndex: NonNegativeInt, data: t.unknown },
  { rowId: Id, quarantined: Bool, withToken: Bool },
);

export const CreateTokenInput = struct('CreateTokenInput', { rowId: Id }, { tokenId: Id, branchName: NonEmptyString, stepInPipeline: NonNegativeInt });

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

export type CreateRowInput = t.TypeOf<typeof CreateRowInput>;
export type CreateTokenInput = t.TypeOf<typeof CreateTokenInput>;
export type ForkTokenInput = t.TypeOf<typeof ForkTokenInput>;
export type ExpandTokenInput = t.TypeOf<typeof ExpandTokenInput>;
export type CoalesceTokensInput = t.TypeOf<typeof CoalesceTokensInput>;

function decideCreateRow(state: RunState, i: CreateRowInput, ctx: DecideContext): Decision<{ rowId: string; rowIndex: number; sourceDataHash: string; tokenId: string | null }> {
  requireRunning(state);
  requireNode(state, i.sourceNodeId, 'sourceNodeId');
  const taken = state.rowByIndex.get(i.rowIndex);
  if (taken !== undefined) {
    throw ledgerError('DUPLICATE_ID', `rowIndex: row index ${i.rowIndex} is already row ${taken}`, { path: 'rowIndex', rowId: taken });
  }
  const rowId = i.rowId ?? ctx.newId();
  requireFreshId(state, state.rows.has(rowId), rowId, 'rowId');
  const quarantined = i.quarantined === true;
  const bodies: PayloadBody[] = [];
  let sourceDataHash: string;
  let sourceDataRef: string | null = null;
  if (!quarantined) ({ hash: sourceDataHash, ref: sourceDataRef } = payloadOf(i.data, 'data', ctx, bodies));
  else {
    sourceDataHash = tier3Hash(i.data);
    // a quarantined row that is not canonical JSON is stored as its tagged rendering: ref != hash
    if (ctx.storePayloads === true) sourceDataRef = payloadOf(asJsonOrTagged(i.data), 'data', ctx, bodies).ref;
  }
  const events: EventDraft[] = [
    ev('RowCreated', { rowId, sourceNodeId: i.sourceNodeId, rowIndex: i.rowIndex, sourceDataHash, sourceDataRef, quarantined }),
  ];
  let tokenId: string | null = null;
  if (i.withToken === true) {
    tokenId = ctx.newId();
    events.push(ev('TokenCreated', { tokenId, rowId, branchName: null, stepInPipeline: null }));
  }
  return { events, result: { rowId, rowIndex: i.rowIndex, sourceDataHash, tokenId }, bodies };
}

function decideCreateToken(state: RunState, i: CreateTokenInput, ctx: DecideContext): Decision<TokenRef> {
  requireRunning(state);
  requireRow(state, i.rowId, 'rowId');
  const tokenId = i.tokenId ?? ctx.newId();
  requireFreshId(state, state.tokens.has(tokenId), tokenId, 'tokenId');
  const branchName = i.branchName ?? null;
  return one(ev('TokenCreated', { tokenId, rowId: i.rowId, branchName, stepInPipeline: i.stepInPipeline ?? null }), {
    tokenId,
    rowId: i.rowId,
    branchName,
  });
}

function decideForkToken(state: RunState, i: ForkTokenInput, ctx: DecideContext): Decision<{ forkGroupId: string; children: TokenRef[]; outcomeId: string }> {
  requireRunning(state);
  requireRow(state, i.rowId, 'rowId');
  const parent = requireLiveToken(state, i.parentTokenId, 'parentTokenId');
  sameRow(parent, i.rowId, 'parentTokenId');
  const seen = new Set<string>();
  i.branches.forEach((b, k) => {
    if (seen.has(b)) invalid(`branches[${k}]`, `branch "${b}" is named twice`);
    seen.add(b);
  });
  const forkGroupId = ctx.newId();
  const outcomeId = ctx.newId();
  const children = i.branches.map((branchName) => ({ tokenId: ctx.newId(), branchName }));
  return one(
    ev('TokenForked', {
      parentTokenId: i.parentTokenId,
      rowId: i.rowId,
      forkGroupId,
      stepInPipeline: i.stepInPipeline ?? null,
      children,
      outcomeId,
      contextJson: i.context ?? null,
    }),
    { forkGroupId, outcomeId, children: children.map((c) => ({ tokenId: c.tokenId, rowId: i.rowId, branchName: c.branchName })) },
  );
}

function decideExpandToken(state: RunState, i: ExpandTokenInput, ctx: DecideContext): Decision<{ expandGroupId: string; children: TokenRef[]; outcomeId: string }> {
  requireRunning(state);
  requireRow(state, i.rowId, 'rowId');
  const parent = requireLiveToken(state, i.parentTokenId, 'parentTokenId');
  sameRow(parent, i.rowId, 'parentTokenId');
  const expandGroupId = ctx.newId();
  const outcomeId = ctx.newId();
  const children = Array.from({ length: i.count }, () => ({ tokenId: ctx.newId() }));
  return one(
    ev('TokenExpanded', {
      parentTokenId: i.parentTokenId,
      rowId: i.rowId,
      expandGroupId,
      stepInPipeline: i.stepInPipeline ?? null,
      children,
      outcomeId,
      contextJson: i.context ?? null,
    }),
    { expandGroupId, outcomeId, children: children.map((c) => ({ tokenId: c.tokenId, rowId: i.rowId, branchName: parent.branchName })) },
  );
}

function decideCoalesceTokens(state: RunState, i: CoalesceTokensInput, ctx: DecideContext): Decision<{ tokenId: string; rowId: string; joinGroupId: string; parentOutcomeIds: string[] }> {
  requireRunning(state);
  requireRow(state, i.rowId, 'rowId');
  const seen = new Set<string>();
  i.parentTokenIds.forEach((id, k) => {
    const field = `parentTokenIds[${k}]`;
    if (seen.has(id)) invalid(field, `token ${id} is listed twice`);
    seen.add(id);
    sameRow(requireLiveToken(state, id, field), i.rowId, field);
  });
  const stateFor = new Map<string, { stateId: string; durationMs: number }>();
  (i.completeStates ?? []).forEach((cs, k) => {
    const field = `completeStates[${k}].stateId`;
    const ns = requireState(state, cs.stateId, field);
    if (!seen.has(ns.tokenId)) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: state ${cs.stateId} belongs to token ${ns.tokenId}, which is not a parent of this coalesce`, {
        path: field,
      });
    }
    if (ns.status !== 'open') transition(`${field}: state ${cs.stateId} is ${ns.status}, not open`, { path: field, stateId: cs.stateId, status: ns.status });
    if (stateFor.has(ns.tokenId)) invalid(field, `token ${ns.tokenId} already has a state in completeStates`);
    stateFor.set(ns.tokenId, cs);
  });
  const mergedTokenId = ctx.newId();
  const joinGroupId = ctx.newId();
  const parents = i.parentTokenIds.map((tokenId) => {
    const cs = stateFor.get(tokenId);
    return { tokenId, outcomeId: ctx.newId(), stateId: cs?.stateId ?? null, durationMs: cs?.durationMs ?? null };
  });
  return one(
    ev('TokensCoalesced', {
      mergedTokenId,
      rowId: i.rowId,
      joinGroupId,
      stepInPipeline: i.stepInPipeline ?? null,
      branchName: i.branchName ?? null,
      parents,
      stateOutputHash: stableHash({ merged_into: mergedTokenId }),
      contextJson: i.metadata ?? null,
    }),
    { tokenId: mergedTokenId, rowId: i.rowId, joinGroupId, parentOutcomeIds: parents.map((p) => p.outcomeId) },
  );
}

export const rowAndTokenCommands = {
  /** Records a source row (payload hashed). `withToken: true` also creates its initial token in the same append. */
  createRow: command(CreateRowInput, decideCreateRow),
  createToken: command(CreateTokenInput, decideCreateToken),
  /** One child per branch, the parent links and the parent's FORKED outcome: one event. */
  forkToken: command(ForkTokenInput, decideForkToken),
  /** `count` children sharing an expand_group_id, the parent links and the parent's EXPANDED outcome: one event. */
  expandToken: command(ExpandTokenInput, decideExpandToken),
  /** The merged token, ordered parent links, each parent's COALESCED outcome and (optionally) their coalesce states completed: one event. */
  coalesceTokens: command(CoalesceTokensInput, decideCoalesceTokens),
};
