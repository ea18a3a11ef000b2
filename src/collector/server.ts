/**
 * The HTTP collector: the recorder behind a JSON API, for pipelines in any language
 * (Fastify). Every command goes through the same run handle, with the same checks and typed
 * errors, as a TypeScript pipeline's call would.
 *
 *   GET  /v1/health                       {"ok": true} (no token needed)
 *   GET  /v1/openapi.json                 the OpenAPI 3.1 document of every route (openapi.ts)
 *   GET  /v1/runs                         the runs
 *   POST /v1/runs                         beginRun input -> {"runId"}
 *   POST /v1/runs/{runId}/commands        {"commands": [{"op", "input"}, ...]} -> {"results": [...]}
 *   GET  /v1/runs/{runId}/export          JSON Lines, streamed (signed when the server has a key)
 *   GET  /v1/runs/{runId}/explain         ?token=<id> or ?row=<index>
 *   GET  /v1/runs/{runId}/check           the audit sweep
 *
 * Commands of one request are decided in order, each against the run including the ones
 * before it, and written in that order (merged into few appends, so a batch costs little
 * more than one commit). The first command rejected stops the request: the commands before
 * it are applied (stored once the response is sent), it and every later one are not; the
 * answer is 409 or 422 with {"error": {code, message, path, index}, "applied": index}. A
 * store failure while writing answers 503 (STORE_UNAVAILABLE) or 409 (RUN_HANDLE_STALE),
 * with the index of the first command not stored.
 *
 * Requests to one run are handled one after the other (a per-run queue); requests to
 * different runs run concurrently. An `Idempotency-Key` header makes a retry safe: the
 * same key with the same body gets the first answer again and records nothing; the same
 * key with another body is refused. Keys are remembered in memory (the last 10,000) for the
 * server's lifetime.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { PassThrough } from 'node:stream';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isLedgerError, LedgerError, ledgerError, LedgerErrorCode } from '../errors';
import { exportState, loadRunForExport } from '../export/bundle';
import type { Signer } from '../export/keys';
import type { Ledger } from '../ledger';
import { COMMAND_NAMES, CommandName } from '../recorder/commands';
import type { RunHandle } from '../recorder/run-handle';
import { openApiDocument } from './openapi';

export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;
const IDEMPOTENCY_KEYS = 10_000;
const MAX_OPEN_RUNS = 64;

export interface CollectorOptions {
  readonly ledger: Ledger;
  /** Bearer token every route but health requires (null: no authentication; loopback only, see serve). */
  readonly token?: string | null;
  /** Largest request body in bytes (default 32 MiB). */
  readonly bodyLimit?: number;
  /** Signs exports. */
  readonly signer?: Signer | null;
  /** One line per request (default: stderr). */
  readonly log?: (line: string) => void;
}

/** HTTP status of a LedgerError code. */
export function httpStatus(code: string): number {
  if (code === 'INVALID_INPUT' || code === 'OUTCOME_FIELD_MISSING' || code === 'LINEAGE_SCOPE_VIOLATION' || code === 'CALL_PARENT_INVALID') return 422;
  if (code === 'RUN_NOT_FOUND' || code === 'NOT_FOUND') return 404;
  if (code.endsWith('_NOT_FOUND')) return 422; // an id in the input names nothing: the input is wrong
  if (code === 'STORE_UNAVAILABLE' || code === 'STORE_CLOSED') return 503;
  if (code === 'UNAUTHORIZED') return 401;
  if (code === 'REQUEST_TOO_LARGE' || code === 'APPEND_TOO_LARGE') return 413;
  if (code === 'MALFORMED_REQUEST') return 400;
  if (code in ERROR_CODES) return code.startsWith('STORE_') || code === 'MALFORMED_EVENT' || code === 'UNSUPPORTED_SCHEMA_VERSION' ? 500 : 409;
  return 500;
}

interface ErrorBody {
  readonly error: { code: string; message: string; path?: string; index?: number };
  readonly applied?: number;
}

function errorBody(e: LedgerError, index?: number): ErrorBody {
  const path = e.details?.path;
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(path !== undefined ? { path: Array.isArray(path) ? path.join('.') : String(path) } : {}),
      ...(index !== undefined ? { index } : {}),
    },
    ...(index !== undefined ? { applied: index } : {}),
  };
}

function asLedgerError(e: unknown): LedgerError {
  if (isLedgerError(e)) return e;
  return ledgerError('STORE_UNAVAILABLE', `internal error: ${e instanceof Error ? e.message : String(e)}`, {});
}

function tokenMatches(expected: string, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(header.slice('Bearer '.length)).digest();
  return timingSafeEqual(a, b);
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export async function buildCollector(options: CollectorOptions): Promise<FastifyInstance> {
  const { ledger } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const app = Fastify({ bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT, logger: false, return503OnClosing: true, forceCloseConnections: 'idle' });
  app.setReplySerializer((payload) => JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

  // Errors of the framework (body parsing, size) answer with our codes
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (isLedgerError(err)) return reply.status(httpStatus(err.code)).send(errorBody(err));
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ error: { code: 'REQUEST_TOO_LARGE', message: `the request body is over the limit of ${options.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes` } });
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(400).send({ error: { code: 'MALFORMED_REQUEST', message: `the request is malformed: ${err.message}` } });
    }
    return reply.status(500).send({ error: { code: 'INTERNAL', message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  const started = new WeakMap<FastifyRequest, bigint>();
  app.addHook('onRequest', async (req, reply) => {
    started.set(req, process.hrtime.bigint());
    if (options.token && req.url !== '/v1/health' && !tokenMatches(options.token, req.headers.authorization)) {
      return reply.status(401).send({ error: { code: 'UNAUTHORIZED', message: 'this route needs Authorization: Bearer <token>' } });
    }
    return undefined;
  });
  app.addHook('onResponse', async (req, reply) => {
    const t0 = started.get(req);
    const ms = t0 === undefined ? 0 : Number(process.hrtime.bigint() - t0) / 1e6;
    log(`${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} ${reply.statusCode} ${ms.toFixed(1)}ms`);
  });

  // ---- run handles and the per-run queue
  const handles = new Map<string, RunHandle>();
  const queues = new Map<string, Promise<unknown>>();
  const inRunQueue = <T>(runId: string, work: () => Promise<T>): Promise<T> => {
    const previous = queues.get(runId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    queues.set(runId, settled);
    void settled.then(() => {
      if (queues.get(runId) === settled) queues.delete(runId);
    });
    return next;
  };
  // Open handles are kept for the runs being recorded, at most MAX_OPEN_RUNS (each holds its
  // in-play entities and caches); the least recently used one is let go, its projection
  // changes written first. A completed run's handle is let go at once.
  const release = (runId: string): void => {
    const h = handles.get(runId);
    handles.delete(runId);
    try {
      h?.flushProjection();
    } catch {
      // the tables catch up from the events on the next read
    }
  };
  const remember = (runId: string, h: RunHandle): void => {
    handles.delete(runId);
    handles.set(runId, h);
    while (handles.size > MAX_OPEN_RUNS) {
      const oldest = handles.keys().next().value!;
      if (queues.has(oldest)) break; // busy: keep it
      release(oldest);
    }
  };
  const handleOf = async (runId: string): Promise<RunHandle> => {
    const h = handles.get(runId);
    if (h !== undefined && !h.isStale) {
      remember(runId, h);
      return h;
    }
    const opened = await ledger.openRun(runId);
    remember(runId, opened);
    return opened;
  };

  // ---- idempotency
  const remembered = new Map<string, { digest: string; answer: Promise<Answer> }>();
  const idempotent = (req: FastifyRequest, work: () => Promise<Answer>): Promise<Answer> => {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') return work();
    const digest = createHash('sha256').update(req.url).update('\u0000').update(JSON.stringify(req.body ?? null)).digest('hex');
    const seen = remembered.get(key);
    if (seen !== undefined) {
      if (seen.digest !== digest) {
        return Promise.resolve({ status: 422, body: errorBody(ledgerError('INVALID_INPUT', 'Idempotency-Key: this key was used for a different request', { path: 'Idempotency-Key' })) });
      }
      return seen.answer;
    }
    const answer = work();
    remembered.set(key, { digest, answer });
    if (remembered.size > IDEMPOTENCY_KEYS) remembered.delete(remembered.keys().next().value!);
    // a request that failed for want of the store may be retried for real
    void answer.then((a) => {
      if (a.status >= 500) remembered.delete(key);
    });
    return answer;
  };
  const send = async (reply: FastifyReply, answer: Promise<Answer>): Promise<FastifyReply> => {
    const a = await answer;
    return reply.status(a.status).send(a.body);
  };

  // ---- routes
  app.get('/v1/health', async () => ({ ok: true }));
  app.get('/v1/openapi.json', async () => openApiDocument());
  app.get('/v1/runs', async () => ({ runs: await ledger.listRuns() }));

  app.post('/v1/runs', async (req, reply) =>
    send(
      reply,
      idempotent(req, async () => {
        try {
          const run = await ledger.beginRun(req.body as never);
          remember(run.runId, run);
          return { status: 201, body: { runId: run.runId } };
        } catch (e) {
          const err = asLedgerError(e);
          return { status: httpStatus(err.code), body: errorBody(err) };
        }
      }),
    ),
  );

  app.post<{ Params: { runId: string } }>('/v1/runs/:runId/commands', async (req, reply) => {
    const body = req.body as { commands?: unknown } | null;
    if (typeof body !== 'object' || body === null || !Array.isArray(body.commands)) {
      const err = ledgerError('INVALID_INPUT', 'commands: the body must be {"commands": [{"op": ..., "input": {...}}, ...]}', { path: 'commands' });
      return reply.status(422).send(errorBody(err));
    }
    const commands = body.commands as unknown[];
    const runId = req.params.runId;
    return send(
      reply,
      idempotent(req, () => inRunQueue(runId, () => applyCommands(runId, commands))),
    );
  });

  const applyCommands = async (runId: string, commands: readonly unknown[]): Promise<Answer> => {
    let run: RunHandle;
    try {
      run = await handleOf(runId);
    } catch (e) {
      const err = asLedgerError(e);
      return { status: httpStatus(err.code), body: errorBody(err) };
    }
    const results: unknown[] = [];
    const stored: Array<Promise<void>> = [];
    let rejected: { index: number; error: LedgerError } | null = null;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as { op?: unknown; input?: unknown } | null;
      try {
        if (typeof c !== 'object' || c === null || typeof c.op !== 'string') {
          throw ledgerError('INVALID_INPUT', `commands[${i}]: each command is {"op": "<method name>", "input": {...}}`, { path: 'op' });
        }
        if (!(COMMAND_NAMES as string[]).includes(c.op)) {
          throw ledgerError('INVALID_INPUT', `op: ${JSON.stringify(c.op.slice(0, 40))} is not a recorder command`, { path: 'op' });
        }
        const s = run.submit(c.op as CommandName, c.input);
        results.push(s.result);
        stored.push(s.stored);
      } catch (e) {
        const err = asLedgerError(e);
        const path = err.details?.path;
        rejected = { index: i, error: new LedgerError(err.code, err.message, { ...err.details, path: `commands[${i}].${c && typeof c === 'object' && 'op' in c && path === 'op' ? 'op' : `input${path !== undefined && path !== '' ? `.${String(path)}` : ''}`}` }) };
        break;
      }
    }
    // wait for everything submitted: the first write that failed names the first command not stored
    const outcomes = await Promise.allSettled(stored);
    const failed = outcomes.findIndex((o) => o.status === 'rejected');
    if (failed >= 0) {
      const err = asLedgerError((outcomes[failed] as PromiseRejectedResult).reason);
      handles.delete(runId);
      return { status: httpStatus(err.code), body: errorBody(err, failed) };
    }
    if (commands.some((c) => (c as { op?: unknown } | null)?.op === 'complete') && rejected === null) release(runId);
    if (rejected !== null) {
      const status = httpStatus(rejected.error.code);
      return { status: status === 409 || status === 422 || status === 404 ? (status === 404 ? 422 : status) : status, body: errorBody(rejected.error, rejected.index) };
    }
    return { status: 200, body: { results } };
  };

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/export', async (req, reply) => {
    let state;
    try {
      state = await loadRunForExport(ledger, req.params.runId);
    } catch (e) {
      const err = asLedgerError(e);
      return reply.status(httpStatus(err.code)).send(errorBody(err));
    }
    const out = new PassThrough();
    // an error after the first line can only cut the stream short (the manifest line is then missing: it does not verify)
    exportState(state, out, { format: 'jsonl', signer: options.signer ?? null }).then(
      () => out.end(),
      (e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))),
    );
    return reply.type('application/x-ndjson').send(out);
  });

  app.get<{ Params: { runId: string }; Querystring: { token?: string; row?: string } }>('/v1/runs/:runId/explain', async (req, reply) => {
    const { token, row } = req.query;
    if ((token === undefined) === (row === undefined)) {
      return reply.status(422).send(errorBody(ledgerError('INVALID_INPUT', 'give exactly one of ?token=<id> or ?row=<index>', { path: 'token' })));
    }
    try {
      const query = token !== undefined ? { runId: req.params.runId, tokenId: token } : /^\d+$/.test(row!) ? { runId: req.params.runId, rowIndex: Number(row) } : { runId: req.params.runId, rowId: row! };
      return await ledger.explain(query);
    } catch (e) {
      const err = asLedgerError(e);
      return reply.status(httpStatus(err.code) === 422 ? 404 : httpStatus(err.code)).send(errorBody(err));
    }
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/check', async (req, reply) => {
    try {
      return await ledger.check(req.params.runId);
    } catch (e) {
      const err = asLedgerError(e);
      return reply.status(httpStatus(err.code)).send(errorBody(err));
    }
  });

  return app;
}

export type { LedgerErrorCode };
