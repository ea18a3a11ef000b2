/**
 * Crash safety at the store level: a child appends in a loop (sequential and
 * group-committed concurrent appends) and is SIGKILLed 20-300 ms after its store is
 * open; every acknowledged event must then be stored exactly once and intact.
 * More trials: node test/support/ts-require-run.js test/store/sqlite/kill-trials.ts --trials 200
 */
import Database from 'better-sqlite3';
import { decodeEventRow, encodeEventRow } from '../../src/store/sqlite/schema';
import { formatSummary, runKillTrial, runKillTrials, TrialContext } from './sqlite/kill-harness';
import { STORE_KILL_CHILD, verifyStoreTrial } from './sqlite/kill-store-workload';
import { removeDir } from './sqlite/helpers';
import { RECORDER_KILL_CHILD, verifyRecorderTrial } from './sqlite/kill-recorder-workload';

test('20 SIGKILL trials: no acknowledged event lost, none partial, none duplicated', async () => {
  const summary = await runKillTrials({ childScript: STORE_KILL_CHILD, verify: verifyStoreTrial, trials: 20, killAfterMs: [20, 300] });
  expect(summary.problems).toEqual([]);
  expect({ lost: summary.lost, partial: summary.partial, duplicates: summary.duplicates }).toEqual({ lost: 0, partial: 0, duplicates: 0 });
  // the trials did real work: thousands of acknowledged events, and the children were killed mid-flight
  expect(summary.acknowledged).toBeGreaterThan(1000);
  expect(summary.stored).toBeGreaterThanOrEqual(summary.acknowledged);
  expect(formatSummary(summary)).toMatch(/^trials: 20, lost acknowledged events: 0, partial events: 0, duplicates: 0/);
});

test('20 SIGKILL trials while recording the reference workload: acknowledged appends present, nothing partial or duplicated, projections rebuild', async () => {
  const summary = await runKillTrials({ childScript: RECORDER_KILL_CHILD, verify: verifyRecorderTrial, trials: 20, killAfterMs: [30, 400] });
  expect(summary.problems).toEqual([]);
  expect({ lost: summary.lost, partial: summary.partial, duplicates: summary.duplicates }).toEqual({ lost: 0, partial: 0, duplicates: 0 });
  expect(summary.acknowledged).toBeGreaterThan(1000);
  expect(summary.stored).toBeGreaterThanOrEqual(summary.acknowledged);
});

test('the verifier notices a lost acknowledged event, a damaged event and a duplicate claim', async () => {
  const options = {
    childScript: STORE_KILL_CHILD,
    trials: 1,
    killAfterMs: [100, 100] as const,
    verify: async (ctx: TrialContext) => {
      // pretend the child acknowledged one more append than it wrote, and damage one stored event
      const fake = { ...ctx, acks: [...ctx.acks, { s: 'never-written', r: 0, ids: ['never-written/0'], pos: '1' }] };
      const db = new Database(ctx.dbPath);
      const [streamId, revision, id, type, body] = db
        .prepare('SELECT s.stream_id, e.revision, e.event_id, e.type, e.body FROM events e JOIN streams s ON s.stream_key = e.stream_key WHERE e.position = 2')
        .raw()
        .get() as [string, number, unknown, unknown, unknown];
      const stored = decodeEventRow(streamId, revision, id, type, body);
      if (typeof stored === 'string') throw new Error(stored);
      const tampered = encodeEventRow({ ...stored, data: { ...stored.data, pad: 'tampered' } }, 0, streamId, revision);
      db.prepare('UPDATE events SET body = ? WHERE position = 2').run(tampered.body);
      db.close();
      return verifyStoreTrial(fake);
    },
  };
  const { verdict, ctx } = await runKillTrial(options, 0, 42);
  removeDir(ctx.dir);
  expect(verdict.lost).toBe(1);
  expect(verdict.partial).toBe(1);
  expect(verdict.problems.some((p) => p.includes('never-written/0'))).toBe(true);
});
