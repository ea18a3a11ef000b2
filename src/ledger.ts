/**
 * The Ledger: the library's front door. It wires a store to the recorder
 * (run handles), the projections (replay, time travel) and the exporter.
 */
import { decodeOrThrow } from './events/codecs';
import { uuidv7 } from './events/ids';
import * as fs from 'node:fs';
import { LedgerEvent, runIdOfStream, runStreamId } from './events/envelope';
import { decodeStoredEvent, toProposedEvent } from './store/events';
import { isLedgerError, ledgerError } from './errors';
import { ExportRecord, runRecords } from './export/records';
import type { ExportRunOptions } from './export/bundle';
import type { ReadOptions } from './projections/state';
import { evolve } from './projections/evolve';
import { emptyRunState, RunState } from './projections/state';
import { BeginRunInput, decideBeginRun, decidePayloadsPurged } from './recorder/commands';
import { envelopes, foldForAppend, RecorderDeps, RunHandle } from './recorder/run-handle';
import { DeferredProjection, openPersistedState, PersistedRunState, readSnapshot, setReadAhead } from './projections/persisted';
import type { EventStore, ProjectionStore } from './store/port';
import { openScratchProjections, ScratchProjections } from './store/sqlite';
import { openStore, parseStoreUrl } from './store/url';
import { defaultPayloadDir, isPayloadHash, PayloadStore } from './payloads/store';
import { AllSubscription, follow, FollowAllOptions, FollowRunOptions, RunSubscription } from './subscriptions/follow';
import { ProjectionFeed, ProjectionFeedOptions, startProjectionFeed } from './subscriptions/projection-feed';
import { checkRun, CheckResult } from './lineage/check';
import {
  descendants,
  Descendants,
  DescendantsLedgerQuery,
  explainRow,
  explainToken,
  LineageQuery,
  RowExplanation,
  RowLineageQuery,
  TokenExplanation,
  TokenLineageQuery,
  validateLineageQuery,
} from './lineage/explain';

export interface OpenLedgerOptions {
  /** A store URL (`memory:`, `sqlite:<path>`, `postgres://...`, `kurrentdb://...` / `esdb://...`) or an EventStore instance. */
  readonly store: string | EventStore;
  /** Clock for `recordedAt` (UTC ISO-8601 with offset). Default: the system clock. */
  readonly now?: () => string;
  /** Id generator (lowercase UUIDs). Default: time-ordered UUID version 7. */
  readonly newId?: () => string;
  /** With a `sqlite:` URL: create the file when it does not exist (default true). False: NOT_FOUND instead, and no file is created. */
  readonly create?: boolean;
  /**
   * The payload store's folder, or null for none. Default: for a `sqlite:<path>` URL the folder
   * `<path>.payloads` (made by the first write), for any other store none.
   */
  readonly payloads?: string | null;
}

export type { AsOf, ReadOptions } from './projections/state';

export interface RunSummary {
  readonly runId: string;
  readonly status: string;
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  readonly configHash: string | null;
  /** Number of events in the run stream. */
  readonly events: number;
}

export type { ExportRunOptions } from './export/bundle';

/** Runs whose read state a ledger keeps open between reads. */
const READ_STATES = 4;

/** Entries merged per catch-up write of a persisted projection (one transaction each). */
const CATCH_UP_ENTRIES = 65536;
/** A read as of an earlier point folds into a temporary file instead of memory from this many events on (Ledger.asOfOnDiskFromEvents). */
export const AS_OF_ON_DISK_FROM_EVENTS = 20_000;
/** Scratch projections a ledger keeps for repeated reads as of the same point (the oldest is deleted past this). */
const AS_OF_SCRATCHES = 4;

let lastNowMs = -1;
let lastNowIso = '';
/** The system clock as UTC ISO-8601 (formatted once per millisecond). */
function systemNow(): string {
  const ms = Date.now();
  if (ms !== lastNowMs) {
    lastNowMs = ms;
    lastNowIso = new Date(ms).toISOString();
  }
  return lastNowIso;
}

export class Ledger {
  /** Live handles by run id, held weakly: a handle (and its projection) lives as long as its caller keeps it. */
  private readonly handles = new Map<string, WeakRef<RunHandle>>();
  private readonly subscriptions = new Set<RunSubscription | AllSubscription | ProjectionFeed>();
  /** Read states by run (see cachedReadState), the most recent READ_STATES runs. */
  private readonly readStates = new Map<string, RunState>();
  private closed = false;

  constructor(
    readonly store: EventStore,
    private readonly now: () => string = systemNow,
    private readonly newId: () => string = () => uuidv7(),
    /** The payload store (bodies by SHA-256), or null when none is configured. */
    readonly payloads: PayloadStore | null = null,
  ) {}

  /**
   * A read with `asOf` of a run with at least this many events (on a store that is not the
   * memory store) folds the events into a temporary projection file (deleted when the ledger
   * closes) instead of memory, so its memory does not grow with the run. Smaller runs fold in
   * memory, which is faster. The last 4 such folds are kept for repeated reads as of the same
   * point; a state read from an older one fails with STORE_CLOSED once a fifth replaces it.
   */
  asOfOnDiskFromEvents = AS_OF_ON_DISK_FROM_EVENTS;
  /** Where those temporary projection files go (default: the system's temporary folder). */
  scratchDir: string | undefined = undefined;
  /** Scratch projections of reads as of an earlier point, by `runId@asOf`, oldest first. */
  private readonly scratches = new Map<string, { state: RunState; scratch: ScratchProjections }>();

  private deps(correlationId: string | null, causationId: string | null): RecorderDeps {
    return { store: this.store, now: this.now, newId: this.newId, correlationId, causationId, payloads: this.payloads };
  }

  /** Starts a run: appends RunStarted to a new stream `run-<runId>` and returns its handle. */
  async beginRun(input: BeginRunInput): Promise<RunHandle> {
    this.assertOpen();
    const i = decodeOrThrow(BeginRunInput, input, 'beginRun input');
    const runId = i.runId ?? this.newId();
    const projections = this.store.projections ?? null;
    const persisted = projections === null ? null : openPersistedState(runId, projections.open(runStreamId(runId)));
    if (persisted !== null && persisted.state.version !== -1) {
      throw ledgerError('DUPLICATE_ID', `runId: run ${runId} already exists`, { path: 'runId', runId });
    }
    const state = persisted?.state ?? emptyRunState(runId);
    const deps = this.deps(i.correlationId ?? null, i.causationId ?? null);
    const envs = envelopes(state, [{ type: 'RunStarted', data: decideBeginRun(i) }], deps);
    const { proposed, pending } = foldForAppend(state, persisted?.tracker ?? null, envs);
    try {
      await this.store.append(runStreamId(runId), proposed, 'no_stream');
    } catch (e) {
      if (isLedgerError(e, 'CONCURRENCY_CONFLICT')) {
        throw ledgerError('DUPLICATE_ID', `runId: run ${runId} already exists`, { path: 'runId', runId });
      }
      throw e;
    }
    const handle = new RunHandle(deps, state, null, persisted?.tracker ?? null, pending);
    this.handles.set(runId, new WeakRef(handle));
    return handle;
  }

  /**
   * Reopens a run: its projection is rebuilt from the store. With `asOf`, the
   * handle is a read-only view of the run as it was then. Without it, the same
   * live handle is returned while it is usable.
   */
  async openRun(runId: string, options: ReadOptions & { correlationId?: string; causationId?: string } = {}): Promise<RunHandle> {
    this.assertOpen();
    if (options.asOf === undefined) {
      const live = this.handles.get(runId)?.deref();
      if (live !== undefined && !live.isStale && options.correlationId === undefined && options.causationId === undefined) return live;
    }
    const deps = this.deps(options.correlationId ?? null, options.causationId ?? null);
    if (options.asOf !== undefined) return new RunHandle(deps, await this.loadRun(runId, options), { asOf: String(options.asOf) });
    const persisted = await this.openProjection(runId);
    const handle = persisted !== null ? new RunHandle(deps, persisted.state, null, persisted.tracker) : new RunHandle(deps, await this.loadRun(runId));
    this.handles.set(runId, new WeakRef(handle));
    return handle;
  }

  /** Reads a run's events in order (decoded and checked), optionally only up to `asOf`. */
  async *readRunEvents(runId: string, options: ReadOptions = {}): AsyncIterable<LedgerEvent[]> {
    this.assertOpen();
    const asOf = options.asOf;
    const maxCount = typeof asOf === 'number' ? asOf + 1 : undefined;
    const limitTime = typeof asOf === 'string' ? parseAsOfTime(asOf) : null;
    for await (const page of this.store.readStream(runStreamId(runId), maxCount === undefined ? {} : { maxCount })) {
      const out: LedgerEvent[] = [];
      for (const stored of page) {
        const e = decodeStoredEvent(stored);
        if (limitTime !== null && Date.parse(e.recordedAt) > limitTime) {
          if (out.length > 0) yield out;
          return;
        }
        out.push(e);
      }
      yield out;
    }
  }

  /**
   * A run's projection. On a store that persists projections (SQLite) it is read from
   * the projection tables (caught up from the events first if they are behind) and holds
   * only a bounded part of the run in memory. Otherwise, and with `asOf`, it is rebuilt by
   * folding the run's events. RUN_NOT_FOUND when the run has no events.
   */
  async loadRun(runId: string, options: ReadOptions = {}): Promise<RunState> {
    if (typeof options.asOf === 'number' && (!Number.isSafeInteger(options.asOf) || options.asOf < 0)) {
      throw ledgerError('INVALID_INPUT', `asOf: ${options.asOf} is not a sequence number`, { path: 'asOf' });
    }
    if (options.asOf === undefined) {
      const cached = await this.cachedReadState(runId);
      if (cached !== null) return cached;
      const persisted = await this.openProjection(runId);
      if (persisted !== null) {
        this.readStates.delete(runId);
        if (this.readStates.size >= READ_STATES) this.readStates.delete(this.readStates.keys().next().value!);
        this.readStates.set(runId, persisted.state);
        return persisted.state;
      }
    }
    if (options.asOf !== undefined && this.store.kind !== 'memory') {
      const revision = await this.store.streamRevision(runStreamId(runId));
      const events = revision === null ? 0 : (typeof options.asOf === 'number' ? Math.min(options.asOf, revision) : revision) + 1;
      if (events >= this.asOfOnDiskFromEvents) return this.foldRunOnDisk(runId, options);
    }
    return this.foldRun(runId, options);
  }

  /**
   * Folds a run's events (up to `asOf`) into a scratch projection file: the state reads its
   * tables as the persisted projection does, holding only a bounded part of the run in memory.
   * Kept for repeated reads as of the same point; deleted when the ledger closes.
   */
  private async foldRunOnDisk(runId: string, options: ReadOptions): Promise<RunState> {
    const key = `${runId}@${String(options.asOf)}`;
    const kept = this.scratches.get(key);
    if (kept !== undefined) return kept.state;
    const scratch = openScratchProjections(this.scratchDir);
    try {
      const streamId = runStreamId(runId);
      const p = openPersistedState(runId, scratch.projections.open(streamId));
      await this.foldInto(p, scratch.projections, streamId, this.readRunEvents(runId, options));
      if (p.state.version < 0) {
        const exists = (await this.store.streamRevision(streamId)) !== null;
        if (!exists) throw ledgerError('RUN_NOT_FOUND', `run ${runId} does not exist in the ${this.store.kind} store`, { runId });
        throw ledgerError('RUN_NOT_FOUND', `run ${runId} has no events as of ${String(options.asOf)}`, { runId, asOf: options.asOf });
      }
      if (this.scratches.size >= AS_OF_SCRATCHES) {
        const [oldest, entry] = this.scratches.entries().next().value!;
        this.scratches.delete(oldest);
        entry.scratch.close();
      }
      this.scratches.set(key, { state: p.state, scratch });
      return p.state;
    } catch (e) {
      scratch.close();
      throw e;
    }
  }

  /**
   * The read state this ledger opened last for the run, while the run and its tables are
   * still at the seq it was opened at (a state at one seq never changes): repeated reads
   * (explain after explain) keep its warm caches instead of opening the tables again.
   */
  private async cachedReadState(runId: string): Promise<RunState | null> {
    const state = this.readStates.get(runId);
    if (state === undefined) return null;
    const streamId = runStreamId(runId);
    const revision = await this.store.streamRevision(streamId);
    if (revision !== state.version || this.store.projections?.open(streamId).version !== revision) {
      this.readStates.delete(runId);
      return null;
    }
    setReadAhead(state, 0); // a previous export may have left it on
    return state;
  }

  /** Rebuilds a run's projection in memory by folding its events (up to `asOf`). */
  private async foldRun(runId: string, options: ReadOptions): Promise<RunState> {
    const state = emptyRunState(runId);
    for await (const page of this.readRunEvents(runId, options)) for (const e of page) evolve(state, e);
    if (state.version < 0) {
      const exists = (await this.store.streamRevision(runStreamId(runId))) !== null;
      if (!exists) throw ledgerError('RUN_NOT_FOUND', `run ${runId} does not exist in the ${this.store.kind} store`, { runId });
      throw ledgerError('RUN_NOT_FOUND', `run ${runId} has no events as of ${String(options.asOf)}`, { runId, asOf: options.asOf });
    }
    return state;
  }

  /**
   * Opens the persisted projection of a run, first bringing it up to the stream's last
   * event (folding only the events it lacks, in windows of CATCH_UP_ENTRIES entries, each written in
   * its own transaction). Null when the store keeps no projections, or cannot write the
   * missing part (a read-only store): then the caller folds the events itself.
   */
  private async openProjection(runId: string): Promise<PersistedRunState | null> {
    this.assertOpen();
    const projections = this.store.projections ?? null;
    if (projections === null) return null;
    const streamId = runStreamId(runId);
    // a live handle of this ledger writes what it has gathered first, so the tables are current
    this.handles.get(runId)?.deref()?.flushProjection();
    const revision = await this.store.streamRevision(streamId);
    if (revision === null) throw ledgerError('RUN_NOT_FOUND', `run ${runId} does not exist in the ${this.store.kind} store`, { runId });
    for (let attempt = 0; ; attempt++) {
      try {
        let stored = projections.open(streamId);
        if (stored.version > revision) {
          // tables ahead of the events cannot be trusted: rebuild them
          projections.drop(streamId);
          stored = projections.open(streamId);
        }
        const p = openPersistedState(runId, stored);
        if (stored.version < revision) await this.catchUp(p, streamId);
        return p;
      } catch (e) {
        if (isLedgerError(e, 'READ_ONLY')) return null;
        if (isLedgerError(e, 'CONCURRENCY_CONFLICT') && attempt < 3) continue; // another writer moved the projection: start again from its state
        throw e;
      }
    }
  }

  /** Folds the events the tables lack, page by page, writing the merged changes in windows (the recorder's write path). */
  private async catchUp(p: PersistedRunState, streamId: string): Promise<void> {
    await this.foldInto(p, this.store.projections!, streamId, this.decodedPages(streamId, p.state.version + 1));
  }

  private async *decodedPages(streamId: string, fromRevision: number): AsyncIterable<LedgerEvent[]> {
    for await (const page of this.store.readStream(streamId, { fromRevision })) yield page.map((stored) => decodeStoredEvent(stored));
  }

  /** Folds pages of events into a persisted state, writing its changes to `projections` in windows of CATCH_UP_ENTRIES entries. */
  private async foldInto(p: PersistedRunState, projections: ProjectionStore, streamId: string, pages: AsyncIterable<LedgerEvent[]>): Promise<void> {
    const deferred = new DeferredProjection(p.tracker, (delta) => projections.write(streamId, delta), p.state.version, CATCH_UP_ENTRIES);
    for await (const page of pages) {
      const from = p.state.version;
      p.tracker.active = true;
      try {
        for (const e of page) {
          p.tracker.noteEvent(e.type);
          evolve(p.state, e);
        }
      } finally {
        p.tracker.active = false;
      }
      const { delta, ticket } = p.tracker.collect(from);
      deferred.acknowledged(delta, ticket);
    }
    deferred.flush();
  }

  /**
   * Deletes a run's persisted projection and rebuilds it from the run's events.
   * Nothing to do on stores that keep no projections.
   */
  async rebuildProjection(runId: string): Promise<void> {
    this.assertOpen();
    const projections = this.store.projections ?? null;
    if (projections === null) return;
    const streamId = runStreamId(runId);
    if ((await this.store.streamRevision(streamId)) === null) throw ledgerError('RUN_NOT_FOUND', `run ${runId} does not exist in the ${this.store.kind} store`, { runId });
    this.handles.delete(runId);
    this.readStates.delete(runId);
    projections.drop(streamId);
    await this.openProjection(runId);
  }

  /** Every run in the store, oldest first. */
  async listRuns(): Promise<RunSummary[]> {
    this.assertOpen();
    const out: RunSummary[] = [];
    for (const s of await this.store.listStreams()) {
      const runId = runIdOfStream(s.streamId);
      if (runId === null) continue;
      out.push(await this.summarise(runId, s.revision));
    }
    return out;
  }

  /** Resolves `latest` (the most recently started run) or checks that a run id exists. */
  async resolveRunId(runIdOrLatest: string): Promise<string> {
    if (runIdOrLatest !== 'latest') {
      if ((await this.store.streamRevision(runStreamId(runIdOrLatest))) === null) {
        throw ledgerError('RUN_NOT_FOUND', `run ${runIdOrLatest} does not exist in the ${this.store.kind} store`, { runId: runIdOrLatest });
      }
      return runIdOrLatest;
    }
    const streams = await this.store.listStreams();
    for (let i = streams.length - 1; i >= 0; i--) {
      const runId = runIdOfStream(streams[i]!.streamId);
      if (runId !== null) return runId;
    }
    throw ledgerError('RUN_NOT_FOUND', `the ${this.store.kind} store holds no runs`, {});
  }

  /**
   * A run's summary from the first event (RunStarted) and the tail of the stream:
   * after RunCompleted only export-status events can follow unless the run was
   * resumed, so the last non-export event tells the status.
   */
  private async summarise(runId: string, revision: number): Promise<RunSummary> {
    let startedAt: string | null = null;
    let configHash: string | null = null;
    for await (const page of this.store.readStream(runStreamId(runId), { maxCount: 1 })) {
      for (const stored of page) {
        const e = decodeStoredEvent(stored);
        if (e.type === 'RunStarted') {
          startedAt = e.recordedAt;
          configHash = e.data.configHash;
        }
      }
    }
    const tailFrom = Math.max(0, revision - 63);
    let status = 'running';
    let completedAt: string | null = null;
    const tail: LedgerEvent[] = [];
    for await (const page of this.store.readStream(runStreamId(runId), { fromRevision: tailFrom })) for (const s of page) tail.push(decodeStoredEvent(s));
    for (let k = tail.length - 1; k >= 0; k--) {
      const e = tail[k]!;
      if (e.type === 'ExportStatusChanged' || e.type === 'PayloadsPurged') continue;
      if (e.type === 'RunCompleted') {
        status = e.data.status;
        completedAt = e.recordedAt;
      }
      break;
    }
    return { runId, status, startedAt, completedAt, configHash, events: revision + 1 };
  }

  /**
   * Loads a run for export: refused (EXPORT_FAILED) when the fold found anomalies
   * (events written around the recorder's checks), unless `allowAnomalies`.
   */
  async loadRunForExport(runId: string, options: ExportRunOptions = {}): Promise<RunState> {
    const state = await this.loadRun(runId, options.asOf !== undefined ? { asOf: options.asOf } : {});
    if (state.anomalies.length > 0 && options.allowAnomalies !== true) {
      const first = state.anomalies[0]!;
      throw ledgerError(
        'EXPORT_FAILED',
        `run ${runId} has ${state.anomalies.length} anomal${state.anomalies.length === 1 ? 'y' : 'ies'} in its events (first at seq ${first.seq}, ${first.eventType}: ${first.message}); run \`lineage-ledger check\` for the list`,
        { runId, anomalies: state.anomalies.slice(0, 20) },
      );
    }
    return state;
  }

  /**
   * Replays the run's events through the projections and yields its export
   * records in the documented order (src/export/records.ts).
   */
  async *exportRun(runId: string, options: ExportRunOptions = {}): AsyncIterable<ExportRecord> {
    const state = await this.loadRunForExport(runId, options);
    yield* runRecords(state);
  }

  /**
   * Keeps a projection current as events arrive (a catch-up subscription): of one run, or
   * of every run with 'all'. Resumes from a saved checkpoint (`options.from`). Closed with
   * the ledger.
   */
  follow(target: 'all', options?: FollowAllOptions): AllSubscription;
  follow(runId: string, options?: FollowRunOptions): RunSubscription;
  follow(target: string, options: FollowRunOptions | FollowAllOptions = {}): RunSubscription | AllSubscription {
    this.assertOpen();
    const sub =
      target === 'all' ? follow(this.store, 'all', options as FollowAllOptions) : follow(this.store, { runId: target }, options as FollowRunOptions);
    this.subscriptions.add(sub);
    void sub.done.then(
      () => this.subscriptions.delete(sub),
      () => this.subscriptions.delete(sub),
    );
    return sub;
  }

  /**
   * Keeps the persisted projection of every run in the store current as events arrive, whoever
   * appends them (src/subscriptions/projection-feed.ts): reads then find the tables up to date
   * instead of folding what another writer appended. Resumes from the checkpoint the projection
   * store keeps. For an EventStoreDB store with a local projection file this is what keeps the
   * file current; on SQLite the recorder already writes the tables, and the feed catches up
   * runs written by writers that keep none. INVALID_INPUT on a store that keeps no projections.
   * Closed with the ledger.
   */
  followProjections(options: ProjectionFeedOptions = {}): ProjectionFeed {
    this.assertOpen();
    const projections = this.store.projections ?? null;
    if (projections === null) {
      throw ledgerError('INVALID_INPUT', `the ${this.store.kind} store keeps no projections to follow (for EventStoreDB, give it a projection file: ?projections=<file>)`, { path: 'store' });
    }
    const feed = startProjectionFeed(this.store, projections, async (runId) => void (await this.openProjection(runId)), options);
    this.subscriptions.add(feed);
    void feed.done.then(
      () => this.subscriptions.delete(feed),
      () => this.subscriptions.delete(feed),
    );
    return feed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readStates.clear();
    for (const ref of this.handles.values()) {
      try {
        ref.deref()?.flushProjection();
      } catch {
        // the events are stored; the next reader catches the tables up from them
      }
    }
    this.handles.clear();
    for (const { scratch } of this.scratches.values()) scratch.close();
    this.scratches.clear();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.subscriptions.clear();
    await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw ledgerError('STORE_CLOSED', 'the ledger is closed');
  }

  /**
   * Lineage of a token (its whole ancestor DAG back to every contributing
   * source row) or of a row (every path of the row, each explained in full;
   * `sink` keeps the paths ending at that sink). With `asOf`, as the run was
   * then. RUN_NOT_FOUND, TOKEN_NOT_FOUND, ROW_NOT_FOUND, INVALID_INPUT.
   */
  explain(query: TokenLineageQuery, options?: ReadOptions): Promise<TokenExplanation>;
  explain(query: RowLineageQuery, options?: ReadOptions): Promise<RowExplanation>;
  explain(query: LineageQuery, options?: ReadOptions): Promise<TokenExplanation | RowExplanation>;
  async explain(query: LineageQuery, options: ReadOptions = {}): Promise<TokenExplanation | RowExplanation> {
    const q = validateLineageQuery(query, true);
    const state = await this.loadRun(q.runId, options);
    const payloads = this.payloads;
    return readSnapshot(state, () => {
      if (q.tokenId !== undefined) return explainToken(state, q.tokenId, { payloads });
      return explainRow(
        state,
        { ...(q.rowId !== undefined ? { rowId: q.rowId } : {}), ...(q.rowIndex !== undefined ? { rowIndex: q.rowIndex } : {}) },
        { ...(q.sink !== undefined ? { sink: q.sink } : {}), payloads },
      );
    });
  }

  /**
   * Reads one run's events page by page and gathers its status, grade and the payload references
   * its facts hold (row data, call request and response, routing reasons, operation input and
   * output), and the hashes it already recorded as purged. Memory: the run's distinct references.
   */
  private async scanRunRefs(runId: string): Promise<RunRefs> {
    const out: RunRefs = { status: 'running', completedAt: null, grade: null, revision: -1, refs: new Set(), purged: new Set() };
    const add = (r: string | null): void => {
      if (r !== null && isPayloadHash(r)) out.refs.add(r);
    };
    for await (const page of this.store.readStream(runStreamId(runId))) {
      for (const stored of page) {
        const e = decodeStoredEvent(stored);
        out.revision = e.seq;
        switch (e.type) {
          case 'RunStarted':
            out.grade = e.data.reproducibilityGrade;
            break;
          case 'RunStatusChanged':
            out.status = e.data.status;
            out.completedAt = null;
            break;
          case 'RunCompleted':
            out.status = e.data.status;
            out.completedAt = e.recordedAt;
            if (e.data.reproducibilityGrade !== null) out.grade = e.data.reproducibilityGrade;
            break;
          case 'RowCreated':
            add(e.data.sourceDataRef);
            break;
          case 'CallRecorded':
            add(e.data.requestRef);
            add(e.data.responseRef);
            break;
          case 'RoutingDecided':
            add(e.data.reasonRef);
            break;
          case 'OperationStarted':
            add(e.data.inputDataRef);
            break;
          case 'OperationCompleted':
            add(e.data.outputDataRef);
            break;
          case 'PayloadsPurged':
            for (const h of e.data.hashes) out.purged.add(h);
            if (e.data.reproducibilityGrade !== null) out.grade = e.data.reproducibilityGrade;
            break;
          default:
            break;
        }
      }
    }
    return out;
  }

  /**
   * Retention: deletes the payload bodies of runs that ended (completed or failed) before
   * `now - olderThan`, keeping every hash. A body referenced by any run that is running,
   * interrupted (it may be resumed) or ended after the cutoff is never deleted: that protected
   * set is gathered over all runs first (memory: one entry per distinct protected hash). Each
   * affected run records a PayloadsPurged event (before its bodies are deleted, so a crash leaves
   * bodies recorded as purged but present, never missing without a record), and its grade drops
   * from replay_reproducible to attributable_only. `dryRun` writes and deletes nothing.
   */
  async purgePayloads(options: { olderThan: number | string; dryRun?: boolean; now?: number | string }): Promise<PurgeReport> {
    this.assertOpen();
    if (options === null || typeof options !== 'object') throw ledgerError('INVALID_INPUT', 'purgePayloads needs an options object with olderThan', {});
    const store = this.payloads;
    if (store === null) throw ledgerError('INVALID_INPUT', 'payloads: no payload store is configured, nothing to purge', { path: 'payloads' });
    const olderThan = parseDuration(options.olderThan);
    const nowMs = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : parseAsOfTime(options.now);
    if (!Number.isFinite(nowMs)) throw ledgerError('INVALID_INPUT', 'now: expected epoch ms or an ISO-8601 time', { path: 'now' });
    const cutoff = nowMs - olderThan;
    const dryRun = options.dryRun === true;
    const protectedHashes = new Set<string>();
    const expired: string[] = [];
    let examined = 0;
    for (const s of await this.store.listStreams()) {
      const runId = runIdOfStream(s.streamId);
      if (runId === null) continue;
      examined++;
      const r = await this.scanRunRefs(runId);
      const ended = (r.status === 'completed' || r.status === 'failed') && r.completedAt !== null && Date.parse(r.completedAt) < cutoff;
      if (ended) expired.push(runId);
      else for (const h of r.refs) protectedHashes.add(h);
    }
    const deletedNow = new Map<string, number>();
    const kept = new Set<string>();
    const missing = new Set<string>();
    const affected: PurgeReport['runsAffected'] = [];
    let bytesFreed = 0;
    for (const runId of expired) {
      const r = await this.scanRunRefs(runId);
      const hashes: string[] = [];
      for (const h of r.refs) {
        if (r.purged.has(h)) continue;
        if (protectedHashes.has(h)) {
          kept.add(h);
          continue;
        }
        if (deletedNow.has(h)) {
          hashes.push(h);
          continue;
        }
        let size: number;
        try {
          size = fs.statSync(store.pathOf(h)).size;
        } catch {
          missing.add(h);
          continue;
        }
        deletedNow.set(h, size);
        bytesFreed += size;
        hashes.push(h);
      }
      if (hashes.length === 0) continue;
      const gradeAfter = r.grade === 'replay_reproducible' ? 'attributable_only' : r.grade;
      affected.push({ runId, hashes: hashes.length, gradeBefore: r.grade, gradeAfter });
      if (dryRun) continue;
      const purgedAt = this.now();
      const drafts = [];
      for (let k = 0; k < hashes.length; k += PURGE_CHUNK) {
        drafts.push(decidePayloadsPurged(runId, r.status, hashes.slice(k, k + PURGE_CHUNK), purgedAt, k === 0 && gradeAfter !== r.grade ? (gradeAfter as 'attributable_only') : null));
      }
      const envs = envelopes({ runId, version: r.revision } as RunState, drafts, this.deps(null, null));
      await this.store.append(runStreamId(runId), envs.map(toProposedEvent), r.revision);
      this.handles.delete(runId);
      this.readStates.delete(runId);
      for (const h of hashes) store.delete(h);
    }
    return {
      dryRun,
      cutoff: new Date(cutoff).toISOString(),
      runsExamined: examined,
      runsExpired: expired.length,
      runsAffected: affected,
      bodiesDeleted: deletedNow.size,
      bytesFreed,
      bodiesKeptShared: kept.size,
      bodiesMissing: missing.size,
    };
  }

  /** What became of a row or a token: every descendant, the groups crossed and the path ends. With `asOf`, as the run was then. */
  async descendants(query: DescendantsLedgerQuery, options: ReadOptions = {}): Promise<Descendants> {
    const q = validateLineageQuery(query, false);
    const state = await this.loadRun(q.runId, options);
    const { runId: _runId, ...rest } = q;
    return readSnapshot(state, () => descendants(state, rest));
  }

  /** The audit check: every violation of the audit invariants in the run (as of `asOf`). `ok` when there is none. */
  async check(runId: string, options: ReadOptions = {}): Promise<CheckResult> {
    if (typeof runId !== 'string' || runId.length === 0) throw ledgerError('INVALID_INPUT', 'runId: expected a non-empty string', { path: 'runId' });
    const state = await this.loadRun(runId, options);
    return readSnapshot(state, () => checkRun(state));
  }
}

/** A purge's report (stable field names; `--json` prints it). */
export interface PurgeReport {
  readonly dryRun: boolean;
  readonly cutoff: string;
  readonly runsExamined: number;
  /** Runs that ended (completed or failed) before the cutoff. */
  readonly runsExpired: number;
  /** Runs whose bodies were (or, dry run, would be) purged, with the hashes recorded in each. */
  readonly runsAffected: { runId: string; hashes: number; gradeBefore: string | null; gradeAfter: string | null }[];
  readonly bodiesDeleted: number;
  readonly bytesFreed: number;
  /** Distinct bodies of expired runs kept because a protected run (running, interrupted, or ended after the cutoff) references them. */
  readonly bodiesKeptShared: number;
  /** Distinct references of expired runs whose body was already absent without a recorded purge (not recorded as purged). */
  readonly bodiesMissing: number;
}

const DURATION_UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** Milliseconds of a duration: a non-negative number of ms, or `<n>d|h|m|s`. INVALID_INPUT otherwise. */
export function parseDuration(value: unknown, field = 'olderThan'): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const m = typeof value === 'string' ? /^(\d{1,9})([dhms])$/.exec(value) : null;
  if (m === null) throw ledgerError('INVALID_INPUT', `${field}: expected a duration such as 30d, 12h, 90m or 45s`, { path: field });
  return Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

/** Hashes per PayloadsPurged event (about 670 KB of hashes): a purge of a big run writes several events. */
const PURGE_CHUNK = 10_000;

interface RunRefs {
  status: string;
  completedAt: string | null;
  grade: string | null;
  revision: number;
  refs: Set<string>;
  purged: Set<string>;
}

function parseAsOfTime(s: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw ledgerError('INVALID_INPUT', `asOf: "${s}" is neither a sequence number nor an ISO-8601 time`, { path: 'asOf' });
  return t;
}

/** Opens a ledger on a store URL or an EventStore instance. */
export async function openLedger(options: OpenLedgerOptions): Promise<Ledger> {
  if (options === null || typeof options !== 'object') throw ledgerError('INVALID_INPUT', 'openLedger needs an options object with a store', {});
  const store = typeof options.store === 'string' ? await openStore(options.store, { create: options.create ?? true }) : options.store;
  if (store === undefined || store === null) throw ledgerError('INVALID_INPUT', 'store: give a store URL or an EventStore', { path: 'store' });
  return new Ledger(store, options.now, options.newId, payloadStoreFor(options, options.create ?? true));
}

/** The payload store an `openLedger` call configures (see OpenLedgerOptions.payloads). */
function payloadStoreFor(options: OpenLedgerOptions, create: boolean): PayloadStore | null {
  if (options.payloads === null) return null;
  if (options.payloads !== undefined) {
    if (typeof options.payloads !== 'string' || options.payloads === '') {
      throw ledgerError('INVALID_INPUT', 'payloads: give a folder path, or null for no payload store', { path: 'payloads' });
    }
    return PayloadStore.open(options.payloads, { create });
  }
  if (typeof options.store !== 'string') return null;
  const parsed = parseStoreUrl(options.store);
  return parsed.kind === 'sqlite' ? PayloadStore.at(defaultPayloadDir(parsed.path)) : null;
}
