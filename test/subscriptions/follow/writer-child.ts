/**
 * Child process of the follow multi-process test (forked with an IPC channel, run through
 * test/support/ts-require-run.js):  writer-child.ts <db> <rows>
 * Opens a ledger on the SQLite file, reports 'ready', waits for 'go', records a
 * reference run, reports its run id and last revision, and exits.
 */
import { runStreamId } from '../../../src/events/envelope';
import { openLedger } from '../../../src/ledger';
import { recordReferenceRun } from '../../../src/workloads/reference';

async function main(): Promise<void> {
  const [db, rows] = process.argv.slice(2);
  if (!db || !rows || !process.send) throw new Error('usage: writer-child.ts <db> <rows> (forked with IPC)');
  const ledger = await openLedger({ store: `sqlite:${db}` });
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send({ type: 'ready' });
  await go;
  const { runId } = await recordReferenceRun(ledger, { rows: Number(rows) });
  const revision = await ledger.store.streamRevision(runStreamId(runId));
  await ledger.close();
  process.send({ type: 'done', runId, revision }, () => process.disconnect());
}

main().catch((e: unknown) => {
  process.stderr.write(`writer-child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
