/**
 * `lineage-ledger check` end to end: a clean run exits 0; a broken run (events
 * appended around the recorder) prints every violation and exits 1; --json
 * prints { ok, violations, ... }; --as-of checks a point in history.
 */
import * as path from 'node:path';
import { cli } from './support';
import { openStore } from '../../src/store/url';
import { EventRunBuilder, hash, makeTempDir, removeDir, uuid } from '../lineage/support';



describe('lineage-ledger check', () => {
  let dir: string;
  let store: string;
  let cleanRun: string;
  let broken: EventRunBuilder;
  let orphan: string;
  let openState: string;

  beforeAll(async () => {
    dir = makeTempDir();
    store = `sqlite:${path.join(dir, 'lineage.db')}`;
    const demo = await cli('demo', '--store', store, '--json');
    expect(demo.code).toBe(0);
    cleanRun = JSON.parse(demo.out).runId as string;

    broken = new EventRunBuilder();
    broken.start();
    const source = broken.node('source', 'csv_source');
    const transform = broken.node('transform', 'enrich');
    orphan = broken.token(broken.row(source, 0));
    const t = broken.token(broken.row(source, 1));
    openState = broken.openState(t, transform, 1);
    broken.outcome(t, 'failed', { errorHash: hash('boom') });
    broken.add('CallRecorded', {
      callId: uuid(),
      stateId: null,
      operationId: null,
      callIndex: 0,
      callType: 'http',
      status: 'success',
      requestHash: hash('req'),
      requestRef: null,
      responseHash: null,
      responseRef: null,
      errorJson: null,
      latencyMs: null,
    });
    broken.complete('interrupted');
    const s = await openStore(store);
    await broken.appendTo(s);
    await s.close();
  });
  afterAll(() => {
    removeDir(dir);
  });

  test('a clean run: OK, exit 0', async () => {
    const r = await cli('check', '--store', store, '--run', cleanRun);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK: run [0-9a-f-]{36} \(status completed, as of seq \d+\): every token accounted for/);
    const j = await cli('check', '--store', store, '--run', cleanRun, '--json');
    expect(j.code).toBe(0);
    const result = JSON.parse(j.out);
    expect(result.ok).toBe(true);
    expect(result.violations).toEqual([]);
  });

  test('a broken run: every violation printed, exit 1', async () => {
    const r = await cli('check', '--store', store, '--run', broken.runId);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAILED: run [0-9a-f-]{36} \(status interrupted, as of seq \d+\): 4 violations/);
    expect(r.out).toContain(`TOKEN_WITHOUT_TERMINAL_OUTCOME: token ${orphan}`);
    expect(r.out).toContain(`STATE_NOT_FINISHED: node state ${openState}`);
    expect(r.out).toContain('CALL_WITHOUT_PARENT: call ');
    expect(r.out).toContain('EVENT_ANOMALY: seq ');
    expect(r.out).toContain('by code: TOKEN_WITHOUT_TERMINAL_OUTCOME 1, STATE_NOT_FINISHED 1, CALL_WITHOUT_PARENT 1, EVENT_ANOMALY 1');
  });

  test('--json prints { ok, violations, error } with codes and ids, and still exits 1', async () => {
    const r = await cli('check', '--store', store, '--run', broken.runId, '--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.ok).toBe(false);
    expect(result.violations.map((v: { code: string }) => v.code)).toEqual(['TOKEN_WITHOUT_TERMINAL_OUTCOME', 'STATE_NOT_FINISHED', 'CALL_WITHOUT_PARENT', 'EVENT_ANOMALY']);
    expect(result.violations[0].tokenId).toBe(orphan);
    expect(result.violations[1].stateId).toBe(openState);
    // and the error of every failed --json command
    expect(result.error).toEqual({ code: 'CHECK_FAILED', message: `run ${broken.runId}: 4 violations`, details: { byCode: result.byCode } });
  });

  test('--as-of checks the run as it was then', async () => {
    const r = await cli('check', '--store', store, '--run', cleanRun, '--as-of', '30', '--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.asOf.seq).toBe(30);
    expect(result.violations.map((v: { code: string }) => v.code)).toContain('RUN_NOT_FINISHED');
  });

  test('an unknown run exits 1 with RUN_NOT_FOUND; a missing --run is a usage error', async () => {
    const r = await cli('check', '--store', store, '--run', '00000000-0000-4000-8000-000000000000');
    expect(r.code).toBe(1);
    expect(r.err).toContain('RUN_NOT_FOUND');
    expect((await cli('check', '--store', store)).code).toBe(2);
  });
});
