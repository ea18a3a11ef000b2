/** Helpers of the follow (catch-up subscription) tests: state comparison, store wrappers, adapters. */
import * as path from 'node:path';
import type { RunState } from '../../src/projections/state';
import { MemoryEventStore } from '../../src/store/memory';
import type { AppendResult, EventStore, ExpectedRevision, ProposedEvent, ReadAllOptions, ReadStreamOptions, StoredEvent, StreamInfo } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';

/**
 * A RunState as plain, order-independent data: Maps become arrays of [key, value]
 * sorted by key, Sets sorted arrays, object keys sorted; arrays keep their order
 * (parent lists, member lists and anomalies are ordered facts).
 */
export function plainState(v: unknown): unknown {
  if (v instanceof Map) {
    return [...v.entries()].map(([k, x]) => [k, plainState(x)] as const).sort((a, b) => compare(JSON.stringify(a[0]), JSON.stringify(b[0])));
  }
  if (v instanceof Set) return [...v].map(plainState).sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
  if (Array.isArray(v)) return v.map(plainState);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = plainState((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** The insertion order of every Map and Set of a RunState (the export's documented order): must match too. */
export function insertionOrders(state: RunState): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(state)) if (v instanceof Map || v instanceof Set) out[k] = [...v.keys()];
  return out;
}

/** Both views of a state, for one toEqual. */
export function comparable(state: RunState | undefined): unknown {
  return state === undefined ? undefined : { plain: plainState(state), order: insertionOrders(state) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` is true, polling every few ms; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Delegates to a store, serialising appends (in call order, as the recorder issues
 * them) and running `afterAppend` after each successful one before the next starts:
 * nothing else is appended while the hook compares states.
 */
export class SteppedStore implements EventStore {
  readonly kind: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly inner: EventStore,
    private readonly afterAppend: (streamId: string, result: AppendResult) => Promise<void>,
  ) {
    this.kind = inner.kind;
  }

  append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const p = this.chain.then(async () => {
      const result = await this.inner.append(streamId, events, expected);
      await this.afterAppend(streamId, result);
      return result;
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<readonly StoredEvent[]> {
    return this.inner.readStream(streamId, options);
  }

  readAll(options?: ReadAllOptions): AsyncIterable<readonly StoredEvent[]> {
    return this.inner.readAll(options);
  }

  listStreams(): Promise<readonly StreamInfo[]> {
    return this.inner.listStreams();
  }

  streamRevision(streamId: string): Promise<number | null> {
    return this.inner.streamRevision(streamId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Delegates to a store and counts reads. `busy()` tells whether a page is being
 * fetched while it returns true (back-pressure check). No `watch`: a subscription on
 * it must poll, unless `withWatch` passes the inner store's through.
 */
export class CountingStore implements EventStore {
  readonly kind: string;
  reads = 0;
  pagesFetched = 0;
  pagesFetchedWhileBusy = 0;
  busy: () => boolean = () => false;
  watch?: EventStore['watch'];

  constructor(
    readonly inner: EventStore,
    withWatch = false,
  ) {
    this.kind = inner.kind;
    if (withWatch && inner.watch !== undefined) this.watch = (listener) => inner.watch!(listener);
  }

  append(streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.inner.append(streamId, events, expected);
  }

  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<readonly StoredEvent[]> {
    this.reads++;
    return this.count(this.inner.readStream(streamId, options));
  }

  readAll(options?: ReadAllOptions): AsyncIterable<readonly StoredEvent[]> {
    this.reads++;
    return this.count(this.inner.readAll(options));
  }

  private async *count(pages: AsyncIterable<readonly StoredEvent[]>): AsyncIterable<readonly StoredEvent[]> {
    for await (const page of pages) {
      this.pagesFetched++;
      if (this.busy()) this.pagesFetchedWhileBusy++;
      yield page;
    }
  }

  listStreams(): Promise<readonly StreamInfo[]> {
    return this.inner.listStreams();
  }

  streamRevision(streamId: string): Promise<number | null> {
    return this.inner.streamRevision(streamId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface AdapterSubject {
  readonly store: EventStore;
  readonly cleanup: () => Promise<void>;
}

/** The adapters every follow test runs on: memory and SQLite (a temp file). */
export const ADAPTERS: ReadonlyArray<[string, () => Promise<AdapterSubject>]> = [
  ['memory', async () => ({ store: new MemoryEventStore(), cleanup: async () => undefined })],
  [
    'sqlite',
    async () => {
      const dir = makeTempDir('ll-follow-');
      const store = await openSqliteStore(path.join(dir, 'ledger.db'));
      return {
        store,
        cleanup: async () => {
          await store.close().catch(() => undefined);
          removeDir(dir);
        },
      };
    },
  ],
];
