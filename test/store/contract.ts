/**
 * The EventStore contract: one suite, run against every adapter
 * (memory, SQLite, EventStoreDB when a server is configured, ...).
 *
 * Usage:  describeEventStoreContract('sqlite', async () => ({ store, cleanup }));
 */
import { randomUUID } from 'node:crypto';
import { isLedgerError } from '../../src/errors';
import { collectPages, EventStore, ProposedEvent, StoredEvent } from '../../src/store/port';

export interface ContractSubject {
  store: EventStore;
  cleanup?: () => Promise<void>;
}

export type ContractFactory = () => Promise<ContractSubject>;

export function ev(type = 'Thing', data: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): ProposedEvent {
  return { eventId: randomUUID(), type, data, metadata };
}

function uniqueStream(prefix = 'run'): string {
  return `${prefix}-${randomUUID()}`;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  expect(isLedgerError(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
}

export function describeEventStoreContract(name: string, factory: ContractFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: EventStore;

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });

    afterEach(async () => {
      await store.close().catch(() => undefined);
      if (subject.cleanup) await subject.cleanup();
    });

    test('appends to a new stream with no_stream and reads the events back in order, unchanged', async () => {
      const s = uniqueStream();
      const events = [
        ev('A', { n: 1, text: 'héllo \u{1F600}', nested: { list: [1, 'two', null, true], big: '9007199254740993' } }, { m: 'x' }),
        ev('B', { n: 2 }),
        ev('C', {}),
      ];
      const result = await store.append(s, events, 'no_stream');
      expect(result.nextExpectedRevision).toBe(2);
      const read = await collectPages(store.readStream(s));
      expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
      expect(read.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      expect(read.map((e) => e.type)).toEqual(['A', 'B', 'C']);
      expect(read[0]!.data).toEqual(events[0]!.data);
      expect(read[0]!.metadata).toEqual({ m: 'x' });
      expect(read.every((e) => e.streamId === s)).toBe(true);
      expect(result.position).toBe(read[2]!.position);
    });

    test('a missing stream reads as empty and has no revision', async () => {
      const s = uniqueStream();
      expect(await collectPages(store.readStream(s))).toEqual([]);
      expect(await store.streamRevision(s)).toBeNull();
    });

    test('appends with the exact expected revision and with any', async () => {
      const s = uniqueStream();
      await store.append(s, [ev(), ev()], 'no_stream');
      const r2 = await store.append(s, [ev()], 1);
      expect(r2.nextExpectedRevision).toBe(2);
      const r3 = await store.append(s, [ev(), ev()], 'any');
      expect(r3.nextExpectedRevision).toBe(4);
      const r4 = await store.append(s, [ev()], 'stream_exists');
      expect(r4.nextExpectedRevision).toBe(5);
      expect(await store.streamRevision(s)).toBe(5);
    });

    test('a wrong expected revision is a CONCURRENCY_CONFLICT and writes nothing', async () => {
      const s = uniqueStream();
      await store.append(s, [ev(), ev()], 'no_stream');
      await expectCode(store.append(s, [ev('X')], 0), 'CONCURRENCY_CONFLICT');
      await expectCode(store.append(s, [ev('X')], 5), 'CONCURRENCY_CONFLICT');
      await expectCode(store.append(s, [ev('X')], 'no_stream'), 'CONCURRENCY_CONFLICT');
      await expectCode(store.append(uniqueStream(), [ev('X')], 'stream_exists'), 'CONCURRENCY_CONFLICT');
      await expectCode(store.append(uniqueStream(), [ev('X')], 3), 'CONCURRENCY_CONFLICT');
      const read = await collectPages(store.readStream(s));
      expect(read.map((e) => e.type)).toEqual(['Thing', 'Thing']);
    });

    test('retrying exactly the last append is idempotent', async () => {
      const s = uniqueStream();
      const first = [ev('A'), ev('B')];
      const r1 = await store.append(s, first, 'no_stream');
      const again = await store.append(s, first, 'no_stream');
      expect(again.nextExpectedRevision).toBe(r1.nextExpectedRevision);
      const second = [ev('C')];
      await store.append(s, second, 1);
      await store.append(s, second, 1);
      const read = await collectPages(store.readStream(s));
      expect(read.map((e) => e.type)).toEqual(['A', 'B', 'C']);
    });

    test("with 'any' or 'stream_exists', an exact repeat of stored events is idempotent on every adapter", async () => {
      const s = uniqueStream();
      const first = [ev('A'), ev('B')];
      const r1 = await store.append(s, first, 'any');
      const again = await store.append(s, first, 'any');
      expect(again.nextExpectedRevision).toBe(r1.nextExpectedRevision);
      await store.append(s, [ev('C')], 'stream_exists');
      const repeatOfFirst = await store.append(s, first, 'stream_exists');
      expect(repeatOfFirst.nextExpectedRevision).toBe(1);
      const read = await collectPages(store.readStream(s));
      expect(read.map((e) => e.type)).toEqual(['A', 'B', 'C']);
    });

    test('reads a stream from a revision, with a maximum count, across pages', async () => {
      const s = uniqueStream();
      const events = Array.from({ length: 25 }, (_, i) => ev('N', { i }));
      await store.append(s, events, 'no_stream');
      const from10 = await collectPages(store.readStream(s, { fromRevision: 10, pageSize: 4 }));
      expect(from10.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 15 }, (_, i) => i + 10));
      const limited = await collectPages(store.readStream(s, { fromRevision: 3, maxCount: 5, pageSize: 2 }));
      expect(limited.map((e) => e.revision)).toEqual([3, 4, 5, 6, 7]);
      const past = await collectPages(store.readStream(s, { fromRevision: 99 }));
      expect(past).toEqual([]);
    });

    test('readAll returns every stream in one strictly increasing global order; after is exclusive', async () => {
      const a = uniqueStream();
      const b = uniqueStream();
      const ra = await store.append(a, [ev('a0'), ev('a1')], 'no_stream');
      await store.append(b, [ev('b0')], 'no_stream');
      await store.append(a, [ev('a2')], ra.nextExpectedRevision);
      const all = (await collectPages(store.readAll({ pageSize: 2 }))).filter((e) => e.streamId === a || e.streamId === b);
      expect(all.map((e) => e.type)).toEqual(['a0', 'a1', 'b0', 'a2']);
      for (let i = 1; i < all.length; i++) expect(all[i]!.position > all[i - 1]!.position).toBe(true);
      const after = (await collectPages(store.readAll({ after: all[1]!.position }))).filter((e) => e.streamId === a || e.streamId === b);
      expect(after.map((e) => e.type)).toEqual(['b0', 'a2']);
      const limited = await collectPages(store.readAll({ after: all[0]!.position, maxCount: 2 }));
      expect(limited).toHaveLength(2);
      expect(limited[0]!.type).toBe('a1');
    });

    test('lists streams with their last revision', async () => {
      const a = uniqueStream();
      const b = uniqueStream();
      await store.append(a, [ev(), ev(), ev()], 'no_stream');
      await store.append(b, [ev()], 'no_stream');
      const streams = await store.listStreams();
      const byId = new Map(streams.map((s) => [s.streamId, s.revision]));
      expect(byId.get(a)).toBe(2);
      expect(byId.get(b)).toBe(0);
    });

    test('concurrent appends in sequence of revisions all land, in order', async () => {
      const s = uniqueStream();
      await store.append(s, [ev('E', { i: 0 })], 'no_stream');
      const pending: Promise<unknown>[] = [];
      for (let i = 1; i <= 50; i++) pending.push(store.append(s, [ev('E', { i })], i - 1));
      await Promise.all(pending);
      const read = await collectPages(store.readStream(s));
      expect(read.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 51 }, (_, i) => i));
    });

    test('of two concurrent appends at the same expected revision exactly one wins', async () => {
      const s = uniqueStream();
      await store.append(s, [ev()], 'no_stream');
      const results = await Promise.allSettled([store.append(s, [ev('X'), ev('X')], 0), store.append(s, [ev('Y')], 0)]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(1);
      expect(isLedgerError(failed[0]!.reason, 'CONCURRENCY_CONFLICT')).toBe(true);
      const read = await collectPages(store.readStream(s));
      const types = read.slice(1).map((e) => e.type);
      expect(types === undefined ? [] : types.join('')).toMatch(/^(XX|Y)$/);
    });

    test('appends to many streams concurrently lose nothing', async () => {
      const streams = Array.from({ length: 8 }, () => uniqueStream());
      const writers = streams.map(async (s) => {
        let expected: 'no_stream' | number = 'no_stream';
        for (let i = 0; i < 20; i++) {
          const r = await store.append(s, [ev('W', { i }), ev('W', { i })], expected);
          expected = r.nextExpectedRevision;
        }
      });
      await Promise.all(writers);
      for (const s of streams) {
        const read = await collectPages(store.readStream(s));
        expect(read).toHaveLength(40);
        expect(new Set(read.map((e) => e.eventId)).size).toBe(40);
      }
    });

    test('an append that fails leaves the stream unchanged (atomicity)', async () => {
      const s = uniqueStream();
      await store.append(s, [ev('A')], 'no_stream');
      const dup = ev('D');
      // The same event id twice in one append cannot be stored: the whole append is refused.
      await expectCode(store.append(s, [ev('B'), dup, dup], 0), 'DUPLICATE_EVENT_ID');
      const read: StoredEvent[] = await collectPages(store.readStream(s));
      expect(read.map((e) => e.type)).toEqual(['A']);
      const next = await store.append(s, [ev('C')], 0);
      expect(next.nextExpectedRevision).toBe(1);
    });

    test('a closed store refuses work with STORE_CLOSED', async () => {
      await store.close();
      await expectCode(store.append(uniqueStream(), [ev()], 'no_stream'), 'STORE_CLOSED');
    });
  });
}
