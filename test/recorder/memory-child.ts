/**
 * Child of memory.test.ts: records the reference workload on a SQLite file with 64 rows in
 * flight and reports the heap in use (after a full garbage collection) once `first` rows are
 * recorded and again once `last` rows are, while the run handle is live. Then it reads the
 * run back (check, explain, export) on a fresh ledger and reports the heap after that too.
 * Prints one JSON line.
 */
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { recordReferenceRun } from '../../src/workloads/reference';

const [dir, firstArg, lastArg] = process.argv.slice(2);
const first = Number(firstArg);
const last = Number(lastArg);
const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1048576;
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  const store = `sqlite:${path.join(dir!, 'memory.db')}`;
  const ledger = await openLedger({ store });
  let done = 0;
  const heap: Record<string, number> = {};
  const { runId, rows } = await recordReferenceRun(ledger, {
    rows: last,
    concurrency: 64,
    onRow: () => {
      done++;
      if (done === first) heap.afterFirst = heapMiB();
      if (done === last) heap.afterLast = heapMiB();
    },
  });
  await ledger.close();
  const reader = await openLedger({ store });
  const check = await reader.check(runId);
  for (const r of rows.slice(0, 50)) await reader.explain({ runId, tokenId: r.sinkTokenId });
  let records = 0;
  for await (const _ of reader.exportRun(runId)) records++;
  heap.afterReads = heapMiB();
  await reader.close();
  process.stdout.write(`${JSON.stringify({ ...heap, ok: check.ok, records })}\n`);
}

main().catch((e) => {
  process.stderr.write(`memory-child failed: ${String(e?.stack ?? e)}\n`);
  process.exit(1);
});
