/**
 * Memory must not grow with the run (issue: bounded memory). A child process records 2,000
 * and then 10,000 reference rows on a SQLite file and reports the heap in use after a full
 * garbage collection at both points, with the run handle live. When the recorder held the
 * whole projection (about 15 KB of heap per row), the 8,000 rows in between cost some
 * 120 MiB; the bound below leaves room for the workload's own list of row results (a few
 * hundred bytes per row) and the caches, and nothing for a per-row projection.
 * No timing is asserted.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { makeTempDir, removeDir, TS_RUN } from '../store/sqlite/helpers';

const CHILD = path.resolve(__dirname, 'memory-child.ts');
const GROWTH_BOUND_MIB = 24;

test(`heap grows by less than ${GROWTH_BOUND_MIB} MiB from 2,000 to 10,000 recorded rows, and reading the run back stays small`, () => {
  const dir = makeTempDir('ll-mem-');
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', TS_RUN, CHILD, dir, '2000', '10000'], { encoding: 'utf8', timeout: 240_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { afterFirst: number; afterLast: number; afterReads: number; ok: boolean; records: number };
    expect(r.ok).toBe(true);
    expect(r.records).toBe(10000 * 24 + 15); // 24 per row, 15 per run (run, nodes, edges, operation, artifact)
    expect(r.afterLast - r.afterFirst).toBeLessThan(GROWTH_BOUND_MIB);
    expect(r.afterReads).toBeLessThan(r.afterFirst + GROWTH_BOUND_MIB);
  } finally {
    removeDir(dir);
  }
}, 300_000);
