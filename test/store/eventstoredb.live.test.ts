/**
 * EventStoreDB adapter, live tier: the shared contract suite against a real server.
 *
 * Runs only when ESDB_CONNECTION_STRING is set, e.g.
 *   docker run -d --name kurrentdb -p 2113:2113 docker.kurrent.io/kurrent-latest/kurrentdb:latest --insecure --run-projections=All
 *   ESDB_CONNECTION_STRING='esdb://localhost:2113?tls=false' npx jest test/store/eventstoredb.live.test.ts
 *
 * Every contract test writes to fresh, uniquely named streams, so a shared server is fine.
 */
import { randomUUID } from 'node:crypto';
import { isLedgerError } from '../../src/errors';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ledger } from '../../src/ledger';
import { eventStoreDBSource, openEventStoreDB } from '../../src/store/eventstoredb';
import { openProjectionFile } from '../../src/store/sqlite';
import { recordReferenceRun } from '../../src/workloads/reference';
import { collectPages } from '../../src/store/port';
import { describeEventStoreContract, ev } from './contract';

const connectionString = process.env.ESDB_CONNECTION_STRING;

if (connectionString === undefined || connectionString === '') {
  console.warn('EventStore contract: eventstoredb (live server): skipped: ESDB_CONNECTION_STRING is not set (no EventStoreDB / KurrentDB server)');
  describe.skip('EventStore contract: eventstoredb (live server)', () => {
    test('set ESDB_CONNECTION_STRING=kurrentdb://localhost:2113?tls=false to run the live EventStoreDB contract tier', () => undefined);
  });
} else {
  describeEventStoreContract(`eventstoredb (live server)`, async () => ({ store: openEventStoreDB(connectionString) }));

  describe('EventStoreDB adapter (live server)', () => {
    test('a local projection file: a run recorded through it is explained from it on a new store, as a fold of the events', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-live-'));
      const file = path.join(dir, 'projection.db');
      const source = eventStoreDBSource(connectionString);
      try {
        const writer = new Ledger(openEventStoreDB(connectionString, { localProjections: openProjectionFile(file, source) }));
        const sinks: string[] = [];
        const { runId } = await recordReferenceRun(writer, { rows: 10, concurrency: 4, onRow: (r) => sinks.push(r.sinkTokenId) });
        await writer.close();
        const plain = new Ledger(openEventStoreDB(connectionString));
        const reader = new Ledger(openEventStoreDB(connectionString, { localProjections: openProjectionFile(file, source) }));
        try {
          expect(await reader.explain({ runId, tokenId: sinks[0]! })).toEqual(await plain.explain({ runId, tokenId: sinks[0]! }));
        } finally {
          await reader.close();
          await plain.close();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('0-based revisions, exclusive after, no system events in readAll', async () => {
      const store = openEventStoreDB(connectionString);
      try {
        const s = `live-${randomUUID()}`;
        const r = await store.append(s, [ev('A'), ev('B'), ev('C')], 'no_stream');
        expect(r.nextExpectedRevision).toBe(2);
        await store.append(s, [ev('D')], 2);
        const events = await collectPages(store.readStream(s));
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
        const after = await collectPages(store.readAll({ after: events[1]!.position }));
        expect(after.some((e) => e.streamId.startsWith('$'))).toBe(false);
        expect(after.filter((e) => e.streamId === s).map((e) => e.type)).toEqual(['C', 'D']);
      } finally {
        await store.close();
      }
    });

    test("the server's own size limit is APPEND_TOO_LARGE (adapter limit set above the server's 1 MiB default)", async () => {
      const store = openEventStoreDB(connectionString, { maxAppendSize: 64 * 1024 * 1024 });
      try {
        const s = `live-${randomUUID()}`;
        let caught: unknown;
        try {
          await store.append(s, [ev('Big', { blob: 'x'.repeat(2 * 1024 * 1024) })], 'no_stream');
        } catch (e) {
          caught = e;
        }
        expect(isLedgerError(caught, 'APPEND_TOO_LARGE')).toBe(true);
        expect(await store.streamRevision(s)).toBeNull();
      } finally {
        await store.close();
      }
    });
  });
}
