/**
 * Import into a store that takes a bounded append (EventStoreDB's MaxAppendSize, here the
 * structural fake with a small limit): the run goes in several appends, is seen as still running
 * until the last has landed, and an import that stopped part-way is completed by the next one.
 */
import * as path from 'node:path';
import { writeExport } from '../../src/export/bundle';
import { importEventIds, importExport } from '../../src/export/import';
import { isLedgerError, ledgerError } from '../../src/errors';
import { Ledger, openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import { EventStoreDBEventStore } from '../../src/store/eventstoredb';
import type { EventStore, ExpectedRevision, ProposedEvent } from '../../src/store/port';
import { recordDemoRun } from '../../src/workloads/demo';
import { FakeEsdbClient } from '../store/eventstoredb/fake-client';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeDir(dir));

async function exportDemo(rows: number): Promise<{ file: string; runId: string }> {
  const source = await openLedger({ store: 'memory:' });
  const { runId } = await recordDemoRun(source, { rows });
  const file = path.join(dir, 'run.jsonl');
  await writeExport(source, runId, file);
  await source.close();
  return { file, runId };
}

/** A store whose appends fail (STORE_UNAVAILABLE) once `succeed` of them have succeeded. */
function failing(store: EventStore, succeed: number): EventStore {
  let ok = 0;
  const append = store.append.bind(store);
  (store as { append: EventStore['append'] }).append = async (streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision) => {
    if (ok >= succeed) throw ledgerError('STORE_UNAVAILABLE', 'the server went away (test)');
    const r = await append(streamId, events, expected);
    ok++;
    return r;
  };
  return store;
}

test('a run larger than one append is imported in chunks and reads back as the export', async () => {
  const { file, runId } = await exportDemo(40);
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false, maxAppendSize: 16 * 1024 });
  const target = new Ledger(new EventStoreDBEventStore(fake, { maxAppendSize: 16 * 1024 }));
  const result = await importExport(target, file, { requireSignature: false });
  expect(result.appends).toBeGreaterThan(3);
  expect(result.resumedAt).toBeNull();
  const again = path.join(dir, 'again.jsonl');
  const exported = await writeExport(target, runId, again);
  expect(exported.manifest.merkle_root).toBe(result.merkleRoot);
  await target.close();
});

test('an import that stopped part-way leaves a run that is still running; importing again completes it, with the same events as one import', async () => {
  const { file, runId } = await exportDemo(40);
  const limit = { maxAppendSize: 16 * 1024 };
  const fake = new FakeEsdbClient({ systemEventsAfterAppend: false, ...limit });
  const first = new Ledger(failing(new EventStoreDBEventStore(fake, limit), 2));
  const err = await importExport(first, file, { requireSignature: false }).catch((e: unknown) => e);
  expect(isLedgerError(err, 'STORE_UNAVAILABLE')).toBe(true);
  const partial = (await fake.readStream(`run-${runId}`)) as AsyncIterable<unknown>;
  let stored = 0;
  for await (const _ of partial) stored++;
  expect(stored).toBeGreaterThan(0);
  const [summary] = await new Ledger(new EventStoreDBEventStore(fake, limit)).listRuns();
  expect(summary!.status).toBe('running'); // not complete until the last chunk has landed

  const second = new Ledger(new EventStoreDBEventStore(fake, limit));
  const result = await importExport(second, file, { requireSignature: false });
  expect(result.resumedAt).toBe(stored);
  const reexport = await writeExport(second, runId, path.join(dir, 'again.jsonl'));
  expect(reexport.manifest.merkle_root).toBe(result.merkleRoot);
  expect((await second.listRuns())[0]!.status).toBe('completed');

  // the same events as an import that never stopped
  const clean = new FakeEsdbClient({ systemEventsAfterAppend: false, ...limit });
  const once = new Ledger(new EventStoreDBEventStore(clean, limit));
  await importExport(once, file, { requireSignature: false });
  const ids = async (l: Ledger): Promise<string[]> => {
    const out: string[] = [];
    for await (const page of l.store.readStream(runStreamId(runId))) for (const e of page) out.push(e.eventId);
    return out;
  };
  expect(await ids(second)).toEqual(await ids(once));
  // a complete run is not imported twice
  const dup = await importExport(second, file, { requireSignature: false }).catch((e: unknown) => e);
  expect(isLedgerError(dup, 'DUPLICATE_ID')).toBe(true);
});

test('a stream that holds other events is DUPLICATE_ID and nothing is written', async () => {
  const { file, runId } = await exportDemo(5);
  const target = await openLedger({ store: 'memory:' });
  await target.store.append(runStreamId(runId), [{ eventId: importEventIds('other')(), type: 'Unrelated', data: {}, metadata: {} }], 'no_stream');
  const err = await importExport(target, file, { requireSignature: false }).catch((e: unknown) => e);
  expect(isLedgerError(err, 'DUPLICATE_ID')).toBe(true);
  expect(await target.store.streamRevision(runStreamId(runId))).toBe(0);
  await target.close();
});

test('import event ids are version-8 UUIDs, the same for the same seed and place, different across seeds', () => {
  const a = importEventIds('root-a:run');
  const b = importEventIds('root-a:run');
  const c = importEventIds('root-b:run');
  const first = [a(), a(), a()];
  expect([b(), b(), b()]).toEqual(first);
  expect(c()).not.toBe(first[0]);
  expect(new Set(first).size).toBe(3);
  for (const id of first) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
