/**
 * The persisted run projection: the same RunState the fold updates, but its
 * collections live in tables beside the events (ProjectionTables, declared by the
 * store port) and only a bounded part of them is held in memory.
 *
 * Every collection of RunState is one of:
 * - a ResidentMap / ResidentSet: small or "in play" (the graph, secret and
 *   preflight records, tokens without a terminal outcome, open states); loaded
 *   whole when the projection is opened and kept in memory;
 * - a PersistedMap: everything that grows with the run (rows, tokens, states,
 *   calls, outcomes and their indexes). Reads go to a bounded cache, then to the
 *   table; the cache never holds more than a few thousand entries per map.
 *
 * Writes: while the fold applies an append's events, the tracker notes every
 * entry the fold set, deleted or read for writing (the fold updates entities in
 * place). `collect()` serialises exactly those entries, as they are after this
 * append, into a ProjectionDelta. Once the append is acknowledged by the store,
 * its delta joins a DeferredProjection, which merges the deltas of consecutive
 * acknowledged appends (an entry written by several appends is written once, with
 * its last value) and writes them in one transaction, recording the seq they bring
 * the tables to. Until then the entries stay pinned in memory (a later command
 * must see them and the tables do not have them yet); `committed()` unpins them.
 *
 * The tables therefore never hold a fact whose event is not stored, and lag the
 * events by at most one unflushed window: whoever opens the projection folds the
 * events after its recorded seq first (Ledger.openProjection). One fold, one
 * source of truth for how an event changes state.
 */
import type { ProjectionDelta, ProjectionEntry, ProjectionRow, ProjectionTables, StoredProjection } from '../store/port';
import type { Anomaly, RunState } from './state';
import { emptyRunState } from './state';

/** The collections of RunState, each with the fixed number of its table (never renumber: files keep them). */
const COLLECTIONS = {
  nodes: { id: 1, resident: true },
  edges: { id: 2, resident: true },
  edgeByLabel: { id: 3, resident: true },
  operations: { id: 4, resident: false },
  calls: { id: 5, resident: false },
  callsByState: { id: 6, resident: false },
  callsByOperation: { id: 7, resident: false },
  rows: { id: 8, resident: false },
  rowByIndex: { id: 9, resident: false },
  tokens: { id: 10, resident: false },
  tokensByRow: { id: 11, resident: false },
  parents: { id: 12, resident: false },
  children: { id: 13, resident: false },
  groups: { id: 14, resident: false },
  outcomes: { id: 15, resident: false },
  outcomesByToken: { id: 16, resident: false },
  terminalOutcome: { id: 17, resident: false },
  unfinishedTokens: { id: 18, resident: true },
  nodeStates: { id: 19, resident: false },
  statesByToken: { id: 20, resident: false },
  unfinishedStates: { id: 21, resident: true },
  routingEvents: { id: 22, resident: false },
  routingByState: { id: 23, resident: false },
  batches: { id: 24, resident: false },
  batchMembers: { id: 25, resident: false },
  batchOutputs: { id: 26, resident: false },
  batchesByToken: { id: 27, resident: false },
  artifacts: { id: 28, resident: false },
  artifactsByState: { id: 29, resident: false },
  validationErrors: { id: 30, resident: false },
  validationErrorsByHash: { id: 31, resident: false },
  transformErrors: { id: 32, resident: false },
  transformErrorsByToken: { id: 33, resident: false },
  secretResolutions: { id: 34, resident: true },
  preflightResults: { id: 35, resident: true },
  checkpoints: { id: 36, resident: false },
  retryOfBatch: { id: 37, resident: false },
  purgedPayloads: { id: 38, resident: false },
} as const;

type CollectionName = keyof typeof COLLECTIONS;
/** Table 0 holds the run record (key 'run') and the anomalies (key 'anomaly:<n>'). */
const META = 0;
const SET_MEMBER = '1';
/** Events after which the run record is written again. */
const RUN_EVENTS = new Set(['RunStarted', 'RunStatusChanged', 'RunCompleted', 'ExportStatusChanged', 'SourceFieldResolutionRecorded', 'RunContractLocked', 'PayloadsPurged']);

/** How many entries each persisted map keeps cached per generation (two generations). */
export const DEFAULT_CACHE_ENTRIES = 1024;

interface Tracked {
  readonly id: number;
  /** Serialises the entry's current value (null: deleted) and pins it under `ticket`. */
  take(key: unknown, ticket: number): string | null;
  /** The append holding `ticket` is committed: unpin what it pinned (unless a later append pinned it again). */
  release(key: unknown, ticket: number): void;
  /** Whether the table already holds `value` for `key` (so the write can be left out); false when unknown. */
  holds?(key: unknown, value: string | null): boolean;
  /** The table now holds `value` for `key`. */
  wrote?(key: unknown, value: string | null): void;
}

/** Notes which entries the fold touches while an append is being folded. */
export class ProjectionTracker {
  active = false;
  private touched: Array<[Tracked, unknown]> = [];
  private readonly seen = new Set<string>();
  private readonly pinnedBy = new Map<number, Array<[Tracked, unknown]>>();
  private nextTicket = 1;
  private anomaliesWritten: number;
  private runTouched = false;

  constructor(private readonly state: RunState) {
    this.anomaliesWritten = state.anomalies.length;
  }

  /**
   * Ids the recorder generated (random UUIDs) since the tables were last written: no table can
   * hold an entry keyed by one of them yet (an entry set by the fold stays pinned in memory until
   * the write that stores it, and every write clears this set), so looking them up would only
   * ask the store for what it cannot have: each new entity is looked up in several collections.
   * Bounded: cleared by every write, and when it passes FRESH_IDS_MAX.
   */
  readonly fresh = new Set<string>();

  /** @internal a generated id (see `fresh`). */
  noteFresh(id: string): void {
    if (this.fresh.size >= FRESH_IDS_MAX) this.fresh.clear();
    this.fresh.add(id);
  }

  /** Everything now in the state is already in the tables (called once the projection is loaded). */
  markLoaded(): void {
    this.anomaliesWritten = this.state.anomalies.length;
  }

  private readonly collections = new Map<number, Tracked>();

  /** @internal */
  register(c: Tracked): void {
    this.collections.set(c.id, c);
  }

  /** Leaves out the entries the tables already hold (a token created and finished inside one window is never written to the unfinished set). */
  pruneWritten(entries: readonly ProjectionEntry[]): ProjectionEntry[] {
    return entries.filter((e) => this.collections.get(e[0])?.holds?.(e[1], e[2]) !== true);
  }

  /** @internal the entries are in the tables. */
  wrote(entries: readonly ProjectionEntry[]): void {
    for (const e of entries) this.collections.get(e[0])?.wrote?.(e[1], e[2]);
  }

  touch(c: Tracked, key: unknown): void {
    const id = `${c.id}\u0000${typeof key}\u0000${String(key)}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.touched.push([c, key]);
  }

  /** Notes the event types being folded (the run record is rewritten only after run-level events). */
  noteEvent(type: string): void {
    if (RUN_EVENTS.has(type)) this.runTouched = true;
  }

  /** The delta of everything touched since the last collect; pins it under a new ticket (returned with it). */
  collect(fromVersion: number): { delta: ProjectionDelta; ticket: number } {
    const ticket = this.nextTicket++;
    const entries: ProjectionEntry[] = [];
    for (const [c, key] of this.touched) entries.push([c.id, key as string | number, c.take(key, ticket)]);
    this.pinnedBy.set(ticket, this.touched);
    this.touched = [];
    this.seen.clear();
    if (this.runTouched && this.state.run !== null) entries.push([META, 'run', JSON.stringify(this.state.run)]);
    this.runTouched = false;
    const anomalies = this.state.anomalies;
    for (; this.anomaliesWritten < anomalies.length; this.anomaliesWritten++) {
      entries.push([META, `anomaly:${this.anomaliesWritten}`, JSON.stringify(anomalies[this.anomaliesWritten])]);
    }
    return { delta: { fromVersion, toVersion: this.state.version, recordedAt: this.state.lastRecordedAt, entries }, ticket };
  }

  /** The append of `ticket` is on disk: its entries can be evicted. */
  committed(ticket: number): void {
    const list = this.pinnedBy.get(ticket);
    if (list === undefined) return;
    this.pinnedBy.delete(ticket);
    for (const [c, key] of list) c.release(key, ticket);
  }
}

const UNCOLLECTED = Number.POSITIVE_INFINITY;
const FRESH_IDS_MAX = 65536;
/** Text keys whose JS order equals SQLite's byte order (no code point above U+007F). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
const DELETED: unique symbol = Symbol('deleted');

/** A map kept whole in memory whose changes are tracked for the tables. */
export class ResidentMap<K, V> extends Map<K, V> implements Tracked {
  constructor(
    readonly id: number,
    private readonly tracker: ProjectionTracker | null,
  ) {
    super();
  }
  override get(key: K): V | undefined {
    const v = super.get(key);
    if (v !== undefined && this.tracker?.active === true) this.tracker.touch(this, key);
    return v;
  }
  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.tracker?.active === true) this.tracker.touch(this, key);
    return this;
  }
  override delete(key: K): boolean {
    const had = super.delete(key);
    if (had && this.tracker?.active === true) this.tracker.touch(this, key);
    return had;
  }
  /** @internal loads an entry without tracking it. */
  load(key: K, value: V): void {
    super.set(key, value);
  }
  take(key: unknown): string | null {
    const v = super.get(key as K);
    return v === undefined ? null : JSON.stringify(v);
  }
  release(): void {}
}

/** A set kept whole in memory whose changes are tracked for the tables. */
export class ResidentSet<K> extends Set<K> implements Tracked {
  /** Members as the table holds them (as small as the set: both hold only what is in play). */
  private readonly stored = new Set<K>();

  constructor(
    readonly id: number,
    private readonly tracker: ProjectionTracker | null,
  ) {
    super();
    tracker?.register(this);
  }
  holds(key: unknown, value: string | null): boolean {
    return this.stored.has(key as K) === (value !== null);
  }
  wrote(key: unknown, value: string | null): void {
    if (value === null) this.stored.delete(key as K);
    else this.stored.add(key as K);
  }
  override add(key: K): this {
    super.add(key);
    if (this.tracker?.active === true) this.tracker.touch(this, key);
    return this;
  }
  override delete(key: K): boolean {
    const had = super.delete(key);
    if (had && this.tracker?.active === true) this.tracker.touch(this, key);
    return had;
  }
  /** @internal */
  load(key: K): void {
    super.add(key);
    this.stored.add(key);
  }
  take(key: unknown): string | null {
    return super.has(key as K) ? SET_MEMBER : null;
  }
  release(): void {}
}

interface Pinned<V> {
  value: V | typeof DELETED;
  ticket: number;
}

/**
 * A map whose entries live in a projection table. Holds in memory only the entries
 * pinned by appends not yet committed and a two-generation cache of recent ones.
 */
export class PersistedMap<K extends string | number, V> extends Map<K, V> implements Tracked {
  private readonly pinned = new Map<K, Pinned<V>>();
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  /** Keys the table was asked for and did not have (each new id is asked for more than once). */
  private absentYoung = new Set<K>();
  private absentOld = new Set<K>();

  constructor(
    readonly id: number,
    private readonly tables: ProjectionTables,
    private readonly tracker: ProjectionTracker | null,
    private readonly cacheEntries: number = DEFAULT_CACHE_ENTRIES,
  ) {
    super();
  }

  /** Runs `read` against one snapshot of the tables (see ProjectionTables.snapshot). */
  snapshot<T>(read: () => T): T {
    return this.tables.snapshot !== undefined ? this.tables.snapshot(read) : read();
  }

  private cached(key: K): V | undefined {
    let v = this.young.get(key);
    if (v !== undefined) return v;
    v = this.old.get(key);
    if (v !== undefined) {
      this.old.delete(key);
      this.remember(key, v);
      return v;
    }
    if (this.isAbsent(key)) return undefined;
    let read: unknown = NOT_COVERED;
    if (this.shared !== null) read = this.shared.read(this.id, key);
    else if (this.readAhead > 0 && this.aheadCovers(key)) {
      read = this.ahead.get(key);
      this.aheadHits++;
    }
    if (read === NOT_COVERED) {
      if (typeof key === 'string' && this.tracker?.fresh.has(key) === true) return undefined;
      read = this.tables.get(this.id, key);
    }
    v = read as V | undefined;
    if (v === undefined) {
      this.noteAbsent(key);
      return undefined;
    }
    this.remember(key, v);
    return v;
  }

  /**
   * Read-ahead for sequential readers (the exporter walks the run in creation order, and
   * time-ordered ids make key order follow it): a miss reads the next `readAhead` entries
   * in key order from the missed key on, so later lookups inside that key range, present
   * or absent, need no query. Turned off by any write, and by itself when the lookups do
   * not follow key order (random ids).
   */
  private readAhead = 0;
  private ahead = new Map<K, V>();
  private aheadFrom: K | null = null;
  /** Last key of the range read ahead (inclusive); null when the range runs to the end of the table. */
  private aheadTo: K | null = null;
  private aheadLoads = 0;
  private aheadHits = 0;

  /** The order of the table's key-ordered reads. */
  private get compare(): (a: string | number, b: string | number) => number {
    return this.tables.compareKeys ?? jsOrder;
  }

  /** The read-ahead of all the state's maps at once, when the tables can read every map in one key range (SQLite). */
  private shared: SharedReadAhead | null = null;

  /** @internal the tables of this map (setReadAhead shares one read-ahead between maps over the same tables). */
  get source(): ProjectionTables {
    return this.tables;
  }

  setReadAhead(entries: number, shared: SharedReadAhead | null = null): void {
    this.shared = entries > 0 ? shared : null;
    this.readAhead = entries;
    this.ahead = new Map();
    this.aheadFrom = null;
    this.aheadLoads = 0;
    this.aheadHits = 0;
  }

  /** A write makes what was read ahead stale: stop reading ahead (every map of the state, when shared). */
  private stopReadAhead(): void {
    if (this.shared !== null) this.shared.stop();
    if (this.readAhead > 0) this.setReadAhead(0);
  }

  private aheadCovers(key: K): boolean {
    // ranges compare as SQLite orders the index: numbers, or text by bytes (equal to JS order for ASCII)
    if (typeof key === 'string' && !isAscii(key)) return false;
    const cmp = this.compare;
    const inRange = (): boolean => this.aheadFrom !== null && cmp(key, this.aheadFrom) >= 0 && (this.aheadTo === null || cmp(key, this.aheadTo) <= 0);
    if (inRange()) return true;
    if (this.aheadLoads >= 16 && this.aheadHits < this.aheadLoads * 8) {
      this.setReadAhead(0); // lookups do not follow key order here
      return false;
    }
    const page = this.tables.pageFromKey(this.id, key, this.readAhead);
    this.aheadLoads++;
    this.ahead = new Map(page.map(([, k, value]) => [k as K, value as V]));
    this.aheadFrom = key;
    this.aheadTo = page.length < this.readAhead ? null : (page[page.length - 1]![1] as K);
    return true;
  }

  private isAbsent(key: K): boolean {
    return this.absentYoung.has(key) || this.absentOld.has(key);
  }

  private noteAbsent(key: K): void {
    if (this.absentYoung.size >= this.cacheEntries) {
      this.absentOld = this.absentYoung;
      this.absentYoung = new Set();
    }
    this.absentYoung.add(key);
  }

  private remember(key: K, v: V): void {
    if (this.young.size >= this.cacheEntries) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, v);
  }

  override get(key: K): V | undefined {
    const p = this.pinned.get(key);
    if (p !== undefined) {
      if (this.tracker?.active === true) this.tracker.touch(this, key);
      return p.value === DELETED ? undefined : p.value;
    }
    const v = this.cached(key);
    if (v !== undefined && this.tracker?.active === true) {
      // the fold may change it in place: it must reach the table with this append
      this.pinned.set(key, { value: v, ticket: UNCOLLECTED });
      this.young.delete(key);
      this.old.delete(key);
      this.tracker.touch(this, key);
    }
    return v;
  }

  override has(key: K): boolean {
    const p = this.pinned.get(key);
    if (p !== undefined) return p.value !== DELETED;
    if (this.young.has(key) || this.old.has(key)) return true;
    if (this.isAbsent(key)) return false;
    if (typeof key === 'string' && this.tracker?.fresh.has(key) === true) return false;
    if (this.tables.has(this.id, key)) return true;
    this.noteAbsent(key);
    return false;
  }

  override set(key: K, value: V): this {
    this.assertTracking('set');
    this.pinned.set(key, { value, ticket: UNCOLLECTED });
    this.young.delete(key);
    this.old.delete(key);
    this.absentYoung.delete(key);
    this.absentOld.delete(key);
    this.stopReadAhead();
    this.tracker!.touch(this, key);
    return this;
  }

  override delete(key: K): boolean {
    this.assertTracking('delete');
    const had = this.has(key);
    if (!had) return false;
    this.pinned.set(key, { value: DELETED, ticket: UNCOLLECTED });
    this.young.delete(key);
    this.old.delete(key);
    this.stopReadAhead();
    this.tracker!.touch(this, key);
    return true;
  }

  override clear(): void {
    throw new Error('a persisted projection map cannot be cleared');
  }

  private assertTracking(op: string): void {
    if (this.tracker?.active !== true) throw new Error(`persisted projection map ${this.id}: ${op} outside the fold`);
  }

  take(key: unknown, ticket: number): string | null {
    const p = this.pinned.get(key as K);
    if (p === undefined) throw new Error(`persisted projection map ${this.id}: entry to write is not pinned`);
    p.ticket = ticket;
    return p.value === DELETED ? null : JSON.stringify(p.value);
  }

  release(key: unknown, ticket: number): void {
    const p = this.pinned.get(key as K);
    if (p === undefined || p.ticket !== ticket) return;
    this.pinned.delete(key as K);
    if (p.value !== DELETED) this.remember(key as K, p.value);
    else this.noteAbsent(key as K);
  }

  override get size(): number {
    let n = this.tables.count(this.id);
    for (const [key, p] of this.pinned) n += (p.value === DELETED ? 0 : 1) - (this.tables.has(this.id, key) ? 1 : 0);
    return n;
  }

  /** Entries in insertion order (pinned new entries last), read from the table a page at a time. */
  override *entries(): MapIterator<[K, V]> {
    yield* this.scan((after, limit) => this.tables.page(this.id, after, limit), (row) => row[0]);
  }

  /** Entries in key order (numbers ascending), read a page at a time; pinned entries are merged in. */
  *entriesByKey(): Generator<[K, V]> {
    const cmp = this.compare;
    const pinned = [...this.pinned.entries()].sort((a, b) => cmp(a[0], b[0]));
    let pi = 0;
    const seen = new Set<K>();
    let after: string | number | null = null;
    for (;;) {
      const page = this.tables.pageByKey(this.id, after, 1000);
      for (const [, key, value] of page) {
        const k = key as K;
        while (pi < pinned.length && cmp(pinned[pi]![0], k) < 0) {
          const [pk, p] = pinned[pi++]!;
          if (p.value !== DELETED && !seen.has(pk)) yield [pk, p.value];
        }
        const p = this.pinned.get(k);
        seen.add(k);
        if (p !== undefined) {
          if (p.value !== DELETED) yield [k, p.value];
        } else yield [k, this.young.get(k) ?? this.old.get(k) ?? (value as V)];
        after = key;
      }
      if (page.length < 1000) break;
    }
    for (; pi < pinned.length; pi++) {
      const [pk, p] = pinned[pi]!;
      if (p.value !== DELETED && !seen.has(pk)) yield [pk, p.value];
    }
  }

  private *scan(
    fetch: (after: number, limit: number) => readonly ProjectionRow[],
    cursorOf: (row: ProjectionRow) => number,
  ): Generator<[K, V]> {
    const fromTable = this.pinned.size > 0 ? new Set<K>() : null;
    let after = 0;
    for (;;) {
      const page = fetch(after, 1000);
      for (const row of page) {
        const k = row[1] as K;
        const p = this.pinned.get(k);
        if (p !== undefined) {
          fromTable?.add(k);
          if (p.value !== DELETED) yield [k, p.value];
        } else yield [k, this.young.get(k) ?? this.old.get(k) ?? (row[2] as V)];
        after = cursorOf(row);
      }
      if (page.length < 1000) break;
    }
    if (fromTable !== null) for (const [k, p] of this.pinned) if (!fromTable.has(k) && p.value !== DELETED) yield [k, p.value];
  }

  override *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }
  override *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  override forEach(fn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}

/** Entries merged per projection write of a recording run (about 50-100 rows of the reference workload). */
export const DEFAULT_FLUSH_ENTRIES = 16384;

/**
 * The acknowledged appends of one run handle whose projection changes are not in the
 * tables yet, merged, and written once `flushEntries` entries have gathered (or on
 * `flush()`). `write` stores one delta in one transaction.
 */
export class DeferredProjection {
  private merged = new Map<string, ProjectionEntry>();
  private tickets: number[] = [];
  private from: number;
  private to: number;
  private recordedAt: string | null = null;

  constructor(
    private readonly tracker: ProjectionTracker,
    private readonly write: (delta: ProjectionDelta) => void,
    version: number,
    private readonly flushEntries: number = DEFAULT_FLUSH_ENTRIES,
  ) {
    this.from = version;
    this.to = version;
  }

  /** Entries gathered and not yet written. */
  get pending(): number {
    return this.merged.size;
  }

  /** The append of `delta` is stored: its changes join the next write (deltas arrive in append order). */
  acknowledged(delta: ProjectionDelta, ticket: number): void {
    if (delta.fromVersion !== this.to) throw new Error(`projection delta from ${delta.fromVersion} does not follow ${this.to}`);
    for (const e of delta.entries) this.merged.set(`${e[0]}\u0000${typeof e[1]}\u0000${e[1]}`, e);
    this.to = delta.toVersion;
    this.recordedAt = delta.recordedAt;
    this.tickets.push(ticket);
    if (this.merged.size >= this.flushEntries) this.flush();
  }

  /** Writes what has gathered (nothing when nothing has). */
  flush(): void {
    if (this.to === this.from) return;
    const entries = this.tracker.pruneWritten([...this.merged.values()]);
    this.write({ fromVersion: this.from, toVersion: this.to, recordedAt: this.recordedAt, entries });
    this.tracker.fresh.clear();
    this.tracker.wrote(entries);
    for (const t of this.tickets) this.tracker.committed(t);
    this.merged = new Map();
    this.tickets = [];
    this.from = this.to;
  }
}

/** A projection: the state, and (when it is persisted) the tracker whose deltas go with each append. */
export interface PersistedRunState {
  readonly state: RunState;
  readonly tracker: ProjectionTracker;
}

/**
 * Opens the persisted projection of a run: resident collections are loaded whole,
 * the others read through. The state's `version` is the tables' version.
 */
export function openPersistedState(runId: string, stored: StoredProjection, options: { cacheEntries?: number } = {}): PersistedRunState {
  const state = emptyRunState(runId);
  const tracker = new ProjectionTracker(state);
  const target = state as unknown as Record<CollectionName, unknown>;
  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) {
    const { id, resident } = COLLECTIONS[name];
    const isSet = state[name] instanceof Set;
    if (resident) {
      const c = isSet ? new ResidentSet<unknown>(id, tracker) : new ResidentMap<unknown, unknown>(id, tracker);
      for (const [key, value] of allEntries(stored.tables, id)) {
        if (c instanceof ResidentSet) c.load(key);
        else c.load(key, value);
      }
      target[name] = c;
    } else {
      if (isSet) throw new Error(`collection ${name} is a set and must be resident`);
      target[name] = new PersistedMap(id, stored.tables, tracker, options.cacheEntries);
    }
  }
  const run = stored.tables.get(META, 'run');
  state.run = run === undefined ? null : (run as RunState['run']);
  const anomalies: Anomaly[] = [];
  for (let k = 0; ; k++) {
    const a = stored.tables.get(META, `anomaly:${k}`);
    if (a === undefined) break;
    anomalies.push(a as Anomaly);
  }
  state.anomalies.push(...anomalies);
  state.version = stored.version;
  state.lastRecordedAt = stored.recordedAt;
  tracker.markLoaded();
  return { state, tracker };
}

function* allEntries(tables: ProjectionTables, map: number): Generator<[string | number, unknown]> {
  let after = 0;
  for (;;) {
    const page = tables.page(map, after, 1000);
    for (const [ordinal, key, value] of page) {
      yield [key, value];
      after = ordinal;
    }
    if (page.length < 1000) return;
  }
}

/** Entries of a map in key order: by the table's index when persisted, else sorted in memory. */
export function entriesByKey<K extends string | number, V>(map: Map<K, V>): Iterable<[K, V]> {
  if (map instanceof PersistedMap) return map.entriesByKey();
  return [...map.entries()].sort((a, b) => jsOrder(a[0], b[0]));
}

function jsOrder(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Makes every persisted map of the state read ahead on misses (for a reader that walks the run in
 * creation order); 0 turns it off. `entries` is per map; tables that read every map of a key range
 * at once (ProjectionTables.pageAllFromKey) give the maps one shared read-ahead of SHARED_FACTOR
 * times as many entries, one query for all of them.
 */
export function setReadAhead(state: RunState, entries: number): void {
  const maps = Object.values(state).filter((v): v is PersistedMap<string | number, unknown> => v instanceof PersistedMap);
  const tables = maps[0]?.source;
  const shared = entries > 0 && tables?.pageAllFromKey !== undefined ? new SharedReadAhead(tables, entries * SHARED_FACTOR) : null;
  for (const m of maps) m.setReadAhead(entries, shared);
}

/** Entries of a shared read-ahead window per map entry of a per-map one (a window holds every map's entries). */
const SHARED_FACTOR = 16;

/** A lookup the read-ahead cannot answer (outside what it read, or turned off): ask the table. */
const NOT_COVERED: unique symbol = Symbol('not covered');

/** Entries of every map over a key range [from, to) (to null: to the end of the table). */
interface Window {
  readonly from: string | number;
  readonly to: string | number | null;
  readonly byMap: ReadonlyMap<number, ReadonlyMap<string | number, unknown>>;
}

/**
 * One read-ahead for every persisted map of a state, over tables clustered by key (SQLite): a miss
 * reads the next `size` entries of ALL maps in key order. Ids made together (a row, its tokens,
 * their states) are neighbours in key order, so a reader walking the run in creation order finds
 * nearly every lookup, present or absent, inside what one query read. Two windows are kept, the
 * newer continuing where the older ends: a row's last facts (its outcome, made while later rows
 * were recorded) lie ahead of the rows that follow it in the walk. Turns itself off when lookups do
 * not follow key order, and for good on any write.
 */
class SharedReadAhead {
  private current: Window | null = null;
  private previous: Window | null = null;
  private loads = 0;
  private hits = 0;
  private off = false;
  private readonly compare: (a: string | number, b: string | number) => number;

  constructor(
    private readonly tables: ProjectionTables,
    private readonly size: number,
  ) {
    this.compare = tables.compareKeys ?? jsOrder;
  }

  /** The entry of `map` under `key` (undefined when the table has none), or NOT_COVERED. */
  read(map: number, key: string | number): unknown {
    if (this.off) return NOT_COVERED;
    // ranges compare as SQLite orders the keys: numbers, text by bytes (JS order for ASCII), then UUIDs
    if (typeof key === 'string' && !isAscii(key)) return NOT_COVERED;
    let w = this.windowOf(key);
    if (w === null) {
      // a window costs `size` entries read and decoded: worth it only while most of them are asked for
      if (this.loads >= 4 && this.hits < this.loads * (this.size / 8)) {
        this.stop(); // lookups do not follow key order here
        return NOT_COVERED;
      }
      const end = this.current?.to ?? null;
      // just ahead of what was read: go on from its end, keeping it
      if (end !== null && this.compare(key, end) >= 0) w = this.load(end, key);
      if (w === null) w = this.load(key, key);
      if (w === null) return NOT_COVERED;
    }
    this.hits++;
    return w.byMap.get(map)?.get(key);
  }

  stop(): void {
    this.off = true;
    this.current = null;
    this.previous = null;
  }

  private covers(w: Window | null, key: string | number): boolean {
    return w !== null && this.compare(key, w.from) >= 0 && (w.to === null || this.compare(key, w.to) < 0);
  }

  private windowOf(key: string | number): Window | null {
    if (this.covers(this.current, key)) return this.current;
    if (this.covers(this.previous, key)) return this.previous;
    return null;
  }

  /** Reads the window from `from` on; the window if it covers `key`, else null. */
  private load(from: string | number, key: string | number): Window | null {
    const rows = this.tables.pageAllFromKey!(from, this.size);
    this.loads++;
    const byMap = new Map<number, Map<string | number, unknown>>();
    for (const [map, k, value] of rows) {
      let m = byMap.get(map);
      if (m === undefined) byMap.set(map, (m = new Map()));
      m.set(k, value);
    }
    this.previous = this.current;
    this.current = { from, to: rows.length < this.size ? null : rows[rows.length - 1]![1], byMap };
    return this.covers(this.current, key) ? this.current : null;
  }
}

/**
 * Runs a synchronous read of the state (explain, descendants, check) against one snapshot of its
 * tables, in one read transaction where the store has them: every lookup sees the same committed
 * tables, and each costs a fraction of one in a transaction of its own. A state held in memory
 * just runs it.
 */
export function readSnapshot<T>(state: RunState, read: () => T): T {
  return state.rows instanceof PersistedMap ? state.rows.snapshot(read) : read();
}

/** Whether a state's collections are read from tables (as opposed to held whole in memory). */
export function isPersistedState(state: RunState): boolean {
  return state.rows instanceof PersistedMap;
}
