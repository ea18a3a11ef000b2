/**
 * Catch-up subscriptions (src/subscriptions/follow.ts) on the memory and SQLite stores:
 * a followed projection equals a full rebuild after every append; resume from a
 * checkpoint; 'all'; exactly-once delivery; back-pressure; errors; close.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { isLedgerError } from '../../src/errors';
import { runIdOfStream, runStreamId } from '../../src/events/envelope';
import { Ledger, openLedger } from '../../src/ledger';
import { evolve } from '../../src/projections/evolve';
import { AllSubscription, follow, RunSubscription } from '../../src/subscriptions/follow';
import { emptyRunState, RunState } from '../../src/projections/state';
import { decodeStoredEvent } from '../../src/store/events';
import { collectPages, EventStore, StoredEvent } from '../../src/store/port';
import { recordReferenceRun } from '../../src/workloads/reference';
import { recordDemoRun } from '../../src/workloads/demo';
import { ADAPTERS, AdapterSubject, comparable, CountingStore, sleep, SteppedStore, waitFor } from './follow-support';

async function rebuild(ledger: Ledger, runId: string): Promise<unknown> {
  return comparable(await ledger.loadRun(runId));
}

/** Rebuilds every run's state from the events at positions <= `upTo` (what a consumer would have saved). */
async function rebuildAllUpTo(store: EventStore, upTo: bigint): Promise<Map<string, RunState>> {
  const states = new Map<string, RunState>();
  for (const e of await collectPages(store.readAll())) {
    if (e.position > upTo) break;
    const runId = runIdOfStream(e.streamId)!;
    if (!states.has(runId)) states.set(runId, emptyRunState(runId));
    evolve(states.get(runId)!, decodeStoredEvent(e));
  }
  return states;
}

describe.each(ADAPTERS)('follow on the %s store', (_name, open) => {
  let subject: AdapterSubject;
  let store: EventStore;
  const subs: Array<RunSubscription | AllSubscription> = [];
  const track = <S extends RunSubscription | AllSubscription>(s: S): S => {
    subs.push(s);
    return s;
  };

  beforeEach(async () => {
    subject = await open();
    store = subject.store;
  });

  afterEach(async () => {
    for (const s of subs.splice(0)) await s.close();
    await subject.cleanup();
  });

  test('after each of N appends of the reference workload, the followed run and all-runs projections equal a full rebuild', async () => {
    const holder: { ledger?: Ledger } = {};
    let runSub: RunSubscription | null = null;
    const allSub = track(follow(store, 'all'));
    const mismatches: string[] = [];
    let appends = 0;
    const stepped = new SteppedStore(store, async (streamId, result) => {
      appends++;
      const runId = runIdOfStream(streamId)!;
      // the run subscription starts with the run's first append (its id is not known before)
      if (runSub === null) runSub = track(follow(store, { runId }));
      await Promise.all([runSub.caughtUp(), allSub.caughtUp()]);
      const full = await rebuild(holder.ledger!, runId);
      if (runSub.checkpoint !== result.nextExpectedRevision) mismatches.push(`run checkpoint ${runSub.checkpoint} after append ending at ${result.nextExpectedRevision}`);
      if (allSub.checkpoint !== result.position) mismatches.push(`all checkpoint ${allSub.checkpoint} after append ending at ${result.position}`);
      if (!isDeepStrictEqual(comparable(runSub.state), full)) mismatches.push(`run state differs after revision ${result.nextExpectedRevision}`);
      if (!isDeepStrictEqual(comparable(allSub.state.get(runId)), full)) mismatches.push(`all state differs after revision ${result.nextExpectedRevision}`);
    });
    const ledger = await openLedger({ store: stepped });
    holder.ledger = ledger;
    const { runId } = await recordReferenceRun(ledger, { rows: 3 });
    expect(mismatches).toEqual([]);
    const revision = (await store.streamRevision(runStreamId(runId)))!;
    expect(appends).toBeGreaterThan(50);
    expect(runSub!.checkpoint).toBe(revision);
    expect(comparable(runSub!.state)).toEqual(await rebuild(ledger, runId));
    expect([...allSub.state.keys()]).toEqual([runId]);
    // the comparison is not vacuous: one event less, or another insertion order, is a difference
    expect(comparable(await ledger.loadRun(runId, { asOf: revision - 1 }))).not.toEqual(comparable(runSub!.state));
    const reordered = await ledger.loadRun(runId);
    const [firstRow, ...otherRows] = [...reordered.rows.entries()];
    reordered.rows = new Map([...otherRows, firstRow!]);
    expect(comparable(reordered)).not.toEqual(comparable(runSub!.state));
  });

  test('a run followed from before it exists; handlers see every event once, in order, one at a time', async () => {
    const ledger = await openLedger({ store });
    const runId = randomUUID();
    const seen: number[] = [];
    const updates: number[] = [];
    let active = 0;
    let maxActive = 0;
    const sub = track(
      follow(store, { runId }, {
        pageSize: 3,
        onEvent: async (event, info) => {
          active++;
          maxActive = Math.max(maxActive, active);
          expect(info.state).toBe(sub.state);
          expect(info.checkpoint).toBe(event.seq);
          expect(info.stored.revision).toBe(event.seq);
          expect(sub.state.version).toBe(event.seq);
          seen.push(event.seq);
          await sleep(0);
          active--;
        },
        onUpdate: ({ checkpoint, events }) => {
          expect(events).toBeGreaterThan(0);
          updates.push(checkpoint);
        },
      }),
    );
    await sub.caughtUp();
    expect(sub.checkpoint).toBe(-1);
    expect(sub.state.version).toBe(-1);
    const run = await ledger.beginRun({ runId, config: { pipeline: 'p' } });
    const source = await run.registerNode({ pluginName: 'csv', nodeType: 'source', pluginVersion: '1', config: {} });
    for (let i = 0; i < 7; i++) await run.createRow({ sourceNodeId: source.nodeId, rowIndex: i, data: { i }, withToken: true });
    await sub.caughtUp();
    const n = (await store.streamRevision(runStreamId(runId)))! + 1;
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(maxActive).toBe(1);
    expect(updates[updates.length - 1]).toBe(n - 1);
    expect(comparable(sub.state)).toEqual(await rebuild(ledger, runId));
  });

  test("'all' sees several runs, interleaved; checkpoint is the last global position", async () => {
    const ledger = await openLedger({ store });
    const positions: bigint[] = [];
    const sub = track(follow(store, 'all', { onEvent: (_e, info) => void positions.push(info.checkpoint) }));
    const [a, b] = await Promise.all([recordReferenceRun(ledger, { rows: 2 }), recordReferenceRun(ledger, { rows: 3, concurrency: 2 })]);
    const demo = await recordDemoRun(ledger, { rows: 10 });
    await sub.caughtUp();
    const stored = await collectPages(store.readAll());
    expect(positions).toEqual(stored.map((e) => e.position));
    expect(sub.checkpoint).toBe(stored[stored.length - 1]!.position);
    expect([...sub.state.keys()].sort()).toEqual([a.runId, b.runId, demo.runId].sort());
    for (const runId of [a.runId, b.runId, demo.runId]) expect(comparable(sub.state.get(runId))).toEqual(await rebuild(ledger, runId));
  });

  test('resume a run from a saved checkpoint: with the rebuilt state, without it, or from the state alone', async () => {
    const ledger = await openLedger({ store });
    const first = track(follow(store, 'all'));
    const { runId } = await recordReferenceRun(ledger, { rows: 2, finish: false });
    await first.caughtUp();
    const runSub = track(follow(store, { runId }));
    await runSub.caughtUp();
    const saved = String(runSub.checkpoint);
    await runSub.close();
    expect(Number(saved)).toBe((await store.streamRevision(runStreamId(runId)))!);

    const run = await ledger.openRun(runId);
    const node = [...(await ledger.loadRun(runId)).nodes.values()].find((n) => n.nodeType === 'source')!;
    await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 100, data: { late: true }, withToken: true });
    await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 101, data: { late: true }, withToken: true });

    const withState: number[] = [];
    const a = track(follow(store, { runId }, { from: saved, state: await ledger.loadRun(runId, { asOf: Number(saved) }), onEvent: (e) => void withState.push(e.seq) }));
    const withoutState: number[] = [];
    const b = track(follow(store, { runId }, { from: saved, onEvent: (e) => void withoutState.push(e.seq) }));
    const c = track(follow(store, { runId }, { state: await ledger.loadRun(runId, { asOf: Number(saved) }) }));
    const scratch = track(follow(store, { runId }));
    await Promise.all([a.caughtUp(), b.caughtUp(), c.caughtUp(), scratch.caughtUp()]);
    const full = await rebuild(ledger, runId);
    const last = (await store.streamRevision(runStreamId(runId)))!;
    for (const s of [a, b, c, scratch]) {
      expect(comparable(s.state)).toEqual(full);
      expect(s.checkpoint).toBe(last);
    }
    expect(last).toBeGreaterThan(Number(saved) + 1);
    expect(withState).toEqual(Array.from({ length: last - Number(saved) }, (_, i) => Number(saved) + 1 + i));
    expect(withoutState).toEqual(withState);
  });

  test("resume 'all' from a saved position: with rebuilt states, without them, and equal to following from scratch", async () => {
    const ledger = await openLedger({ store });
    const r1 = await recordReferenceRun(ledger, { rows: 1 });
    const r2 = await recordReferenceRun(ledger, { rows: 1, finish: false });
    const first = track(follow(store, 'all'));
    await first.caughtUp();
    const saved = String(first.checkpoint);
    await first.close();

    const run2 = await ledger.openRun(r2.runId);
    await run2.complete({ status: 'failed' });
    const r3 = await recordReferenceRun(ledger, { rows: 1 });

    const resumedEvents: bigint[] = [];
    const a = track(follow(store, 'all', { from: saved, state: await rebuildAllUpTo(store, BigInt(saved)), onEvent: (_e, i) => void resumedEvents.push(i.checkpoint) }));
    const fromOnly: bigint[] = [];
    const b = track(follow(store, 'all', { from: BigInt(saved), onEvent: (_e, i) => void fromOnly.push(i.checkpoint) }));
    const scratch = track(follow(store, 'all'));
    await Promise.all([a.caughtUp(), b.caughtUp(), scratch.caughtUp()]);
    const after = (await collectPages(store.readAll({ after: BigInt(saved) }))).map((e) => e.position);
    expect(resumedEvents).toEqual(after);
    expect(fromOnly).toEqual(after);
    for (const runId of [r1.runId, r2.runId, r3.runId]) {
      const full = await rebuild(ledger, runId);
      for (const s of [a, b, scratch]) expect(comparable(s.state.get(runId))).toEqual(full);
    }
    expect(a.checkpoint).toBe(scratch.checkpoint);
    expect(b.checkpoint).toBe(scratch.checkpoint);
  });

  test('exactly once when notifications, polls and caughtUp() race during concurrent appends', async () => {
    const ledger = await openLedger({ store });
    const perStream = new Map<string, number[]>();
    const all: bigint[] = [];
    const allSub = track(follow(store, 'all', { pollIntervalMs: 1, pageSize: 5, onEvent: (_e, i) => void all.push(i.checkpoint) }));
    let runSub: RunSubscription | null = null;
    const runSeen: number[] = [];
    const work = Promise.all([recordReferenceRun(ledger, { rows: 6, concurrency: 3 }), recordDemoRun(ledger, { rows: 8 })]);
    const poker = (async () => {
      for (let i = 0; i < 40; i++) {
        await allSub.caughtUp();
        if (runSub === null) {
          const first = [...allSub.state.keys()][0];
          if (first !== undefined) runSub = track(follow(store, { runId: first }, { pollIntervalMs: 1, pageSize: 2, onEvent: (e) => void runSeen.push(e.seq) }));
        } else await runSub.caughtUp();
        await sleep(1);
      }
    })();
    const [[ref, demo]] = await Promise.all([work, poker]);
    await allSub.caughtUp();
    await runSub!.caughtUp();
    const stored: StoredEvent[] = await collectPages(store.readAll());
    for (const e of stored) perStream.set(e.streamId, [...(perStream.get(e.streamId) ?? []), e.revision]);
    expect(all).toEqual(stored.map((e) => e.position));
    const followedRun = (runSub as RunSubscription | null)!.state.runId;
    expect(runSeen).toEqual(perStream.get(runStreamId(followedRun)));
    for (const runId of [ref.runId, demo.runId]) expect(comparable(allSub.state.get(runId))).toEqual(await rebuild(ledger, runId));
  });

  test('back-pressure: no page is read while a handler runs', async () => {
    const ledger = await openLedger({ store });
    const { runId } = await recordReferenceRun(ledger, { rows: 2 });
    const counting = new CountingStore(store, true);
    let inHandler = false;
    counting.busy = () => inHandler;
    let handled = 0;
    const slow = async (): Promise<void> => {
      inHandler = true;
      await sleep(1);
      await new Promise<void>((resolve) => setImmediate(resolve));
      handled++;
      inHandler = false;
    };
    const runSub = track(follow(counting, { runId }, { pageSize: 4, onEvent: slow, onUpdate: slow }));
    await runSub.caughtUp();
    const allSub = track(follow(counting, 'all', { pageSize: 3, onEvent: slow }));
    await allSub.caughtUp();
    expect(handled).toBeGreaterThan(40);
    expect(counting.pagesFetched).toBeGreaterThan(20);
    expect(counting.pagesFetchedWhileBusy).toBe(0);
  });

  test('a malformed event stops the subscription with MALFORMED_EVENT: never skipped, surfaced via done, caughtUp and onError', async () => {
    const ledger = await openLedger({ store });
    const run = await ledger.beginRun({ config: { pipeline: 'p' } });
    await run.registerNode({ pluginName: 'csv', nodeType: 'source', pluginVersion: '1', config: {} });
    const errors: unknown[] = [];
    const seen: number[] = [];
    const sub = track(follow(store, { runId: run.runId }, { onError: (e) => errors.push(e), onEvent: (e) => void seen.push(e.seq) }));
    const allErrors: unknown[] = [];
    const allSub = track(follow(store, 'all', { onError: (e) => allErrors.push(e) }));
    await Promise.all([sub.caughtUp(), allSub.caughtUp()]);
    expect(seen).toEqual([0, 1]);

    // a writer that bypasses the library: RowCreated with a truncated hash
    const metadata = { schemaVersion: 1, runId: run.runId, seq: 2, recordedAt: new Date().toISOString(), correlationId: null, causationId: null };
    const data = { rowId: randomUUID(), sourceNodeId: randomUUID(), rowIndex: 0, sourceDataHash: 'abc123', sourceDataRef: null, quarantined: false };
    await store.append(runStreamId(run.runId), [{ eventId: randomUUID(), type: 'RowCreated', data, metadata }], 1);
    await store.append(runStreamId(run.runId), [{ eventId: randomUUID(), type: 'RunCompleted', data: { status: 'failed', reproducibilityGrade: null }, metadata: { ...metadata, seq: 3 } }], 2);

    await expect(sub.done).rejects.toMatchObject({ code: 'MALFORMED_EVENT' });
    await expect(allSub.done).rejects.toMatchObject({ code: 'MALFORMED_EVENT' });
    await expect(sub.caughtUp()).rejects.toMatchObject({ code: 'MALFORMED_EVENT' });
    expect(errors).toHaveLength(1);
    expect(allErrors).toHaveLength(1);
    expect(isLedgerError(errors[0], 'MALFORMED_EVENT')).toBe(true);
    expect((errors[0] as Error).message).toContain(`${runStreamId(run.runId)}@2`);
    expect((errors[0] as Error).message).toContain('sourceDataHash');
    expect(sub.error).toBe(errors[0]);
    expect(sub.closed).toBe(true);
    // nothing after the bad event was applied
    expect(seen).toEqual([0, 1]);
    expect(sub.checkpoint).toBe(1);
    expect(sub.state.version).toBe(1);
    await sub.close(); // closing a failed subscription is fine
  });

  test('an unknown event type and a failing handler stop the subscription too', async () => {
    const ledger = await openLedger({ store });
    const run = await ledger.beginRun({ config: {} });
    const boom = new Error('handler failed');
    const failing = track(follow(store, { runId: run.runId }, { onEvent: () => Promise.reject(boom) }));
    await expect(failing.done).rejects.toBe(boom);
    const metadata = { schemaVersion: 1, runId: run.runId, seq: 1, recordedAt: new Date().toISOString(), correlationId: null, causationId: null };
    await store.append(runStreamId(run.runId), [{ eventId: randomUUID(), type: 'SomethingElse', data: {}, metadata }], 0);
    const sub = track(follow(store, { runId: run.runId }));
    await expect(sub.caughtUp()).rejects.toMatchObject({ code: 'MALFORMED_EVENT', message: expect.stringContaining('unknown event type "SomethingElse"') });
    expect(sub.checkpoint).toBe(0);
  });

  test('close() stops polling and notification; the abort signal closes too; caughtUp after close rejects', async () => {
    const ledger = await openLedger({ store });
    const run = await ledger.beginRun({ config: {} });
    const counting = new CountingStore(store);
    const sub = follow(counting, { runId: run.runId }, { pollIntervalMs: 5 });
    await sub.caughtUp();
    const before = counting.reads;
    await waitFor(() => counting.reads > before + 2, 'a few polls'); // it polls
    await sub.close();
    await expect(sub.done).resolves.toBeUndefined();
    const closedAt = counting.reads;
    await run.registerNode({ pluginName: 'csv', nodeType: 'source', pluginVersion: '1', config: {} });
    await sleep(60);
    expect(counting.reads).toBe(closedAt);
    expect(sub.state.version).toBe(0);
    await expect(sub.caughtUp()).rejects.toMatchObject({ code: 'STORE_CLOSED' });

    // live notification only (no polling): the listener is removed by close
    const watched = new CountingStore(store, true);
    let listeners = 0;
    const realWatch = watched.watch!;
    watched.watch = (l) => {
      listeners++;
      const off = realWatch(l);
      return () => {
        listeners--;
        off();
      };
    };
    const live = follow(watched, { runId: run.runId }, { pollIntervalMs: false });
    await live.caughtUp();
    expect(listeners).toBe(1);
    const readsBefore = watched.reads;
    await run.registerNode({ pluginName: 'csv2', nodeType: 'source', pluginVersion: '1', config: {} });
    await waitFor(() => live.checkpoint === 2, 'the notified subscription to read the new event');
    expect(watched.reads).toBeGreaterThan(readsBefore);
    await sleep(30);
    const idleReads = watched.reads;
    await sleep(30);
    expect(watched.reads).toBe(idleReads); // no polling
    await live.close();
    expect(listeners).toBe(0);

    const controller = new AbortController();
    const aborted = follow(store, 'all', { pollIntervalMs: 5, signal: controller.signal });
    await aborted.caughtUp();
    const pending = aborted.caughtUp();
    controller.abort();
    await expect(aborted.done).resolves.toBeUndefined();
    expect(aborted.closed).toBe(true);
    await pending.catch(() => undefined); // settled either way: resolved or rejected by the close
    const preAborted = follow(store, 'all', { signal: AbortSignal.abort() });
    expect(preAborted.closed).toBe(true);
    await expect(preAborted.done).resolves.toBeUndefined();
  });

  test('close() from inside a handler stops after that handler without deadlock', async () => {
    const ledger = await openLedger({ store });
    const { runId } = await recordReferenceRun(ledger, { rows: 1 });
    const seen: number[] = [];
    const sub: RunSubscription = follow(store, { runId }, {
      pageSize: 2,
      onEvent: async (e) => {
        seen.push(e.seq);
        if (e.seq === 4) await sub.close();
      },
    });
    await sub.done;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(sub.checkpoint).toBe(4);
  });

  test('refuses bad input with INVALID_INPUT', async () => {
    const ledger = await openLedger({ store });
    const { runId } = await recordReferenceRun(ledger, { rows: 1 });
    const bad = (f: () => unknown): void => {
      let caught: unknown;
      try {
        track(f() as RunSubscription);
      } catch (e) {
        caught = e;
      }
      expect(isLedgerError(caught, 'INVALID_INPUT')).toBe(true);
    };
    bad(() => follow(store, { runId: 'not a run id' }));
    bad(() => follow(store, 'everything' as 'all'));
    bad(() => follow(store, { runId }, { from: 'x' }));
    bad(() => follow(store, { runId }, { from: -2 }));
    bad(() => follow(store, 'all', { from: '1.5' }));
    bad(() => follow(store, { runId }, { pollIntervalMs: 0 }));
    bad(() => follow(store, { runId }, { pageSize: 0 }));
    bad(() => follow(new CountingStore(store), { runId }, { pollIntervalMs: false }));
    const state = await ledger.loadRun(runId, { asOf: 3 });
    bad(() => follow(store, { runId }, { from: 4, state }));
    bad(() => follow(store, { runId: randomUUID() }, { state }));
    bad(() => follow(store, 'all', { state: new Map([[runId, state]]) }));

    const beyond = track(follow(store, { runId }, { from: 10_000 }));
    await expect(beyond.done).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('beyond the end') });
  });
});

test('follow works on a store without watch (EventStoreDB adapter over the fake client) by polling', async () => {
  const { FakeEsdbClient } = await import('../store/eventstoredb/fake-client');
  const { EventStoreDBEventStore } = await import('../../src/store/eventstoredb');
  const store = new EventStoreDBEventStore(new FakeEsdbClient());
  expect((store as EventStore).watch).toBeUndefined();
  const ledger = await openLedger({ store });
  const sub = follow(store, 'all', { pollIntervalMs: 10 });
  const { runId } = await recordReferenceRun(ledger, { rows: 2, finish: false });
  const runSub = follow(store, { runId }, { pollIntervalMs: 10 });
  await runSub.caughtUp();
  const before = runSub.checkpoint;
  const run = await ledger.openRun(runId);
  await run.complete({ status: 'failed' });
  const last = (await store.streamRevision(runStreamId(runId)))!;
  expect(last).toBeGreaterThan(before);
  // no caughtUp(): only polling can bring the new event in
  await waitFor(() => runSub.checkpoint === last && sub.state.get(runId)?.version === last, 'the polling subscriptions to catch up');
  expect(comparable(sub.state.get(runId))).toEqual(await rebuild(ledger, runId));
  expect(comparable(runSub.state)).toEqual(await rebuild(ledger, runId));
  await sub.close();
  await runSub.close();
  await ledger.close();
});
