/**
 * Recorder-level kill child (see kill-harness.ts for the protocol):  kill-recorder-child.ts <db> <seed>
 * Records reference-workload runs (DESIGN §5) through the public API until killed,
 * alternating sequential rows and many rows in flight. Every append the store
 * acknowledges is reported as {"s": streamId, "r": first seq, "ids": [event ids]}.
 */
import { openLedger } from '../../../src';
import type { AppendResult, EventStore, ExpectedRevision, ProposedEvent } from '../../../src';
import { openSqliteStore } from '../../../src/store/sqlite';
import { openStore } from '../../../src/store/url';
import { recordReferenceRun } from '../../../src/workloads/reference';
import { mulberry32, writeLine } from './kill-harness';

/** Forwards to the real store and reports every acknowledged append. */
function reporting(store: EventStore): EventStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (streamId: string, events: readonly ProposedEvent[], expected: ExpectedRevision): Promise<AppendResult> => {
          const r = await target.append(streamId, events, expected);
          writeLine({ s: streamId, r: events[0]!.metadata.seq, ids: events.map((e) => e.eventId) });
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function main(): Promise<void> {
  const [db, seedText] = process.argv.slice(2);
  if (!db || !seedText) throw new Error('usage: kill-recorder-child.ts <db> <seed>');
  const rnd = mulberry32(Number(seedText));
  const ledger = await openLedger({ store: reporting(await (db.startsWith('postgres') ? openStore(db) : openSqliteStore(db))) });
  writeLine({ ready: true });
  for (;;) {
    await recordReferenceRun(ledger, { rows: 50 + Math.floor(rnd() * 200), concurrency: rnd() < 0.5 ? 1 : 16 });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`kill-recorder-child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
