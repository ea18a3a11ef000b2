/**
 * Token outcomes: the ONE table. Validation (recorder), projections, export,
 * the audit check and the README's outcome reference all read it, so an outcome
 * cannot be known to one of them and unknown to another.
 */

export const OUTCOME_FIELDS = ['sinkName', 'errorHash', 'batchId', 'forkGroupId', 'joinGroupId', 'expandGroupId', 'expectedBranchesJson'] as const;
export type OutcomeField = (typeof OUTCOME_FIELDS)[number];

export interface OutcomeRule {
  readonly terminal: boolean;
  /** Fields that must be non-null. */
  readonly required: readonly OutcomeField[];
  /** Fields that may be set; every other outcome field must be null. */
  readonly optional: readonly OutcomeField[];
  /** How the outcome is recorded: by `recordTokenOutcome`, or only atomically by the event that creates it. */
  readonly recordedBy: 'recordTokenOutcome' | 'forkToken' | 'expandToken' | 'coalesceTokens';
  readonly meaning: string;
}

export const OUTCOME_TABLE = {
  completed: {
    terminal: true,
    required: ['sinkName'],
    optional: [],
    recordedBy: 'recordTokenOutcome',
    meaning: 'reached its sink and was written there',
  },
  routed: {
    terminal: true,
    required: ['sinkName'],
    optional: ['errorHash'],
    recordedBy: 'recordTokenOutcome',
    meaning: 'a gate (or an error route) sent it to a named sink',
  },
  forked: {
    terminal: true,
    required: ['forkGroupId', 'expectedBranchesJson'],
    optional: [],
    recordedBy: 'forkToken',
    meaning: 'split into parallel branch tokens (children share fork_group_id)',
  },
  failed: {
    terminal: true,
    required: ['errorHash'],
    optional: ['batchId'],
    recordedBy: 'recordTokenOutcome',
    meaning: 'processing failed for good (retries exhausted, batch or coalesce failure)',
  },
  quarantined: {
    terminal: true,
    required: ['errorHash'],
    optional: ['sinkName', 'batchId'],
    recordedBy: 'recordTokenOutcome',
    meaning: 'invalid data set aside (to a quarantine sink, or discarded)',
  },
  diverted: {
    terminal: true,
    required: ['sinkName', 'errorHash'],
    optional: [],
    recordedBy: 'recordTokenOutcome',
    meaning: 'a sink rejected it and it went to a failsink (or __discard__)',
  },
  consumed_in_batch: {
    terminal: true,
    required: ['batchId'],
    optional: [],
    recordedBy: 'recordTokenOutcome',
    meaning: 'absorbed by an aggregation batch whose outputs carry it on',
  },
  coalesced: {
    terminal: true,
    required: ['joinGroupId'],
    optional: [],
    recordedBy: 'coalesceTokens',
    meaning: 'merged with sibling branches into one token (join_group_id)',
  },
  expanded: {
    terminal: true,
    required: ['expandGroupId', 'expectedBranchesJson'],
    optional: [],
    recordedBy: 'expandToken',
    meaning: 'deaggregated into several child tokens (children share expand_group_id)',
  },
  buffered: {
    terminal: false,
    required: ['batchId'],
    optional: [],
    recordedBy: 'recordTokenOutcome',
    meaning: 'waiting in an aggregation buffer; must later get exactly one terminal outcome',
  },
} as const satisfies Record<string, OutcomeRule>;

export type Outcome = keyof typeof OUTCOME_TABLE;
export const OUTCOMES = Object.keys(OUTCOME_TABLE) as [Outcome, ...Outcome[]];
export const TERMINAL_OUTCOMES = OUTCOMES.filter((o) => OUTCOME_TABLE[o].terminal);

export function isTerminalOutcome(o: Outcome): boolean {
  return OUTCOME_TABLE[o].terminal;
}

export type OutcomeFields = { readonly [K in OutcomeField]: unknown };

/** Outcomes a caller records with `recordTokenOutcome` (the others are recorded by fork, expand and coalesce). */
export type RecordableOutcome = { [O in Outcome]: (typeof OUTCOME_TABLE)[O]['recordedBy'] extends 'recordTokenOutcome' ? O : never }[Outcome];

/** The outcome fields a `recordTokenOutcome` input carries (the group ids are set by the events that create groups). */
type InputField = 'sinkName' | 'errorHash' | 'batchId';

/**
 * The input of `recordTokenOutcome`, typed per outcome from the table: the required fields of
 * that outcome are required, its optional ones optional, every other outcome field absent (so a
 * `completed` outcome without `sinkName` does not compile). The decider checks the same rule at
 * run time, for callers that are not type-checked.
 */
export type TokenOutcomeInput = {
  [O in RecordableOutcome]: { readonly tokenId: string; readonly outcome: O; readonly context?: unknown } & {
    readonly [F in (typeof OUTCOME_TABLE)[O]['required'][number] & InputField]: string;
  } & {
    readonly [F in (typeof OUTCOME_TABLE)[O]['optional'][number] & InputField]?: string | undefined;
  } & {
    readonly [F in Exclude<InputField, (typeof OUTCOME_TABLE)[O]['required'][number] | (typeof OUTCOME_TABLE)[O]['optional'][number]>]?: never;
  };
}[RecordableOutcome];

/**
 * Groups: the ONE table of how tokens come from other tokens. For each kind, the token field
 * (and export record field) that names the group, the parent's outcome that hands the row on to
 * the group, and the event that creates the group's tokens. Projections, the audit check,
 * explain and import read it.
 */
export const GROUP_TABLE = {
  fork: { tokenField: 'forkGroupId', recordField: 'fork_group_id', parentOutcome: 'forked', createdBy: 'TokenForked' },
  expand: { tokenField: 'expandGroupId', recordField: 'expand_group_id', parentOutcome: 'expanded', createdBy: 'TokenExpanded' },
  join: { tokenField: 'joinGroupId', recordField: 'join_group_id', parentOutcome: 'coalesced', createdBy: 'TokensCoalesced' },
  batch: { tokenField: 'batchId', recordField: 'batch_id', parentOutcome: 'consumed_in_batch', createdBy: 'BatchOutputsProduced' },
} as const satisfies Record<string, { tokenField: OutcomeField; recordField: string; parentOutcome: Outcome; createdBy: string }>;

export type GroupKind = keyof typeof GROUP_TABLE;
export const GROUP_KINDS = Object.keys(GROUP_TABLE) as [GroupKind, ...GroupKind[]];
/** The token and outcome fields that name a group. */
export type GroupField = (typeof GROUP_TABLE)[GroupKind]['tokenField'];
export const GROUP_FIELDS: readonly GroupField[] = GROUP_KINDS.map((k) => GROUP_TABLE[k].tokenField);

/** The group a token or an outcome names through its group fields (the first set, in GROUP_TABLE order), or null. */
export function groupNamed(fields: { readonly [F in GroupField]: string | null }): { kind: GroupKind; groupId: string } | null {
  for (const kind of GROUP_KINDS) {
    const id = fields[GROUP_TABLE[kind].tokenField];
    if (id !== null) return { kind, groupId: id };
  }
  return null;
}

/** How many group fields are set (a token is created by at most one group). */
export function groupFieldCount(fields: { readonly [F in GroupField]: string | null }): number {
  return GROUP_FIELDS.filter((f) => fields[f] !== null).length;
}

/**
 * Terminal outcomes that hand the row on to other tokens (forked, expanded, coalesced,
 * consumed_in_batch): the parent outcomes of the group table.
 */
export const DELEGATING_OUTCOMES: readonly Outcome[] = GROUP_KINDS.map((k) => GROUP_TABLE[k].parentOutcome);

export function isDelegatingOutcome(o: Outcome): boolean {
  return DELEGATING_OUTCOMES.includes(o);
}

/** Outcomes whose token must have been written at a sink (a node state at a sink node; audit invariant 3). */
export const SINK_WRITTEN_OUTCOMES: readonly Outcome[] = ['completed', 'routed'];

/**
 * Checks an outcome's fields against the table. Returns null when they fit, or
 * the offending field and what is wrong with it.
 */
export function outcomeFieldProblem(outcome: Outcome, fields: OutcomeFields): { field: OutcomeField; problem: 'missing' | 'not allowed' } | null {
  const rule: OutcomeRule = OUTCOME_TABLE[outcome];
  for (const f of rule.required) if (fields[f] === null || fields[f] === undefined) return { field: f, problem: 'missing' };
  for (const f of OUTCOME_FIELDS) {
    if (fields[f] !== null && fields[f] !== undefined && !rule.required.includes(f) && !rule.optional.includes(f)) {
      return { field: f, problem: 'not allowed' };
    }
  }
  return null;
}
