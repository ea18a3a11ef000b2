/**
 * The projection feed: a catch-up subscription over every stream of a store that keeps the
 * persisted projection of every run current as events arrive, so that reads find the tables
 * up to date instead of folding what another writer appended (Ledger.followProjections).
 *
 * It reads the store's global log (`readAll`) from its checkpoint, the global position of the
 * last event it has taken into account, which it keeps in the projection store
 * (`ProjectionStore.checkpoint`: in the local projection file of an EventStoreDB store, in the
 * ledger file of SQLite) so that a restarted feed reads only what came after. For every run
 * stream a page touches, `catchUp(runId)` brings that run's tables to the stream's end (it folds
 * only the events the tables lack); then the checkpoint moves to the page's last position.
 * Memory: one page of events, and what catching up one run holds (bounded, as every read).
 *
 * Waking: at once on an append through the same store instance (`watch`), and every
 * `pollIntervalMs` of idleness (appends by other processes and other clients). `caughtUp()`
 * resolves after a pass that began after the call found nothing more to read. An error (the
 * store unreachable, a run whose catch-up fails) stops the feed: it rejects `done` and pending
 * `caughtUp()` calls and goes to `onError`; start a new feed to go on from the checkpoint.
 */
import type { EventStore, ProjectionStore } from '../store/port';
import { runIdOfStream } from '../events/envelope';
import { DEFAULT_POLL_INTERVAL_MS } from './follow';

/** The checkpoint's name in the projection store. */
export const PROJECTION_FEED_CHECKPOINT = 'projection-feed';

export interface ProjectionFeedOptions {
  /** Poll interval in ms when idle (default 200). */
  readonly pollIntervalMs?: number;
  /** Events per read of the global log (a hint to the store). */
  readonly pageSize?: number;
  /** Aborting closes the feed. */
  readonly signal?: AbortSignal;
  /** Called after each page: the runs it brought up to date and the position reached. */
  readonly onUpdate?: (update: { readonly runs: readonly string[]; readonly position: bigint }) => void;
  /** Called once, with the error that stopped the feed. */
  readonly onError?: (error: unknown) => void;
}

export interface ProjectionFeed {
  /** Global position of the last event taken into account (the checkpoint), or null before the first. */
  readonly position: bigint | null;
  /** The error that stopped the feed, or undefined. */
  readonly error: unknown;
  readonly closed: boolean;
  /** Resolves when the feed is closed; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /** Resolves once a pass that began after the call has found nothing more to read. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

export function startProjectionFeed(
  store: EventStore,
  projections: ProjectionStore,
  catchUp: (runId: string) => Promise<void>,
  options: ProjectionFeedOptions = {},
): ProjectionFeed {
  const saved = projections.checkpoint?.(PROJECTION_FEED_CHECKPOINT) ?? null;
  let position: bigint | null = saved === null ? null : BigInt(saved);
  let closed = false;
  let error: unknown;
  let pass = 0;
  let wake: (() => void) | null = null;
  let again = false;
  const waiters: { after: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const poll = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const nudge = (): void => {
    again = true;
    wake?.();
  };
  const unwatch = store.watch?.(() => nudge()) ?? ((): void => undefined);
  const onAbort = (): void => void feed.close();
  options.signal?.addEventListener('abort', onAbort);

  const sleep = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (again || closed) return resolve();
      const timer = setTimeout(done, poll);
      timer.unref?.();
      function done(): void {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const loop = async (): Promise<void> => {
    while (!closed) {
      again = false;
      const started = ++pass;
      let read = 0;
      for await (const page of store.readAll({ ...(position !== null ? { after: position } : {}), ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}) })) {
        if (page.length === 0) continue;
        const runs = [...new Set(page.map((e) => runIdOfStream(e.streamId)).filter((r): r is string => r !== null))];
        for (const runId of runs) await catchUp(runId);
        position = page[page.length - 1]!.position;
        projections.saveCheckpoint?.(PROJECTION_FEED_CHECKPOINT, position.toString());
        read += page.length;
        options.onUpdate?.({ runs, position });
        if (closed) return;
      }
      if (read === 0) {
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.after < started) waiters.splice(i, 1)[0]!.resolve();
        }
        await sleep();
      }
    }
  };

  const finish = (): void => {
    closed = true;
    unwatch();
    options.signal?.removeEventListener('abort', onAbort);
    wake?.();
  };
  const done = loop().then(
    () => {
      finish();
      for (const w of waiters.splice(0)) w.resolve();
    },
    (e: unknown) => {
      error = e;
      finish();
      for (const w of waiters.splice(0)) w.reject(e);
      options.onError?.(e);
      throw e;
    },
  );
  // `done` is the caller's to await; an unobserved failure must not end the process
  done.catch(() => undefined);

  const feed: ProjectionFeed = {
    get position() {
      return position;
    },
    get error() {
      return error;
    },
    get closed() {
      return closed;
    },
    done,
    caughtUp() {
      if (error !== undefined) return Promise.reject(error);
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ after: pass, resolve, reject });
        nudge();
      });
    },
    async close() {
      if (!closed) finish();
      await done.catch(() => undefined);
    },
  };
  return feed;
}
