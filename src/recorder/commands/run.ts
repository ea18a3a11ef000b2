/**
 * Run commands: the run's start (decided by the ledger, before the run exists), its resumption
 * and its end, with the reproducibility grade it ends with; and the retention purge's event.
 */
import type * as t from 'io-ts';
import { CANONICAL_VERSION } from '../../canonical/hash';
import { EventDataMap, ReproducibilityGrade, TerminalRunStatus } from '../../events/catalogue';
import { Id, JsonValue, literalUnion, NonEmptyString, Str, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, Decision, ev, EventDraft, one } from './command';
import { requireRunning, requireStarted, transition } from './guards';
import { hashOf } from './hashing';

export const BeginRunInput = struct(
  'BeginRunInput',
  { config: JsonValue },
  {
    runId: Id,
    canonicalVersion: NonEmptyString,
    reproducibilityGrade: ReproducibilityGrade,
    sourceSchema: JsonValue,
    schemaContract: JsonValue,
    correlationId: Str,
    causationId: Str,
  },
);

export const UpdateRunStatusInput = struct('UpdateRunStatusInput', { status: literalUnion('ResumeStatus', ['running']) }, { reason: Str });

export const CompleteRunInput = struct('CompleteRunInput', { status: TerminalRunStatus }, { reproducibilityGrade: ReproducibilityGrade });

export type BeginRunInput = t.TypeOf<typeof BeginRunInput>;
export type UpdateRunStatusInput = t.TypeOf<typeof UpdateRunStatusInput>;
export type CompleteRunInput = t.TypeOf<typeof CompleteRunInput>;

/** The RunStarted event for a new run (the run does not exist yet, so this is not a Decider). */
export function decideBeginRun(input: BeginRunInput): EventDataMap['RunStarted'] {
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

function decideUpdateRunStatus(state: RunState, i: UpdateRunStatusInput): Decision<{ status: 'running' }> {
  const run = requireStarted(state);
  if (run.status !== 'interrupted') {
    transition(`status: run ${state.runId} is ${run.status}; only an interrupted run can resume running`, {
      path: 'status',
      from: run.status,
      to: i.status,
    });
  }
  return one(ev('RunStatusChanged', { status: i.status, reason: i.reason ?? null }), { status: i.status });
}

function decideComplete(
  state: RunState,
  i: CompleteRunInput,
): Decision<{ status: 'completed' | 'failed' | 'interrupted'; reproducibilityGrade: 'full_reproducible' | 'replay_reproducible' | 'attributable_only' }> {
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
}

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

export const runCommands = {
  /** Resumes an interrupted run. */
  updateRunStatus: command(UpdateRunStatusInput, decideUpdateRunStatus),
  /** Ends the run. `completed` is refused (RUN_INCOMPLETE, naming what is unfinished) while any token lacks a terminal outcome or a state or operation is open. */
  complete: command(CompleteRunInput, decideComplete),
};
