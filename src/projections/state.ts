/**
 * The run projection: everything recorded about one run, with the indexes that
 * the recorder's invariant checks, lineage queries and the audit check need.
 *
 * Entity maps are insertion-ordered by the seq of the event that created each
 * entity, which is the export's documented order within a block.
 */
import type {
  Artifact,
  Batch,
  BatchMember,
  BatchOutput,
  Call,
  Checkpoint,
  Edge,
  Node,
  NodeState,
  Operation,
  PreflightResult,
  RoutingEvent,
  Row,
  Run,
  SecretResolution,
  Token,
  TokenOutcome,
  TokenParent,
  TransformError,
  ValidationError,
} from './entities';

import type { GroupKind } from '../events/outcomes';
export type { GroupKind } from '../events/outcomes';

/** A fork, expand, join or batch group: which tokens went in and which came out. */
export interface Group {
  readonly groupId: string;
  readonly kind: GroupKind;
  readonly parentTokenIds: string[];
  readonly childTokenIds: string[];
  /** seq of the event that created the group. */
  readonly seq: number;
}

/** Something in the event stream that the fold could not apply as recorded (written around the recorder's checks). */
export interface Anomaly {
  readonly seq: number;
  readonly eventType: string;
  readonly message: string;
}

export interface RunState {
  readonly runId: string;
  /** seq of the last event folded in; -1 before the first. */
  version: number;
  lastRecordedAt: string | null;
  run: Run | null;

  nodes: Map<string, Node>;
  edges: Map<string, Edge>;
  /** `${fromNodeId}\u0000${label}` → edgeId (labels are unique per source node). */
  edgeByLabel: Map<string, string>;

  operations: Map<string, Operation>;
  calls: Map<string, Call>;
  callsByState: Map<string, string[]>;
  callsByOperation: Map<string, string[]>;

  rows: Map<string, Row>;
  rowByIndex: Map<number, string>;

  tokens: Map<string, Token>;
  tokensByRow: Map<string, string[]>;
  /** tokenId → its parent links, by ordinal. */
  parents: Map<string, TokenParent[]>;
  /** parent tokenId → child token ids, in creation order. */
  children: Map<string, string[]>;
  groups: Map<string, Group>;

  outcomes: Map<string, TokenOutcome>;
  outcomesByToken: Map<string, string[]>;
  /** tokenId → its terminal outcome's id. */
  terminalOutcome: Map<string, string>;
  /** Tokens that have no terminal outcome yet. */
  unfinishedTokens: Set<string>;

  nodeStates: Map<string, NodeState>;
  statesByToken: Map<string, string[]>;
  /** States still open or pending. */
  unfinishedStates: Set<string>;

  routingEvents: Map<string, RoutingEvent>;
  routingByState: Map<string, string[]>;

  batches: Map<string, Batch>;
  batchMembers: Map<string, BatchMember[]>;
  batchOutputs: Map<string, BatchOutput[]>;
  /** member tokenId → batch ids it belongs to. */
  batchesByToken: Map<string, string[]>;
  /** failed batchId → the batch that retries it (at most one: retryBatch returns it again). */
  retryOfBatch: Map<string, string>;

  artifacts: Map<string, Artifact>;
  artifactsByState: Map<string, string[]>;

  validationErrors: Map<string, ValidationError>;
  /** rowHash → validation error ids (lineage finds a source row's validation errors by its hash). */
  validationErrorsByHash: Map<string, string[]>;
  transformErrors: Map<string, TransformError>;
  transformErrorsByToken: Map<string, string[]>;
  secretResolutions: Map<string, SecretResolution>;
  preflightResults: Map<string, PreflightResult>;
  checkpoints: Map<string, Checkpoint>;
  /** Payload hash → when a purge deleted its body (PayloadsPurged); explain reports such a body as purged, not lost. */
  purgedPayloads: Map<string, string>;

  anomalies: Anomaly[];
}

export function emptyRunState(runId: string): RunState {
  return {
    runId,
    version: -1,
    lastRecordedAt: null,
    run: null,
    nodes: new Map(),
    edges: new Map(),
    edgeByLabel: new Map(),
    operations: new Map(),
    calls: new Map(),
    callsByState: new Map(),
    callsByOperation: new Map(),
    rows: new Map(),
    rowByIndex: new Map(),
    tokens: new Map(),
    tokensByRow: new Map(),
    parents: new Map(),
    children: new Map(),
    groups: new Map(),
    outcomes: new Map(),
    outcomesByToken: new Map(),
    terminalOutcome: new Map(),
    unfinishedTokens: new Set(),
    nodeStates: new Map(),
    statesByToken: new Map(),
    unfinishedStates: new Set(),
    routingEvents: new Map(),
    routingByState: new Map(),
    batches: new Map(),
    batchMembers: new Map(),
    batchOutputs: new Map(),
    batchesByToken: new Map(),
    retryOfBatch: new Map(),
    artifacts: new Map(),
    artifactsByState: new Map(),
    validationErrors: new Map(),
    validationErrorsByHash: new Map(),
    transformErrors: new Map(),
    transformErrorsByToken: new Map(),
    secretResolutions: new Map(),
    preflightResults: new Map(),
    checkpoints: new Map(),
    purgedPayloads: new Map(),
    anomalies: [],
  };
}

export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

export function edgeLabelKey(fromNodeId: string, label: string): string {
  return `${fromNodeId}\u0000${label}`;
}


/** The token's terminal outcome, or else its latest non-terminal one, or null. */
export function currentOutcome(state: RunState, tokenId: string): TokenOutcome | null {
  const terminal = state.terminalOutcome.get(tokenId);
  if (terminal !== undefined) return state.outcomes.get(terminal) ?? null;
  const ids = state.outcomesByToken.get(tokenId);
  if (ids === undefined || ids.length === 0) return null;
  return state.outcomes.get(ids[ids.length - 1]!) ?? null;
}

/** A point in a run's history: a seq number (inclusive) or an ISO-8601 time (events recorded at or before it). */
export type AsOf = number | string;

/** Options of every read of a run: with `asOf`, the run as it was then. */
export interface ReadOptions {
  readonly asOf?: AsOf;
}
