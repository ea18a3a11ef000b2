/**
 * Child process of the multi-process test (forked with an IPC channel, run through
 * test/support/ts-require-run.js):  mp-child.ts <db file or store URL> <name> <writers> <rounds>
 * Opens the store, reports 'ready', waits for 'go', runs its writers, closes the
 * store and sends their reports.
 */
import { openSqliteStore } from '../../../src/store/sqlite';
import { openStore } from '../../../src/store/url';
import { runWriter } from './mp-writers';

async function main(): Promise<void> {
  const [db, name, writers, rounds] = process.argv.slice(2);
  if (!db || !name || !writers || !rounds || !process.send) throw new Error('usage: mp-child.ts <db file or store URL> <name> <writers> <rounds> (forked with IPC)');
  const store = await (db.startsWith('postgres') ? openStore(db) : openSqliteStore(db));
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send({ type: 'ready' });
  await go;
  const reports = await Promise.all(Array.from({ length: Number(writers) }, (_, i) => runWriter(store, `${name}.w${i}`, Number(rounds))));
  await store.close();
  process.send({ type: 'done', reports }, () => process.disconnect());
}

main().catch((e: unknown) => {
  process.stderr.write(`mp-child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
