/**
 * The seed bug class (an exporter that forgets a field such as expand_group_id)
 * cannot come back: every record carries exactly the fields of its entity codec,
 * every entity of the state fits its codec exactly, and the demo run produces
 * every record type.
 */
import { isRight } from 'fp-ts/Either';
import type { Decoder } from 'io-ts';
import { ENTITY_CODECS, openLedger, RECORD_TYPES, recordFieldNames } from '../../src';
import type { ExportRecord, RecordType, RunState } from '../../src';
import { recordDemoRun } from '../../src/workloads/demo';

let records: ExportRecord[];
let state: RunState;

beforeAll(async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const { runId } = await recordDemoRun(ledger, { rows: 30 });
  records = [];
  for await (const r of ledger.exportRun(runId)) records.push(r);
  state = await ledger.loadRun(runId);
  await ledger.close();
});

test('the demo run produces every record type', () => {
  const seen = new Set(records.map((r) => r.record_type));
  expect([...RECORD_TYPES].filter((t) => !seen.has(t))).toEqual([]);
});

test.each(RECORD_TYPES)('every %s record has exactly the fields of its entity codec, in snake_case', (rt) => {
  const expected = recordFieldNames(rt).sort();
  const ofType = records.filter((r) => r.record_type === rt);
  expect(ofType.length).toBeGreaterThan(0);
  for (const r of ofType) expect(Object.keys(r).sort()).toEqual(expected);
  // no value is undefined: absent values are null
  for (const r of ofType) for (const v of Object.values(r)) expect(v).not.toBeUndefined();
});

test('every entity in the projection fits its codec exactly (no field the codec, and so the export, does not know)', () => {
  const collections: Record<RecordType, unknown[]> = {
    run: [state.run],
    secret_resolution: [...state.secretResolutions.values()],
    preflight_result: [...state.preflightResults.values()],
    node: [...state.nodes.values()],
    edge: [...state.edges.values()],
    operation: [...state.operations.values()],
    call: [...state.calls.values()],
    row: [...state.rows.values()],
    token: [...state.tokens.values()],
    token_parent: [...state.parents.values()].flat(),
    token_outcome: [...state.outcomes.values()],
    node_state: [...state.nodeStates.values()],
    routing_event: [...state.routingEvents.values()],
    batch: [...state.batches.values()],
    batch_member: [...state.batchMembers.values()].flat(),
    batch_output: [...state.batchOutputs.values()].flat(),
    artifact: [...state.artifacts.values()],
    validation_error: [...state.validationErrors.values()],
    transform_error: [...state.transformErrors.values()],
    checkpoint: [...state.checkpoints.values()],
  };
  for (const rt of RECORD_TYPES) {
    const list = collections[rt];
    expect(list.length).toBeGreaterThan(0);
    for (const entity of list) {
      const codec = ENTITY_CODECS[rt] as unknown as Decoder<unknown, unknown>;
      const decoded = codec.decode(entity);
      if (!isRight(decoded)) throw new Error(`${rt} entity does not fit its codec: ${JSON.stringify(entity)}`);
      expect(Object.keys(entity as object).sort()).toEqual([...ENTITY_CODECS[rt].keys].sort());
    }
    // the export holds as many records of the type as the state holds entities
    expect(records.filter((r) => r.record_type === rt)).toHaveLength(list.length);
  }
});

test('every group id in the state appears in the export, on tokens and on outcomes', () => {
  const exported = JSON.stringify(records);
  expect(state.groups.size).toBeGreaterThan(0);
  const kinds = new Set<string>();
  for (const g of state.groups.values()) {
    kinds.add(g.kind);
    expect(exported).toContain(g.groupId);
  }
  expect([...kinds].sort()).toEqual(['batch', 'expand', 'fork', 'join']);
  const tokens = records.filter((r) => r.record_type === 'token');
  const expandedChildren = tokens.filter((t) => t.expand_group_id !== null);
  expect(expandedChildren.length).toBeGreaterThan(0);
  for (const t of expandedChildren) {
    const parentOutcome = records.find(
      (r) => r.record_type === 'token_outcome' && r.outcome === 'expanded' && r.expand_group_id === t.expand_group_id,
    );
    expect(parentOutcome).toBeDefined();
  }
  expect(tokens.filter((t) => t.batch_id !== null).length).toBeGreaterThan(0);
});
