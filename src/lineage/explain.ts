/**
 * Lineage queries over a run projection: pure functions of a RunState.
 *
 * - `explainToken(state, tokenId)`: the token's WHOLE ancestor DAG back to its
 *   source row(s), through fork, expand, coalesce (join) and batch membership
 *   (an aggregation output leads back to every batch member), with every
 *   ancestor's node states (all attempts), routing decisions, calls, outcomes
 *   and errors, and each source row with its hash and validation errors.
 * - `explainRow(state, { rowId | rowIndex }, { sink })`: every path that ends
 *   what happened to a source row (see `rowPathEnds`), each explained in full;
 *   several paths are an answer, never a refusal.
 * - `descendants(state, { rowId | rowIndex | tokenId })`: what became of an
 *   input: every descendant token, the groups it passed through (with their
 *   other members, e.g. the siblings expanded from the same deaggregation step
 *   and the other rows' members of a batch) and the outputs.
 *
 * Cost: explain walks only the token's ancestry (breadth-first over the
 * projection's `parents` index) and reads each ancestor's states, routing,
 * calls, outcomes and errors from per-entity indexes; nothing scans the run.
 *
 * Results are plain JSON-serialisable objects with camelCase fields (entity
 * fields as in the projection; absent values are null). They are copies: later
 * events folded into the state do not change a result already returned.
 */
import { ledgerError } from '../errors';
import { groupFieldCount, groupNamed, isDelegatingOutcome } from '../events/outcomes';
import type {
  Batch,
  BatchMember,
  BatchOutput,
  Call,
  NodeState,
  RoutingEvent,
  Row,
  Token,
  TokenOutcome,
  TransformError,
  ValidationError,
} from '../projections/entities';
import type { GroupKind, RunState } from '../projections/state';
import { isPayloadHash, PayloadAvailability, PayloadStore } from '../payloads/store';

/**
 * What explain can say about one payload body:
 * - store_not_configured: the ledger has no payload store;
 * - never_stored: no reference was recorded (or a reference outside this payload store);
 * - available: the body is there and matches its name (`data` is the parsed JSON);
 * - purged: the body is gone and the run recorded its purge;
 * - integrity_error: the body is gone without a recorded purge (`reason: 'missing'`), or its
 *   bytes do not match their hash (`reason: 'mismatch'`); the bytes are never returned.
 */
export interface PayloadEntry {
  readonly status: PayloadAvailability;
  readonly hash: string | null;
  readonly data?: unknown;
  readonly purgedAt?: string;
  readonly reason?: 'missing' | 'mismatch' | 'not_json' | 'external_ref';
}

export interface ExplainOptions {
  /** The payload store to read bodies from; null or absent: none configured. */
  readonly payloads?: PayloadStore | null;
}

/** The payload entry of a recorded hash and reference (see PayloadEntry). Reads only that one body. */
export function payloadEntry(state: RunState, store: PayloadStore | null, hash: string | null, ref: string | null): PayloadEntry {
  if (store === null) return { status: 'store_not_configured', hash };
  if (ref === null) return { status: 'never_stored', hash };
  if (!isPayloadHash(ref)) return { status: 'never_stored', hash, reason: 'external_ref' };
  const read = store.get(ref);
  if (read.status === 'integrity_error') return { status: 'integrity_error', hash, reason: 'mismatch' };
  if (read.status === 'missing') {
    const purgedAt = state.purgedPayloads.get(ref);
    return purgedAt !== undefined ? { status: 'purged', hash, purgedAt } : { status: 'integrity_error', hash, reason: 'missing' };
  }
  try {
    return { status: 'available', hash, data: JSON.parse(read.bytes.toString('utf8')) as unknown };
  } catch {
    return { status: 'integrity_error', hash, reason: 'not_json' };
  }
}

// ---------------------------------------------------------------------------
// Result types

/** Where in the run's history a result was computed: the last event folded in. */
export interface LineageAsOf {
  readonly seq: number;
  readonly recordedAt: string | null;
}

export interface ExplainedRouting extends RoutingEvent {
  /** The edge's label, and the node it leads to (null when the edge is unknown). */
  readonly label: string | null;
  readonly toNodeId: string | null;
  readonly toNodeName: string | null;
}

export interface ExplainedCall extends Call {
  readonly requestPayload: PayloadEntry;
  readonly responsePayload: PayloadEntry;
}

export interface ExplainedState extends NodeState {
  /** The node's plugin name and type (null when the node is unknown). */
  readonly nodeName: string | null;
  readonly nodeType: string | null;
  readonly routing: ExplainedRouting[];
  readonly calls: ExplainedCall[];
  /** Artifacts this state wrote into. */
  readonly artifactIds: string[];
}

/** One ordered parent link of a token, with the group that created the token. */
export interface ParentLink {
  readonly parentTokenId: string;
  readonly ordinal: number;
  readonly groupKind: GroupKind | null;
  readonly groupId: string | null;
}

export interface ExplainedToken extends Token {
  /** The row's index (null when the row is unknown). */
  readonly rowIndex: number | null;
  /** Hops from the explained token (0 = the token itself). */
  readonly depth: number;
  readonly parents: ParentLink[];
  /** The terminal outcome, or else the latest non-terminal one (buffered), or null. */
  readonly outcome: TokenOutcome | null;
  readonly terminal: boolean;
  /** Every outcome recorded for the token, in order (e.g. buffered, then consumed_in_batch). */
  readonly outcomes: TokenOutcome[];
  /** Node states, by step index then attempt (every attempt). */
  readonly states: ExplainedState[];
  readonly transformErrors: TransformError[];
  /** Batches the token was a member of. */
  readonly batchIds: string[];
}

export interface ExplainedRow extends Row {
  readonly sourceNodeName: string | null;
  /**
   * The ledger stores hashes, never payload bodies: `sourceDataRef` names where
   * the payload lives when the pipeline kept it (null otherwise).
   */
  readonly payloadAvailable: boolean;
  /** The source data: its status, and the data itself when available. */
  readonly payload: PayloadEntry;
  /** Validation errors recorded for the same data (matched by hash). */
  readonly validationErrors: ValidationError[];
}

export interface ExplainedGroup {
  readonly groupId: string;
  readonly kind: GroupKind;
  readonly parentTokenIds: string[];
  readonly childTokenIds: string[];
  /** seq of the event that created the group. */
  readonly seq: number;
}

export interface ExplainedBatch extends Batch {
  readonly aggregationNodeName: string | null;
  readonly members: BatchMember[];
  readonly outputs: BatchOutput[];
}

/** A parent link in the lineage graph (data flows parent → child). */
export interface LineageEdge {
  readonly parentTokenId: string;
  readonly childTokenId: string;
  readonly ordinal: number;
  readonly groupKind: GroupKind | null;
  readonly groupId: string | null;
}

/** A gap met while walking the lineage (only possible in runs written around the recorder). */
export interface LineageProblem {
  readonly tokenId: string;
  readonly message: string;
}

export interface TokenExplanation {
  readonly runId: string;
  readonly asOf: LineageAsOf;
  readonly tokenId: string;
  /** The explained token first, then its ancestors breadth-first (parents by ordinal). */
  readonly tokens: ExplainedToken[];
  readonly edges: LineageEdge[];
  /** Every fork, expand, join and batch group crossed, in order of first crossing. */
  readonly groups: ExplainedGroup[];
  /** Every batch crossed. */
  readonly batches: ExplainedBatch[];
  /** Every contributing source row, by row index. */
  readonly sourceRows: ExplainedRow[];
  readonly problems: LineageProblem[];
}

export interface RowQuery {
  readonly rowId?: string;
  readonly rowIndex?: number;
}

export interface RowExplanation {
  readonly runId: string;
  readonly asOf: LineageAsOf;
  readonly row: ExplainedRow;
  readonly sink: string | null;
  /** One full explanation per path end (see rowPathEnds), in token creation order. */
  readonly paths: TokenExplanation[];
}

export interface DescendantState {
  readonly stateId: string;
  readonly nodeId: string;
  readonly nodeName: string | null;
  readonly stepIndex: number;
  readonly attempt: number;
  readonly status: string;
}

/** How a token was created from its parents: the group and the other tokens created by it. */
export interface CreatedBy {
  readonly groupKind: GroupKind | null;
  readonly groupId: string | null;
  readonly parentTokenIds: string[];
  readonly siblingTokenIds: string[];
}

export interface DescendantToken {
  readonly tokenId: string;
  readonly rowId: string;
  readonly rowIndex: number | null;
  readonly branchName: string | null;
  readonly depth: number;
  readonly forkGroupId: string | null;
  readonly joinGroupId: string | null;
  readonly expandGroupId: string | null;
  readonly batchId: string | null;
  /** null for a token without parents. */
  readonly createdBy: CreatedBy | null;
  readonly childTokenIds: string[];
  readonly outcome: TokenOutcome | null;
  readonly terminal: boolean;
  /** True when the token ends a path (see rowPathEnds). */
  readonly pathEnd: boolean;
  readonly states: DescendantState[];
}

export interface DescendantGroup extends ExplainedGroup {
  /** Rows of every parent and child token of the group, by row index (a batch gathers several rows). */
  readonly rows: { rowId: string; rowIndex: number | null }[];
}

export interface DescendantsQuery extends RowQuery {
  readonly tokenId?: string;
}

export interface Descendants {
  readonly runId: string;
  readonly asOf: LineageAsOf;
  readonly from: { rowId: string | null; rowIndex: number | null; tokenId: string | null };
  /** Breadth-first from the starting token(s) (depth 0). */
  readonly tokens: DescendantToken[];
  readonly edges: LineageEdge[];
  /** Every group in which a token of the set is a parent or a child, with all its members. */
  readonly groups: DescendantGroup[];
  /** The path ends: tokens whose outcome ends the row's journey here, or that have not finished. */
  readonly outputs: string[];
}

/** Ledger-level queries: a run and a token, or a run and a row (by id or index, optionally one sink). */
export interface TokenLineageQuery {
  readonly runId: string;
  readonly tokenId: string;
}

export interface RowLineageQuery {
  readonly runId: string;
  readonly rowId?: string;
  readonly rowIndex?: number;
  /** Keep only the paths whose terminal outcome names this sink. */
  readonly sink?: string;
}

export type LineageQuery = TokenLineageQuery | RowLineageQuery;

export interface DescendantsLedgerQuery {
  readonly runId: string;
  readonly tokenId?: string;
  readonly rowId?: string;
  readonly rowIndex?: number;
}

/**
 * Checks the shape of a ledger-level query (INVALID_INPUT naming the field):
 * a runId, and either a tokenId or a row (rowId and/or rowIndex); `sink` only
 * with a row (and only when `allowSink`).
 */
export function validateLineageQuery(
  query: unknown,
  allowSink: boolean,
): { runId: string; tokenId?: string; rowId?: string; rowIndex?: number; sink?: string } {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) throw ledgerError('INVALID_INPUT', 'query: give an object with runId and tokenId, rowId or rowIndex', { path: 'query' });
  const q = query as Record<string, unknown>;
  const allowed = new Set(['runId', 'tokenId', 'rowId', 'rowIndex', ...(allowSink ? ['sink'] : [])]);
  for (const k of Object.keys(q)) if (!allowed.has(k)) throw ledgerError('INVALID_INPUT', `${k}: unknown query field`, { path: k });
  const str = (k: string): string | undefined => {
    const v = q[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw ledgerError('INVALID_INPUT', `${k}: expected a non-empty string`, { path: k });
    return v;
  };
  const runId = str('runId');
  if (runId === undefined) throw ledgerError('INVALID_INPUT', 'runId: required', { path: 'runId' });
  const tokenId = str('tokenId');
  const rowId = str('rowId');
  const sink = str('sink');
  const rowIndex = q.rowIndex;
  if (rowIndex !== undefined && (typeof rowIndex !== 'number' || !Number.isSafeInteger(rowIndex) || rowIndex < 0)) {
    throw ledgerError('INVALID_INPUT', `rowIndex: ${String(rowIndex)} is not a row index (a non-negative integer)`, { path: 'rowIndex' });
  }
  const hasRow = rowId !== undefined || rowIndex !== undefined;
  if (tokenId !== undefined && hasRow) throw ledgerError('INVALID_INPUT', 'tokenId: give a tokenId or a row (rowId, rowIndex), not both', { path: 'tokenId' });
  if (tokenId === undefined && !hasRow) throw ledgerError('INVALID_INPUT', 'tokenId: give a tokenId, a rowId or a rowIndex', { path: 'tokenId' });
  if (sink !== undefined && tokenId !== undefined) throw ledgerError('INVALID_INPUT', 'sink: a sink filters the paths of a row; a token has one path', { path: 'sink' });
  return {
    runId,
    ...(tokenId !== undefined ? { tokenId } : {}),
    ...(rowId !== undefined ? { rowId } : {}),
    ...(rowIndex !== undefined ? { rowIndex: rowIndex as number } : {}),
    ...(sink !== undefined ? { sink } : {}),
  };
}

// ---------------------------------------------------------------------------
// Outcome classification, derived from the one outcome table

// ---------------------------------------------------------------------------
// Helpers

function asOfOf(state: RunState): LineageAsOf {
  return { seq: state.version, recordedAt: state.lastRecordedAt };
}

function nodeName(state: RunState, nodeId: string): string | null {
  return state.nodes.get(nodeId)?.pluginName ?? null;
}

/** The group that created a token, from its group id fields (null when it has none). */
export function creatingGroup(token: Token): { kind: GroupKind; groupId: string } | null {
  return groupNamed(token);
}

function parentLinks(state: RunState, token: Token): ParentLink[] {
  const links = state.parents.get(token.tokenId) ?? [];
  const group = creatingGroup(token);
  return [...links]
    .sort((a, b) => a.ordinal - b.ordinal)
    .map((l) => ({ parentTokenId: l.parentTokenId, ordinal: l.ordinal, groupKind: group?.kind ?? null, groupId: group?.groupId ?? null }));
}

function outcomesOf(state: RunState, tokenId: string): TokenOutcome[] {
  const out: TokenOutcome[] = [];
  for (const id of state.outcomesByToken.get(tokenId) ?? []) {
    const o = state.outcomes.get(id);
    if (o !== undefined) out.push({ ...o });
  }
  return out;
}

function currentOf(state: RunState, tokenId: string): { outcome: TokenOutcome | null; terminal: boolean } {
  const terminalId = state.terminalOutcome.get(tokenId);
  if (terminalId !== undefined) {
    const o = state.outcomes.get(terminalId);
    if (o !== undefined) return { outcome: { ...o }, terminal: true };
  }
  const ids = state.outcomesByToken.get(tokenId);
  if (ids === undefined || ids.length === 0) return { outcome: null, terminal: false };
  const last = state.outcomes.get(ids[ids.length - 1]!);
  return { outcome: last === undefined ? null : { ...last }, terminal: false };
}

function statesOf(state: RunState, tokenId: string): NodeState[] {
  const out: NodeState[] = [];
  for (const id of state.statesByToken.get(tokenId) ?? []) {
    const s = state.nodeStates.get(id);
    if (s !== undefined) out.push(s);
  }
  // stable: by step, then attempt, then opening order
  return out.sort((a, b) => a.stepIndex - b.stepIndex || a.attempt - b.attempt);
}

function explainState(state: RunState, ns: NodeState, store: PayloadStore | null): ExplainedState {
  const node = state.nodes.get(ns.nodeId);
  const routing: ExplainedRouting[] = [];
  for (const id of state.routingByState.get(ns.stateId) ?? []) {
    const r = state.routingEvents.get(id);
    if (r === undefined) continue;
    const edge = state.edges.get(r.edgeId);
    routing.push({
      ...r,
      label: edge?.label ?? null,
      toNodeId: edge?.toNodeId ?? null,
      toNodeName: edge === undefined ? null : nodeName(state, edge.toNodeId),
    });
  }
  const calls: ExplainedCall[] = [];
  for (const id of state.callsByState.get(ns.stateId) ?? []) {
    const c = state.calls.get(id);
    if (c !== undefined) {
      calls.push({
        ...c,
        requestPayload: payloadEntry(state, store, c.requestHash, c.requestRef),
        responsePayload: payloadEntry(state, store, c.responseHash, c.responseRef),
      });
    }
  }
  calls.sort((a, b) => a.callIndex - b.callIndex);
  return {
    ...ns,
    nodeName: node?.pluginName ?? null,
    nodeType: node?.nodeType ?? null,
    routing,
    calls,
    artifactIds: [...(state.artifactsByState.get(ns.stateId) ?? [])],
  };
}

function explainRowEntity(state: RunState, row: Row, store: PayloadStore | null): ExplainedRow {
  const validationErrors: ValidationError[] = [];
  for (const id of state.validationErrorsByHash.get(row.sourceDataHash) ?? []) {
    const v = state.validationErrors.get(id);
    if (v !== undefined) validationErrors.push({ ...v });
  }
  const payload = payloadEntry(state, store, row.sourceDataHash, row.sourceDataRef);
  return {
    ...row,
    sourceNodeName: nodeName(state, row.sourceNodeId),
    payloadAvailable: payload.status === 'available',
    payload,
    validationErrors,
  };
}

function explainBatch(state: RunState, batch: Batch): ExplainedBatch {
  return {
    ...batch,
    aggregationNodeName: nodeName(state, batch.aggregationNodeId),
    members: (state.batchMembers.get(batch.batchId) ?? []).map((m) => ({ ...m })),
    outputs: (state.batchOutputs.get(batch.batchId) ?? []).map((o) => ({ ...o })),
  };
}

function copyGroup(state: RunState, groupId: string): ExplainedGroup | null {
  const g = state.groups.get(groupId);
  if (g === undefined) return null;
  return { groupId: g.groupId, kind: g.kind, parentTokenIds: [...g.parentTokenIds], childTokenIds: [...g.childTokenIds], seq: g.seq };
}

function requireRow(state: RunState, query: RowQuery): Row {
  const { rowId, rowIndex } = query;
  if (rowId === undefined && rowIndex === undefined) throw ledgerError('INVALID_INPUT', 'give a rowId or a rowIndex', { path: 'rowId' });
  if (rowIndex !== undefined && (!Number.isSafeInteger(rowIndex) || rowIndex < 0)) {
    throw ledgerError('INVALID_INPUT', `rowIndex: ${String(rowIndex)} is not a row index`, { path: 'rowIndex' });
  }
  let id = rowId;
  if (rowIndex !== undefined) {
    const byIndex = state.rowByIndex.get(rowIndex);
    if (byIndex === undefined) {
      throw ledgerError('ROW_NOT_FOUND', `rowIndex: run ${state.runId} has no row with index ${rowIndex} (as of seq ${state.version})`, {
        path: 'rowIndex',
        rowIndex,
        runId: state.runId,
      });
    }
    if (rowId !== undefined && rowId !== byIndex) {
      throw ledgerError('INVALID_INPUT', `rowId: row ${rowId} is not row index ${rowIndex} (that is row ${byIndex})`, { path: 'rowId' });
    }
    id = byIndex;
  }
  const row = state.rows.get(id!);
  if (row === undefined) {
    throw ledgerError('ROW_NOT_FOUND', `rowId: row ${id!} does not exist in run ${state.runId} (as of seq ${state.version})`, { path: 'rowId', rowId: id, runId: state.runId });
  }
  return row;
}

function requireToken(state: RunState, tokenId: string): Token {
  if (typeof tokenId !== 'string' || tokenId.length === 0) throw ledgerError('INVALID_INPUT', 'tokenId: give a token id', { path: 'tokenId' });
  const token = state.tokens.get(tokenId);
  if (token === undefined) {
    throw ledgerError('TOKEN_NOT_FOUND', `tokenId: token ${tokenId} does not exist in run ${state.runId} (as of seq ${state.version})`, {
      path: 'tokenId',
      tokenId,
      runId: state.runId,
    });
  }
  return token;
}

// ---------------------------------------------------------------------------
// explain

/** The whole ancestor DAG of one token. TOKEN_NOT_FOUND when the run has no such token. */
export function explainToken(state: RunState, tokenId: string, options: ExplainOptions = {}): TokenExplanation {
  requireToken(state, tokenId);
  const store = options.payloads ?? null;
  const tokens: ExplainedToken[] = [];
  const edges: LineageEdge[] = [];
  const groups: ExplainedGroup[] = [];
  const seenGroups = new Set<string>();
  const batches: ExplainedBatch[] = [];
  const seenBatches = new Set<string>();
  const rows = new Map<string, ExplainedRow>();
  const problems: LineageProblem[] = [];

  const addBatch = (batchId: string): void => {
    if (seenBatches.has(batchId)) return;
    seenBatches.add(batchId);
    const b = state.batches.get(batchId);
    if (b !== undefined) batches.push(explainBatch(state, b));
  };

  const depthOf = new Map<string, number>([[tokenId, 0]]);
  const queue: string[] = [tokenId];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    const depth = depthOf.get(id)!;
    const token = state.tokens.get(id)!;
    const links = parentLinks(state, token);
    const group = creatingGroup(token);

    if (groupFieldCount(token) > 1) problems.push({ tokenId: id, message: `token ${id} carries more than one group id` });
    if (group !== null && links.length === 0) problems.push({ tokenId: id, message: `token ${id} has ${group.kind} group ${group.groupId} but no parent links` });
    if (group === null && links.length > 0) problems.push({ tokenId: id, message: `token ${id} has parent links but no group id` });
    if (group !== null && !seenGroups.has(group.groupId)) {
      seenGroups.add(group.groupId);
      const g = copyGroup(state, group.groupId);
      if (g === null) problems.push({ tokenId: id, message: `token ${id} names ${group.kind} group ${group.groupId}, which was never created` });
      else {
        if (g.kind !== group.kind) problems.push({ tokenId: id, message: `token ${id} names ${group.kind} group ${group.groupId}, which is a ${g.kind} group` });
        groups.push(g);
      }
      if (group.kind === 'batch') addBatch(group.groupId);
    }

    const batchIds = [...(state.batchesByToken.get(id) ?? [])];
    for (const b of batchIds) addBatch(b);

    const row = state.rows.get(token.rowId);
    if (row === undefined) problems.push({ tokenId: id, message: `token ${id} names row ${token.rowId}, which does not exist` });
    else if (!rows.has(row.rowId)) rows.set(row.rowId, explainRowEntity(state, row, store));

    const { outcome, terminal } = currentOf(state, id);
    const transformErrors: TransformError[] = [];
    for (const eid of state.transformErrorsByToken.get(id) ?? []) {
      const e = state.transformErrors.get(eid);
      if (e !== undefined) transformErrors.push({ ...e });
    }
    tokens.push({
      ...token,
      rowIndex: row?.rowIndex ?? null,
      depth,
      parents: links,
      outcome,
      terminal,
      outcomes: outcomesOf(state, id),
      states: statesOf(state, id).map((ns) => explainState(state, ns, store)),
      transformErrors,
      batchIds,
    });

    for (const l of links) {
      edges.push({ parentTokenId: l.parentTokenId, childTokenId: id, ordinal: l.ordinal, groupKind: l.groupKind, groupId: l.groupId });
      if (depthOf.has(l.parentTokenId)) continue;
      if (!state.tokens.has(l.parentTokenId)) {
        problems.push({ tokenId: id, message: `token ${id} names parent ${l.parentTokenId}, which does not exist` });
        continue;
      }
      depthOf.set(l.parentTokenId, depth + 1);
      queue.push(l.parentTokenId);
    }
  }

  // The rows of every token in the ancestry. For runs the recorder wrote these
  // are exactly the rows of the root tokens (fork, expand and join children
  // keep their parent's row; a batch output is filed under its first member's row).
  const sourceRows = [...rows.values()].sort((a, b) => a.rowIndex - b.rowIndex);
  return { runId: state.runId, asOf: asOfOf(state), tokenId, tokens, edges, groups, batches, sourceRows, problems };
}

/**
 * The tokens that end a row's paths: every descendant of the row's tokens
 * (following children through fork, expand, coalesce and batch outputs, so a
 * batch output and its expansion children count for every member's row) that
 * either has a terminal outcome that does not hand the row on (completed,
 * routed, failed, quarantined, diverted), or has no children (a token still
 * in flight, buffered, or one whose delegation produced nothing). With `sink`,
 * only tokens whose terminal outcome names that sink.
 */
export function rowPathEnds(state: RunState, query: RowQuery, options: { sink?: string } = {}): string[] {
  const row = requireRow(state, query);
  const reached = walkDescendants(state, state.tokensByRow.get(row.rowId) ?? []);
  const out: string[] = [];
  for (const id of reached.order) {
    if (!isPathEnd(state, id)) continue;
    if (options.sink !== undefined) {
      const t = state.terminalOutcome.get(id);
      if (t === undefined || state.outcomes.get(t)?.sinkName !== options.sink) continue;
    }
    out.push(id);
  }
  return out;
}

function isPathEnd(state: RunState, tokenId: string): boolean {
  const t = state.terminalOutcome.get(tokenId);
  const outcome = t === undefined ? undefined : state.outcomes.get(t);
  if (outcome !== undefined && !isDelegatingOutcome(outcome.outcome)) return true;
  return (state.children.get(tokenId) ?? []).length === 0;
}

/** Every path of a source row, each explained in full. ROW_NOT_FOUND when the run has no such row. */
export function explainRow(state: RunState, query: RowQuery, options: { sink?: string } & ExplainOptions = {}): RowExplanation {
  const row = requireRow(state, query);
  const ends = rowPathEnds(state, { rowId: row.rowId }, options);
  const byCreation = ends
    .map((id) => ({ id, at: state.tokens.get(id)!.createdAt }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    .map((e) => e.id);
  return {
    runId: state.runId,
    asOf: asOfOf(state),
    row: explainRowEntity(state, row, options.payloads ?? null),
    sink: options.sink ?? null,
    paths: byCreation.map((id) => explainToken(state, id, options)),
  };
}

// ---------------------------------------------------------------------------
// descendants

/** Breadth-first over `children` from `starts` (depth 0); continues into `walk` when given. */
function walkDescendants(
  state: RunState,
  starts: readonly string[],
  walk: { order: string[]; depth: Map<string, number> } = { order: [], depth: new Map() },
): { order: string[]; depth: Map<string, number> } {
  const { order, depth } = walk;
  const from = order.length;
  for (const s of starts) {
    if (depth.has(s)) continue;
    depth.set(s, 0);
    order.push(s);
  }
  for (let head = from; head < order.length; head++) {
    const id = order[head]!;
    for (const c of state.children.get(id) ?? []) {
      if (depth.has(c)) continue;
      depth.set(c, depth.get(id)! + 1);
      order.push(c);
    }
  }
  return { order, depth };
}

/**
 * What became of an input: from a row (all its tokens) or from one token,
 * every descendant, the groups crossed and the path ends.
 */
export function descendants(state: RunState, query: DescendantsQuery): Descendants {
  let starts: string[];
  let leftovers: readonly string[] = [];
  let from: Descendants['from'];
  if (query.tokenId !== undefined) {
    if (query.rowId !== undefined || query.rowIndex !== undefined) throw ledgerError('INVALID_INPUT', 'give a tokenId or a row, not both', { path: 'tokenId' });
    const token = requireToken(state, query.tokenId);
    starts = [token.tokenId];
    from = { rowId: token.rowId, rowIndex: state.rows.get(token.rowId)?.rowIndex ?? null, tokenId: token.tokenId };
  } else {
    const row = requireRow(state, query);
    // the row's root tokens (no parents); every other token of the row is reached as a descendant
    const rowTokens = state.tokensByRow.get(row.rowId) ?? [];
    starts = rowTokens.filter((id) => (state.parents.get(id) ?? []).length === 0);
    from = { rowId: row.rowId, rowIndex: row.rowIndex, tokenId: null };
    leftovers = rowTokens;
  }
  const walk = walkDescendants(state, starts);
  // tokens of the row that no root leads to (only in runs written around the recorder)
  if (leftovers.length > 0) walkDescendants(state, leftovers, walk);
  const { order, depth } = walk;
  const inSet = new Set(order);
  const tokens: DescendantToken[] = [];
  const edges: LineageEdge[] = [];
  const groupIds: string[] = [];
  const seenGroups = new Set<string>();
  const noteGroup = (g: string): void => {
    if (!seenGroups.has(g)) {
      seenGroups.add(g);
      groupIds.push(g);
    }
  };
  const outputs: string[] = [];
  for (const id of order) {
    const token = state.tokens.get(id);
    if (token === undefined) continue;
    const links = parentLinks(state, token);
    const group = creatingGroup(token);
    let createdBy: CreatedBy | null = null;
    if (links.length > 0 || group !== null) {
      const g = group === null ? undefined : state.groups.get(group.groupId);
      createdBy = {
        groupKind: group?.kind ?? null,
        groupId: group?.groupId ?? null,
        parentTokenIds: links.map((l) => l.parentTokenId),
        siblingTokenIds: g === undefined ? [] : g.childTokenIds.filter((c) => c !== id),
      };
      if (group !== null) noteGroup(group.groupId);
    }
    for (const l of links) {
      if (inSet.has(l.parentTokenId)) edges.push({ parentTokenId: l.parentTokenId, childTokenId: id, ordinal: l.ordinal, groupKind: l.groupKind, groupId: l.groupId });
    }
    for (const b of state.batchesByToken.get(id) ?? []) noteGroup(b);
    const { outcome, terminal } = currentOf(state, id);
    for (const g of [outcome?.forkGroupId, outcome?.expandGroupId, outcome?.joinGroupId]) if (g != null && state.groups.has(g)) noteGroup(g);
    const pathEnd = isPathEnd(state, id);
    if (pathEnd) outputs.push(id);
    tokens.push({
      tokenId: id,
      rowId: token.rowId,
      rowIndex: state.rows.get(token.rowId)?.rowIndex ?? null,
      branchName: token.branchName,
      depth: depth.get(id)!,
      forkGroupId: token.forkGroupId,
      joinGroupId: token.joinGroupId,
      expandGroupId: token.expandGroupId,
      batchId: token.batchId,
      createdBy,
      childTokenIds: [...(state.children.get(id) ?? [])],
      outcome,
      terminal,
      pathEnd,
      states: statesOf(state, id).map((ns) => ({
        stateId: ns.stateId,
        nodeId: ns.nodeId,
        nodeName: nodeName(state, ns.nodeId),
        stepIndex: ns.stepIndex,
        attempt: ns.attempt,
        status: ns.status,
      })),
    });
  }
  const groups: DescendantGroup[] = [];
  for (const gid of groupIds) {
    const g = copyGroup(state, gid);
    if (g === null) continue;
    const rowIds = new Set<string>();
    for (const t of [...g.parentTokenIds, ...g.childTokenIds]) {
      const tok = state.tokens.get(t);
      if (tok !== undefined) rowIds.add(tok.rowId);
    }
    const rows = [...rowIds]
      .map((rowId) => ({ rowId, rowIndex: state.rows.get(rowId)?.rowIndex ?? null }))
      .sort((a, b) => (a.rowIndex ?? -1) - (b.rowIndex ?? -1));
    groups.push({ ...g, rows });
  }
  return { runId: state.runId, asOf: asOfOf(state), from, tokens, edges, groups, outputs };
}
