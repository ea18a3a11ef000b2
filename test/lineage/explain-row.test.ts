/**
 * Row queries (every path, never a refusal), descendants (what became of an
 * input, with the groups it shares with other tokens and rows), and the
 * errors of the lineage API.
 */
import { openLedger } from '../../src';
import type { Ledger } from '../../src';
import type { LedgerEvent } from '../../src/events/envelope';
import { DELEGATING_OUTCOMES } from '../../src/events/outcomes';
import { recordDemoRun } from '../../src/workloads/demo';
import { ledgerErrorOf, ofType, runEvents } from './support';

describe('explain a row and descendants on the demo run', () => {
  let ledger: Ledger;
  let runId: string;
  let events: LedgerEvent[];
  const rowId = (i: number) => ofType(events, 'RowCreated').find((e) => e.data.rowIndex === i)!.data.rowId;
  const initial = (i: number) => ofType(events, 'TokenCreated').find((e) => e.data.rowId === rowId(i))!.data.tokenId;
  const fork = (i: number) => ofType(events, 'TokenForked').find((e) => e.data.parentTokenId === initial(i))!.data;
  const merged = (i: number) => ofType(events, 'TokensCoalesced').find((e) => e.data.rowId === rowId(i))!.data;
  const firstBatch = () => ofType(events, 'BatchCreated')[0]!.data.batchId;
  const summary = () => ofType(events, 'BatchOutputsProduced')[0]!.data.tokens[0]!.tokenId;
  const lines = () => ofType(events, 'TokenExpanded').find((e) => e.data.parentTokenId === summary())!.data;

  beforeAll(async () => {
    ledger = await openLedger({ store: 'memory:' });
    runId = (await recordDemoRun(ledger)).runId;
    events = await runEvents(ledger, runId);
  });
  afterAll(async () => {
    await ledger.close();
  });

  test('the delegating outcomes come from the outcome table', () => {
    expect([...DELEGATING_OUTCOMES].sort()).toEqual(['coalesced', 'consumed_in_batch', 'expanded', 'forked']);
  });

  test('a row that went through a batch and an expansion: every line of the summary is a path of the row', async () => {
    const r = await ledger.explain({ runId, rowIndex: 1 });
    const expectedEnds = lines().children.map((c) => c.tokenId);
    expect(r.row).toMatchObject({ rowId: rowId(1), rowIndex: 1 });
    expect(r.sink).toBeNull();
    expect(r.paths.map((p) => p.tokenId)).toEqual(expectedEnds);
    for (const p of r.paths) {
      expect(p.tokens[0]!.outcome).toMatchObject({ outcome: 'completed', sinkName: 'main' });
      // each line leads back to every member's row: the batch gathered rows 0, 1, 2 and 4
      expect(p.sourceRows.map((x) => x.rowIndex)).toEqual([0, 1, 2, 4]);
      expect(p.tokens.map((t) => t.tokenId)).toContain(initial(1));
    }
    // by row id: the same answer
    const byId = await ledger.explain({ runId, rowId: rowId(1) });
    expect(byId.paths.map((p) => p.tokenId)).toEqual(expectedEnds);
    const both = await ledger.explain({ runId, rowId: rowId(1), rowIndex: 1 });
    expect(both.paths.map((p) => p.tokenId)).toEqual(expectedEnds);
  });

  test('a row whose classify call failed has two paths (routed to errors, failed at the coalesce); sink filters them', async () => {
    const f = fork(3);
    const enrich = f.children.find((c) => c.branchName === 'enrich')!.tokenId;
    const classify = f.children.find((c) => c.branchName === 'classify')!.tokenId;
    const r = await ledger.explain({ runId, rowIndex: 3 });
    expect(new Set(r.paths.map((p) => p.tokenId))).toEqual(new Set([enrich, classify]));
    const routed = r.paths.find((p) => p.tokenId === classify)!;
    expect(routed.tokens[0]!.outcome).toMatchObject({ outcome: 'routed', sinkName: 'errors' });
    expect(routed.tokens[0]!.transformErrors).toHaveLength(1);
    expect(routed.tokens[0]!.states.map((s) => [s.nodeName, s.status])).toEqual([
      ['llm_classify', 'failed'],
      ['error_sink', 'completed'],
    ]);
    expect(routed.tokens[0]!.states[0]!.calls.map((c) => [c.callType, c.status])).toEqual([['llm', 'error']]);
    expect(routed.tokens[0]!.states[0]!.routing.map((x) => x.toNodeName)).toEqual(['error_sink']);
    const failed = r.paths.find((p) => p.tokenId === enrich)!;
    expect(failed.tokens[0]!.outcome!.outcome).toBe('failed');
    expect(failed.tokens.map((t) => t.tokenId)).toEqual([enrich, initial(3)]);

    const onlyErrors = await ledger.explain({ runId, rowIndex: 3, sink: 'errors' });
    expect(onlyErrors.sink).toBe('errors');
    expect(onlyErrors.paths.map((p) => p.tokenId)).toEqual([classify]);
    const none = await ledger.explain({ runId, rowIndex: 3, sink: 'main' });
    expect(none.paths).toEqual([]);
  });

  test('a quarantined row: one path, and the row carries its validation error', async () => {
    const r = await ledger.explain({ runId, rowIndex: 7 });
    expect(r.row.quarantined).toBe(true);
    expect(r.row.validationErrors.map((v) => [v.error, v.destination])).toEqual([['order_id: required field is missing', 'quarantine']]);
    expect(r.paths).toHaveLength(1);
    expect(r.paths[0]!.tokens[0]!.outcome).toMatchObject({ outcome: 'quarantined', sinkName: 'quarantine' });
    expect(r.paths[0]!.sourceRows[0]!.validationErrors).toHaveLength(1);
  });

  test('descendants of a row: every token it became, the groups it shares, and the outputs', async () => {
    const d = await ledger.descendants({ runId, rowIndex: 1 });
    const f = fork(1);
    const m = merged(1);
    const kids = lines().children.map((c) => c.tokenId);
    expect(d.from).toEqual({ rowId: rowId(1), rowIndex: 1, tokenId: null });
    expect(d.tokens.map((t) => t.tokenId)).toEqual([initial(1), ...f.children.map((c) => c.tokenId), m.mergedTokenId, summary(), ...kids]);
    expect(d.tokens.map((t) => t.depth)).toEqual([0, 1, 1, 2, 3, 4, 4, 4, 4]);
    expect(d.outputs).toEqual(kids);
    // the expansion children were expanded from the same deaggregation step
    for (const k of kids) {
      const t = d.tokens.find((x) => x.tokenId === k)!;
      expect(t.createdBy).toEqual({ groupKind: 'expand', groupId: lines().expandGroupId, parentTokenIds: [summary()], siblingTokenIds: kids.filter((x) => x !== k) });
      expect(t.pathEnd).toBe(true);
    }
    // the fork children share the fork group
    const enrich = d.tokens.find((t) => t.tokenId === f.children[0]!.tokenId)!;
    expect(enrich.createdBy).toMatchObject({ groupKind: 'fork', groupId: f.forkGroupId, siblingTokenIds: [f.children[1]!.tokenId] });
    // the summary token came from the batch, together with the members of rows 0, 2 and 4
    const s = d.tokens.find((t) => t.tokenId === summary())!;
    expect(s.createdBy).toMatchObject({ groupKind: 'batch', groupId: firstBatch(), siblingTokenIds: [] });
    expect(s.createdBy!.parentTokenIds).toEqual([0, 1, 2, 4].map((i) => merged(i).mergedTokenId));
    // groups: fork, join, batch (rows 0, 1, 2, 4), expand
    expect(d.groups.map((g) => [g.kind, g.groupId, g.rows.map((r) => r.rowIndex)])).toEqual([
      ['fork', f.forkGroupId, [1]],
      ['join', m.joinGroupId, [1]],
      ['batch', firstBatch(), [0, 1, 2, 4]],
      ['expand', lines().expandGroupId, [0]],
    ]);
    // only edges inside the set: the summary's links to the other rows' members are not edges here
    expect(d.edges).toHaveLength(2 + 2 + 1 + 4);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  test('descendants of a token', async () => {
    const d = await ledger.descendants({ runId, tokenId: summary() });
    expect(d.from.tokenId).toBe(summary());
    expect(d.tokens.map((t) => t.tokenId)).toEqual([summary(), ...lines().children.map((c) => c.tokenId)]);
    expect(d.tokens[0]!.pathEnd).toBe(false);
    expect(d.tokens[0]!.outcome!.outcome).toBe('expanded');
  });

  test('errors: unknown run, token, row; malformed queries', async () => {
    expect((await ledgerErrorOf(ledger.explain({ runId: '00000000-0000-4000-8000-000000000000', tokenId: initial(0) }))).code).toBe('RUN_NOT_FOUND');
    const noToken = await ledgerErrorOf(ledger.explain({ runId, tokenId: '00000000-0000-4000-8000-000000000001' }));
    expect(noToken.code).toBe('TOKEN_NOT_FOUND');
    expect(noToken.message).toContain('00000000-0000-4000-8000-000000000001');
    // row 9 was discarded at validation: it never became a row
    const discarded = await ledgerErrorOf(ledger.explain({ runId, rowIndex: 9 }));
    expect(discarded.code).toBe('ROW_NOT_FOUND');
    expect(discarded.message).toContain('index 9');
    expect((await ledgerErrorOf(ledger.explain({ runId, rowId: '00000000-0000-4000-8000-000000000002' }))).code).toBe('ROW_NOT_FOUND');
    expect((await ledgerErrorOf(ledger.descendants({ runId, rowIndex: 999 }))).code).toBe('ROW_NOT_FOUND');
    expect((await ledgerErrorOf(ledger.explain({ runId } as never))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.explain({ runId, tokenId: initial(0), rowIndex: 0 } as never))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.explain({ runId, rowIndex: -1 }))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.explain({ runId, tokenId: initial(0), sink: 'main' } as never))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.explain({ runId, rowIndex: 0, rowId: rowId(1) }))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.descendants({ runId, rowIndex: 0, sink: 'x' } as never))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.check(''))).code).toBe('INVALID_INPUT');
  });
});
