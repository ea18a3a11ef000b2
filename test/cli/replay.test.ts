/**
 * `lineage-ledger replay`: what a run looked like as of a sequence number or a
 * time (status, last event, counts, what was unfinished), as text or JSON.
 */
import * as path from 'node:path';
import { openLedger } from '../../src';
import { cli } from './support';
import { makeTempDir, ofType, removeDir, runEvents } from '../lineage/support';



describe('lineage-ledger replay', () => {
  let dir: string;
  let store: string;
  let runId: string;
  let coalesceSeq: number;
  let branches: string[];
  let lastSeq: number;

  beforeAll(async () => {
    dir = makeTempDir();
    store = `sqlite:${path.join(dir, 'lineage.db')}`;
    const demo = await cli('demo', '--store', store, '--json');
    runId = JSON.parse(demo.out).runId as string;
    const ledger = await openLedger({ store });
    const events = await runEvents(ledger, runId);
    await ledger.close();
    coalesceSeq = ofType(events, 'TokensCoalesced')[0]!.seq;
    branches = ofType(events, 'TokenForked')[0]!.data.children.map((c) => c.tokenId);
    lastSeq = events.length - 1;
  });
  afterAll(() => {
    removeDir(dir);
  });

  test('--as-of <seq> --json: the run just before its first coalesce', async () => {
    const r = await cli('replay', '--store', store, '--run', runId, '--as-of', String(coalesceSeq - 1), '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ runId, seq: coalesceSeq - 1, status: 'running', completedAt: null, asOfRequested: coalesceSeq - 1 });
    expect(s.counts).toMatchObject({ nodes: 10, edges: 10, rows: 1, tokens: 3, tokenParents: 2, groups: 1, batches: 0, artifacts: 0 });
    expect(s.unfinishedTokens).toEqual(branches);
    expect(s.unfinishedStates).toHaveLength(2);
    expect(s.openOperations).toHaveLength(1);
  });

  test('--as-of <time>: the same point by its time; the end of the run by default', async () => {
    const bySeq = JSON.parse((await cli('replay', '--store', store, '--run', runId, '--as-of', String(coalesceSeq), '--json')).out);
    const byTime = JSON.parse((await cli('replay', '--store', store, '--run', runId, '--as-of', bySeq.recordedAt, '--json')).out);
    // every event recorded at or before that instant is in
    expect(byTime.seq).toBeGreaterThanOrEqual(coalesceSeq);
    expect(byTime.recordedAt).toBe(bySeq.recordedAt);
    const end = JSON.parse((await cli('replay', '--store', store, '--run', runId, '--json')).out);
    expect(end).toMatchObject({ seq: lastSeq, status: 'completed', unfinishedTokens: [], unfinishedStates: [], openOperations: [], openBatches: [] });
  });

  test('text output', async () => {
    const r = await cli('replay', '--store', store, '--run', runId, '--as-of', String(coalesceSeq - 1));
    expect(r.code).toBe(0);
    expect(r.out).toContain(`run ${runId} as of seq ${coalesceSeq - 1} (recorded `);
    expect(r.out).toContain('status: running');
    expect(r.out).toMatch(/tokens\s+3\n/);
    expect(r.out).toContain(`unfinished tokens: 2\n  ${branches[0]}\n  ${branches[1]}\n`);
    expect(r.out).toContain('unfinished node states: 2');
  });

  test('bad points: before the run, malformed', async () => {
    const early = await cli('replay', '--store', store, '--run', runId, '--as-of', '2000-01-01T00:00:00Z');
    expect(early.code).toBe(1);
    expect(early.err).toContain('RUN_NOT_FOUND');
    expect((await cli('replay', '--store', store, '--run', runId, '--as-of', 'later')).code).not.toBe(0);
  });
});
