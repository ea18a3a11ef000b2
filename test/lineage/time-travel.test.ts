/**
 * Time travel: a run's projection as of a sequence number or a time; explain,
 * check and export as of a point in history; historical handles are read-only.
 *
 * Expectations come from the demo's documented order of facts: row 0 is the
 * first row; its two branch tokens each open a state at the merge node, then
 * one TokensCoalesced event merges them.
 */
import { openLedger } from '../../src';
import type { Ledger } from '../../src';
import type { LedgerEvent } from '../../src/events/envelope';
import { runSnapshot } from '../../src/lineage/snapshot';
import { recordDemoRun } from '../../src/workloads/demo';
import { ledgerErrorOf, ofType, runEvents } from './support';

/** A clock that moves one second per call: every command gets its own time. */
function steppingClock(start = '2026-02-01T00:00:00.000Z'): () => string {
  let t = Date.parse(start);
  return () => {
    t += 1000;
    return new Date(t).toISOString();
  };
}

describe('time travel on the demo run', () => {
  let ledger: Ledger;
  let runId: string;
  let events: LedgerEvent[];
  let coalesceSeq: number;
  let row0: { rowId: string; initial: string; enrich: string; classify: string; merged: string };

  beforeAll(async () => {
    ledger = await openLedger({ store: 'memory:', now: steppingClock() });
    runId = (await recordDemoRun(ledger)).runId;
    events = await runEvents(ledger, runId);
    const c = ofType(events, 'TokensCoalesced')[0]!;
    coalesceSeq = c.seq;
    const rowId = ofType(events, 'RowCreated')[0]!.data.rowId;
    const fork = ofType(events, 'TokenForked')[0]!.data;
    row0 = {
      rowId,
      initial: fork.parentTokenId,
      enrich: fork.children[0]!.tokenId,
      classify: fork.children[1]!.tokenId,
      merged: c.data.mergedTokenId,
    };
  });
  afterAll(async () => {
    await ledger.close();
  });

  test('as of the event before the first coalesce: one row, three tokens, both branches waiting at the merge', async () => {
    const state = await ledger.loadRun(runId, { asOf: coalesceSeq - 1 });
    const s = runSnapshot(state);
    expect(s.seq).toBe(coalesceSeq - 1);
    expect(s.recordedAt).toBe(events[coalesceSeq - 1]!.recordedAt);
    expect(s.status).toBe('running');
    expect(s.counts.rows).toBe(1);
    expect(s.counts.tokens).toBe(3);
    expect(s.counts.groups).toBe(1);
    expect(s.unfinishedTokens).toEqual([row0.enrich, row0.classify]);
    const mergeStates = ofType(events, 'NodeStateOpened')
      .filter((e) => e.seq < coalesceSeq && (e.data.tokenId === row0.enrich || e.data.tokenId === row0.classify) && e.data.stepIndex === 3)
      .map((e) => e.data.stateId);
    expect(mergeStates).toHaveLength(2);
    expect(s.unfinishedStates).toEqual(mergeStates);
    expect(state.tokens.has(row0.merged)).toBe(false);

    // one event later the merged token exists and the merge states are completed
    const after = runSnapshot(await ledger.loadRun(runId, { asOf: coalesceSeq }));
    expect(after.counts.tokens).toBe(4);
    expect(after.unfinishedTokens).toEqual([row0.merged]);
    expect(after.unfinishedStates).toEqual([]);
  });

  test('as of a time gives the same projection as the seq of the last event recorded by then', async () => {
    const at = events[coalesceSeq - 1]!.recordedAt;
    expect(events[coalesceSeq]!.recordedAt > at).toBe(true);
    const bySeq = runSnapshot(await ledger.loadRun(runId, { asOf: coalesceSeq - 1 }));
    const byTime = runSnapshot(await ledger.loadRun(runId, { asOf: at }));
    expect(byTime).toEqual(bySeq);
    // a time between two events, with another offset notation
    const between = new Date(Date.parse(at) + 500).toISOString().replace('Z', '+00:00');
    expect(runSnapshot(await ledger.loadRun(runId, { asOf: between }))).toEqual(bySeq);
  });

  test('explain as of a point before the coalesce shows no merged token', async () => {
    const r = await ledger.explain({ runId, rowIndex: 0 }, { asOf: coalesceSeq - 1 });
    expect(r.asOf.seq).toBe(coalesceSeq - 1);
    expect(r.paths.map((p) => p.tokenId)).toEqual([row0.enrich, row0.classify]);
    for (const p of r.paths) {
      expect(p.tokens.map((t) => t.tokenId)).not.toContain(row0.merged);
      expect(p.tokens[0]!.outcome).toBeNull();
      expect(p.tokens[0]!.states.map((s) => s.status)).toEqual(['completed', 'open']);
    }
    expect((await ledgerErrorOf(ledger.explain({ runId, tokenId: row0.merged }, { asOf: coalesceSeq - 1 }))).code).toBe('TOKEN_NOT_FOUND');
    const d = await ledger.descendants({ runId, tokenId: row0.initial }, { asOf: coalesceSeq - 1 });
    expect(d.tokens.map((t) => t.tokenId)).toEqual([row0.initial, row0.enrich, row0.classify]);
    // as of the coalesce, the merged token is there with both branches as parents
    const e = await ledger.explain({ runId, tokenId: row0.merged }, { asOf: coalesceSeq });
    expect(e.tokens[0]!.parents.map((p) => p.parentTokenId)).toEqual([row0.enrich, row0.classify]);
    expect(e.tokens[0]!.outcome).toBeNull();
  });

  test('export as of a point in history', async () => {
    const tokens: string[] = [];
    for await (const r of ledger.exportRun(runId, { asOf: coalesceSeq - 1 })) if (r.record_type === 'token') tokens.push(String(r.token_id));
    expect(tokens).toEqual([row0.initial, row0.enrich, row0.classify]);
  });

  test('a historical handle is read-only', async () => {
    const h = await ledger.openRun(runId, { asOf: coalesceSeq - 1 });
    expect(h.revision).toBe(coalesceSeq - 1);
    expect(h.projection.tokens.size).toBe(3);
    const err = await ledgerErrorOf(h.recordTokenOutcome({ tokenId: row0.enrich, outcome: 'failed', errorHash: 'a'.repeat(64) }));
    expect(err.code).toBe('READ_ONLY');
    const byTime = await ledger.openRun(runId, { asOf: events[coalesceSeq - 1]!.recordedAt });
    expect((await ledgerErrorOf(byTime.createToken({ rowId: row0.rowId }))).code).toBe('READ_ONLY');
    // the store is untouched
    expect((await runEvents(ledger, runId)).length).toBe(events.length);
  });

  test('points before the run, and malformed points', async () => {
    expect((await ledgerErrorOf(ledger.loadRun(runId, { asOf: '2000-01-01T00:00:00Z' }))).code).toBe('RUN_NOT_FOUND');
    expect((await ledgerErrorOf(ledger.explain({ runId, rowIndex: 0 }, { asOf: 'yesterday' }))).code).toBe('INVALID_INPUT');
    expect((await ledgerErrorOf(ledger.check(runId, { asOf: -1 }))).code).toBe('INVALID_INPUT');
    // as of seq 0 only RunStarted is there
    const s = runSnapshot(await ledger.loadRun(runId, { asOf: 0 }));
    expect(s).toMatchObject({ seq: 0, status: 'running' });
    expect(Object.values(s.counts).every((n) => n === 0)).toBe(true);
  });
});
