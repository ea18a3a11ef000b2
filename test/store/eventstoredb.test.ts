/**
 * EventStoreDB adapter, offline tier: the adapter over a structural fake of
 * EventStoreDBClient (test/store/eventstoredb/fake-client.ts) that throws the
 * client's real error classes. The live tier is eventstoredb.live.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadClientPackage } from '../../src/store/eventstoredb/client';
import { randomUUID } from 'node:crypto';
import {
  AccessDeniedError,
  ANY,
  BACKWARDS,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  InvalidArgumentError,
  MaxAppendSizeExceededError,
  NO_STREAM,
  NotLeaderError,
  START,
  STREAM_EXISTS,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { isLedgerError, LedgerError } from '../../src/errors';
import { EsdbClientLike, EventStoreDBEventStore, openEventStoreDB } from '../../src/store/eventstoredb';
import { collectPages, ProposedEvent } from '../../src/store/port';
import { describeEventStoreContract, ev } from './contract';
import { clientErrors, FakeEsdbClient, FakeEsdbOptions, GRPC_STATUS, serviceError } from './eventstoredb/fake-client';

describeEventStoreContract('eventstoredb (fake client)', async () => ({ store: new EventStoreDBEventStore(new FakeEsdbClient()) }));

describeEventStoreContract('eventstoredb (fake client: trailer errors, positions on idempotent appends, jittered latency)', async () => ({
  store: new EventStoreDBEventStore(
    new FakeEsdbClient({ wrongExpectedVersionStyle: 'trailers', positionOnIdempotentAppend: true, latency: () => Math.floor(Math.random() * 3) }),
  ),
}));

function setup(options: FakeEsdbOptions = {}, maxAppendSize?: number): { fake: FakeEsdbClient; store: EventStoreDBEventStore } {
  const fake = new FakeEsdbClient(options);
  return { fake, store: new EventStoreDBEventStore(fake, maxAppendSize === undefined ? {} : { maxAppendSize }) };
}

function stream(prefix = 'run'): string {
  return `${prefix}-${randomUUID()}`;
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<LedgerError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isLedgerError(e)) return e;
    throw new Error(`expected a LedgerError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection');
}

function appendCalls(fake: FakeEsdbClient): FakeEsdbClient['calls'] {
  return fake.calls.filter((c) => c.method === 'appendToStream');
}

describe('EventStoreDB adapter: client error classes built offline', () => {
  test('the fake throws the client classes, with instanceof and type set', () => {
    const cases: Array<[Error, new (...args: never[]) => Error, string]> = [
      [clientErrors.unavailable(), UnavailableError, 'unavailable'],
      [clientErrors.deadlineExceeded(), DeadlineExceededError, 'deadline-exceeded'],
      [clientErrors.notLeader(), NotLeaderError, 'not-leader'],
      [clientErrors.accessDenied(), AccessDeniedError, 'access-denied'],
      [clientErrors.maxAppendSizeFromTrailers(4096), MaxAppendSizeExceededError, 'maximum-append-size-exceeded'],
      [clientErrors.wrongExpectedVersionFromTrailers('s', 1n, 3n), WrongExpectedVersionError, 'wrong-expected-version'],
      [MaxAppendSizeExceededError.fromMaxAppendSize(10), MaxAppendSizeExceededError, 'maximum-append-size-exceeded'],
      [new WrongExpectedVersionError(undefined, { streamName: 's', expected: 1n, current: 'no_stream' }), WrongExpectedVersionError, 'wrong-expected-version'],
      [new StreamNotFoundError(undefined, 's'), StreamNotFoundError, 'stream-not-found'],
      [StreamDeletedError.fromStreamName('s'), StreamDeletedError, 'stream-deleted'],
    ];
    for (const [error, cls, type] of cases) {
      expect(error).toBeInstanceOf(cls);
      expect((error as unknown as { type: string }).type).toBe(type);
    }
    const notLeader = clientErrors.notLeader() as NotLeaderError;
    expect(notLeader.leader).toEqual({ address: '10.0.0.2', port: 2113 });
    expect((clientErrors.maxAppendSizeFromTrailers(4096) as MaxAppendSizeExceededError).maxAppendSize).toBe(4096);
    const wev = clientErrors.wrongExpectedVersionFromTrailers('s', 1n, null) as WrongExpectedVersionError;
    expect(wev.actualVersion).toBe('no_stream');
    expect(wev.expectedVersion).toBe(1n);
  });

  test('the real EventStoreDBClient is assignable to EsdbClientLike', async () => {
    const client = EventStoreDBClient.connectionString('esdb://localhost:2113?tls=false');
    const like: EsdbClientLike = client; // compile-time check
    await like.dispose();
  });
});

describe('EventStoreDB adapter: append mapping', () => {
  test('expected revisions map to NO_STREAM, ANY, STREAM_EXISTS and bigint revisions (0-based: after 3 events it is 2n)', async () => {
    const { fake, store } = setup();
    const s = stream();
    const r1 = await store.append(s, [ev('A'), ev('B'), ev('C')], 'no_stream');
    expect(r1.nextExpectedRevision).toBe(2);
    const r2 = await store.append(s, [ev('D')], 2);
    expect(r2.nextExpectedRevision).toBe(3);
    await store.append(s, [ev('E')], 'any');
    await store.append(s, [ev('F')], 'stream_exists');
    const sent = appendCalls(fake).map((c) => (c.options as { expectedRevision: unknown }).expectedRevision);
    expect(sent).toEqual([NO_STREAM, 2n, ANY, STREAM_EXISTS]);
    // off by one: the count of events (3) is not the revision
    const err = await caught(store.append(s, [ev('X')], 6));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect((appendCalls(fake).at(-1)!.options as { expectedRevision: unknown }).expectedRevision).toBe(6n);
    expect(err.details).toEqual({ streamId: s, expected: 6, actual: 5 });
  });

  test('one appendToStream call per append, with our event ids as ESDB ids and JSON events', async () => {
    const { fake, store } = setup();
    const s = stream();
    const events = [ev('A', { n: 1 }, { m: 'x' }), ev('B', { n: 2 })];
    await store.append(s, events, 'no_stream');
    const calls = appendCalls(fake);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.streamName).toBe(s);
    expect(calls[0]!.events).toEqual([
      { id: events[0]!.eventId, contentType: 'application/json', type: 'A', data: { n: 1 }, metadata: { m: 'x' } },
      { id: events[1]!.eventId, contentType: 'application/json', type: 'B', data: { n: 2 }, metadata: {} },
    ]);
  });

  test('the caller may change its objects after append returns a promise: the store keeps what was appended', async () => {
    const { store } = setup();
    const s = stream();
    const data: Record<string, unknown> = { n: 1, nested: { k: 'v' } };
    const p = store.append(s, [ev('A', data)], 'no_stream');
    data.n = 2;
    (data.nested as Record<string, unknown>).k = 'changed';
    await p;
    const [read] = await collectPages(store.readStream(s));
    expect(read!.data).toEqual({ n: 1, nested: { k: 'v' } });
  });

  test('the result maps nextExpectedRevision to a number and position to the commit position of the last event', async () => {
    const { fake, store } = setup();
    const s = stream();
    const result = await store.append(s, [ev('A'), ev('B')], 'no_stream');
    const last = fake.allRecords().filter((r) => r.streamId === s).at(-1)!;
    expect(result).toEqual({ nextExpectedRevision: 1, position: last.position });
    expect(typeof result.nextExpectedRevision).toBe('number');
    expect(typeof result.position).toBe('bigint');
  });

  test('an idempotent retry the server answers without a position reads the position back', async () => {
    const { fake, store } = setup({ positionOnIdempotentAppend: false });
    const s = stream();
    const events = [ev('A'), ev('B')];
    const first = await store.append(s, events, 'no_stream');
    const before = fake.calls.length;
    const retry = await store.append(s, events, 'no_stream');
    expect(retry).toEqual(first);
    const readBack = fake.calls.slice(before).filter((c) => c.method === 'readStream');
    expect(readBack).toHaveLength(1);
    expect(readBack[0]!.options).toMatchObject({ fromRevision: 1n, direction: FORWARDS, maxCount: 1 });
    expect(fake.allRecords().filter((r) => r.streamId === s)).toHaveLength(2);
  });

  test('an append of no events checks the expected revision and writes nothing', async () => {
    const { fake, store } = setup();
    const s = stream();
    const r = await store.append(s, [ev(), ev()], 'no_stream');
    expect(await store.append(s, [], 1)).toEqual(r);
    expect((await caught(store.append(s, [], 0))).code).toBe('CONCURRENCY_CONFLICT');
    expect((await caught(store.append(stream(), [], 'no_stream'))).code).toBe('INVALID_INPUT');
    expect(appendCalls(fake)).toHaveLength(1);
  });
});

describe('EventStoreDB adapter: validation before anything is sent', () => {
  const bad: Array<[string, () => [string, ProposedEvent[], unknown]]> = [
    ['a non-UUID event id', () => [stream(), [{ ...ev(), eventId: 'evt-1' }], 'any']],
    ['an uppercase UUID (ESDB would return it lowercased)', () => [stream(), [{ ...ev(), eventId: randomUUID().toUpperCase() }], 'any']],
    ['the nil UUID', () => [stream(), [{ ...ev(), eventId: '00000000-0000-0000-0000-000000000000' }], 'any']],
    ['an empty type', () => [stream(), [ev('')], 'any']],
    ['a system event type', () => [stream(), [ev('$metadata')], 'any']],
    ['data that is an array', () => [stream(), [{ ...ev(), data: [1, 2] as unknown as Record<string, unknown> }], 'any']],
    ['metadata that is null', () => [stream(), [{ ...ev(), metadata: null as unknown as Record<string, unknown> }], 'any']],
    ['data that JSON cannot hold', () => [stream(), [ev('A', { n: 1n })], 'any']],
    ['a system stream', () => ['$settings', [ev()], 'any']],
    ['an empty stream id', () => ['', [ev()], 'any']],
    ['a negative expected revision', () => [stream(), [ev()], -1]],
    ['a fractional expected revision', () => [stream(), [ev()], 1.5]],
    ['an unknown expected revision', () => [stream(), [ev()], 'exists']],
  ];
  test.each(bad)('%s is INVALID_INPUT', async (_name, make) => {
    const { fake, store } = setup();
    const [s, events, expected] = make();
    const err = await caught(store.append(s, events, expected as 'any'));
    expect(err.code).toBe('INVALID_INPUT');
    expect(appendCalls(fake)).toHaveLength(0);
  });

  test('the same event id twice in one append is DUPLICATE_EVENT_ID and nothing is sent', async () => {
    const { fake, store } = setup();
    const dup = ev('D');
    const err = await caught(store.append(stream(), [ev('A'), dup, dup], 'no_stream'));
    expect(err.code).toBe('DUPLICATE_EVENT_ID');
    expect(err.details).toMatchObject({ eventId: dup.eventId });
    expect(appendCalls(fake)).toHaveLength(0);
  });
});

describe('EventStoreDB adapter: append size', () => {
  // Size as the server counts it: UTF-8 bytes of JSON data + JSON metadata + 2 × type length.
  function sized(type: string, bytes: number): ProposedEvent {
    // {"p":"..."} is 8 bytes of framing; metadata {} is 2 bytes
    return ev(type, { p: 'x'.repeat(bytes - 8 - 2 - 2 * type.length) });
  }

  test('an append over the limit is refused with APPEND_TOO_LARGE before sending, and never split', async () => {
    const { fake, store } = setup({}, 1000);
    const s = stream();
    await store.append(s, [sized('T', 1000)], 'no_stream'); // exactly the limit: accepted
    const err = await caught(store.append(s, [sized('T', 600), sized('T', 401)], 0));
    expect(err.code).toBe('APPEND_TOO_LARGE');
    expect(err.message).toContain('1001 bytes');
    expect(err.message).toContain('1000 bytes');
    expect(err.details).toMatchObject({ streamId: s, size: 1001, limit: 1000, events: 2, source: 'adapter' });
    expect(appendCalls(fake)).toHaveLength(1);
    expect(await store.streamRevision(s)).toBe(0);
  });

  test('the default limit is the server default, 1 MiB; sizes count UTF-8 bytes', async () => {
    const { fake, store } = setup();
    const err = await caught(store.append(stream(), [ev('A', { text: '\u{1F600}'.repeat(262144) })], 'no_stream')); // 4 bytes each
    expect(err.code).toBe('APPEND_TOO_LARGE');
    expect(err.details).toMatchObject({ limit: 1048576 });
    expect(appendCalls(fake)).toHaveLength(0);
  });

  test("the server's MaxAppendSizeExceededError (a server configured below the adapter) is APPEND_TOO_LARGE", async () => {
    const { fake, store } = setup({ maxAppendSize: 500 });
    const s = stream();
    const err = await caught(store.append(s, [sized('T', 501)], 'no_stream'));
    expect(fake.raised.at(-1)).toBeInstanceOf(MaxAppendSizeExceededError);
    expect(err.code).toBe('APPEND_TOO_LARGE');
    expect(err.message).toContain('500 bytes');
    expect(err.details).toMatchObject({ streamId: s, limit: 500, source: 'server' });
    expect(err.cause).toBe(fake.raised.at(-1));
    expect(await store.streamRevision(s)).toBeNull();
  });

  test('MaxAppendSizeExceededError built from gRPC trailers is APPEND_TOO_LARGE too', async () => {
    const { fake, store } = setup();
    fake.fail('appendToStream', clientErrors.maxAppendSizeFromTrailers(2048));
    const err = await caught(store.append(stream(), [ev()], 'any'));
    expect(err.code).toBe('APPEND_TOO_LARGE');
    expect(err.details).toMatchObject({ limit: 2048 });
  });
});

describe('EventStoreDB adapter: wrong expected version', () => {
  test('actual revision as a bigint', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev(), ev()], 'no_stream');
    const err = await caught(store.append(s, [ev()], 5));
    expect(fake.raised.at(-1)).toBeInstanceOf(WrongExpectedVersionError);
    expect((fake.raised.at(-1) as WrongExpectedVersionError).actualVersion).toBe(1n);
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toBe(`append to stream ${s} expected revision 5 but the stream is at revision 1`);
    expect(err.details).toEqual({ streamId: s, expected: 5, actual: 1 });
    expect(err.cause).toBe(fake.raised.at(-1));
  });

  test('actual revision as "no_stream", expected as a string constant', async () => {
    const { fake, store } = setup();
    const s = stream();
    const err = await caught(store.append(s, [ev()], 'stream_exists'));
    const raised = fake.raised.at(-1) as WrongExpectedVersionError;
    expect(raised.actualVersion).toBe('no_stream');
    expect(raised.expectedVersion).toBe('stream_exists');
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toBe(`append to stream ${s} expected stream_exists but the stream is at no_stream`);
    expect(err.details).toEqual({ streamId: s, expected: 'stream_exists', actual: null });
  });

  test('built from gRPC trailers (expected -1n for no_stream, actual bigint or missing)', async () => {
    const { fake, store } = setup({ wrongExpectedVersionStyle: 'trailers' });
    const s = stream();
    await store.append(s, [ev()], 'no_stream');
    const err = await caught(store.append(s, [ev()], 'no_stream'));
    expect((fake.raised.at(-1) as WrongExpectedVersionError).expectedVersion).toBe(-1n);
    expect(err.details).toEqual({ streamId: s, expected: 'no_stream', actual: 0 });
    const missing = stream();
    const err2 = await caught(store.append(missing, [ev()], 3));
    expect((fake.raised.at(-1) as WrongExpectedVersionError).actualVersion).toBe('no_stream');
    expect(err2.details).toEqual({ streamId: missing, expected: 3, actual: null });
  });

  test('a client with throwOnAppendFailure=false: an unsuccessful result is a CONCURRENCY_CONFLICT with the real actual revision', async () => {
    const { store } = setup({ throwOnAppendFailure: false });
    const s = stream();
    await store.append(s, [ev(), ev(), ev()], 'no_stream');
    const err = await caught(store.append(s, [ev()], 0));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.details).toEqual({ streamId: s, expected: 0, actual: 2 });
  });

  test('an append to a deleted (tombstoned) stream is a CONCURRENCY_CONFLICT marked deleted', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev()], 'no_stream');
    fake.tombstone(s);
    const err = await caught(store.append(s, [ev()], 0));
    expect(fake.raised.at(-1)).toBeInstanceOf(StreamDeletedError);
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.details).toMatchObject({ streamId: s, actual: null, deleted: true });
  });
});

describe('EventStoreDB adapter: reads', () => {
  test('StreamNotFoundError reads as an empty stream with no revision', async () => {
    const { fake, store } = setup();
    const s = stream();
    expect(await collectPages(store.readStream(s))).toEqual([]);
    expect(fake.raised.at(-1)).toBeInstanceOf(StreamNotFoundError);
    expect(await store.streamRevision(s)).toBeNull();
    expect(fake.raised.at(-1)).toBeInstanceOf(StreamNotFoundError);
  });

  test('a tombstoned stream reads as missing', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev()], 'no_stream');
    fake.tombstone(s);
    expect(await collectPages(store.readStream(s))).toEqual([]);
    expect(await store.streamRevision(s)).toBeNull();
  });

  test('readStream requests START or BigInt(from), FORWARDS, bounded by page size and maxCount', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, Array.from({ length: 10 }, (_, i) => ev('N', { i })), 'no_stream');
    const pages = [];
    for await (const page of store.readStream(s, { pageSize: 4 })) pages.push(page.map((e) => e.revision));
    expect(pages).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const reads = fake.calls.filter((c) => c.method === 'readStream').map((c) => c.options);
    expect(reads[0]).toEqual({ fromRevision: START, direction: FORWARDS, maxCount: 4, resolveLinkTos: false });
    expect(reads[1]).toEqual({ fromRevision: 4n, direction: FORWARDS, maxCount: 4, resolveLinkTos: false });
    fake.calls.length = 0;
    const limited = await collectPages(store.readStream(s, { fromRevision: 7, maxCount: 2 }));
    expect(limited.map((e) => e.revision)).toEqual([7, 8]);
    expect(fake.calls.map((c) => c.options)).toEqual([{ fromRevision: 7n, direction: FORWARDS, maxCount: 2, resolveLinkTos: false }]);
  });

  test('stored events carry id, type, data, metadata, revision, position and stream', async () => {
    const { fake, store } = setup();
    const s = stream();
    const e = ev('A', { n: 1 }, { m: 2 });
    await store.append(s, [e], 'no_stream');
    const [read] = await collectPages(store.readStream(s));
    const record = fake.allRecords().find((r) => r.id === e.eventId)!;
    expect(read).toEqual({ streamId: s, revision: 0, position: record.position, eventId: e.eventId, type: 'A', data: { n: 1 }, metadata: { m: 2 } });
  });

  test('an event written without metadata reads with metadata {}', async () => {
    const { fake, store } = setup();
    const s = stream();
    fake.writeRaw(s, { type: 'Legacy', data: { a: 1 } });
    const [read] = await collectPages(store.readStream(s));
    expect(read!.metadata).toEqual({});
  });

  test('streamRevision reads one event BACKWARDS from END', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev(), ev(), ev()], 'no_stream');
    fake.calls.length = 0;
    expect(await store.streamRevision(s)).toBe(2);
    expect(fake.calls).toEqual([{ method: 'readStream', streamName: s, options: { fromRevision: END, direction: BACKWARDS, maxCount: 1, resolveLinkTos: false } }]);
  });

  test('link events in a stream are skipped deliberately; the other revisions are kept', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev('A')], 'no_stream');
    fake.writeRaw(s, { type: '$>', data: new TextEncoder().encode('0@elsewhere'), isJson: false });
    await store.append(s, [ev('B')], 1);
    const read = await collectPages(store.readStream(s, { pageSize: 1 }));
    expect(read.map((e) => [e.revision, e.type])).toEqual([
      [0, 'A'],
      [2, 'B'],
    ]);
    expect(await store.streamRevision(s)).toBe(2);
  });

  const malformedCases: Array<[string, { type: string; data: unknown; metadata?: unknown; isJson?: boolean }, RegExp]> = [
    ['a binary event', { type: 'Blob', data: new Uint8Array([1, 2, 3]) }, /not a JSON event/],
    ['JSON data that is an array', { type: 'Arr', data: '[1,2]', isJson: true }, /a JSON array/],
    ['JSON data that is a number', { type: 'Num', data: '42', isJson: true }, /not a JSON object \(number\)/],
    ['data that is not valid JSON', { type: 'Bad', data: '{"a":', isJson: true }, /malformed JSON/],
    ['binary metadata', { type: 'Meta', data: '{}', isJson: true, metadata: new Uint8Array([0xff, 0x00]) }, /metadata that is not a JSON object/],
    ['metadata that is an array', { type: 'Meta', data: '{}', isJson: true, metadata: '[1]' }, /metadata that is not a JSON object \(a JSON array\)/],
  ];
  test.each(malformedCases)('%s is MALFORMED_EVENT naming the stream and revision, on every read path', async (_name, record, reason) => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev('Good')], 'no_stream');
    fake.writeRaw(s, record);
    await store.append(s, [ev('Good')], 1);
    const err = await caught(collectPages(store.readStream(s)));
    expect(err.code).toBe('MALFORMED_EVENT');
    expect(err.message).toContain(`revision 1 of stream ${s}`);
    expect(err.message).toMatch(reason);
    expect(err.details).toMatchObject({ streamId: s, revision: 1 });
    expect((await caught(collectPages(store.readAll()))).code).toBe('MALFORMED_EVENT');
    // listStreams and streamRevision do not decode events
    expect(await store.streamRevision(s)).toBe(2);
  });

  test('a server that reports no position on stream reads (before 22.6) is MALFORMED_EVENT, not a made-up position', async () => {
    const { store } = setup({ positionsOnStreamReads: false });
    const s = stream();
    await store.append(s, [ev()], 'no_stream');
    const err = await caught(collectPages(store.readStream(s)));
    expect(err.code).toBe('MALFORMED_EVENT');
    expect(err.message).toContain('22.6');
  });
});

describe('EventStoreDB adapter: readAll and listStreams', () => {
  test('$all holds system events; readAll leaves them out', async () => {
    const { fake, store } = setup();
    const a = stream();
    await store.append(a, [ev('A0'), ev('A1')], 'no_stream');
    expect(fake.allRecords().some((r) => r.streamId.startsWith('$'))).toBe(true);
    expect(fake.allRecords().some((r) => r.streamId === '$et-A1')).toBe(true);
    const all = await collectPages(store.readAll());
    expect(all.map((e) => e.type)).toEqual(['A0', 'A1']);
    const call = fake.calls.find((c) => c.method === 'readAll')!;
    expect(call.options).toMatchObject({ fromPosition: START, direction: FORWARDS, resolveLinkTos: false });
  });

  test('after is exclusive although ESDB reads from a position inclusively', async () => {
    const { fake, store } = setup({ systemEventsAfterAppend: false });
    const s = stream();
    await store.append(s, [ev('E0'), ev('E1'), ev('E2')], 'no_stream');
    const all = await collectPages(store.readAll());
    fake.calls.length = 0;
    const after = await collectPages(store.readAll({ after: all[1]!.position }));
    expect(after.map((e) => e.type)).toEqual(['E2']);
    expect(fake.calls[0]!.options).toMatchObject({ fromPosition: { commit: all[1]!.position, prepare: all[1]!.position } });
    // the server does send the event at `after`: the adapter drops it
    const raw = [];
    for await (const r of fake.readAll({ fromPosition: { commit: all[1]!.position, prepare: all[1]!.position } })) raw.push(r.event!.type);
    expect(raw).toEqual(['E1', 'E2']);
    expect(await collectPages(store.readAll({ after: all[2]!.position }))).toEqual([]);
  });

  test('readAll pages, maxCount and resumption across many server requests lose and repeat nothing', async () => {
    const { fake, store } = setup();
    const streams = [stream('a'), stream('b'), stream('c')];
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      const s = streams[i % 3]!;
      const e = ev('N', { i });
      expected.push(e.eventId);
      await store.append(s, [e], 'any');
    }
    fake.calls.length = 0;
    const pages = [];
    for await (const page of store.readAll({ pageSize: 7 })) pages.push(page);
    expect(pages.every((p) => p.length <= 7)).toBe(true);
    const flat = pages.flat();
    expect(flat.map((e) => e.eventId)).toEqual(expected);
    for (let i = 1; i < flat.length; i++) expect(flat[i]!.position > flat[i - 1]!.position).toBe(true);
    expect(fake.calls.filter((c) => c.method === 'readAll').length).toBeGreaterThan(1); // 200 user + 200 system events, 257 per request
    const middle = await collectPages(store.readAll({ after: flat[99]!.position, maxCount: 50, pageSize: 16 }));
    expect(middle.map((e) => e.eventId)).toEqual(expected.slice(100, 150));
    expect(await collectPages(store.readAll({ maxCount: 0 }))).toEqual([]);
  });

  test('readAll refuses a position that is not a non-negative bigint', async () => {
    const { store } = setup();
    expect((await caught(collectPages(store.readAll({ after: -1n })))).code).toBe('INVALID_INPUT');
    expect((await caught(collectPages(store.readAll({ after: 5 as unknown as bigint })))).code).toBe('INVALID_INPUT');
  });

  test('listStreams scans $all: creation order, last revision, no system streams', async () => {
    const { store } = setup();
    const b = stream('b');
    const a = stream('a');
    await store.append(b, [ev()], 'no_stream');
    await store.append(a, [ev(), ev()], 'no_stream');
    await store.append(b, [ev(), ev(), ev()], 0);
    expect(await store.listStreams()).toEqual([
      { streamId: b, revision: 3 },
      { streamId: a, revision: 1 },
    ]);
  });
});

describe('EventStoreDB adapter: unavailable server and unknown errors', () => {
  const transient: Array<[string, () => Error]> = [
    ['UnavailableError', clientErrors.unavailable],
    ['DeadlineExceededError', clientErrors.deadlineExceeded],
    ['NotLeaderError', clientErrors.notLeader],
    ['TimeoutError', clientErrors.timeout],
    ['CancelledError', clientErrors.cancelled],
  ];
  type Op = [string, 'appendToStream' | 'readStream' | 'readAll', (store: EventStoreDBEventStore) => Promise<unknown>];
  const ops: Op[] = [
    ['append', 'appendToStream', (store) => store.append(stream(), [ev()], 'any')],
    ['readStream', 'readStream', (store) => collectPages(store.readStream(stream()))],
    ['streamRevision', 'readStream', (store) => store.streamRevision(stream())],
    ['readAll', 'readAll', (store) => collectPages(store.readAll())],
    ['listStreams', 'readAll', (store) => store.listStreams()],
  ];
  for (const [errorName, make] of transient) {
    test.each(ops)(`${errorName} during %s is STORE_UNAVAILABLE`, async (_op, method, run) => {
      const { fake, store } = setup();
      const error = make();
      fake.fail(method, error);
      const err = await caught(run(store));
      expect(err.code).toBe('STORE_UNAVAILABLE');
      expect(err.message).toContain('could not be reached');
      expect(err.message).toContain(error.message);
      expect(err.cause).toBe(error);
      expect(err.details).toMatchObject({ retryable: true, errorType: (error as unknown as { type: string }).type });
    });
  }

  test('an error in the middle of a read is STORE_UNAVAILABLE', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev(), ev(), ev()], 'no_stream');
    fake.fail('readStream', clientErrors.unavailable(), { afterEvents: 2 });
    expect((await caught(collectPages(store.readStream(s)))).code).toBe('STORE_UNAVAILABLE');
    fake.fail('readAll', clientErrors.unavailable(), { afterEvents: 2 });
    expect((await caught(collectPages(store.readAll()))).code).toBe('STORE_UNAVAILABLE');
  });

  test('AccessDeniedError is STORE_UNAVAILABLE, marked not retryable', async () => {
    const { fake, store } = setup();
    const error = clientErrors.accessDenied();
    fake.fail('appendToStream', error);
    const err = await caught(store.append(stream(), [ev()], 'any'));
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.message).toContain('denied access');
    expect(err.details).toMatchObject({ retryable: false, errorType: 'access-denied' });
    expect(err.cause).toBe(error);
  });

  test('unknown errors are wrapped as STORE_UNAVAILABLE with the original as cause', async () => {
    const { fake, store } = setup();
    const discovery = new Error('Failed to discover after 10 attempts.');
    fake.fail('appendToStream', discovery);
    const err = await caught(store.append(stream(), [ev()], 'any'));
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.message).toContain('Failed to discover after 10 attempts.');
    expect(err.cause).toBe(discovery);
    const unknown = clientErrors.unknown();
    fake.fail('readAll', unknown);
    const err2 = await caught(store.listStreams());
    expect(err2.code).toBe('STORE_UNAVAILABLE');
    expect(err2.cause).toBe(unknown);
    fake.fail('readStream', 'Impossible situation where streamIdentifier is undefined in a recorded event');
    const err3 = await caught(collectPages(store.readStream(stream())));
    expect(err3.code).toBe('STORE_UNAVAILABLE');
    expect(err3.message).toContain('Impossible situation');
  });

  test('a raw gRPC error that the client let through is classified as the client would (UNAVAILABLE)', async () => {
    const { fake, store } = setup();
    const raw = serviceError(GRPC_STATUS.UNAVAILABLE, 'UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2113');
    fake.fail('appendToStream', raw);
    const err = await caught(store.append(stream(), [ev()], 'any'));
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.message).toContain('could not be reached');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.details).toMatchObject({ errorType: 'unavailable', retryable: true });
    // classified by the installed client package (KurrentDB's is preferred), by its error type
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.cause).toMatchObject({ type: 'unavailable' });
  });

  test("the client's InvalidArgumentError is INVALID_INPUT", async () => {
    const { fake, store } = setup();
    fake.fail('readStream', new InvalidArgumentError('fromRevision value must be a non-negative integer'));
    expect((await caught(collectPages(store.readStream(stream())))).code).toBe('INVALID_INPUT');
  });
});

describe('EventStoreDB adapter: ordering and close', () => {
  test('appends to one stream are sent in call order even when the server answers out of order', async () => {
    const { store } = setup({ latency: () => Math.floor(Math.random() * 5) });
    const s = stream();
    await store.append(s, [ev('E', { i: 0 })], 'no_stream');
    await Promise.all(Array.from({ length: 30 }, (_, k) => store.append(s, [ev('E', { i: k + 1 })], k)));
    const read = await collectPages(store.readStream(s));
    expect(read.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 31 }, (_, i) => i));
  });

  test('a failed append does not block the appends queued behind it', async () => {
    const { fake, store } = setup();
    const s = stream();
    fake.fail('appendToStream', clientErrors.unavailable());
    const results = await Promise.allSettled([store.append(s, [ev('A')], 'no_stream'), store.append(s, [ev('B')], 'no_stream')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
  });

  test('close disposes the client once; later calls are STORE_CLOSED', async () => {
    const { fake, store } = setup();
    const s = stream();
    await store.append(s, [ev()], 'no_stream');
    await store.close();
    await store.close();
    expect(fake.disposed).toBe(1);
    expect((await caught(store.append(s, [ev()], 0))).code).toBe('STORE_CLOSED');
    expect((await caught(collectPages(store.readStream(s)))).code).toBe('STORE_CLOSED');
    expect((await caught(collectPages(store.readAll()))).code).toBe('STORE_CLOSED');
    expect((await caught(store.listStreams())).code).toBe('STORE_CLOSED');
    expect((await caught(store.streamRevision(s))).code).toBe('STORE_CLOSED');
  });

  test('an append queued behind another when the store closes is STORE_CLOSED', async () => {
    const { store } = setup({ latency: () => 5 });
    const s = stream();
    const first = store.append(s, [ev()], 'no_stream');
    const second = store.append(s, [ev()], 0);
    const closing = store.close();
    await Promise.allSettled([first, closing]);
    expect((await caught(second)).code).toBe('STORE_CLOSED');
  });
});

describe('openEventStoreDB', () => {
  test.each([
    'esdb://localhost:2113?tls=false',
    'esdb://admin:changeit@localhost:2113',
    'esdb+discover://cluster.example.com:2113?tls=false',
    'kurrentdb://localhost:2113?tls=false',
    'kurrentdb+discover://cluster.example.com:2113?tls=false',
  ])(
    'builds a store over a real client from %s (connecting lazily)',
    async (url) => {
      const store = openEventStoreDB(url);
      expect(store).toBeInstanceOf(EventStoreDBEventStore);
      expect(store.kind).toBe('eventstoredb');
      await store.close();
    },
  );

  test.each([
    ['http://localhost:2113', /expected esdb:\/\/, kurrentdb:\/\//],
    ['esdb://localhost:abc', /port number/],
    ['esdb://localhost:2113?tls=maybe', /true or false/],
  ])('%s is UNSUPPORTED_STORE_URL', (url, message) => {
    let err: unknown;
    try {
      openEventStoreDB(url);
    } catch (e) {
      err = e;
    }
    expect(isLedgerError(err, 'UNSUPPORTED_STORE_URL')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  test('credentials never appear in the error message', () => {
    let err: unknown;
    try {
      openEventStoreDB('esdb://admin:s3cret@localhost:2113?tls=maybe');
    } catch (e) {
      err = e;
    }
    expect(isLedgerError(err, 'UNSUPPORTED_STORE_URL')).toBe(true);
    expect(JSON.stringify((err as LedgerError).toJSON())).not.toContain('s3cret');
  });
});

describe('the client package (an optional peer dependency)', () => {
  const missing = (name: string): never => {
    throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
  };

  test('KurrentDB\'s client is preferred when installed', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(loadClientPackage((n) => require(n) as unknown).name).toBe('@kurrent/kurrentdb-client');
  });

  test('the old @eventstore/db-client still works when it is the one installed, kurrentdb:// URLs included', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = loadClientPackage((n) => (n === '@kurrent/kurrentdb-client' ? missing(n) : (require(n) as unknown)));
    expect(pkg.name).toBe('@eventstore/db-client');
    const client = pkg.connect('kurrentdb://localhost:2113?tls=false') as { dispose(): Promise<void> };
    expect(client).toBeInstanceOf(EventStoreDBClient);
    await client.dispose();
  });

  test('without either, a typed STORE_UNAVAILABLE names the package to install', () => {
    let err: unknown;
    try {
      loadClientPackage(missing);
    } catch (e) {
      err = e;
    }
    expect(isLedgerError(err, 'STORE_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toContain('npm install @kurrent/kurrentdb-client');
  });

  test('the package is not a dependency of lineage-ledger: both clients are optional peers', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(pkg.dependencies!)).not.toContain('@eventstore/db-client');
    expect(Object.keys(pkg.dependencies!)).not.toContain('@kurrent/kurrentdb-client');
    expect(pkg.peerDependenciesMeta).toEqual({ '@eventstore/db-client': { optional: true }, '@kurrent/kurrentdb-client': { optional: true } });
  });
});
