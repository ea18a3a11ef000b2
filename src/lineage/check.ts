/**
 * The audit check: a sweep over a run projection that reports every violation
 * of the audit invariants (the token-outcome contract, the node-state, batch and
 * operation life cycles, group consistency, artifact and call parentage), plus
 * every anomaly the fold met while replaying events that bypassed the recorder.
 *
 * Every violation has a stable `code` (VIOLATION_CODES), a message naming the
 * offending ids, and the ids themselves as fields. Violations are listed in a
 * deterministic order: by check, then by the order the entities were recorded.
 * The sweep is linear in the size of the run.
 */
import { GROUP_TABLE, groupNamed, OUTCOME_TABLE, outcomeFieldProblem, SINK_WRITTEN_OUTCOMES, type Outcome } from '../events/outcomes';
import type { NodeState, Token, TokenOutcome } from '../projections/entities';
import type { Group, GroupKind, RunState } from '../projections/state';
import { creatingGroup, type LineageAsOf } from './explain';

export const VIOLATION_CODES = {
  RUN_NOT_FINISHED: 'the run never recorded its end (it is still running, or its writer stopped)',
  TOKEN_WITHOUT_TERMINAL_OUTCOME: 'a token has no terminal outcome',
  BUFFERED_NOT_RESOLVED: 'a token was buffered in a batch and no terminal outcome followed',
  DOUBLE_TERMINAL_OUTCOME: 'a token has more than one terminal outcome',
  OUTCOME_FIELDS_MISSING: 'an outcome lacks a field that its outcome type requires (see the outcome table)',
  OUTCOME_FIELD_NOT_ALLOWED: 'an outcome carries a field that its outcome type does not take (see the outcome table)',
  STATE_NOT_FINISHED: 'a node state is still open or pending',
  OPERATION_NOT_FINISHED: 'an operation (source load or sink write) is still open',
  BATCH_NOT_FINISHED: 'a batch is still a draft or executing',
  SINK_OUTCOME_WITHOUT_SINK_STATE: 'a completed or routed token has no completed node state at a sink node',
  SINK_STATE_WITHOUT_SINK_OUTCOME: 'a completed node state at a sink node belongs to a token whose terminal outcome names no sink',
  GROUP_MISMATCH: 'a fork, expand, join or batch group disagrees with the parent links, group ids or outcomes of its tokens',
  ARTIFACT_WITHOUT_STATES: 'an artifact names a writing node state that does not exist, or is not at the artifact sink',
  CALL_WITHOUT_PARENT: 'a call has no parent, two parents, or a parent that does not exist',
  EVENT_ANOMALY: 'the fold could not apply an event as recorded (the event was written around the recorder checks)',
} as const;

export type ViolationCode = keyof typeof VIOLATION_CODES;

export interface Violation {
  readonly code: ViolationCode;
  readonly message: string;
  readonly tokenId?: string;
  readonly rowId?: string;
  readonly stateId?: string;
  readonly nodeId?: string;
  readonly outcomeId?: string;
  readonly outcome?: string;
  readonly groupId?: string;
  readonly groupKind?: GroupKind;
  readonly batchId?: string;
  readonly operationId?: string;
  readonly artifactId?: string;
  readonly callId?: string;
  readonly field?: string;
  /** For EVENT_ANOMALY: the event's seq and type. */
  readonly seq?: number;
  readonly eventType?: string;
}

export interface CheckResult {
  readonly runId: string;
  readonly ok: boolean;
  readonly asOf: LineageAsOf;
  /** The run's status (null when RunStarted is missing). */
  readonly runStatus: string | null;
  /** What was swept. */
  readonly counted: { tokens: number; outcomes: number; nodeStates: number; groups: number; batches: number; artifacts: number; calls: number; operations: number };
  /** Number of violations per code (codes with none are left out). */
  readonly byCode: Partial<Record<ViolationCode, number>>;
  readonly violations: Violation[];
}

/** The group an outcome's group field names (from the group table). */
const groupNamedBy = (o: TokenOutcome): { kind: GroupKind; groupId: string } | null => groupNamed(o);

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function short(ids: readonly string[]): string {
  if (ids.length === 0) return 'none';
  return ids.length <= 6 ? ids.join(', ') : `${ids.slice(0, 6).join(', ')}, … (${ids.length})`;
}

/** Sweeps a run projection for every violation of the audit invariants. */
export function checkRun(state: RunState): CheckResult {
  const violations: Violation[] = [];
  const add = (v: Violation): void => {
    violations.push(v);
  };

  // 1. The run itself
  if (state.run !== null && state.run.status === 'running') {
    add({ code: 'RUN_NOT_FINISHED', message: `run ${state.runId} is still running as of seq ${state.version}: no RunCompleted was recorded` });
  }

  // 2. Tokens without a terminal outcome (buffered ones separately)
  for (const tokenId of state.unfinishedTokens) {
    const token = state.tokens.get(tokenId);
    const ids = state.outcomesByToken.get(tokenId) ?? [];
    const buffered = ids.map((id) => state.outcomes.get(id)).filter((o): o is TokenOutcome => o !== undefined && o.outcome === 'buffered');
    if (buffered.length > 0) {
      const last = buffered[buffered.length - 1]!;
      add({
        code: 'BUFFERED_NOT_RESOLVED',
        message: `token ${tokenId} was buffered in batch ${last.batchId ?? '?'} (outcome ${last.outcomeId}) and has no terminal outcome`,
        tokenId,
        ...(token ? { rowId: token.rowId } : {}),
        outcomeId: last.outcomeId,
        ...(last.batchId !== null ? { batchId: last.batchId } : {}),
      });
    } else {
      const open = (state.statesByToken.get(tokenId) ?? []).filter((s) => state.unfinishedStates.has(s));
      add({
        code: 'TOKEN_WITHOUT_TERMINAL_OUTCOME',
        message: `token ${tokenId}${token ? ` (row ${token.rowId})` : ''} has no terminal outcome${open.length > 0 ? `; it is still in node state ${short(open)}` : ''}`,
        tokenId,
        ...(token ? { rowId: token.rowId } : {}),
      });
    }
  }

  // 3. Outcomes: double terminal, fields against the outcome table, buffered after the terminal
  for (const [tokenId, ids] of state.outcomesByToken) {
    const outcomes: TokenOutcome[] = [];
    const terminal: TokenOutcome[] = [];
    for (const id of ids) {
      const o = state.outcomes.get(id);
      if (o === undefined) continue;
      outcomes.push(o);
      if (OUTCOME_TABLE[o.outcome].terminal) terminal.push(o);
    }
    if (terminal.length > 1) {
      add({
        code: 'DOUBLE_TERMINAL_OUTCOME',
        message: `token ${tokenId} has ${terminal.length} terminal outcomes: ${terminal.map((o) => `${o.outcome} (${o.outcomeId})`).join(', ')}`,
        tokenId,
        outcomeId: terminal[1]!.outcomeId,
        outcome: terminal[1]!.outcome,
      });
    }
    if (terminal.length > 0 && outcomes.length > 1) {
      const firstTerminal = outcomes.indexOf(terminal[0]!);
      const late = outcomes.slice(firstTerminal + 1).find((o) => o.outcome === 'buffered');
      if (late !== undefined) {
        add({
          code: 'BUFFERED_NOT_RESOLVED',
          message: `token ${tokenId} was buffered (outcome ${late.outcomeId}) after its terminal outcome ${terminal[0]!.outcome}; no terminal outcome follows the buffering`,
          tokenId,
          outcomeId: late.outcomeId,
          ...(late.batchId !== null ? { batchId: late.batchId } : {}),
        });
      }
    }
    for (const o of outcomes) {
      const problem = outcomeFieldProblem(o.outcome, o);
      if (problem === null) continue;
      add({
        code: problem.problem === 'missing' ? 'OUTCOME_FIELDS_MISSING' : 'OUTCOME_FIELD_NOT_ALLOWED',
        message:
          problem.problem === 'missing'
            ? `outcome ${o.outcomeId} (${o.outcome}) of token ${tokenId} lacks ${problem.field}, which ${o.outcome} requires`
            : `outcome ${o.outcomeId} (${o.outcome}) of token ${tokenId} carries ${problem.field}, which ${o.outcome} does not take`,
        tokenId,
        outcomeId: o.outcomeId,
        outcome: o.outcome,
        field: problem.field,
      });
    }
  }

  // 4. Unfinished node states, operations and batches
  for (const stateId of state.unfinishedStates) {
    const ns = state.nodeStates.get(stateId);
    if (ns === undefined) continue;
    if (ns.status === 'pending' && supersededByLaterAttempt(state, ns)) continue;
    const node = state.nodes.get(ns.nodeId);
    add({
      code: 'STATE_NOT_FINISHED',
      message: `node state ${stateId} of token ${ns.tokenId} at ${node?.pluginName ?? 'node'} ${ns.nodeId} (step ${ns.stepIndex}, attempt ${ns.attempt}) is still ${ns.status}`,
      stateId,
      tokenId: ns.tokenId,
      nodeId: ns.nodeId,
    });
  }
  for (const op of state.operations.values()) {
    if (op.status !== 'open') continue;
    add({ code: 'OPERATION_NOT_FINISHED', message: `operation ${op.operationId} (${op.operationType} at node ${op.nodeId}) is still open`, operationId: op.operationId, nodeId: op.nodeId });
  }
  for (const b of state.batches.values()) {
    if (b.status !== 'draft' && b.status !== 'executing') continue;
    const members = (state.batchMembers.get(b.batchId) ?? []).map((m) => m.tokenId);
    add({ code: 'BATCH_NOT_FINISHED', message: `batch ${b.batchId} is still ${b.status} (members: ${short(members)})`, batchId: b.batchId, nodeId: b.aggregationNodeId });
  }

  // 5. Sink outcomes ⇔ completed sink states (audit invariant 3)
  const hasSinkState = (tokenId: string): boolean =>
    (state.statesByToken.get(tokenId) ?? []).some((sid) => {
      const ns = state.nodeStates.get(sid);
      return ns !== undefined && ns.status === 'completed' && state.nodes.get(ns.nodeId)?.nodeType === 'sink';
    });
  for (const [tokenId, outcomeId] of state.terminalOutcome) {
    const o = state.outcomes.get(outcomeId);
    if (o === undefined || !SINK_WRITTEN_OUTCOMES.includes(o.outcome)) continue;
    if (!hasSinkState(tokenId)) {
      add({
        code: 'SINK_OUTCOME_WITHOUT_SINK_STATE',
        message: `token ${tokenId} is ${o.outcome} to sink ${o.sinkName ?? '?'} (outcome ${outcomeId}) but has no completed node state at a sink node`,
        tokenId,
        outcomeId,
        outcome: o.outcome,
      });
    }
  }
  for (const ns of state.nodeStates.values()) {
    if (ns.status !== 'completed' || state.nodes.get(ns.nodeId)?.nodeType !== 'sink') continue;
    const t = state.terminalOutcome.get(ns.tokenId);
    const o = t === undefined ? undefined : state.outcomes.get(t);
    if (o === undefined) continue; // reported as a token without terminal outcome
    if (o.sinkName === null) {
      add({
        code: 'SINK_STATE_WITHOUT_SINK_OUTCOME',
        message: `node state ${ns.stateId} completed at sink node ${ns.nodeId} for token ${ns.tokenId}, whose terminal outcome ${o.outcome} (${o.outcomeId}) names no sink`,
        stateId: ns.stateId,
        tokenId: ns.tokenId,
        nodeId: ns.nodeId,
        outcomeId: o.outcomeId,
      });
    }
  }

  // 6. Groups
  checkGroups(state, add);

  // 7. Artifacts
  for (const a of state.artifacts.values()) {
    for (const sid of a.producedByStateIds) {
      const ns = state.nodeStates.get(sid);
      if (ns === undefined) {
        add({ code: 'ARTIFACT_WITHOUT_STATES', message: `artifact ${a.artifactId} (${a.pathOrUri}) names writing state ${sid}, which does not exist`, artifactId: a.artifactId, stateId: sid });
      } else if (ns.nodeId !== a.sinkNodeId) {
        add({
          code: 'ARTIFACT_WITHOUT_STATES',
          message: `artifact ${a.artifactId} (${a.pathOrUri}) of sink ${a.sinkNodeId} names writing state ${sid}, which is at node ${ns.nodeId}`,
          artifactId: a.artifactId,
          stateId: sid,
          nodeId: ns.nodeId,
        });
      }
    }
  }

  // 8. Calls
  for (const c of state.calls.values()) {
    const hasState = c.stateId !== null;
    const hasOp = c.operationId !== null;
    let problem: string | null = null;
    if (!hasState && !hasOp) problem = 'has no parent (neither a node state nor an operation)';
    else if (hasState && hasOp) problem = `has two parents (node state ${c.stateId!} and operation ${c.operationId!})`;
    else if (hasState && !state.nodeStates.has(c.stateId!)) problem = `names node state ${c.stateId!}, which does not exist`;
    else if (hasOp && !state.operations.has(c.operationId!)) problem = `names operation ${c.operationId!}, which does not exist`;
    if (problem !== null) {
      add({
        code: 'CALL_WITHOUT_PARENT',
        message: `call ${c.callId} (${c.callType}, index ${c.callIndex}) ${problem}`,
        callId: c.callId,
        ...(hasState ? { stateId: c.stateId! } : {}),
        ...(hasOp ? { operationId: c.operationId! } : {}),
      });
    }
  }

  // 9. What the fold could not apply
  for (const a of state.anomalies) {
    add({ code: 'EVENT_ANOMALY', message: `seq ${a.seq} (${a.eventType}): ${a.message}`, seq: a.seq, eventType: a.eventType });
  }

  const byCode: Partial<Record<ViolationCode, number>> = {};
  for (const v of violations) byCode[v.code] = (byCode[v.code] ?? 0) + 1;
  return {
    runId: state.runId,
    ok: violations.length === 0,
    asOf: { seq: state.version, recordedAt: state.lastRecordedAt },
    runStatus: state.run?.status ?? null,
    counted: {
      tokens: state.tokens.size,
      outcomes: state.outcomes.size,
      nodeStates: state.nodeStates.size,
      groups: state.groups.size,
      batches: state.batches.size,
      artifacts: state.artifacts.size,
      calls: state.calls.size,
      operations: state.operations.size,
    },
    byCode,
    violations,
  };
}

type Add = (v: Violation) => void;

function mismatch(add: Add, message: string, ids: Omit<Violation, 'code' | 'message'>): void {
  add({ code: 'GROUP_MISMATCH', message, ...ids });
}

/** Parent links of a token, ordered by ordinal. */
function parentIds(state: RunState, tokenId: string): string[] {
  const links = state.parents.get(tokenId);
  if (links === undefined) return [];
  let sorted = true;
  for (let k = 1; k < links.length; k++) if (links[k - 1]!.ordinal > links[k]!.ordinal) sorted = false;
  const ordered = sorted ? links : [...links].sort((a, b) => a.ordinal - b.ordinal);
  return ordered.map((l) => l.parentTokenId);
}

/**
 * Which tokens a group lists on each side, asked group by group. Nothing is indexed
 * over the whole run (a run may have millions of tokens): a small group is searched
 * directly; a large one (a batch of many members) gets a set, and the sets of the few
 * groups asked about last are kept, since outcomes and tokens come in creation order.
 */
class Membership {
  private readonly sets = new Map<string, { parents: Set<string>; children: Set<string> }>();

  constructor(private readonly state: RunState) {}

  private has(side: 'parents' | 'children', tokenId: string, groupId: string): boolean {
    const g = this.state.groups.get(groupId);
    if (g === undefined) return false;
    const list = side === 'parents' ? g.parentTokenIds : g.childTokenIds;
    if (list.length <= 32) return list.includes(tokenId);
    let sets = this.sets.get(groupId);
    if (sets === undefined) {
      sets = { parents: new Set(g.parentTokenIds), children: new Set(g.childTokenIds) };
      if (this.sets.size >= 8) this.sets.delete(this.sets.keys().next().value!);
      this.sets.set(groupId, sets);
    }
    return sets[side].has(tokenId);
  }

  readonly asParent = { has: (tokenId: string, groupId: string): boolean => this.has('parents', tokenId, groupId) };
  readonly asChild = { has: (tokenId: string, groupId: string): boolean => this.has('children', tokenId, groupId) };
}

function checkGroups(state: RunState, add: Add): void {
  const m = new Membership(state);
  // a) each group against its tokens
  for (const g of state.groups.values()) checkGroup(state, g, add);

  // b) each token's group ids and parent links against its group (audit invariants 5 and 6)
  for (const token of state.tokens.values()) checkTokenGroup(state, token, m, add);

  // c) each outcome that names a group: the group exists, has that kind, and the token is on the right side
  for (const o of state.outcomes.values()) {
    const named = groupNamedBy(o);
    if (named === null) continue;
    const g = state.groups.get(named.groupId);
    const ids = { tokenId: o.tokenId, outcomeId: o.outcomeId, outcome: o.outcome, groupId: named.groupId, groupKind: named.kind };
    if (g === undefined || g.kind !== named.kind) {
      mismatch(add, `outcome ${o.outcomeId} (${o.outcome}) of token ${o.tokenId} names ${named.kind} group ${named.groupId}, which ${g === undefined ? 'does not exist' : `is a ${g.kind} group`}`, ids);
      continue;
    }
    if (named.kind === 'batch') {
      if (!m.asParent.has(o.tokenId, g.groupId)) mismatch(add, `outcome ${o.outcomeId} (${o.outcome}) of token ${o.tokenId} names batch ${named.groupId}, of which the token is not a member`, ids);
      continue;
    }
    if (named.kind === 'join') {
      if (!m.asParent.has(o.tokenId, g.groupId)) mismatch(add, `outcome ${o.outcomeId} (coalesced) of token ${o.tokenId} names join group ${named.groupId}, which did not merge that token`, ids);
      continue;
    }
    // fork / expand: the token is the group's parent, and its children are exactly the group's children
    const children = state.children.get(o.tokenId) ?? [];
    if (!sameList(g.parentTokenIds, [o.tokenId]) || !sameSet(children, g.childTokenIds)) {
      mismatch(
        add,
        `outcome ${o.outcomeId} (${o.outcome}) of token ${o.tokenId} names ${named.kind} group ${named.groupId}, whose parent is ${short(g.parentTokenIds)} and children ${short(g.childTokenIds)}; the token's children are ${short(children)}`,
        ids,
      );
    }
  }
}

/** Terminal outcomes with which a batch member can leave a batch that produced outputs: the batch set it aside. */
const SET_ASIDE_BY_BATCH: ReadonlySet<string> = new Set(['quarantined', 'failed']);

/**
 * A pending state is not left hanging when the same token has a later attempt at the same node:
 * the work was taken up again there (a batch flush resumed after a crash is a new attempt).
 */
function supersededByLaterAttempt(state: RunState, ns: NodeState): boolean {
  for (const id of state.statesByToken.get(ns.tokenId) ?? []) {
    const other = state.nodeStates.get(id);
    if (other !== undefined && other.nodeId === ns.nodeId && other.attempt > ns.attempt) return true;
  }
  return false;
}

function checkGroup(state: RunState, g: Group, add: Add): void {
  const ids = { groupId: g.groupId, groupKind: g.kind };
  if (g.kind === 'batch') {
    const members = [...(state.batchMembers.get(g.groupId) ?? [])].sort((a, b) => a.ordinal - b.ordinal).map((m) => m.tokenId);
    if (!sameSet(members, g.parentTokenIds)) mismatch(add, `batch ${g.groupId}: members ${short(members)} differ from the group's parents ${short(g.parentTokenIds)}`, { ...ids, batchId: g.groupId });
    for (const child of g.childTokenIds) {
      const parents = parentIds(state, child);
      if (!sameList(parents, members)) {
        mismatch(add, `batch ${g.groupId}: output token ${child} has parents ${short(parents)}, not the batch members ${short(members)}`, { ...ids, batchId: g.groupId, tokenId: child });
      }
    }
    if (g.childTokenIds.length > 0) {
      // the members were consumed by this batch (their outputs carry them on)
      for (const m of members) {
        const t = state.terminalOutcome.get(m);
        const o = t === undefined ? undefined : state.outcomes.get(t);
        if (o === undefined) continue; // reported as unfinished
        if (o.batchId === g.groupId && SET_ASIDE_BY_BATCH.has(o.outcome)) continue; // rejected by the batch itself (e.g. quarantined in its flush)
        if (o.outcome !== 'consumed_in_batch' || o.batchId !== g.groupId) {
          mismatch(add, `batch ${g.groupId} produced output tokens, but member ${m} ended ${o.outcome}${o.batchId !== null ? ` (batch ${o.batchId})` : ''} instead of consumed_in_batch by it`, {
            ...ids,
            batchId: g.groupId,
            tokenId: m,
            outcomeId: o.outcomeId,
          });
        }
      }
    }
    return;
  }
  const field = GROUP_TABLE[g.kind].tokenField;
  if (g.kind === 'join') {
    if (g.childTokenIds.length !== 1) mismatch(add, `join group ${g.groupId} has ${g.childTokenIds.length} merged tokens`, ids);
    for (const child of g.childTokenIds) {
      const parents = parentIds(state, child);
      if (!sameList(parents, g.parentTokenIds)) mismatch(add, `join group ${g.groupId}: merged token ${child} has parents ${short(parents)}, not ${short(g.parentTokenIds)}`, { ...ids, tokenId: child });
    }
    for (const p of g.parentTokenIds) {
      const coalesced = (state.outcomesByToken.get(p) ?? []).some((id) => {
        const o = state.outcomes.get(id);
        return o !== undefined && o.outcome === 'coalesced' && o[field] === g.groupId;
      });
      if (!coalesced) mismatch(add, `join group ${g.groupId}: parent ${p} has no coalesced outcome naming the group`, { ...ids, tokenId: p });
    }
    return;
  }
  // fork / expand
  if (g.parentTokenIds.length !== 1) {
    mismatch(add, `${g.kind} group ${g.groupId} has ${g.parentTokenIds.length} parents`, ids);
    return;
  }
  const parent = g.parentTokenIds[0]!;
  const expected: Outcome = g.kind === 'fork' ? 'forked' : 'expanded';
  const outcome = (state.outcomesByToken.get(parent) ?? []).map((id) => state.outcomes.get(id)).find((o) => o !== undefined && o.outcome === expected && o[field] === g.groupId);
  if (outcome === undefined) {
    mismatch(add, `${g.kind} group ${g.groupId}: parent ${parent} has no ${expected} outcome naming the group`, { ...ids, tokenId: parent });
  } else {
    const exp = outcome.expectedBranchesJson;
    if (g.kind === 'fork' && Array.isArray(exp)) {
      const branches = g.childTokenIds.map((c) => state.tokens.get(c)?.branchName ?? null);
      if (!sameList(exp.map(String), branches.map(String))) {
        mismatch(add, `fork group ${g.groupId}: outcome ${outcome.outcomeId} expects branches ${exp.map(String).join(', ')} but the children are on ${branches.map(String).join(', ')}`, {
          ...ids,
          tokenId: parent,
          outcomeId: outcome.outcomeId,
        });
      }
    }
    if (g.kind === 'expand' && exp !== null && typeof exp === 'object' && !Array.isArray(exp) && typeof exp.count === 'number' && exp.count !== g.childTokenIds.length) {
      mismatch(add, `expand group ${g.groupId}: outcome ${outcome.outcomeId} expects ${exp.count} children but the group has ${g.childTokenIds.length}`, {
        ...ids,
        tokenId: parent,
        outcomeId: outcome.outcomeId,
      });
    }
  }
  for (const child of g.childTokenIds) {
    const parents = parentIds(state, child);
    if (!sameList(parents, [parent])) mismatch(add, `${g.kind} group ${g.groupId}: child ${child} has parents ${short(parents)}, not ${parent}`, { ...ids, tokenId: child });
  }
}

function checkTokenGroup(state: RunState, token: Token, m: Membership, add: Add): void {
  const id = token.tokenId;
  const groupIds = (['forkGroupId', 'joinGroupId', 'expandGroupId', 'batchId'] as const).filter((f) => token[f] !== null);
  const parents = parentIds(state, id);
  if (groupIds.length > 1) {
    mismatch(add, `token ${id} carries more than one group id (${groupIds.map((f) => `${f} ${String(token[f])}`).join(', ')})`, { tokenId: id });
    return;
  }
  const group = creatingGroup(token);
  if (group === null) {
    if (parents.length > 0) mismatch(add, `token ${id} has parent links (${short(parents)}) but no group id`, { tokenId: id });
    return;
  }
  const ids = { tokenId: id, groupId: group.groupId, groupKind: group.kind };
  if (parents.length === 0) {
    mismatch(add, `token ${id} was created by ${group.kind} group ${group.groupId} but has no parent links`, ids);
  }
  for (const p of parents) {
    const pt = state.tokens.get(p);
    if (pt === undefined) mismatch(add, `token ${id} (${group.kind} group ${group.groupId}) names parent ${p}, which does not exist`, ids);
    else if (group.kind !== 'batch' && pt.rowId !== token.rowId) mismatch(add, `token ${id} (row ${token.rowId}) has parent ${p} from another row (${pt.rowId})`, ids);
  }
  const g = state.groups.get(group.groupId);
  if (g === undefined) mismatch(add, `token ${id} names ${group.kind} group ${group.groupId}, which was never created`, ids);
  else if (g.kind !== group.kind) mismatch(add, `token ${id} names ${group.kind} group ${group.groupId}, which is a ${g.kind} group`, ids);
  else if (!m.asChild.has(id, g.groupId)) mismatch(add, `token ${id} names ${group.kind} group ${group.groupId}, which does not list it as a child`, ids);
}
