/**
 * A run handle: the write side of one run. It has one method per recorder command (generated
 * from the command table, commands/index.ts). Each method validates its input
 * (io-ts, path of the first bad field), decides against the run's projection,
 * folds the new events into the projection and appends them to the run stream
 * with optimistic concurrency. A method call's events are appended atomically.
 *
 * Calls may overlap (many rows in flight): each call decides against the
 * projection including earlier calls that are not durable yet. One append is in
 * flight at a time; calls decided meanwhile are appended together, as one append,
 * when it has succeeded. If an append fails, the handle's projection is ahead of
 * the store: nothing decided after the failure is written, the handle turns stale,
 * every later call fails with RUN_HANDLE_STALE, and `ledger.openRun` rebuilds a
 * fresh handle from what the store actually holds.
 */
import { decodeOrThrow } from '../events/codecs';
import { EVENT_CATALOGUE } from '../events/catalogue';
import { LedgerEvent, runStreamId } from '../events/envelope';
import { toProposedEvent } from '../store/events';
import { isLedgerError, LedgerError, ledgerError } from '../errors';
import { evolve } from '../projections/evolve';
import { DeferredProjection, ProjectionTracker } from '../projections/persisted';
import type { RunState } from '../projections/state';
import type { EventStore, ExpectedRevision, ProjectionDelta, ProposedEvent } from '../store/port';
import type { PayloadStore } from '../payloads/store';
import {
  ArgumentOf,
  COMMAND_INPUT_CODECS,
  COMMAND_NAMES,
  COMMANDS,
  CommandArguments,
  CommandName,
  CommandResults,
  CommandTable,
  DecideContext,
  decide,
  EventDraft,
  ResultOf,
} from './commands';

export interface RecorderDeps {
  readonly store: EventStore;
  /** Current time as a UTC ISO-8601 string with offset. */
  readonly now: () => string;
  readonly newId: () => string;
  readonly correlationId: string | null;
  readonly causationId: string | null;
  /** The payload store: when set, bodies (row data, call request and response, routing reasons, operation input and output) are written to it before each append. */
  readonly payloads?: PayloadStore | null;
}

/**
 * The run handle's recording methods, one per command of the table (commands/index.ts): each
 * takes the command's input and resolves to its result once the command's events are stored.
 */
export type RecordingMethods = MethodsOf<CommandTable>;
type MethodsOf<T> = { [K in keyof T]: (input: ArgumentOf<T[K]>) => Promise<ResultOf<T[K]>> };

/** Builds the envelopes for drafts that follow `state`'s last event. */
export function envelopes(state: RunState, drafts: readonly EventDraft[], deps: Pick<RecorderDeps, 'now' | 'newId' | 'correlationId' | 'causationId'>): LedgerEvent[] {
  const recordedAt = deps.now();
  return drafts.map(
    (d, k) =>
      ({
        eventId: deps.newId(),
        type: d.type,
        schemaVersion: EVENT_CATALOGUE[d.type].schemaVersion,
        runId: state.runId,
        seq: state.version + 1 + k,
        recordedAt,
        correlationId: deps.correlationId,
        causationId: deps.causationId,
        data: d.data,
      }) as LedgerEvent,
  );
}

/**
 * Folds an append's events into the state. With a persisted projection the fold is
 * tracked, and `pending` holds the projection changes of this append (with the ticket
 * that pins them) for the DeferredProjection once the store has acknowledged the append.
 */
export function foldForAppend(
  state: RunState,
  tracker: ProjectionTracker | null,
  envs: readonly LedgerEvent[],
): { proposed: ProposedEvent[]; pending: { delta: ProjectionDelta; ticket: number } | null } {
  const fromVersion = state.version;
  const proposed: ProposedEvent[] = new Array(envs.length);
  if (tracker !== null) tracker.active = true;
  try {
    for (let k = 0; k < envs.length; k++) {
      tracker?.noteEvent(envs[k]!.type);
      evolve(state, envs[k]!);
      proposed[k] = toProposedEvent(envs[k]!);
    }
  } finally {
    if (tracker !== null) tracker.active = false;
  }
  return { proposed, pending: tracker === null ? null : tracker.collect(fromVersion) };
}

/**
 * Writes a recording handle's merged projection changes. When another process (or a
 * reader) has meanwhile caught the tables up from the events, the write continues from
 * where they are, or is skipped when they are already past it: the fold is deterministic,
 * so the tables hold the same values either way. Tables behind the handle (dropped while
 * recording) cannot be continued: the write fails and the handle turns stale.
 */
export function projectionWriter(store: EventStore, streamId: string): (delta: ProjectionDelta) => void {
  const projections = store.projections!;
  return (delta) => {
    try {
      projections.write(streamId, delta);
    } catch (e) {
      if (!isLedgerError(e, 'CONCURRENCY_CONFLICT')) throw e;
      const at = projections.open(streamId).version;
      if (at >= delta.toVersion) return;
      if (at > delta.fromVersion) {
        projections.write(streamId, { ...delta, fromVersion: at });
        return;
      }
      throw e;
    }
  };
}

/** Events merged into one append by a handle's write queue, at most (an append stays well under a server's size limit). */
const MAX_MERGED_EVENTS = 256;

interface QueuedAppend {
  readonly name: string;
  readonly proposed: ProposedEvent[];
  /** Payload body files this append's events refer to, made durable before the append. */
  readonly bodies: readonly string[];
  readonly expected: ExpectedRevision;
  readonly done: (error: LedgerError | null) => void;
}

// The recording methods are generated from the command table (the static block below), so the
// class declares them through this interface.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface RunHandle extends RecordingMethods {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class RunHandle {
  readonly runId: string;
  private readonly streamId: string;
  private staleCause: LedgerError | null = null;
  private readonly ctx: DecideContext;
  /** Persisted projection: acknowledged changes not yet written to the tables. */
  private readonly deferred: DeferredProjection | null;

  constructor(
    private readonly deps: RecorderDeps,
    private readonly state: RunState,
    private readonly readOnly: { asOf: string } | null = null,
    /** Set when the projection is persisted: the tracker whose deltas go with each append. */
    private readonly tracker: ProjectionTracker | null = null,
    /** beginRun: the projection changes of the run's first append, already acknowledged. */
    first: { delta: ProjectionDelta; ticket: number } | null = null,
  ) {
    this.runId = state.runId;
    this.streamId = runStreamId(state.runId);
    // ids generated for a persisted projection are known to be in no table yet (ProjectionTracker.fresh)
    this.ctx = {
      storePayloads: (deps.payloads ?? null) !== null,
      newId:
        tracker === null
          ? deps.newId
          : () => {
              const id = deps.newId();
              tracker.noteFresh(id);
              return id;
            },
    };
    this.deferred =
      tracker === null ? null : new DeferredProjection(tracker, projectionWriter(deps.store, this.streamId), first?.delta.fromVersion ?? state.version);
    if (first !== null) this.deferred?.acknowledged(first.delta, first.ticket);
  }

  /**
   * Writes the projection changes of every acknowledged append to the store's projection
   * tables now (they are otherwise written in windows of several thousand entries, and after
   * `complete`). The ledger does this before it reads the run and when it closes.
   */
  flushProjection(): void {
    if (this.deferred === null) return;
    try {
      this.deferred.flush();
    } catch (e) {
      this.turnStale(e);
      throw e;
    }
  }

  private turnStale(e: unknown): void {
    if (this.staleCause === null) this.staleCause = isLedgerError(e) ? e : ledgerError('STORE_UNAVAILABLE', `projection of ${this.runId}: ${(e as Error).message}`, {}, e);
  }

  /** The run's projection as this handle sees it (including appends still in flight). Do not mutate. */
  get projection(): Readonly<RunState> {
    return this.state;
  }

  /** seq of the last event in the projection. */
  get revision(): number {
    return this.state.version;
  }

  get isStale(): boolean {
    return this.staleCause !== null;
  }

  /** Moves a batch to its terminal status (completed or failed). */
  completeBatch(input: CommandArguments['updateBatchStatus'] & { status: 'completed' | 'failed' }): Promise<CommandResults['updateBatchStatus']> {
    if (input === null || typeof input !== 'object' || (input.status !== 'completed' && input.status !== 'failed')) {
      return Promise.reject(ledgerError('INVALID_INPUT', 'status: completeBatch takes completed or failed', { path: 'status' }));
    }
    return this.execute('updateBatchStatus', input);
  }

  // The recording methods (RecordingMethods), one per command of the table, each a plain
  // method on the prototype like completeBatch.
  static {
    for (const name of COMMAND_NAMES) {
      const method = {
        [name](this: RunHandle, input: unknown) {
          return this.execute(name, input);
        },
      }[name];
      Object.defineProperty(RunHandle.prototype, name, { value: method, writable: true, configurable: true, enumerable: false });
    }
  }

  /**
   * The handle's write queue: at most one append in flight. Calls decided while it is in
   * flight wait, and go to the store together as ONE append once it has succeeded (all of
   * them are stored, or none). When an append fails, nothing decided after it is ever
   * written: the waiting calls fail with RUN_HANDLE_STALE. (Expected revisions alone cannot
   * guarantee this: after another writer's events, a later call's expected revision may
   * match the stream by coincidence.)
   */
  private readonly waiting: QueuedAppend[] = [];
  private writing = false;

  /** Settles when the last append queued so far is stored (rejects when it failed). */
  private lastWrite: Promise<void> = Promise.resolve();

  private write(name: string, proposed: ProposedEvent[], expected: ExpectedRevision, bodies: readonly string[] = []): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.waiting.push({ name, proposed, expected, bodies, done: (e) => (e === null ? resolve() : reject(e)) });
      if (!this.writing) void this.pump();
    });
    this.lastWrite = p;
    p.catch(() => undefined); // observed by its caller; this copy only orders later no-op results
    return p;
  }

  private async pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        if (this.staleCause !== null) {
          for (const q of this.waiting.splice(0)) q.done(this.notStored(q.name, 'an earlier append failed'));
          return;
        }
        let n = 0;
        let events = 0;
        while (n < this.waiting.length && (n === 0 || events + this.waiting[n]!.proposed.length <= MAX_MERGED_EVENTS)) events += this.waiting[n++]!.proposed.length;
        const batch = this.waiting.splice(0, n);
        const proposed = batch.length === 1 ? batch[0]!.proposed : batch.flatMap((q) => q.proposed);
        try {
          const bodies = batch.length === 1 ? batch[0]!.bodies : batch.flatMap((q) => q.bodies);
          if (bodies.length > 0) await this.deps.payloads!.syncBodies(bodies);
          await this.deps.store.append(this.streamId, proposed, batch[0]!.expected);
        } catch (e) {
          const err = isLedgerError(e) ? e : ledgerError('STORE_UNAVAILABLE', `append to ${this.streamId} failed: ${(e as Error).message}`, {}, e);
          if (this.staleCause === null) this.staleCause = err;
          batch[0]!.done(err);
          for (const q of batch.slice(1)) q.done(this.notStored(q.name, `it was written together with ${batch[0]!.name}, which failed`));
          continue;
        }
        for (const q of batch) q.done(null);
      }
    } finally {
      this.writing = false;
    }
  }

  private notStored(name: string, why: string): LedgerError {
    return ledgerError('RUN_HANDLE_STALE', `${name} on run ${this.runId} was not stored because ${why} (${this.staleCause?.code ?? 'unknown'}); reopen the run`, {
      runId: this.runId,
      cause: this.staleCause?.code,
    });
  }

  /**
   * Decides one command now and queues its append: throws the command's rejection at once
   * (nothing queued), or returns its result with the promise of its storage. Calls submitted
   * one after another are decided in that order, each against the state including the ones
   * before it, and their appends are written in that order (merged when they queue up). For a
   * caller that sends many commands at once and must stop at the first rejected one (the HTTP
   * collector, ingest): the result is final only once `stored` resolves.
   */
  submit<K extends CommandName>(name: K, raw: unknown): { readonly result: CommandResults[K]; readonly stored: Promise<void> } {
    if (this.readOnly !== null) {
      throw ledgerError('READ_ONLY', `run ${this.runId} is open as of ${this.readOnly.asOf}; a historical view cannot record`, { runId: this.runId });
    }
    if (this.staleCause !== null) {
      throw ledgerError('RUN_HANDLE_STALE', `run handle for ${this.runId} is stale since an append failed (${this.staleCause.code}: ${this.staleCause.message}); reopen the run`, {
        runId: this.runId,
        cause: this.staleCause.code,
      });
    }
    if (!Object.prototype.hasOwnProperty.call(COMMANDS, name)) {
      throw ledgerError('INVALID_INPUT', `op: not a recorder command (one of ${COMMAND_NAMES.join(', ')})`, { path: 'op' });
    }
    const input = decodeOrThrow(COMMAND_INPUT_CODECS[name], raw, `${name} input`);
    const decision = decide(this.state, name, input, this.ctx);
    if (decision._tag === 'Left') throw decision.left;
    const { events, result, bodies } = decision.right;
    const bodyFiles = bodies !== undefined && bodies.length > 0 ? this.storeBodies(name, bodies) : [];
    if (events.length === 0) {
      // nothing to write (an idempotent repeat): final once what it repeats is stored
      const after = this.lastWrite;
      return { result, stored: after };
    }
    const expected = this.state.version < 0 ? ('no_stream' as const) : this.state.version;
    const envs = envelopes(this.state, events, this.deps);
    const { proposed, pending } = foldForAppend(this.state, this.tracker, envs);
    const stored = this.write(name, proposed, expected, bodyFiles).then(() => {
      if (pending !== null && this.staleCause === null) {
        // the append is stored whatever happens to the projection: a failure here only makes the handle stale
        try {
          this.deferred!.acknowledged(pending.delta, pending.ticket);
          if (name === 'complete') this.deferred!.flush();
        } catch (e) {
          this.turnStale(e);
        }
      }
    });
    return { result, stored };
  }

  /**
   * Writes a decision's payload bodies before its events are appended (whole files, not yet
   * synced: the write queue syncs the bodies of each group commit together just before its
   * append). A failed write fails the command with STORE_UNAVAILABLE and nothing is appended; a
   * body written for a command that then fails stays unreferenced (bodies are content-addressed,
   * so this is harmless). Returns the files to sync.
   */
  private storeBodies(name: string, bodies: readonly { hash: string; bytes: Buffer }[]): string[] {
    const store = this.deps.payloads!;
    const files: string[] = [];
    for (const b of bodies) {
      try {
        files.push(store.putUnsynced(b.hash, b.bytes));
      } catch (e) {
        if (isLedgerError(e, 'STORE_UNAVAILABLE')) throw e;
        throw ledgerError('STORE_UNAVAILABLE', `${name} on run ${this.runId}: a payload body could not be stored; nothing was appended`, { runId: this.runId }, e);
      }
    }
    return files;
  }

  private async execute<K extends CommandName>(name: K, raw: unknown): Promise<CommandResults[K]> {
    const { result, stored } = this.submit(name, raw);
    await stored;
    return result;
  }
}
