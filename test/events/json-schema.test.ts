/**
 * The published JSON Schema of the events (schema/events.schema.json): it cannot drift
 * from the codecs, validates every event the workloads produce, rejects malformed
 * ones, and agrees with the io-ts codecs (the library's read path) on edge cases.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import fc from 'fast-check';
import { EVENT_CATALOGUE, EVENT_TYPES, isEventType } from '../../src/events/catalogue';
import { Hash, Id, Int, JsonObjectC, JsonValue, NonEmptyString, NonNegativeInt, NonNegativeNumber, PositiveInt, Timestamp, Uuid } from '../../src/events/codecs';
import { runStreamId } from '../../src/events/envelope';
import { decodeStoredEvent } from '../../src/store/events';
import { EVENT_SCHEMA_ID, EVENT_SCHEMA_PATH, eventJsonSchema, eventJsonSchemaText } from '../../src/events/json-schema';
import { openLedger } from '../../src/ledger';
import { collectPages } from '../../src/store/port';
import { recordDemoRun } from '../../src/workloads/demo';
import { recordReferenceRun } from '../../src/workloads/reference';
import type * as t from 'io-ts';

type Envelope = { eventId: unknown; type: unknown; data: unknown; metadata: unknown };

const ROOT = path.resolve(__dirname, '../..');

const ajv = new Ajv2020({ strict: true, allErrors: true });
const validate: ValidateFunction = ajv.compile(eventJsonSchema());
const defSchema = (name: string): ValidateFunction => {
  const v = ajv.getSchema(`${EVENT_SCHEMA_ID}#/$defs/${name}`);
  if (v === undefined) throw new Error(`no definition ${name}`);
  return v;
};

/** What the library's read path says about an envelope: the store's own fields, then decodeStoredEvent. */
function libraryAccepts(u: unknown): boolean {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return false;
  const keys = Object.keys(u);
  if (keys.length !== 4 || !['eventId', 'type', 'data', 'metadata'].every((k) => keys.includes(k))) return false;
  const e = u as Envelope;
  if (!Uuid.is(e.eventId) || typeof e.type !== 'string') return false;
  if (typeof e.data !== 'object' || e.data === null || typeof e.metadata !== 'object' || e.metadata === null) return false;
  const m = e.metadata as { runId?: unknown; seq?: unknown };
  // the stream and revision the event would be stored at (checks the schema cannot express)
  const streamId = typeof m.runId === 'string' ? runStreamId(m.runId) : 'run-x';
  const revision = typeof m.seq === 'number' ? m.seq : 0;
  try {
    decodeStoredEvent({ streamId, revision, position: 1n, eventId: e.eventId, type: e.type, data: e.data as Record<string, unknown>, metadata: e.metadata as Record<string, unknown> });
    return true;
  } catch {
    return false;
  }
}

function errorsOf(v: ValidateFunction): string {
  return ajv.errorsText(v.errors, { separator: '\n' });
}

let workloadEvents: Envelope[];

beforeAll(async () => {
  const ledger = await openLedger({ store: 'memory:' });
  await recordReferenceRun(ledger, { rows: 20 });
  await recordDemoRun(ledger, { rows: 20 });
  workloadEvents = (await collectPages(ledger.store.readAll())).map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata }));
  await ledger.close();
});

/** Valid examples of the types the workloads do not produce (hand-written, checked against both sides below). */
function handWritten(): Envelope[] {
  const runId = '0190f5a8-7b3c-7d4e-8f00-0123456789ab';
  const meta = (seq: number) => ({ schemaVersion: 1, runId, seq, recordedAt: '2026-01-02T03:04:05.678Z', correlationId: null, causationId: 'upstream-7' });
  const id = (n: number) => `0190f5a8-7b3c-7d4e-8f00-${String(n).padStart(12, '0')}`;
  return [
    { eventId: id(1), type: 'RunStatusChanged', data: { status: 'running', reason: 'resumed after checkpoint' }, metadata: meta(1) },
    { eventId: id(2), type: 'ExportStatusChanged', data: { status: 'completed', error: null, format: 'jsonl', sink: 'file://audit.jsonl' }, metadata: meta(2) },
    {
      eventId: id(6),
      type: 'PayloadsPurged',
      data: { hashes: ['a'.repeat(64)], purgedAt: '2026-01-02T03:04:05.678Z', reproducibilityGrade: 'attributable_only' },
      metadata: meta(6),
    },
    { eventId: id(3), type: 'NodeOutputContractUpdated', data: { nodeId: id(100), outputContractJson: { fields: ['a', 'b'] } }, metadata: meta(3) },
    { eventId: id(4), type: 'NodeStatePending', data: { stateId: id(101), durationMs: 12.5, contextAfterJson: null }, metadata: meta(4) },
    {
      eventId: id(5),
      type: 'BatchRetried',
      data: { batchId: id(102), retriedFromBatchId: id(103), aggregationNodeId: id(104), attempt: 1, members: [{ tokenId: id(105), ordinal: 0 }] },
      metadata: meta(5),
    },
  ];
}

describe('the published file', () => {
  test(`${EVENT_SCHEMA_PATH} equals the schema generated from the codecs`, () => {
    const file = path.join(ROOT, EVENT_SCHEMA_PATH);
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const fresh = eventJsonSchemaText();
    if (committed !== fresh) {
      throw new Error(`${EVENT_SCHEMA_PATH} is out of date with the codecs: regenerate it with \`npm run schema\` and commit the result`);
    }
  });

  test('is a draft 2020-12 document that compiles in strict mode, one branch per event type', () => {
    const schema = eventJsonSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.oneOf).toHaveLength(EVENT_TYPES.length);
    expect(JSON.parse(eventJsonSchemaText())).toEqual(schema);
    for (const type of EVENT_TYPES) {
      expect(defSchema(`${type}Event`)).toBeDefined();
      expect(defSchema(EVENT_CATALOGUE[type].codec.name)).toBeDefined();
    }
  });


});

describe('valid events', () => {
  test('every event of a 20-row reference run and of the demo run validates (and decodes)', () => {
    expect(workloadEvents.length).toBeGreaterThan(400);
    const failures: string[] = [];
    for (const e of workloadEvents) {
      const valid: boolean = validate(e);
      if (!valid) failures.push(`${String(e.type)} ${String(e.eventId)}: ${errorsOf(validate)}`);
      if (!libraryAccepts(e)) failures.push(`${String(e.type)} ${String(e.eventId)}: the library refuses it`);
    }
    expect(failures).toEqual([]);
  });

  test('every event type has a valid example (workloads plus hand-written ones)', () => {
    const examples = [...workloadEvents, ...handWritten()];
    for (const e of handWritten()) {
      expect(libraryAccepts(e)).toBe(true);
      expect({ type: e.type, valid: validate(e), errors: validate.errors ?? null }).toEqual({ type: e.type, valid: true, errors: null });
    }
    expect(EVENT_TYPES.filter((type) => !examples.some((e) => e.type === type))).toEqual([]);
  });
});

describe('malformed events are rejected by the schema and by the library', () => {
  const base = (): Envelope & { data: Record<string, unknown>; metadata: Record<string, unknown> } => {
    const e = workloadEvents.find((x) => x.type === 'RowCreated')!;
    return structuredClone(e) as Envelope & { data: Record<string, unknown>; metadata: Record<string, unknown> };
  };
  const forked = (): Envelope & { data: Record<string, unknown> } => structuredClone(workloadEvents.find((x) => x.type === 'TokenForked')!) as Envelope & { data: Record<string, unknown> };
  const registered = (): Envelope & { data: Record<string, unknown> } => structuredClone(workloadEvents.find((x) => x.type === 'NodeRegistered')!) as Envelope & { data: Record<string, unknown> };
  const started = (): Envelope & { data: Record<string, unknown> } => structuredClone(workloadEvents.find((x) => x.type === 'RunStarted')!) as Envelope & { data: Record<string, unknown> };

  const cases: Array<[string, () => unknown]> = [
    ['unknown event type', () => ({ ...base(), type: 'RowDeleted' })],
    ['type of another event (data does not fit)', () => ({ ...base(), type: 'TokenCreated' })],
    ['missing required data field', () => { const e = base(); delete e.data.sourceDataHash; return e; }],
    ['missing nullable field (null must be written, not left out)', () => { const e = base(); delete e.data.sourceDataRef; return e; }],
    ['extra data field', () => { const e = base(); e.data.payload = { secret: 1 }; return e; }],
    ['extra metadata field', () => { const e = base(); e.metadata.host = 'x'; return e; }],
    ['extra envelope field', () => ({ ...base(), streamId: 'run-x' })],
    ['missing metadata', () => { const { metadata: _m, ...rest } = base(); return rest; }],
    ['string where an integer is required', () => { const e = base(); e.data.rowIndex = '3'; return e; }],
    ['fraction where an integer is required', () => { const e = base(); e.data.rowIndex = 1.5; return e; }],
    ['negative row index', () => { const e = base(); e.data.rowIndex = -1; return e; }],
    ['integer above 2^53', () => { const e = base(); e.data.rowIndex = 2 ** 53; return e; }],
    ['number where a boolean is required', () => { const e = base(); e.data.quarantined = 0; return e; }],
    ['null where not nullable', () => { const e = base(); e.data.rowId = null; return e; }],
    ['bad id (65 characters)', () => { const e = base(); e.data.rowId = 'a'.repeat(65); return e; }],
    ['bad id (a slash)', () => { const e = base(); e.data.rowId = 'a/b'; return e; }],
    ['bad id (leading dash)', () => { const e = base(); e.data.rowId = '-abc'; return e; }],
    ['bad id (empty)', () => { const e = base(); e.data.rowId = ''; return e; }],
    ['bad run id (non-ASCII)', () => { const e = base(); e.metadata.runId = 'zoë'; return e; }],
    ['bad event id (no dashes)', () => ({ ...base(), eventId: String(base().eventId).replace(/-/g, '') })],
    ['bad event id', () => ({ ...base(), eventId: 'event-1' })],
    ['bad hash (truncated)', () => { const e = base(); e.data.sourceDataHash = String(e.data.sourceDataHash).slice(0, 63); return e; }],
    ['bad hash (uppercase)', () => { const e = base(); e.data.sourceDataHash = String(e.data.sourceDataHash).toUpperCase(); return e; }],
    ['bad timestamp (no offset)', () => { const e = base(); e.metadata.recordedAt = '2026-01-02T03:04:05.678'; return e; }],
    ['bad timestamp (month 13)', () => { const e = base(); e.metadata.recordedAt = '2026-13-02T03:04:05Z'; return e; }],
    ['bad timestamp (date only)', () => { const e = base(); e.metadata.recordedAt = '2026-01-02'; return e; }],
    ['wrong enum value', () => { const e = registered(); e.data.nodeType = 'filter'; return e; }],
    ['enum value in the wrong case', () => { const e = started(); e.data.reproducibilityGrade = 'FULL_REPRODUCIBLE'; return e; }],
    ['empty array where one element is required', () => { const e = forked(); e.data.children = []; return e; }],
    ['array element with an extra field', () => { const e = forked(); (e.data.children as Array<Record<string, unknown>>)[0]!.extra = true; return e; }],
    ['schema version from the future', () => { const e = base(); e.metadata.schemaVersion = 2; return e; }],
    ['schema version 0', () => { const e = base(); e.metadata.schemaVersion = 0; return e; }],
    ['integer above 2^53 inside a JSON value', () => { const e = started(); e.data.config = { big: 2 ** 60 }; return e; }],
    ['data is an array', () => ({ ...base(), data: [] })],
    ['event is not an object', () => 'RowCreated'],
  ];

  test.each(cases)('%s', (_name, make) => {
    const e = make();
    expect(validate(e)).toBe(false);
    expect(libraryAccepts(e)).toBe(false);
  });
});

describe('the schema and the io-ts codecs agree', () => {
  const named: Array<[string, t.Mixed]> = [
    ['Id', Id],
    ['Hash', Hash],
    ['Timestamp', Timestamp],
    ['NonEmptyString', NonEmptyString],
    ['NonNegativeInt', NonNegativeInt],
    ['PositiveInt', PositiveInt],
    ['Int', Int],
    ['NonNegativeNumber', NonNegativeNumber],
    ['JsonValue', JsonValue],
    ['JsonObject', JsonObjectC],
  ];
  const edgeCases: unknown[] = [
    null, true, false, 0, -0, 1, -1, 1.5, -1.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53 - 1), -(2 ** 53), 1e300, -1e300, 1e-300,
    '', ' ', 'x', 'null', '0',
    '0190f5a8-7b3c-7d4e-8f00-0123456789ab', '0190F5A8-7B3C-7D4E-8F00-0123456789AB', '0190f5a8-7b3c-9d4e-8f00-0123456789ab', '0190f5a8-7b3c-7d4e-cf00-0123456789ab',
    '0190f5a8-7b3c-7d4e-8f00-0123456789a', '{0190f5a8-7b3c-7d4e-8f00-0123456789ab}', '00000000-0000-0000-0000-000000000000',
    'a'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'A'.repeat(64), 'g'.repeat(64),
    '2026-01-02T03:04:05Z', '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.123456789+05:30', '2026-01-02T03:04:05.1234567890Z',
    '2026-01-02T03:04:05', '2026-01-02 03:04:05Z', '2026-02-30T00:00:00Z', '2026-02-31T00:00:00Z', '2026-01-32T00:00:00Z', '2026-00-10T00:00:00Z',
    '2026-01-01T24:00:00Z', '2026-01-01T24:00:00.000Z', '2026-01-01T24:00:00.001Z', '2026-01-01T24:00:01Z', '2026-01-01T23:60:00Z', '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+23:59', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00-00:00', '0000-01-01T00:00:00Z', '2026-01-01t00:00:00z',
    [], [1], [null], [2 ** 53], {}, { a: 1 }, { a: { b: [1, 'two', null, { c: 2 ** 60 }] } }, { '': null }, [[[[]]]],
  ];

  test.each(named)('%s: edge cases', (name, codec) => {
    const schema = defSchema(name);
    const disagreements = edgeCases.filter((v) => schema(v) !== codec.is(v)).map((v) => JSON.stringify(v));
    expect(disagreements).toEqual([]);
  });

  test.each(named)('%s: generated values', (name, codec) => {
    const schema = defSchema(name);
    const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
    const timestampLike = fc
      .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), fc.option(digits(3)), fc.constantFrom('Z', '+', '-'), digits(2), digits(2))
      .map(([y, mo, d, h, mi, s, frac, z, oh, om]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${frac === null ? '' : `.${frac}`}${z === 'Z' ? 'Z' : `${z}${oh}:${om}`}`);
    const values = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
      fc.uuid(),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-'), minLength: 30, maxLength: 70 }),
      timestampLike,
      fc.integer(),
      fc.double(),
      fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1e21),
    );
    fc.assert(
      fc.property(values, (v) => {
        expect({ value: v, schema: schema(v) }).toEqual({ value: v, schema: codec.is(v) });
      }),
      { numRuns: 3000 },
    );
  });

  test('enumerations: every value accepted, other strings refused', () => {
    const enumNames = Object.entries(eventJsonSchema().$defs as Record<string, { enum?: string[] }>).filter(([, s]) => Array.isArray(s.enum));
    expect(enumNames.length).toBeGreaterThan(10);
    for (const [name, s] of enumNames) {
      const v = defSchema(name);
      for (const value of s.enum!) expect(v(value)).toBe(true);
      for (const bad of ['', s.enum![0]!.toUpperCase(), `${s.enum![0]!} `, 'unknown']) expect(v(bad)).toBe(false);
    }
  });

  test('mutated events: the schema accepts exactly what the library reads', () => {
    const samples: Envelope[] = [];
    for (const type of EVENT_TYPES) {
      const e = workloadEvents.find((x) => x.type === type) ?? handWritten().find((x) => x.type === type);
      if (e !== undefined) samples.push(e);
    }
    expect(samples).toHaveLength(EVENT_TYPES.length);
    const interesting = fc.oneof(
      fc.constantFrom<unknown>(
        null, true, 0, -1, 1.5, 2 ** 53, '', 'x', [], {}, { a: 1 }, 'RowCreated', 'completed', 'open', 'copy', 'http',
        '0190f5a8-7b3c-7d4e-8f00-0123456789ab', '0190F5A8-7B3C-7D4E-8F00-0123456789AB', 'b'.repeat(64), 'b'.repeat(63),
        '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05', [{ tokenId: '0190f5a8-7b3c-7d4e-8f00-0123456789ab', branchName: 'a' }],
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const mutation = fc.record({
      sample: fc.nat({ max: samples.length - 1 }),
      pick: fc.nat(),
      kind: fc.constantFrom('set', 'delete', 'add'),
      value: interesting,
      key: fc.constantFrom('extra', 'status', 'rowId', 'data', '__proto__'),
    });
    let accepted = 0;
    fc.assert(
      fc.property(mutation, ({ sample, pick, kind, value, key }) => {
        const e = structuredClone(samples[sample]!) as unknown as Record<string, unknown>;
        const targets = pathsOf(e);
        const p = targets[pick % targets.length]!;
        mutate(e, p, kind, value, key);
        const candidate = JSON.parse(JSON.stringify(e)) as unknown;
        const bySchema = validate(candidate);
        if (bySchema) accepted++;
        expect({ path: p, kind, schema: bySchema }).toEqual({ path: p, kind, schema: libraryAccepts(candidate) });
      }),
      { numRuns: 4000 },
    );
    expect(accepted).toBeGreaterThan(0); // some mutations keep the event valid: both sides were really compared
  });

  test('isEventType and the schema agree on type names', () => {
    for (const type of [...EVENT_TYPES, 'rowcreated', 'Row Created', 'RowCreated ', 'toString', '__proto__', 'constructor']) {
      const e = { ...workloadEvents.find((x) => x.type === 'RowCreated')!, type };
      expect(validate(e)).toBe(isEventType(type) && type === 'RowCreated');
    }
  });
});

/** Every path into an envelope (objects and arrays, leaves included), as key lists. */
function pathsOf(v: unknown, prefix: string[] = []): string[][] {
  const out: string[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...prefix, String(i)])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

function mutate(root: Record<string, unknown>, p: string[], kind: 'set' | 'delete' | 'add', value: unknown, key: string): void {
  if (p.length === 0) {
    if (kind === 'add') Object.defineProperty(root, key, { value, enumerable: true, configurable: true, writable: true });
    return;
  }
  const parent = p.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root) as Record<string, unknown> | unknown[];
  const last = p[p.length - 1]!;
  const target = (parent as Record<string, unknown>)[last];
  if (kind === 'set') (parent as Record<string, unknown>)[last] = value;
  else if (kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  } else if (Array.isArray(target)) target.push(value);
  else (parent as Record<string, unknown>)[last] = value;
}
