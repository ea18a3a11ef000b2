/** Reading older event schema versions (upcasters) and refusing newer ones (UNSUPPORTED_SCHEMA_VERSION). */
import { runStreamId, UpcasterTable } from '../../src/events/envelope';
import { decodeStoredEvent } from '../../src/store/events';
import { openLedger } from '../../src/ledger';
import { collectPages, StoredEvent } from '../../src/store/port';

async function storedRunStarted(): Promise<StoredEvent> {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: { a: 1 } });
  const [first] = await collectPages(ledger.store.readStream(runStreamId(run.runId)));
  return first!;
}

test('an event at an older schema version is upcast step by step to the current one', async () => {
  const current = await storedRunStarted();
  // pretend RunStarted is at version 3 and this event was written at version 1 without configHash
  const { configHash, ...v1data } = current.data as Record<string, unknown>;
  const old: StoredEvent = { ...current, data: v1data, metadata: { ...current.metadata, schemaVersion: 1 } };
  const calls: number[] = [];
  const upcasters: UpcasterTable = {
    RunStarted: {
      1: (d) => {
        calls.push(1);
        return { ...d, legacy: true };
      },
      2: (d) => {
        calls.push(2);
        const { legacy: _legacy, ...rest } = d;
        return { ...rest, configHash };
      },
    },
  };
  const decoded = decodeStoredEvent(old, { upcasters, currentVersion: () => 3 });
  expect(calls).toEqual([1, 2]);
  expect(decoded.schemaVersion).toBe(3);
  expect(decoded.data).toEqual(current.data);
  // a missing step is a MALFORMED_EVENT naming it, never a silent skip
  expect(() => decodeStoredEvent(old, { upcasters: { RunStarted: { 1: upcasters.RunStarted![1]! } }, currentVersion: () => 3 })).toThrow(
    expect.objectContaining({ code: 'MALFORMED_EVENT', message: expect.stringContaining('no upcaster from RunStarted version 2 to 3') }),
  );
});

test('an event from a newer library is UNSUPPORTED_SCHEMA_VERSION, with the versions named', async () => {
  const current = await storedRunStarted();
  const newer: StoredEvent = { ...current, metadata: { ...current.metadata, schemaVersion: 2 } };
  expect(() => decodeStoredEvent(newer)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_SCHEMA_VERSION', details: expect.objectContaining({ schemaVersion: 2, supported: 1 }) }));
});
