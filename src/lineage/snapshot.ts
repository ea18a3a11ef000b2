/**
 * What a run looked like at one point of its history (the `replay` verb): the
 * last event folded in, the run status, how many of each entity there were and
 * what was still unfinished.
 */
import type { RunState } from '../projections/state';

export interface RunSnapshot {
  readonly runId: string;
  /** seq of the last event folded in. */
  readonly seq: number;
  /** recordedAt of that event. */
  readonly recordedAt: string | null;
  readonly status: string | null;
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  readonly counts: {
    readonly nodes: number;
    readonly edges: number;
    readonly operations: number;
    readonly calls: number;
    readonly rows: number;
    readonly tokens: number;
    readonly tokenParents: number;
    readonly groups: number;
    readonly outcomes: number;
    readonly terminalOutcomes: number;
    readonly nodeStates: number;
    readonly routingEvents: number;
    readonly batches: number;
    readonly batchMembers: number;
    readonly batchOutputs: number;
    readonly artifacts: number;
    readonly validationErrors: number;
    readonly transformErrors: number;
    readonly secretResolutions: number;
    readonly preflightResults: number;
    readonly checkpoints: number;
    readonly anomalies: number;
  };
  /** Tokens without a terminal outcome, in creation order. */
  readonly unfinishedTokens: string[];
  /** Node states still open or pending, in opening order. */
  readonly unfinishedStates: string[];
  readonly openOperations: string[];
  /** Batches still a draft or executing. */
  readonly openBatches: string[];
}

function total<V>(m: Map<string, V[]>): number {
  let n = 0;
  for (const v of m.values()) n += v.length;
  return n;
}

export function runSnapshot(state: RunState): RunSnapshot {
  return {
    runId: state.runId,
    seq: state.version,
    recordedAt: state.lastRecordedAt,
    status: state.run?.status ?? null,
    startedAt: state.run?.startedAt ?? null,
    completedAt: state.run?.completedAt ?? null,
    counts: {
      nodes: state.nodes.size,
      edges: state.edges.size,
      operations: state.operations.size,
      calls: state.calls.size,
      rows: state.rows.size,
      tokens: state.tokens.size,
      tokenParents: total(state.parents),
      groups: state.groups.size,
      outcomes: state.outcomes.size,
      terminalOutcomes: state.terminalOutcome.size,
      nodeStates: state.nodeStates.size,
      routingEvents: state.routingEvents.size,
      batches: state.batches.size,
      batchMembers: total(state.batchMembers),
      batchOutputs: total(state.batchOutputs),
      artifacts: state.artifacts.size,
      validationErrors: state.validationErrors.size,
      transformErrors: state.transformErrors.size,
      secretResolutions: state.secretResolutions.size,
      preflightResults: state.preflightResults.size,
      checkpoints: state.checkpoints.size,
      anomalies: state.anomalies.length,
    },
    unfinishedTokens: [...state.unfinishedTokens],
    unfinishedStates: [...state.unfinishedStates],
    openOperations: [...state.operations.values()].filter((o) => o.status === 'open').map((o) => o.operationId),
    openBatches: [...state.batches.values()].filter((b) => b.status === 'draft' || b.status === 'executing').map((b) => b.batchId),
  };
}
