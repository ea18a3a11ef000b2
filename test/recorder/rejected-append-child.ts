/** Child of rejected-append.test.ts: another OS process records one row into the run, then exits. */
import { openLedger } from '../../src/ledger';

/** argv: <store URL> <run id> <source node id> */
const [store, runId, sourceNodeId] = process.argv.slice(2);

async function main(): Promise<void> {
  const ledger = await openLedger({ store: store! });
  const run = await ledger.openRun(runId!);
  await run.createRow({ sourceNodeId: sourceNodeId!, rowIndex: 9, data: { from: 'child' } });
  await ledger.close();
}

main().catch((e) => {
  process.stderr.write(`rejected-append-child failed: ${String(e?.stack ?? e)}\n`);
  process.exit(1);
});
