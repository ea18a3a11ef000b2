/**
 * Crash and restart on PostgreSQL (a real server, see test/store/postgres/helpers.ts):
 * - the recording client is SIGKILLed at random moments: every acknowledged event is stored
 *   exactly once, at its place, and every run's projection rebuilds without anomalies;
 * - the server restarts while a run is being recorded: calls fail with typed STORE_UNAVAILABLE
 *   (or RUN_HANDLE_STALE behind them), and after reopening the run recording goes on with no
 *   acknowledged fact lost.
 */
import { execFileSync } from 'node:child_process';
import { isLedgerError } from '../../src/errors';
import { openLedger } from '../../src/ledger';
import { recordReferenceRow, registerReferenceGraph } from '../../src/workloads/reference';
import { describePostgres, dropSchema, freshSchema, urlWithSchema } from './postgres/helpers';
import { runKillTrials } from './sqlite/kill-harness';
import { RECORDER_KILL_CHILD, verifyRecorderTrial } from './sqlite/kill-recorder-workload';

describePostgres('PostgreSQL crash safety', () => {
  test('10 SIGKILL trials while recording the reference workload: acknowledged appends present, nothing partial or duplicated, projections rebuild', async () => {
    const schemas: string[] = [];
    try {
      const summary = await runKillTrials({
        childScript: RECORDER_KILL_CHILD,
        verify: verifyRecorderTrial,
        trials: 10,
        killAfterMs: [300, 1500],
        storeUrl: () => {
          const schema = freshSchema();
          schemas.push(schema);
          return urlWithSchema(schema);
        },
      });
      expect(summary.problems).toEqual([]);
      expect({ lost: summary.lost, partial: summary.partial, duplicates: summary.duplicates }).toEqual({ lost: 0, partial: 0, duplicates: 0 });
      expect(summary.acknowledged).toBeGreaterThan(200);
      expect(summary.stored).toBeGreaterThanOrEqual(summary.acknowledged);
    } finally {
      for (const s of schemas) await dropSchema(s);
    }
  }, 300_000);

  const dataDir = process.env.LINEAGE_LEDGER_TEST_POSTGRES_DIR;
  const binDir = process.env.LINEAGE_LEDGER_TEST_POSTGRES_BIN;
  const restartable = dataDir !== undefined && binDir !== undefined;
  (restartable ? test : test.skip)('a server restart while recording: typed STORE_UNAVAILABLE, then recovery on reopen with nothing acknowledged lost (needs the test server started by .ci/postgres.sh)', async () => {
    const schema = freshSchema();
    const url = urlWithSchema(schema);
    const ledger = await openLedger({ store: url });
    try {
      let run = await ledger.beginRun({ config: {} });
      const g = await registerReferenceGraph(run);
      const acknowledged: number[] = [];
      const failures: string[] = [];
      let restarted = false;
      for (let i = 0; acknowledged.length < 40; i++) {
        if (i === 15) {
          const asOwner = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
          const cmd = [...asOwner, `${binDir}/pg_ctl`, '-D', `${dataDir}/data`, '-m', 'fast', '-w', 'restart'];
          execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore', timeout: 60_000 });
          restarted = true;
        }
        try {
          await recordReferenceRow(run, g, i);
          acknowledged.push(i);
        } catch (e) {
          if (!isLedgerError(e)) throw e;
          failures.push(e.code);
          // the row's remaining facts were not written; reopen the run (state from the store) and go on with a new row
          run = await ledger.openRun(run.runId);
        }
        if (i > 200) throw new Error(`no recovery after the restart: ${failures.join(', ')}`);
      }
      expect(restarted).toBe(true);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((c) => c === 'STORE_UNAVAILABLE' || c === 'RUN_HANDLE_STALE')).toBe(true);
      // every acknowledged row is there with its outcomes, from a fresh ledger
      const fresh = await openLedger({ store: url });
      try {
        const state = await fresh.loadRun(run.runId);
        expect(state.anomalies).toEqual([]);
        for (const i of acknowledged) expect(state.rowByIndex.has(i)).toBe(true);
      } finally {
        await fresh.close();
      }
    } finally {
      await ledger.close();
      await dropSchema(schema);
    }
  }, 180_000);
});
