/**
 * The stages of import's synthesis, one by one: decode (records → entities), invert (the fold
 * table's inverses → events), order (the events' order), build (the envelopes).
 */
import { buildEvents, decodeRecords, invertRecords, InvertedEvent, orderEvents, synthesizeRunEvents } from '../../src/export/import';
import { runRecords } from '../../src/export/records';
import { LedgerError } from '../../src/errors';
import type { EventType } from '../../src/events/catalogue';
import { openLedger, Ledger } from '../../src/ledger';
import { EVENT_FOLDS, EventFolds } from '../../src/projections/evolve';
import { RunRecords } from '../../src/projections/inverse';
import { recordDemoRun } from '../../src/workloads/demo';
import { deterministicLedger, recordTinyRun, sequentialIds, TINY_RUN_ID } from './bundle-fixtures';

type Rec = Record<string, unknown>;

let ledger: Ledger;
let tiny: Rec[];
let demo: { runId: string; records: Rec[] };
beforeAll(async () => {
  ledger = await deterministicLedger();
  await recordTinyRun(ledger);
  tiny = [...runRecords(await ledger.loadRun(TINY_RUN_ID))] as unknown as Rec[];
  const d = await openLedger({ store: 'memory:', payloads: null });
  const { runId } = await recordDemoRun(d, { rows: 8 });
  demo = { runId, records: [...runRecords(await d.loadRun(runId))] as unknown as Rec[] };
  await d.close();
});
afterAll(() => ledger.close());

const copy = (records: readonly Rec[]): Rec[] => JSON.parse(JSON.stringify(records)) as Rec[];
const indexOf = (records: readonly Rec[], rt: string): number => records.findIndex((r) => r.record_type === rt);

/** The IMPORT_FAILED error `work` throws. */
function refusal(work: () => unknown): LedgerError {
  try {
    work();
  } catch (e) {
    expect(e).toBeInstanceOf(LedgerError);
    expect((e as LedgerError).code).toBe('IMPORT_FAILED');
    return e as LedgerError;
  }
  throw new Error('expected a refusal');
}

describe('decode', () => {
  test('every record becomes its entity, by position', () => {
    const r = decodeRecords(TINY_RUN_ID, tiny);
    expect(r.size).toBe(tiny.length);
    expect(r.typeOf(0)).toBe('run');
    expect(r.run.runId).toBe(TINY_RUN_ID);
    const t = indexOf(tiny, 'token');
    expect(r.get(t, 'token')).toMatchObject({ tokenId: tiny[t]!.token_id, rowId: tiny[t]!.row_id, forkGroupId: null });
    expect(r.of('node')).toEqual([1, 2].map((k) => tiny.findIndex((x, i) => x.record_type === 'node' && i >= k)));
  });

  test('a value its codec refuses: the record, the field, and its path in the record', () => {
    const records = copy(tiny);
    const a = indexOf(records, 'artifact');
    records[a]!.produced_by_state_ids = ['not an id!'];
    const e = refusal(() => decodeRecords(TINY_RUN_ID, records));
    expect(e.message).toMatch(new RegExp(`^record ${a} \\(artifact [0-9a-f-]+\\) is not a valid artifact: producedByStateIds\\[0\\]: expected an id`));
    expect(e.details).toEqual({ index: a, path: 'produced_by_state_ids[0]' });
  });

  test.each([
    ['a field its type does not have', (r: Rec[]) => void (r[3]!.extra = 1), /^record 3 .* has a field extra that a \w+ record does not have/, 3],
    ['a missing field', (r: Rec[]) => void delete r[2]!.config_hash, /^record 2 .* lacks its field config_hash/, 2],
    ['an unknown record type', (r: Rec[]) => void (r[4]!.record_type = 'gadget'), /^record 4 \(gadget.*\) has an unknown record type/, 4],
    ['another run', (r: Rec[]) => void (r[5]!.run_id = 'other'), /^record 5 .* belongs to run other, not /, 5],
    ['a second run record', (r: Rec[]) => void r.push(r[0]!), /is a second run record/, -1],
    ['no run record first', (r: Rec[]) => void r.reverse(), /^record 0 .* is not the run record/, undefined],
  ])('refused: %s', (_what, mutate, message, index) => {
    const records = copy(tiny);
    mutate(records);
    const e = refusal(() => decodeRecords(TINY_RUN_ID, records));
    expect(e.message).toMatch(message);
    expect(e.details?.index).toBe(index === -1 ? records.length - 1 : index);
  });

  test('no records at all', () => {
    expect(refusal(() => decodeRecords(TINY_RUN_ID, [])).message).toMatch(/holds no records/);
  });
});

describe('invert', () => {
  test('every record is created by exactly one event; the run record gives the opening and closing', () => {
    const records = decodeRecords(TINY_RUN_ID, tiny);
    const { events, creator } = invertRecords(records);
    for (let i = 0; i < records.size; i++) expect(creator[i]).toBeGreaterThanOrEqual(0);
    const byType = (type: EventType): InvertedEvent[] => events.filter((e) => e.type === type);
    expect(byType('RunStarted')).toMatchObject([{ seat: { opening: 0 }, records: [0], at: tiny[0]!.started_at }]);
    expect(byType('RunCompleted')).toMatchObject([{ seat: { closing: 0 }, data: { status: 'completed', reproducibilityGrade: null } }]);
    expect(byType('NodeRegistered')).toHaveLength(2);
    expect(byType('NodeStateCompleted')).toHaveLength(1);
    expect(byType('NodeStateFailed')).toHaveLength(1);
    // a completion changes its state: it needs the state's creation
    const completion = byType('NodeStateCompleted')[0]!;
    expect(completion.needs).toContain(completion.records[0]);
    expect(events[creator[completion.records[0]!]!]!.type).toBe('NodeStateOpened');
  });

  test('a fork is one event: the children, their parent links and the parent outcome', () => {
    const records = decodeRecords(demo.runId, demo.records);
    const forks = invertRecords(records).events.filter((e) => e.type === 'TokenForked');
    expect(forks.length).toBeGreaterThan(0);
    for (const f of forks) {
      const types = f.records.map((i) => records.typeOf(i));
      const children = types.filter((t) => t === 'token').length;
      expect(children).toBe((f.data.children as unknown[]).length);
      expect(types).toEqual([...Array<string>(children).fill('token'), ...Array<string>(children).fill('token_parent'), 'token_outcome']);
    }
  });

  test('a record that no inverse creates is refused, naming it', () => {
    const folds: EventFolds = { ...EVENT_FOLDS, RowCreated: { ...EVENT_FOLDS.RowCreated, inverse: { seat: 'body', invert: () => [] } } };
    const records = decodeRecords(TINY_RUN_ID, tiny);
    const row = indexOf(tiny, 'row');
    const e = refusal(() => invertRecords(records, folds));
    expect(e.message).toMatch(new RegExp(`^record ${row} \\(row [0-9a-f-]+\\) is created by no event$`));
    expect(e.details).toEqual({ index: row });
  });

  test('a token with parents that no fork, expand, join or batch creates is refused', () => {
    const recs = copy(demo.records);
    const child = recs.findIndex((r) => r.record_type === 'token' && r.fork_group_id !== null);
    recs[child]!.fork_group_id = null;
    const e = refusal(() => invertRecords(decodeRecords(demo.runId, recs)));
    expect(e.message).toMatch(new RegExp(`^record ${child} \\(token [0-9a-f-]+\\) has parents but no fork, expand, join or batch that would create them$`));
  });

  test('a record two events would create is refused', () => {
    const recs = copy(demo.records);
    // a merged token listing the same parent twice: its one coalesced outcome would be made twice
    const merged = recs.findIndex((r) => r.record_type === 'token' && r.join_group_id !== null);
    const link = recs.findIndex((r) => r.record_type === 'token_parent' && r.token_id === recs[merged]!.token_id && r.ordinal === 1);
    recs[link]!.parent_token_id = recs[link - 1]!.parent_token_id;
    const e = refusal(() => invertRecords(decodeRecords(demo.runId, recs)));
    expect(e.message).toMatch(/would be created by two events \(TokensCoalesced and TokensCoalesced\)/);
  });
});

describe('order', () => {
  /** Records of a run, two nodes and two rows (no valid entities needed but the run's). */
  function fixture(): RunRecords {
    const run = decodeRecords(TINY_RUN_ID, tiny).run;
    return new RunRecords(['run', 'node', 'node', 'row', 'row'], [run, {}, {}, { rowId: 'a' }, { rowId: 'b' }], (i) => `record ${i}`);
  }
  function ev(type: EventType, creates: number[], extra: Partial<InvertedEvent> = {}): InvertedEvent {
    return { id: -1, type, seat: 'body', data: {}, at: null, records: creates, needs: [], before: [], prio: Math.min(...creates), ...extra };
  }
  /** The order of these events (ids are their positions, as invertRecords gives them). */
  function order(given: InvertedEvent[]): string[] {
    const events = given.map((e, id) => ({ ...e, id }));
    const creator = new Int32Array(5).fill(-1);
    for (const e of events) for (const r of e.records) creator[r] = e.id;
    return orderEvents(fixture(), { events, creator }).map((e) => `${e.type}:${e.records.join(',')}`);
  }
  test('the opening first, the closing last, each by rank; the body by record position', () => {
    expect(
      order([
        ev('RowCreated', [4]),
        ev('RunCompleted', [0], { seat: { closing: 0 } }),
        ev('ExportStatusChanged', [0], { seat: { closing: 2 } }),
        ev('RowCreated', [3]),
        ev('SourceFieldResolutionRecorded', [0], { seat: { opening: 1 } }),
        ev('RunStarted', [0], { seat: { opening: 0 } }),
      ]),
    ).toEqual(['RunStarted:0', 'SourceFieldResolutionRecorded:0', 'RowCreated:3', 'RowCreated:4', 'RunCompleted:0', 'ExportStatusChanged:0']);
  });

  test('an event comes after the creation of what it needs, and before what it must precede', () => {
    expect(order([ev('RowCreated', [3], { needs: [4] }), ev('RowCreated', [4])])).toEqual(['RowCreated:4', 'RowCreated:3']);
    expect(order([ev('RowCreated', [3]), ev('RowCreated', [4], { before: [3] })])).toEqual(['RowCreated:4', 'RowCreated:3']);
  });

  test('records of one block keep their order; a cycle with it is refused', () => {
    // node records are one block: the event creating record 1 comes before that creating record 2
    expect(order([ev('NodeRegistered', [2], { prio: 0 }), ev('NodeRegistered', [1], { prio: 9 })])).toEqual(['NodeRegistered:1', 'NodeRegistered:2']);
    const e = refusal(() => order([ev('NodeRegistered', [1], { needs: [2] }), ev('NodeRegistered', [2])]));
    expect(e.message).toMatch(/cannot be reproduced by any order of events \(a cycle among the events for NodeRegistered of record 1; NodeRegistered of record 2\)/);
    expect(e.details).toEqual({ records: [1, 2] });
  });

  test('the order of a real run: every event after the creators of what it needs', () => {
    const records = decodeRecords(demo.runId, demo.records);
    const inverted = invertRecords(records);
    const ordered = orderEvents(records, inverted);
    expect(ordered).toHaveLength(inverted.events.length);
    const at = new Map(ordered.map((e, k) => [e.id, k]));
    for (const e of ordered) for (const r of e.needs) expect(at.get(inverted.creator[r]!)!).toBeLessThanOrEqual(at.get(e.id)!);
  });
});

describe('build', () => {
  const describeRecord = (i: number): string => `record ${i}`;

  test('seq is the position, a null time is the previous event\'s, ids are new, versions the catalogue\'s', () => {
    const events = buildEvents(
      'run-1',
      [
        { type: 'RunStatusChanged', data: { status: 'running', reason: null }, at: '2026-01-01T00:00:00.000Z', records: [0] },
        { type: 'RunStatusChanged', data: { status: 'interrupted', reason: null }, at: null, records: [0] },
        { type: 'BatchOutputsProduced', data: { batchId: 'b', stepInPipeline: null, tokens: [], artifactIds: [] }, at: '2026-01-01T00:00:01.000Z', records: [3] },
      ],
      { newId: sequentialIds(), describe: describeRecord },
    );
    expect(events.map((e) => [e.seq, e.type, e.recordedAt, e.schemaVersion, e.runId])).toEqual([
      [0, 'RunStatusChanged', '2026-01-01T00:00:00.000Z', 1, 'run-1'],
      [1, 'RunStatusChanged', '2026-01-01T00:00:00.000Z', 1, 'run-1'],
      [2, 'BatchOutputsProduced', '2026-01-01T00:00:01.000Z', 2, 'run-1'],
    ]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
    expect(events[1]!.data).toEqual({ status: 'interrupted', reason: null });
  });

  test('data its codec refuses: the event\'s first record and the field', () => {
    const e = refusal(() =>
      buildEvents('run-1', [{ type: 'NodeStatePending', data: { stateId: 's', durationMs: null, contextAfterJson: null }, at: '2026-01-01T00:00:00.000Z', records: [7] }], {
        newId: sequentialIds(),
        describe: describeRecord,
      }),
    );
    expect(e.message).toMatch(/^record 7 cannot be written as a NodeStatePending event: durationMs: expected/);
    expect(e.details).toEqual({ index: 7, type: 'NodeStatePending' });
  });
});

test('synthesizeRunEvents is the four stages in a row', () => {
  const records = decodeRecords(demo.runId, demo.records);
  const staged = buildEvents(demo.runId, orderEvents(records, invertRecords(records)), { newId: sequentialIds(), describe: records.describe });
  expect(synthesizeRunEvents(demo.runId, demo.records, { newId: sequentialIds() })).toEqual(staged);
});
