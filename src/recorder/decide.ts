/**
 * The command side's decisions: decide(state, command) → Either<LedgerError, events>.
 *
 * Every invariant the ledger promises is checked here, against the run's
 * current projection, before anything is appended: a rejected command leaves
 * the store and the run handle exactly as they were.
 */
import { Either, left, right } from 'fp-ts/Either';
import { CANONICAL_VERSION, sha256Hex, stableHash } from '../canonical/hash';
import { canonicalBytes, EXPORTABLE } from '../canonical/jcs';
import { EventDataMap, EventType } from '../events/catalogue';
import { Json, jsonProblem } from '../events/codecs';
import { OUTCOME_TABLE, outcomeFieldProblem, OutcomeRule } from '../events/outcomes';
import { isLedgerError, LedgerError, ledgerError } from '../errors';
import type { NodeState, Token } from '../projections/entities';
import { edgeLabelKey, RunState } from '../projections/state';
import type * as C from './commands';

export interface DecideContext {
  /** A fresh 128-bit id (UUID). */
  newId(): string;
  /** True when a payload store is configured: deciders then return the bodies to store and record their references. */
  readonly storePayloads?: boolean;
}

/** A payload body to write to the payload store before the decision's events are appended (name = SHA-256 of the bytes). */
export interface PayloadBody {
  readonly hash: string;
  readonly bytes: Buffer;
}

/** One event to append, before the envelope is added. */
export type EventDraft = { [T in EventType]: { readonly type: T; readonly data: EventDataMap[T] } }[EventType];

export interface Decision<R> {
  readonly events: EventDraft[];
  readonly result: R;
  /** Bodies to store first (only when the context stores payloads); the events reference them by hash. */
  readonly bodies?: PayloadBody[];
}

// ---------------------------------------------------------------------------
// Results returned to callers

export interface TokenRef {
  readonly tokenId: string;
  readonly rowId: string;
  readonly branchName: string | null;
}

export interface CommandResults {
  registerNode: { nodeId: string; configHash: string };
  registerEdge: { edgeId: string };
  createRow: { rowId: string; rowIndex: number; sourceDataHash: string; tokenId: string | null };
  createToken: TokenRef;
  forkToken: { forkGroupId: string; children: TokenRef[]; outcomeId: string };
  expandToken: { expandGroupId: string; children: TokenRef[]; outcomeId: string };
  coalesceTokens: { tokenId: string; rowId: string; joinGroupId: string; parentOutcomeIds: string[] };
  beginNodeState: { stateId: string; inputHash: string };
  completeNodeState: { stateId: string; status: 'completed' | 'failed' | 'pending'; outputHash: string | null };
  recordRoutingEvent: { eventId: string; routingGroupId: string };
  recordRoutingEvents: { routingGroupId: string; eventIds: string[] };
  recordCall: { callId: string; callIndex: number; requestHash: string; responseHash: string | null };
  beginOperation: { operationId: string; inputDataHash: string | null };
  completeOperation: { operationId: string; status: 'completed' | 'failed' | 'pending' };
  createBatch: { batchId: string; attempt: number };
  addBatchMember: { batchId: string; tokenId: string; ordinal: number };
  updateBatchStatus: { batchId: string; status: 'executing' | 'completed' | 'failed' };
  retryBatch: { batchId: string; attempt: number; retriedFromBatchId: string };
  recordBatchOutputs: { batchId: string; tokens: TokenRef[]; artifactIds: string[] };
  registerArtifact: { artifactId: string };
  recordTokenOutcome: { outcomeId: string; isTerminal: boolean };
  recordValidationError: { errorId: string; rowHash: string };
  recordTransformError: { errorId: string; rowHash: string };
  recordSecretResolutions: { resolutionIds: string[] };
  recordPreflightResults: { resultIds: string[] };
  recordCheckpoint: { checkpointId: string };
  recordSourceFieldResolution: Record<string, never>;
  updateRunContract: { schemaContractHash: string };
  updateNodeOutputContract: Record<string, never>;
  setExportStatus: { status: 'pending' | 'completed' | 'failed' };
  updateRunStatus: { status: 'running' };
  complete: { status: 'completed' | 'failed' | 'interrupted'; reproducibilityGrade: 'full_reproducible' | 'replay_reproducible' | 'attributable_only' };
}

export interface CommandInputs {
  registerNode: C.RegisterNodeInput;
  registerEdge: C.RegisterEdgeInput;
  createRow: C.CreateRowInput;
  createToken: C.CreateTokenInput;
  forkToken: C.ForkTokenInput;
  expandToken: C.ExpandTokenInput;
  coalesceTokens: C.CoalesceTokensInput;
  beginNodeState: C.BeginNodeStateInput;
  completeNodeState: C.CompleteNodeStateInput;
  recordRoutingEvent: C.RecordRoutingEventInput;
  recordRoutingEvents: C.RecordRoutingEventsInput;
  recordCall: C.RecordCallInput;
  beginOperation: C.BeginOperationInput;
  completeOperation: C.CompleteOperationInput;
  createBatch: C.CreateBatchInput;
  addBatchMember: C.AddBatchMemberInput;
  updateBatchStatus: C.UpdateBatchStatusInput;
  retryBatch: C.RetryBatchInput;
  recordBatchOutputs: C.RecordBatchOutputsInput;
  registerArtifact: C.RegisterArtifactInput;
  recordTokenOutcome: C.RecordTokenOutcomeInput;
  recordValidationError: C.RecordValidationErrorInput;
  recordTransformError: C.RecordTransformErrorInput;
  recordSecretResolutions: C.SecretResolutionInput[];
  recordPreflightResults: C.PreflightResultInput[];
  recordCheckpoint: C.RecordCheckpointInput;
  recordSourceFieldResolution: C.RecordSourceFieldResolutionInput;
  updateRunContract: C.UpdateRunContractInput;
  updateNodeOutputContract: C.UpdateNodeOutputContractInput;
  setExportStatus: C.SetExportStatusInput;
  updateRunStatus: C.UpdateRunStatusInput;
  complete: C.CompleteRunInput;
}

export type CommandName = keyof CommandInputs;

type Decider<K extends CommandName> = (state: RunState, input: CommandInputs[K], ctx: DecideContext) => Decision<CommandResults[K]>;

// ---------------------------------------------------------------------------
// Hashing of caller data

/** SHA-256 of canonical JSON; a value that is not canonical JSON is INVALID_INPUT naming the field. */
function hashOf(value: unknown, field: string): string {
  try {
    return stableHash(value);
  } catch (e) {
    const problem = jsonProblem(value, field);
    const where = problem !== null ? `${problem[0]}: ${problem[1]}` : `${field}: ${(e as Error).message}`;
    throw ledgerError('INVALID_INPUT', `cannot hash ${field}: ${where}`, { path: problem?.[0] ?? field });
  }
}

/**
 * Hash of a payload and, when the context stores payloads, its body: the canonical JSON bytes
 * the hash is computed over, so the reference (the store's name for the body) equals the hash.
 */
function payloadOf(value: unknown, field: string, ctx: DecideContext, bodies: PayloadBody[]): { hash: string; ref: string | null } {
  if (ctx.storePayloads !== true) return { hash: hashOf(value, field), ref: null };
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(value);
  } catch {
    hashOf(value, field); // throws INVALID_INPUT naming the field
    throw ledgerError('INVALID_INPUT', `cannot hash ${field}`, { path: field });
  }
  const hash = sha256Hex(bytes);
  bodies.push({ hash, bytes });
  return { hash, ref: hash };
}

/**
 * Hash for external (tier-3) data that may not be canonical JSON (quarantined
 * rows, validation and transform errors): canonical when possible, otherwise a
 * deterministic tagged rendering, so the hash is stable across processes.
 */
export function tier3Hash(value: unknown): string {
  if (jsonProblem(value) === null) return stableHash(value);
  return sha256Hex(`non-canonical-v1:${stableHash(tier3Json(value))}`);
}

/** Lone UTF-16 surrogates (not valid Unicode, so never exportable) become U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wellFormed = (s: string): string => (EXPORTABLE.string(s) ? s : s.replace(LONE_SURROGATE, '\uFFFD'));

/**
 * A JSON rendering of arbitrary data that keeps what is there and names what is not JSON. The
 * result always meets EXPORTABLE: strings and member names are made well-formed (a string that
 * had to be repaired is tagged), nesting stops at the exportable depth, and a `__proto__`
 * member stays an ordinary member.
 */
export function tier3Json(value: unknown, depth = 0): Json {
  if (depth >= EXPORTABLE.valueDepth) return { __non_canonical__: 'depth' };
  switch (typeof value) {
    case 'string':
      return EXPORTABLE.string(value) ? value : { __non_canonical__: 'string', value: wellFormed(value) };
    case 'boolean':
      return value;
    case 'number':
      if (!EXPORTABLE.number(value)) return { __non_canonical__: 'number', value: String(value) };
      return value;
    case 'bigint':
      return { __non_canonical__: 'bigint', value: value.toString() };
    case 'undefined':
      return { __non_canonical__: 'undefined' };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return Array.from(value, (v) => tier3Json(v, depth + 1));
      if (value instanceof Date) return { __non_canonical__: 'date', value: Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString() };
      const proto = Object.getPrototypeOf(value) as unknown;
      const out: Record<string, Json> = {};
      const put = (k: string, v: Json) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      if (proto !== Object.prototype && proto !== null) put('__non_canonical__', (value as { constructor?: { name?: string } }).constructor?.name ?? 'object');
      for (const k of Object.keys(value)) put(wellFormed(k), tier3Json((value as Record<string, unknown>)[k], depth + 1));
      return out;
    }
    default:
      return { __non_canonical__: typeof value };
  }
}

function asJsonOrTagged(value: unknown): Json {
  return jsonProblem(value) === null ? (value as Json) : tier3Json(value);
}

// ---------------------------------------------------------------------------
// Lookups that fail with the right code

function requireRunning(state: RunState): void {
  if (state.run === null) throw ledgerError('RUN_NOT_FOUND', `run ${state.runId} has not started`, { runId: state.runId });
  if (state.run.status !== 'running') {
    throw ledgerError('RUN_NOT_RUNNING', `run ${state.runId} is ${state.run.status} and accepts no more facts`, {
      runId: state.runId,
      status: state.run.status,
    });
  }
}

function requireNode(state: RunState, nodeId: string, field: string) {
  const n = state.nodes.get(nodeId);
  if (n === undefined) throw ledgerError('NODE_NOT_FOUND', `${field}: node ${nodeId} is not registered in run ${state.runId}`, { path: field, nodeId });
  return n;
}

function requireRow(state: RunState, rowId: string, field: string) {
  const r = state.rows.get(rowId);
  if (r === undefined) throw ledgerError('ROW_NOT_FOUND', `${field}: row ${rowId} does not exist in run ${state.runId}`, { path: field, rowId });
  return r;
}

function requireToken(state: RunState, tokenId: string, field: string): Token {
  const t = state.tokens.get(tokenId);
  if (t === undefined) throw ledgerError('TOKEN_NOT_FOUND', `${field}: token ${tokenId} does not exist in run ${state.runId}`, { path: field, tokenId });
  return t;
}

function requireLiveToken(state: RunState, tokenId: string, field: string): Token {
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

function requireState(state: RunState, stateId: string, field: string): NodeState {
  const s = state.nodeStates.get(stateId);
  if (s === undefined) throw ledgerError('STATE_NOT_FOUND', `${field}: node state ${stateId} does not exist in run ${state.runId}`, { path: field, stateId });
  return s;
}

function requireBatch(state: RunState, batchId: string, field: string) {
  const b = state.batches.get(batchId);
  if (b === undefined) throw ledgerError('BATCH_NOT_FOUND', `${field}: batch ${batchId} does not exist in run ${state.runId}`, { path: field, batchId });
  return b;
}

function requireFreshId(state: RunState, exists: boolean, id: string, field: string): void {
  if (exists) throw ledgerError('DUPLICATE_ID', `${field}: id ${id} is already used in run ${state.runId}`, { path: field, id });
}

function invalid(path: string, message: string): never {
  throw ledgerError('INVALID_INPUT', `${path}: ${message}`, { path });
}

function transition(message: string, details: Record<string, unknown>): never {
  throw ledgerError('INVALID_TRANSITION', message, details);
}

function ev<T extends EventType>(type: T, data: EventDataMap[T]): EventDraft {
  return { type, data } as EventDraft;
}

function one<R>(draft: EventDraft, result: R): Decision<R> {
  return { events: [draft], result };
}

function withBodies<R>(bodies: PayloadBody[], d: Decision<R>): Decision<R> {
  return bodies.length === 0 ? d : { ...d, bodies };
}

// ---------------------------------------------------------------------------
// Run

/** The RunStarted event for a new run (the run does not exist yet, so this is not a Decider). */
export function decideBeginRun(input: C.BeginRunInput): EventDataMap['RunStarted'] {
  const contract = input.schemaContract ?? null;
  return {
    config: input.config,
    configHash: hashOf(input.config, 'config'),
    canonicalVersion: input.canonicalVersion ?? CANONICAL_VERSION,
    reproducibilityGrade: input.reproducibilityGrade ?? null,
    sourceSchemaJson: input.sourceSchema ?? null,
    schemaContractJson: contract,
    schemaContractHash: contract === null ? null : hashOf(contract, 'schemaContract'),
  };
}

const DECIDERS: { [K in CommandName]: Decider<K> } = {
  registerNode(state, i, ctx) {
    requireRunning(state);
    const nodeId = i.nodeId ?? ctx.newId();
    requireFreshId(state, state.nodes.has(nodeId), nodeId, 'nodeId');
    const configHash = hashOf(i.config, 'config');
    return one(
      ev('NodeRegistered', {
        nodeId,
        pluginName: i.pluginName,
        nodeType: i.nodeType,
        pluginVersion: i.pluginVersion,
        determinism: i.determinism ?? 'deterministic',
        config: i.config,
        configHash,
        schemaHash: i.schemaHash ?? null,
        schemaMode: i.schemaMode ?? null,
        schemaFields: i.schemaFields ?? null,
        sequenceInPipeline: i.sequence ?? null,
        inputContractJson: i.inputContract ?? null,
        outputContractJson: i.outputContract ?? null,
      }),
      { nodeId, configHash },
    );
  },

  registerEdge(state, i, ctx) {
    requireRunning(state);
    requireNode(state, i.fromNodeId, 'fromNodeId');
    requireNode(state, i.toNodeId, 'toNodeId');
    const existing = state.edgeByLabel.get(edgeLabelKey(i.fromNodeId, i.label));
    if (existing !== undefined) {
      throw ledgerError('DUPLICATE_ID', `label: node ${i.fromNodeId} already has an edge labelled "${i.label}" (${existing})`, {
        path: 'label',
        edgeId: existing,
      });
    }
    const edgeId = i.edgeId ?? ctx.newId();
    requireFreshId(state, state.edges.has(edgeId), edgeId, 'edgeId');
    return one(ev('EdgeRegistered', { edgeId, fromNodeId: i.fromNodeId, toNodeId: i.toNodeId, label: i.label, defaultMode: i.mode }), { edgeId });
  },

  createRow(state, i, ctx) {
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
  },

  createToken(state, i, ctx) {
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
  },

  forkToken(state, i, ctx) {
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
  },

  expandToken(state, i, ctx) {
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
  },

  coalesceTokens(state, i, ctx) {
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
  },

  beginNodeState(state, i, ctx) {
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
  },

  completeNodeState(state, i) {
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
  },

  recordRoutingEvent(state, i, ctx) {
    const d = routingDecision(state, { stateId: i.stateId, routes: [{ edgeId: i.edgeId, mode: i.mode }], reason: i.reason }, ctx, 'edgeId');
    return withBodies(d.bodies, one(d.event, { eventId: d.eventIds[0]!, routingGroupId: d.routingGroupId }));
  },

  recordRoutingEvents(state, i, ctx) {
    const d = routingDecision(state, i, ctx, null);
    return withBodies(d.bodies, one(d.event, { routingGroupId: d.routingGroupId, eventIds: d.eventIds }));
  },

  recordCall(state, i, ctx) {
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
  },

  beginOperation(state, i, ctx) {
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
  },

  completeOperation(state, i, ctx) {
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
  },

  createBatch(state, i, ctx) {
    requireRunning(state);
    const node = requireNode(state, i.aggregationNodeId, 'aggregationNodeId');
    if (node.nodeType !== 'aggregation') invalid('aggregationNodeId', `node ${node.nodeId} is a ${node.nodeType}, not an aggregation`);
    const batchId = i.batchId ?? ctx.newId();
    requireFreshId(state, state.batches.has(batchId) || state.groups.has(batchId), batchId, 'batchId');
    const attempt = i.attempt ?? 0;
    return one(ev('BatchCreated', { batchId, aggregationNodeId: i.aggregationNodeId, attempt }), { batchId, attempt });
  },

  addBatchMember(state, i) {
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
  },

  updateBatchStatus(state, i) {
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
  },

  retryBatch(state, i, ctx) {
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
  },

  recordBatchOutputs(state, i, ctx) {
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
  },

  registerArtifact(state, i, ctx) {
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
  },

  recordTokenOutcome(state, i, ctx) {
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
  },

  recordValidationError(state, i, ctx) {
    requireRunning(state);
    if (i.nodeId !== undefined) requireNode(state, i.nodeId, 'nodeId');
    const errorId = ctx.newId();
    const rowHash = tier3Hash(i.rowData);
    const v = i.violation;
    return one(
      ev('ValidationErrorRecorded', {
        errorId,
        nodeId: i.nodeId ?? null,
        rowIndex: i.rowIndex ?? null,
        rowHash,
        rowDataJson: asJsonOrTagged(i.rowData),
        error: i.error,
        schemaMode: i.schemaMode,
        destination: i.destination,
        violationType: v?.violationType ?? null,
        originalFieldName: v?.originalFieldName ?? null,
        normalizedFieldName: v?.normalizedFieldName ?? null,
        expectedType: v?.expectedType ?? null,
        actualType: v?.actualType ?? null,
      }),
      { errorId, rowHash },
    );
  },

  recordTransformError(state, i, ctx) {
    requireRunning(state);
    requireToken(state, i.tokenId, 'tokenId');
    requireNode(state, i.transformId, 'transformId');
    const errorId = ctx.newId();
    const rowHash = tier3Hash(i.rowData);
    return one(
      ev('TransformErrorRecorded', {
        errorId,
        tokenId: i.tokenId,
        transformId: i.transformId,
        rowHash,
        rowDataJson: asJsonOrTagged(i.rowData),
        errorDetailsJson: asJsonOrTagged(i.errorDetails),
        destination: i.destination,
      }),
      { errorId, rowHash },
    );
  },

  recordSecretResolutions(state, list, ctx) {
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
  },

  recordPreflightResults(state, list, ctx) {
    requireRunning(state);
    const results = list.map((r) => ({ resultId: ctx.newId(), resultType: r.resultType, name: r.name, resultJson: r.result }));
    return one(ev('PreflightRecorded', { results }), { resultIds: results.map((r) => r.resultId) });
  },

  recordCheckpoint(state, i, ctx) {
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
  },

  recordSourceFieldResolution(state, i) {
    requireRunning(state);
    if (state.run!.sourceFieldResolutionJson !== null) transition('the source field resolution is already recorded for this run', {});
    return one(
      ev('SourceFieldResolutionRecorded', { resolutionMapping: i.resolutionMapping, normalizationVersion: i.normalizationVersion ?? null }),
      {},
    );
  },

  updateRunContract(state, i) {
    requireRunning(state);
    if (state.run!.schemaContractJson !== null) transition('the run already has a schema contract; it is locked once', {});
    const schemaContractHash = hashOf(i.contract, 'contract');
    return one(ev('RunContractLocked', { schemaContractJson: i.contract, schemaContractHash }), { schemaContractHash });
  },

  updateNodeOutputContract(state, i) {
    requireRunning(state);
    requireNode(state, i.nodeId, 'nodeId');
    return one(ev('NodeOutputContractUpdated', { nodeId: i.nodeId, outputContractJson: i.contract }), {});
  },

  setExportStatus(state, i) {
    if (state.run === null) throw ledgerError('RUN_NOT_FOUND', `run ${state.runId} has not started`, { runId: state.runId });
    if (i.error !== undefined && i.status !== 'failed') invalid('error', 'an export error goes only with status failed');
    if (i.status === 'failed' && i.error === undefined) invalid('error', 'a failed export needs its error');
    return one(
      ev('ExportStatusChanged', { status: i.status, error: i.error ?? null, format: i.format ?? null, sink: i.sink ?? null }),
      { status: i.status },
    );
  },

  updateRunStatus(state, i) {
    if (state.run === null) throw ledgerError('RUN_NOT_FOUND', `run ${state.runId} has not started`, { runId: state.runId });
    if (state.run.status !== 'interrupted') {
      transition(`status: run ${state.runId} is ${state.run.status}; only an interrupted run can resume running`, {
        path: 'status',
        from: state.run.status,
        to: i.status,
      });
    }
    return one(ev('RunStatusChanged', { status: i.status, reason: i.reason ?? null }), { status: i.status });
  },

  complete(state, i) {
    requireRunning(state);
    if (i.status === 'completed') {
      const tokens = [...state.unfinishedTokens];
      const states = [...state.unfinishedStates];
      const operations = [...state.operations.values()].filter((o) => o.status === 'open').map((o) => o.operationId);
      if (tokens.length + states.length + operations.length > 0) {
        const parts: string[] = [];
        if (tokens.length > 0) parts.push(`${tokens.length} token(s) without a terminal outcome (${sample(tokens)})`);
        if (states.length > 0) parts.push(`${states.length} node state(s) still open or pending (${sample(states)})`);
        if (operations.length > 0) parts.push(`${operations.length} operation(s) still open (${sample(operations)})`);
        throw ledgerError('RUN_INCOMPLETE', `run ${state.runId} cannot complete as completed: ${parts.join('; ')}`, {
          unfinishedTokens: tokens,
          unfinishedStates: states,
          openOperations: operations,
        });
      }
    }
    const reproducibilityGrade = i.reproducibilityGrade ?? reproducibilityGradeOf(state);
    return one(ev('RunCompleted', { status: i.status, reproducibilityGrade }), { status: i.status, reproducibilityGrade });
  },
};

/**
 * The PayloadsPurged event of a retention purge. Allowed on an ended run (completed or failed)
 * although it accepts no other facts; only the ledger's purge API writes it. A running or
 * interrupted run is never purged (INVALID_TRANSITION).
 */
export function decidePayloadsPurged(
  runId: string,
  status: string,
  hashes: string[],
  purgedAt: string,
  reproducibilityGrade: 'attributable_only' | null,
): EventDraft {
  if (status !== 'completed' && status !== 'failed') {
    transition(`run ${runId} is ${status}; only the payloads of an ended (completed or failed) run are purged`, { runId, status });
  }
  return ev('PayloadsPurged', { hashes, purgedAt, reproducibilityGrade });
}

/** Node determinism that makes a run replay-reproducible at best: its outputs depend on the world, so reproducing it needs the recorded payloads. */
export const REPLAY_DETERMINISM: ReadonlySet<string> = new Set(['external_call', 'non_deterministic', 'io_read', 'io_write']);

/**
 * The reproducibility grade of a run as it completes (Landscape's rule): replay_reproducible when
 * any node's determinism is in REPLAY_DETERMINISM or any external call was recorded, otherwise
 * (deterministic and seeded nodes only) full_reproducible. A purge of payloads later lowers
 * replay_reproducible to attributable_only.
 */
export function reproducibilityGradeOf(state: RunState): 'full_reproducible' | 'replay_reproducible' {
  for (const n of state.nodes.values()) if (REPLAY_DETERMINISM.has(n.determinism)) return 'replay_reproducible';
  return state.calls.size > 0 ? 'replay_reproducible' : 'full_reproducible';
}

function sample(ids: string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')}, ...`;
}

function sameRow(token: Token, rowId: string, field: string): void {
  if (token.rowId !== rowId) {
    throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: token ${token.tokenId} belongs to row ${token.rowId}, not row ${rowId}`, {
      path: field,
      tokenId: token.tokenId,
      rowId: token.rowId,
    });
  }
}

function routingDecision(
  state: RunState,
  i: { stateId: string; routes: ReadonlyArray<{ edgeId: string; mode: 'move' | 'copy' | 'divert' }>; reason?: Json },
  ctx: DecideContext,
  singleField: string | null,
): { event: EventDraft; routingGroupId: string; eventIds: string[]; bodies: PayloadBody[] } {
  requireRunning(state);
  const ns = requireState(state, i.stateId, 'stateId');
  if (ns.status === 'open' || ns.status === 'pending') {
    transition(
      `stateId: node state ${i.stateId} is ${ns.status}; routing is recorded after the state completes (or fails), so a decision that later fails leaves no ghost route`,
      { path: 'stateId', status: ns.status },
    );
  }
  const seen = new Set<string>();
  const routes = i.routes.map((r, ordinal) => {
    const field = singleField ?? `routes[${ordinal}].edgeId`;
    const edge = state.edges.get(r.edgeId);
    if (edge === undefined) throw ledgerError('EDGE_NOT_FOUND', `${field}: edge ${r.edgeId} is not registered in run ${state.runId}`, { path: field });
    if (edge.fromNodeId !== ns.nodeId) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: edge ${r.edgeId} leaves node ${edge.fromNodeId}, not the state's node ${ns.nodeId}`, {
        path: field,
      });
    }
    if (seen.has(r.edgeId)) invalid(field, `edge ${r.edgeId} is listed twice`);
    seen.add(r.edgeId);
    return { eventId: ctx.newId(), edgeId: r.edgeId, mode: r.mode, ordinal };
  });
  const routingGroupId = ctx.newId();
  const bodies: PayloadBody[] = [];
  const reason = i.reason === undefined ? null : payloadOf(i.reason, 'reason', ctx, bodies);
  return {
    event: ev('RoutingDecided', {
      stateId: i.stateId,
      routingGroupId,
      routes,
      reasonHash: reason?.hash ?? null,
      reasonRef: reason?.ref ?? null,
    }),
    routingGroupId,
    eventIds: routes.map((r) => r.eventId),
    bodies,
  };
}

/** Decides a command against the run state. Never throws: every rejection is a Left with a LedgerError. */
export function decide<K extends CommandName>(state: RunState, name: K, input: CommandInputs[K], ctx: DecideContext): Either<LedgerError, Decision<CommandResults[K]>> {
  try {
    return right((DECIDERS[name] as Decider<K>)(state, input, ctx));
  } catch (e) {
    if (isLedgerError(e)) return left(e);
    throw e;
  }
}
