/**
 * A synchronous PostgreSQL client, for the projection tables.
 *
 * The recorder's fold and the readers' persisted maps (src/projections/persisted.ts) look
 * entries up synchronously: that is what keeps one fold for every store and the hot path
 * free of promises. SQLite answers synchronously by nature; for PostgreSQL this client runs a
 * `pg` connection in a worker thread and blocks the calling thread on a shared flag
 * (Atomics.wait) until the worker has posted the answer, which is then taken from the
 * message port synchronously (receiveMessageOnPort). One query in flight at a time; a query
 * that gets no answer within the timeout fails with STORE_UNAVAILABLE.
 *
 * The worker's code is a string evaluated in the worker (so the same file serves the
 * TypeScript tests and the built package); it loads `pg` from the path this module resolves.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

export interface SyncQuery {
  readonly text: string;
  readonly values?: readonly unknown[];
}

/** The error of a failed query, as the worker reports it (pg's SQLSTATE or Node's errno code). */
export class SyncQueryError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SyncQueryError';
  }
}

const WORKER = `
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const flag = new Int32Array(workerData.flag);
const port = workerData.port;
let client = null;
let connecting = null;
function connect() {
  if (client !== null) return Promise.resolve(client);
  if (connecting === null) {
    const c = new pg.Client({ connectionString: workerData.connectionString, options: workerData.options, application_name: 'lineage-ledger projection' });
    c.on('error', () => { if (client === c) client = null; });
    connecting = c.connect()
      .then(() => { client = c; connecting = null; return c; }, (e) => { connecting = null; c.end().catch(() => {}); throw e; });
  }
  return connecting;
}
function reply(message) {
  port.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
port.on('message', async (m) => {
  if (m.close) {
    if (client !== null) await client.end().catch(() => {});
    reply({ ok: true, results: [] });
    port.close();
    return;
  }
  try {
    const c = await connect();
    const results = [];
    for (const q of m.queries) {
      const r = await c.query({ text: q.text, values: q.values, rowMode: 'array' });
      results.push(r.rows);
    }
    reply({ ok: true, results });
  } catch (e) {
    // A failed query inside a transaction leaves it aborted: the caller's ROLLBACK clears it.
    // A lost connection (no SQLSTATE, or class 08 / 57) is dropped: the next request reconnects.
    const code = e && e.code;
    if (typeof code !== 'string' || /^(08|57)/.test(code) || /^E[A-Z]+$/.test(code)) {
      const c = client;
      client = null;
      if (c !== null) c.end().catch(() => {});
    }
    reply({ ok: false, message: String(e && e.message), code });
  }
});
`;

/** Something to wait on for a millisecond (never notified). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class SyncPgClient {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag: Int32Array;
  private closed = false;

  constructor(
    connectionString: string,
    /** Startup options of each connection (`-c search_path=...`). */
    options: string,
    private readonly timeoutMs = 60_000,
  ) {
    const { port1, port2 } = new MessageChannel();
    const shared = new SharedArrayBuffer(4);
    this.flag = new Int32Array(shared);
    this.port = port1;
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { pgPath: require.resolve('pg'), connectionString, options, flag: shared, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on('error', () => undefined);
  }

  /** Runs the queries in order on the worker's connection; the rows of each, as arrays of column values. */
  run(queries: readonly SyncQuery[]): unknown[][][] {
    if (this.closed) throw new SyncQueryError('the projection connection is closed', 'CLOSED');
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ queries });
    const waited = Atomics.wait(this.flag, 0, 0, this.timeoutMs);
    type Answer = { message: { ok: boolean; results?: unknown[][][]; message?: string; code?: string } } | undefined;
    let answer = receiveMessageOnPort(this.port) as Answer;
    // woken, yet no answer on the port yet: give the message a moment to arrive before calling the worker gone
    for (let i = 0; answer === undefined && waited !== 'timed-out' && i < 1000; i++) {
      Atomics.wait(PAUSE, 0, 0, 1);
      answer = receiveMessageOnPort(this.port) as Answer;
    }
    if (answer === undefined) {
      throw new SyncQueryError(waited === 'timed-out' ? `no answer from PostgreSQL within ${this.timeoutMs} ms` : 'the projection worker stopped', 'TIMEOUT');
    }
    const m = answer.message;
    if (!m.ok) throw new SyncQueryError(m.message ?? 'query failed', m.code);
    return m.results!;
  }

  query(text: string, values: readonly unknown[] = []): unknown[][] {
    return this.run([{ text, values }])[0]!;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ close: true });
    Atomics.wait(this.flag, 0, 0, 5_000);
    receiveMessageOnPort(this.port);
    this.port.close();
    void this.worker.terminate();
  }
}
