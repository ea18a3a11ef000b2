/**
 * Live projections: catch-up subscriptions over the EventStore port.
 *
 * `follow(store, { runId }, options)` keeps one run's projection (RunState) current;
 * `follow(store, 'all', options)` keeps a Map<runId, RunState> of every run in the store.
 * A subscription first reads everything after its checkpoint (catch-up), then keeps up
 * with new events. It works on every adapter, through the port only:
 *
 * - Live notification: when the store offers `watch` (memory, SQLite), an append made
 *   through the same store instance wakes the subscription at once.
 * - Polling: every `pollIntervalMs` (default 200 ms) of idleness the subscription reads
 *   from its checkpoint again. This is what sees appends by other processes sharing a
 *   SQLite file, and everything on stores without `watch` (EventStoreDB). A poll that
 *   finds nothing costs one indexed read. `pollIntervalMs: false` turns polling off
 *   (allowed only on a store with `watch`; then appends by other processes go unseen).
 *
 * Guarantees:
 * - Exactly once, in order: one read loop per subscription reads from the checkpoint and
 *   advances it event by event, so a notification racing a poll (or a `caughtUp()` call)
 *   only asks for another pass; no event is handled twice or skipped. A run's revisions
 *   must arrive dense (0, 1, 2, ...): a gap stops the subscription.
 * - Handlers (`onEvent`, then `onUpdate` after each page) are awaited one at a time, and
 *   the next page is not read while a handler runs (back-pressure).
 * - A malformed event (anything `decodeStoredEvent` refuses) stops the subscription with
 *   that error: it is never skipped. The error rejects `done` and every pending
 *   `caughtUp()`, is passed to `onError`, and stays readable as `error`. A failing handler
 *   or a failing read (store closed, unreachable) stops it the same way; restart from
 *   the last checkpoint you saved.
 * - `caughtUp()` resolves once every event whose append had been acknowledged before the
 *   call has been folded in and handled.
 * - `close()` stops polling, removes the store listener and waits for a running pass
 *   (and its handler) to end; no timer is left behind (poll timers are unref'd anyway).
 *
 * Checkpoints are "the last event folded in":
 * - a run: the stream revision (= seq) of the last event, -1 before the first;
 * - 'all': the global store position of the last event read, -1 before the first.
 * `String(sub.checkpoint)` serialises one; `from` accepts the number/bigint or that string.
 * Resuming: pass `from` and the `state` rebuilt up to that checkpoint (for a run,
 * `ledger.loadRun(runId, { asOf: revision })`), and the subscription continues exactly
 * as if it had followed from the start. With `from` but no `state`, the subscription
 * rebuilds the state itself by folding the events up to the checkpoint without calling
 * the handlers (handlers then see only the events after the checkpoint).
 *
 * In 'all' mode, events of streams that are not run streams (`run-<runId>`) are not
 * ledger events: they advance the checkpoint and are otherwise passed over.
 *
 * The projections stay pure: this module, with its timers and store listener, lives
 * outside them (the subscriptions layer of eslint.layers.mjs) and only drives `evolve`
 * with what it reads through the store port.
 */
import { Id } from '../events/codecs';
import { LedgerEvent, runIdOfStream, runStreamId } from '../events/envelope';
import { ledgerError } from '../errors';
import { decodeStoredEvent, DecodeOptions } from '../store/events';
import type { EventStore, StoredEvent } from '../store/port';
import { evolve } from '../projections/evolve';
import { emptyRunState, RunState } from '../projections/state';

/** What to follow: one run, or every run in the store. */
export type FollowTarget = { readonly runId: string } | 'all';

/** A run subscription's checkpoint: the revision (seq) of the last event folded in; -1 before the first. */
export type RunCheckpoint = number;
/** An 'all' subscription's checkpoint: the global position of the last event read; -1n before the first. */
export type AllCheckpoint = bigint;

/** What `onEvent` receives with each event, after the event was folded into the state. */
export interface FollowEventInfo<C> {
  /** The event as read from the store. */
  readonly stored: StoredEvent;
  /** The projection of the event's run, with the event folded in. */
  readonly state: RunState;
  /** The checkpoint that includes this event (save it to resume after this event). */
  readonly checkpoint: C;
}

/** What `onUpdate` receives after each page of events was folded in and handled. */
export interface FollowUpdate<S, C> {
  readonly state: S;
  readonly checkpoint: C;
  /** Ledger events folded in by this page. */
  readonly events: number;
}

export interface FollowOptions<S, C> {
  /** Resume after this checkpoint (exclusive): a value of `sub.checkpoint` or its `String()`. Default: from the start. */
  readonly from?: C | number | string;
  /**
   * The state rebuilt up to `from` (a run's RunState, or for 'all' a Map of them). The
   * subscription takes it over and updates it in place. Without it, the state is rebuilt
   * from the store (handlers are not called for the events up to `from`).
   */
  readonly state?: S;
  /** Called for each event after `from`, in order, one at a time, after the event was folded in. */
  readonly onEvent?: (event: LedgerEvent, info: FollowEventInfo<C>) => void | Promise<void>;
  /** Called after each page of events was folded in (and `onEvent` ran for each of them). */
  readonly onUpdate?: (update: FollowUpdate<S, C>) => void | Promise<void>;
  /** Called once, with the error that stopped the subscription. */
  readonly onError?: (error: unknown) => void;
  /** Poll interval in ms when idle (default 200). `false`: no polling (only on stores with `watch`). */
  readonly pollIntervalMs?: number | false;
  /** Events per read (a hint to the store). Default: the store's default page size. */
  readonly pageSize?: number;
  /** Aborting closes the subscription. */
  readonly signal?: AbortSignal;
  /** Upcasters / schema versions for decoding (default: the library's). */
  readonly decode?: DecodeOptions;
}

export type FollowRunOptions = FollowOptions<RunState, RunCheckpoint>;
export type FollowAllOptions = FollowOptions<Map<string, RunState>, AllCheckpoint>;

export interface Subscription<S, C> {
  readonly target: FollowTarget;
  /** The projection, kept current (updated in place). */
  readonly state: S;
  /** The checkpoint of `state` (see the module comment); `String(checkpoint)` serialises it. */
  readonly checkpoint: C;
  /** The error that stopped the subscription, or undefined. */
  readonly error: unknown;
  /** True once closed (by `close()`, the abort signal, or an error). */
  readonly closed: boolean;
  /** Resolves when the subscription is closed; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /** Resolves once everything appended (and acknowledged) before the call has been folded in and handled. */
  caughtUp(): Promise<void>;
  /** Stops the subscription; resolves once its read loop has ended. */
  close(): Promise<void>;
}

export type RunSubscription = Subscription<RunState, RunCheckpoint>;
export type AllSubscription = Subscription<ReadonlyMap<string, RunState>, AllCheckpoint>;

export const DEFAULT_POLL_INTERVAL_MS = 200;
/** The longest interval setTimeout honours. */
const MAX_POLL_INTERVAL_MS = 2 ** 31 - 1;

/** Follows one run, or every run in the store (see the module comment). */
export function follow(store: EventStore, target: { readonly runId: string }, options?: FollowRunOptions): RunSubscription;
export function follow(store: EventStore, target: 'all', options?: FollowAllOptions): AllSubscription;
export function follow(store: EventStore, target: FollowTarget, options?: FollowRunOptions | FollowAllOptions): RunSubscription | AllSubscription;
export function follow(store: EventStore, target: FollowTarget, options: FollowRunOptions | FollowAllOptions = {}): RunSubscription | AllSubscription {
  if (store === null || typeof store !== 'object' || typeof store.readStream !== 'function' || typeof store.readAll !== 'function') {
    throw ledgerError('INVALID_INPUT', 'follow: store must be an EventStore', { path: 'store' });
  }
  if (options === null || typeof options !== 'object') throw ledgerError('INVALID_INPUT', 'follow: options must be an object', { path: 'options' });
  const common = commonOptions(store, options);
  if (target === 'all') return new AllFollower(store, options as FollowAllOptions, common);
  if (target === null || typeof target !== 'object' || !Id.is((target as { runId?: unknown }).runId)) {
    throw ledgerError('INVALID_INPUT', `follow: target must be 'all' or { runId } with a run id, got ${describe(target)}`, { path: 'target' });
  }
  return new RunFollower(store, target.runId, options as FollowRunOptions, common);
}

interface CommonOptions {
  readonly pollIntervalMs: number | false;
  readonly pageSize: number | undefined;
}

function commonOptions(store: EventStore, o: FollowRunOptions | FollowAllOptions): CommonOptions {
  const poll = o.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (poll === false) {
    if (typeof store.watch !== 'function') {
      throw ledgerError('INVALID_INPUT', `follow: pollIntervalMs: false needs a store with live notification (watch); the ${store.kind} store has none`, {
        path: 'pollIntervalMs',
      });
    }
  } else if (typeof poll !== 'number' || !Number.isFinite(poll) || poll <= 0 || poll > MAX_POLL_INTERVAL_MS) {
    throw ledgerError('INVALID_INPUT', `follow: pollIntervalMs must be a positive number of ms (at most ${MAX_POLL_INTERVAL_MS}) or false, got ${describe(poll)}`, {
      path: 'pollIntervalMs',
    });
  }
  if (o.pageSize !== undefined && (!Number.isSafeInteger(o.pageSize) || o.pageSize <= 0)) {
    throw ledgerError('INVALID_INPUT', `follow: pageSize must be a positive integer, got ${describe(o.pageSize)}`, { path: 'pageSize' });
  }
  for (const k of ['onEvent', 'onUpdate', 'onError'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw ledgerError('INVALID_INPUT', `follow: ${k} must be a function`, { path: k });
  }
  return { pollIntervalMs: poll, pageSize: o.pageSize };
}

function describe(u: unknown): string {
  if (typeof u === 'bigint') return `${u}n`;
  try {
    return JSON.stringify(u) ?? String(u);
  } catch {
    return String(u);
  }
}

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The read loop shared by both kinds of subscription. Every reason to read (start,
 * notification, poll, caughtUp) bumps `requested`; the single loop runs passes while a
 * request is newer than the last completed pass. A pass captures `requested` when it
 * starts and reads from the checkpoint to the end of what the store holds.
 */
abstract class Follower<S, C extends number | bigint> implements Subscription<S, C> {
  abstract readonly target: FollowTarget;
  abstract readonly state: S;
  readonly done: Promise<void>;

  protected abstract cp: C;
  /** Events up to this checkpoint are folded without calling handlers (rebuilding the state up to `from`); null when none. */
  protected silentUntil: C | null = null;

  private requested = 0;
  private completed = 0;
  private waiters: Waiter[] = [];
  private loop: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private unwatch: (() => void) | null = null;
  private stopping = false;
  private failure: { error: unknown } | null = null;
  private inHandler = false;
  private resolveDone: () => void = () => undefined;
  private rejectDone: (e: unknown) => void = () => undefined;
  private readonly onAbort = (): void => void this.close();

  protected constructor(
    protected readonly store: EventStore,
    protected readonly options: FollowOptions<S, C>,
    protected readonly common: CommonOptions,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined); // the error is also kept in `error` and given to onError: never an unhandled rejection
  }

  /** Called by subclasses once their fields are set. */
  protected start(): void {
    const signal = this.options.signal;
    if (signal?.aborted === true) {
      this.stopping = true;
      this.resolveDone();
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (typeof this.store.watch === 'function') {
      this.unwatch = this.store.watch((streamId) => {
        if (this.wants(streamId)) this.request();
      });
    }
    this.request();
  }

  get checkpoint(): C {
    return this.cp;
  }

  get error(): unknown {
    return this.failure?.error;
  }

  get closed(): boolean {
    return this.stopping || this.failure !== null;
  }

  caughtUp(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    if (this.stopping) return Promise.reject(closedError());
    this.request();
    const generation = this.requested;
    return new Promise<void>((resolve, reject) => this.waiters.push({ generation, resolve, reject }));
  }

  async close(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.detach();
      const waiters = this.waiters.splice(0);
      for (const w of waiters) w.reject(closedError());
      if (this.failure === null) this.resolveDone();
    }
    // From inside a handler the loop cannot end before the handler returns: do not wait for it.
    if (this.inHandler) return;
    const loop = this.loop;
    if (loop !== null) await loop;
  }

  /** Whether an append to this stream concerns the subscription. */
  protected abstract wants(streamId: string): boolean;
  /** One pass: reads from the checkpoint to the end, folding and handling each page. */
  protected abstract pass(): Promise<void>;
  /** Called after the first completed pass: checks that `from` was reached. */
  protected abstract afterRebuild(): void;

  protected get stopped(): boolean {
    return this.stopping || this.failure !== null;
  }

  /** Runs a handler, flagged so that `close()` called from inside it does not wait for itself. */
  protected async handle(work: () => void | Promise<void>): Promise<void> {
    this.inHandler = true;
    try {
      await work();
    } finally {
      this.inHandler = false;
    }
  }

  protected decode(stored: StoredEvent): LedgerEvent {
    return decodeStoredEvent(stored, this.options.decode);
  }

  protected isSilent(at: C): boolean {
    return this.silentUntil !== null && at <= this.silentUntil;
  }

  private request(): void {
    if (this.stopped) return;
    this.requested++;
    if (this.loop === null) this.loop = this.run();
  }

  private async run(): Promise<void> {
    await Promise.resolve(); // never read inside the caller's (or the store's) synchronous code
    this.clearTimer();
    try {
      while (!this.stopped && this.completed < this.requested) {
        const generation = this.requested;
        await this.pass();
        if (this.stopped) break;
        if (this.silentUntil !== null) {
          this.afterRebuild();
          this.silentUntil = null;
        }
        this.completed = generation;
        this.settleWaiters();
      }
    } catch (e) {
      if (!this.stopping) this.fail(e);
    } finally {
      this.loop = null;
      if (!this.stopped) this.armTimer();
    }
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.generation <= this.completed);
    this.waiters = this.waiters.filter((w) => w.generation > this.completed);
    for (const w of ready) w.resolve();
  }

  private fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = { error };
    this.detach();
    for (const w of this.waiters.splice(0)) w.reject(error);
    this.rejectDone(error);
    try {
      this.options.onError?.(error);
    } catch {
      // the subscription has stopped either way
    }
  }

  private detach(): void {
    this.clearTimer();
    this.unwatch?.();
    this.unwatch = null;
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  private armTimer(): void {
    if (this.common.pollIntervalMs === false || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.request();
    }, this.common.pollIntervalMs);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function closedError(): Error {
  return ledgerError('STORE_CLOSED', 'the subscription is closed', { subscription: true });
}

function parseCheckpoint(from: unknown, kind: 'run' | 'all'): bigint | null {
  if (from === undefined) return null;
  let value: bigint | null = null;
  if (typeof from === 'bigint') value = from;
  else if (typeof from === 'number' && Number.isSafeInteger(from)) value = BigInt(from);
  else if (typeof from === 'string' && /^(-1|0|[1-9]\d*)$/.test(from)) value = BigInt(from);
  if (value === null || value < -1n || (kind === 'run' && value > BigInt(Number.MAX_SAFE_INTEGER))) {
    throw ledgerError(
      'INVALID_INPUT',
      `follow: from must be a ${kind === 'run' ? 'stream revision' : 'store position'} (an integer >= -1, or its decimal string), got ${describe(from)}`,
      { path: 'from' },
    );
  }
  return value;
}

// ---------------------------------------------------------------------------
// One run

class RunFollower extends Follower<RunState, RunCheckpoint> {
  readonly target: FollowTarget;
  readonly state: RunState;
  protected cp: RunCheckpoint;
  private readonly streamId: string;

  constructor(store: EventStore, runId: string, options: FollowRunOptions, common: CommonOptions) {
    super(store, options, common);
    this.target = { runId };
    this.streamId = runStreamId(runId);
    const from = parseCheckpoint(options.from, 'run');
    const given = options.state;
    if (given !== undefined) {
      if (given === null || typeof given !== 'object' || given.runId !== runId || !Number.isSafeInteger(given.version)) {
        throw ledgerError('INVALID_INPUT', `follow: state must be the RunState of run ${runId}`, { path: 'state' });
      }
      if (from !== null && BigInt(given.version) !== from) {
        throw ledgerError('INVALID_INPUT', `follow: state is at revision ${given.version} but from is ${from}; give the state rebuilt up to the checkpoint`, {
          path: 'state',
          version: given.version,
          from: String(from),
        });
      }
      this.state = given;
      this.cp = given.version;
    } else {
      this.state = emptyRunState(runId);
      this.cp = -1;
      if (from !== null && from >= 0n) this.silentUntil = Number(from);
    }
    this.start();
  }

  protected wants(streamId: string): boolean {
    return streamId === this.streamId;
  }

  protected async pass(): Promise<void> {
    const pages = this.store.readStream(this.streamId, { fromRevision: this.cp + 1, ...(this.common.pageSize === undefined ? {} : { pageSize: this.common.pageSize }) });
    for await (const page of pages) {
      if (this.stopped) return;
      let handled = 0;
      for (const stored of page) {
        if (this.stopped) return;
        if (stored.streamId !== this.streamId || stored.revision !== this.cp + 1) {
          throw ledgerError(
            'MALFORMED_EVENT',
            `follow: expected ${this.streamId}@${this.cp + 1} but the store returned ${stored.streamId}@${stored.revision}`,
            { streamId: stored.streamId, revision: stored.revision, expected: this.cp + 1 },
          );
        }
        const event = this.decode(stored);
        evolve(this.state, event);
        this.cp = stored.revision;
        if (this.isSilent(stored.revision)) continue;
        handled++;
        const onEvent = this.options.onEvent;
        if (onEvent !== undefined) {
          const info: FollowEventInfo<RunCheckpoint> = { stored, state: this.state, checkpoint: this.cp };
          await this.handle(() => onEvent(event, info));
        }
      }
      const onUpdate = this.options.onUpdate;
      if (handled > 0 && onUpdate !== undefined && !this.stopped) {
        await this.handle(() => onUpdate({ state: this.state, checkpoint: this.cp, events: handled }));
      }
    }
  }

  protected afterRebuild(): void {
    if (this.silentUntil !== null && this.cp < this.silentUntil) {
      throw ledgerError(
        'INVALID_INPUT',
        `follow: checkpoint ${this.silentUntil} is beyond the end of ${this.streamId} (last revision ${this.cp})`,
        { path: 'from', from: this.silentUntil, last: this.cp },
      );
    }
  }
}

// ---------------------------------------------------------------------------
// Every run

class AllFollower extends Follower<Map<string, RunState>, AllCheckpoint> {
  readonly target: FollowTarget = 'all';
  readonly state: Map<string, RunState>;
  protected cp: AllCheckpoint;

  constructor(store: EventStore, options: FollowAllOptions, common: CommonOptions) {
    super(store, options, common);
    const from = parseCheckpoint(options.from, 'all');
    const given = options.state;
    if (given !== undefined) {
      if (!(given instanceof Map)) throw ledgerError('INVALID_INPUT', 'follow: state must be a Map of runId to RunState', { path: 'state' });
      for (const [runId, s] of given) {
        if (s === null || typeof s !== 'object' || s.runId !== runId || !Number.isSafeInteger(s.version)) {
          throw ledgerError('INVALID_INPUT', `follow: state entry ${runId} is not the RunState of that run`, { path: ['state', runId] });
        }
      }
      if (from === null && given.size > 0) {
        throw ledgerError('INVALID_INPUT', 'follow: a state for all runs needs the position it was rebuilt up to (from)', { path: 'from' });
      }
      this.state = given;
      this.cp = from ?? -1n;
    } else {
      this.state = new Map();
      this.cp = -1n;
      if (from !== null && from >= 0n) this.silentUntil = from;
    }
    this.start();
  }

  protected wants(streamId: string): boolean {
    return runIdOfStream(streamId) !== null;
  }

  protected async pass(): Promise<void> {
    const pages = this.store.readAll({
      ...(this.cp >= 0n ? { after: this.cp } : {}),
      ...(this.common.pageSize === undefined ? {} : { pageSize: this.common.pageSize }),
    });
    for await (const page of pages) {
      if (this.stopped) return;
      let handled = 0;
      for (const stored of page) {
        if (this.stopped) return;
        if (typeof stored.position !== 'bigint' || stored.position <= this.cp) {
          throw ledgerError('MALFORMED_EVENT', `follow: the store returned position ${String(stored.position)} after position ${this.cp}`, {
            streamId: stored.streamId,
            revision: stored.revision,
          });
        }
        const runId = runIdOfStream(stored.streamId);
        if (runId === null) {
          this.cp = stored.position; // not a ledger stream
          continue;
        }
        let state = this.state.get(runId);
        const expected = state === undefined ? 0 : state.version + 1;
        if (stored.revision !== expected) {
          throw ledgerError(
            'MALFORMED_EVENT',
            `follow: expected ${stored.streamId}@${expected} but the store returned ${stored.streamId}@${stored.revision}` +
              (state === undefined ? ' (the state given to resume from lacks this run?)' : ''),
            { streamId: stored.streamId, revision: stored.revision, expected },
          );
        }
        const event = this.decode(stored);
        if (state === undefined) {
          state = emptyRunState(runId);
          this.state.set(runId, state);
        }
        evolve(state, event);
        this.cp = stored.position;
        if (this.isSilent(stored.position)) continue;
        handled++;
        const onEvent = this.options.onEvent;
        if (onEvent !== undefined) {
          const info: FollowEventInfo<AllCheckpoint> = { stored, state, checkpoint: this.cp };
          await this.handle(() => onEvent(event, info));
        }
      }
      const onUpdate = this.options.onUpdate;
      if (handled > 0 && onUpdate !== undefined && !this.stopped) {
        await this.handle(() => onUpdate({ state: this.state, checkpoint: this.cp, events: handled }));
      }
    }
  }

  protected afterRebuild(): void {
    if (this.silentUntil !== null && this.cp < this.silentUntil) {
      throw ledgerError('INVALID_INPUT', `follow: checkpoint ${this.silentUntil} is beyond the end of the store (last position ${this.cp})`, {
        path: 'from',
        from: String(this.silentUntil),
        last: String(this.cp),
      });
    }
  }
}
