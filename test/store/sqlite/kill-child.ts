/**
 * Store-level kill child (see kill-harness.ts for the protocol):  kill-child.ts <db> <seed>
 * Appends deterministic events in a loop until killed: sequential awaited appends,
 * bursts of concurrent appends (several to the same stream, chained by expected
 * revision, so they share group-commit batches), new streams, and appends that must
 * fail (wrong expected revision). After each append resolves it writes an ack line.
 */
import { isLedgerError } from '../../../src/errors';
import { openSqliteStore, SqliteEventStore } from '../../../src/store/sqlite';
import { mulberry32, writeLine } from './kill-harness';
import { CONFLICT_PREFIX, eventFor, StoreAck } from './kill-store-workload';

async function main(): Promise<void> {
  const [db, seedText] = process.argv.slice(2);
  if (!db || !seedText) throw new Error('usage: kill-child.ts <db> <seed>');
  const seed = Number(seedText);
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const store = await openSqliteStore(db);
  const next = new Map<string, number>(); // stream -> next revision to write
  const streams: string[] = [];
  const newStream = (): string => {
    const s = `k${seed}-${streams.length}`;
    streams.push(s);
    next.set(s, 0);
    return s;
  };
  for (let i = 0; i < 4; i++) newStream();
  writeLine({ ready: true });

  const appendAcked = async (s: string, n: number): Promise<void> => {
    const first = next.get(s)!;
    next.set(s, first + n);
    const events = Array.from({ length: n }, (_, i) => eventFor(s, first + i));
    const r = await store.append(s, events, first === 0 ? 'no_stream' : first - 1);
    const ack: StoreAck = { s, r: first, ids: events.map((e) => e.eventId), pos: r.position.toString() };
    writeLine(ack);
  };

  for (let round = 0; ; round++) {
    const mode = rnd();
    if (mode < 0.3) {
      await appendAcked(streams[int(streams.length)]!, 1 + int(20));
    } else if (mode < 0.9) {
      const burst: Promise<void>[] = [];
      for (let k = 2 + int(40); k > 0; k--) burst.push(appendAcked(streams[int(streams.length)]!, 1 + int(20)));
      await Promise.all(burst);
    } else if (mode < 0.95) {
      await appendAcked(newStream(), 1 + int(5));
    } else {
      await mustConflict(store, streams[int(streams.length)]!, next, round);
    }
  }
}

/** An append with a wrong expected revision: must fail with CONCURRENCY_CONFLICT and write nothing. */
async function mustConflict(store: SqliteEventStore, s: string, next: Map<string, number>, round: number): Promise<void> {
  const current = next.get(s)! - 1;
  const events = [1, 2].map((i) => ({ eventId: `${CONFLICT_PREFIX}${s}/${round}/${i}`, type: 'KillWrite', data: { never: true }, metadata: {} }));
  try {
    await store.append(s, events, current + 3);
    writeLine({ unexpected: `an append expecting revision ${current + 3} of ${s} (at ${current}) succeeded` });
  } catch (e) {
    if (!isLedgerError(e, 'CONCURRENCY_CONFLICT')) writeLine({ unexpected: `the conflicting append failed with ${String(e)}` });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`kill-child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
