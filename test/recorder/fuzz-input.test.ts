/**
 * Fuzz of every recorder method with the classes of hostile input: wrong types, NaN and the
 * infinities, -0, unsafe integers, lone surrogates, JSON nested past the limit, `__proto__` and
 * `constructor` keys, Date/Map/Set/BigInt/functions/symbols, cycles, throwing getters and proxies.
 *
 * Each method starts from a valid input (which must be accepted: the fuzz would prove nothing
 * otherwise), and every field of it, every JSON field one level down, the input itself and an
 * extra key are replaced by each hostile value in turn. Every call must end one of two ways:
 * - rejected with a LedgerError carrying a documented code, with nothing appended and the handle
 *   still usable;
 * - accepted, in which case the run must still export (every record canonicalises) and fold
 *   without anomalies, and no prototype is polluted.
 */
import { openLedger } from '../../src/ledger';
import type { Ledger } from '../../src/ledger';
import type { RunHandle } from '../../src/recorder/run-handle';
import { runStreamId } from '../../src/events/envelope';
import { canonicalize, MAX_DEPTH } from '../../src/canonical/jcs';
import { ERROR_CODES, isLedgerError } from '../../src/errors';

const H = 'a'.repeat(64);

interface Fixture {
  ledger: Ledger;
  run: RunHandle;
  source: string;
  transform: string;
  agg: string;
  sink: string;
  edge: string;
  n: () => number;
  token: () => Promise<{ rowId: string; tokenId: string }>;
  state: (nodeId?: string) => Promise<{ stateId: string; tokenId: string }>;
  batch: () => Promise<{ batchId: string; tokenId: string }>;
}

async function fixture(): Promise<Fixture> {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const node = async (nodeType: 'source' | 'transform' | 'aggregation' | 'sink') =>
    (await run.registerNode({ pluginName: nodeType, nodeType, pluginVersion: '1', determinism: 'deterministic', config: {} })).nodeId;
  const source = await node('source');
  const transform = await node('transform');
  const agg = await node('aggregation');
  const sink = await node('sink');
  const { edgeId: edge } = await run.registerEdge({ fromNodeId: transform, toNodeId: sink, label: 'out', mode: 'move' });
  let counter = 1_000;
  const n = () => counter++;
  const token = async () => {
    const r = await run.createRow({ sourceNodeId: source, rowIndex: n(), data: { a: 1 }, withToken: true });
    return { rowId: r.rowId, tokenId: r.tokenId! };
  };
  const state = async (nodeId = transform) => {
    const { tokenId } = await token();
    const { stateId } = await run.beginNodeState({ tokenId, nodeId, stepIndex: 0, inputData: {} });
    return { stateId, tokenId };
  };
  const batch = async () => {
    const { batchId } = await run.createBatch({ aggregationNodeId: agg });
    const { tokenId } = await token();
    await run.addBatchMember({ batchId, tokenId });
    return { batchId, tokenId };
  };
  return { ledger, run, source, transform, agg, sink, edge, n, token, state, batch };
}

async function completedState(f: Fixture): Promise<string> {
  const { stateId } = await f.state();
  await f.run.completeNodeState({ stateId, status: 'completed', durationMs: 1, outputData: {} });
  return stateId;
}

type Input = Record<string, unknown> | unknown[];

interface Spec {
  /** Prerequisite appends, then a valid input for the method. */
  base(f: Fixture): Promise<Input>;
  call(f: Fixture, input: unknown): Promise<unknown>;
  /** Each case on a fixture of its own (the method ends the run, or needs a run that ended). */
  fresh?: (f: Fixture) => Promise<void>;
}

const on =
  (method: keyof RunHandle) =>
  (f: Fixture, input: unknown): Promise<unknown> =>
    (f.run[method] as (i: unknown) => Promise<unknown>).call(f.run, input);

const SPECS: Record<string, Spec> = {
  beginRun: {
    base: async () => ({ config: { a: 1 }, canonicalVersion: 'v1', reproducibilityGrade: 'full_reproducible', sourceSchema: {}, schemaContract: {}, correlationId: 'c', causationId: 'd' }),
    call: (f, input) => f.ledger.beginRun(input as never),
  },
  registerNode: {
    base: async () => ({
      pluginName: 'p',
      nodeType: 'transform',
      pluginVersion: '1',
      config: { a: 1 },
      determinism: 'deterministic',
      schemaHash: H,
      schemaMode: 'observed',
      schemaFields: { a: 'int' },
      sequence: 3,
      inputContract: {},
      outputContract: {},
    }),
    call: on('registerNode'),
  },
  registerEdge: { base: async (f) => ({ fromNodeId: f.transform, toNodeId: f.sink, label: `l${f.n()}`, mode: 'move' }), call: on('registerEdge') },
  createRow: { base: async (f) => ({ sourceNodeId: f.source, rowIndex: f.n(), data: { a: 1 }, quarantined: false, withToken: true }), call: on('createRow') },
  createToken: { base: async (f) => ({ rowId: (await f.token()).rowId, branchName: 'b', stepInPipeline: 1 }), call: on('createToken') },
  forkToken: {
    base: async (f) => {
      const t = await f.token();
      return { parentTokenId: t.tokenId, rowId: t.rowId, branches: ['a', 'b'], stepInPipeline: 1, context: { why: 'x' } };
    },
    call: on('forkToken'),
  },
  expandToken: {
    base: async (f) => {
      const t = await f.token();
      return { parentTokenId: t.tokenId, rowId: t.rowId, count: 2, stepInPipeline: 1, context: {} };
    },
    call: on('expandToken'),
  },
  coalesceTokens: {
    base: async (f) => {
      const t = await f.token();
      const fork = await f.run.forkToken({ parentTokenId: t.tokenId, rowId: t.rowId, branches: ['a', 'b'] });
      return { parentTokenIds: fork.children.map((c) => c.tokenId), rowId: t.rowId, stepInPipeline: 2, branchName: 'm', metadata: { k: 1 } };
    },
    call: on('coalesceTokens'),
  },
  beginNodeState: {
    base: async (f) => ({ tokenId: (await f.token()).tokenId, nodeId: f.transform, stepIndex: 0, inputData: { a: 1 }, attempt: 0, contextBefore: {} }),
    call: on('beginNodeState'),
  },
  completeNodeState: {
    base: async (f) => ({ stateId: (await f.state()).stateId, status: 'completed', durationMs: 1.5, outputData: { b: 2 }, successReason: {}, contextAfter: {} }),
    call: on('completeNodeState'),
  },
  recordRoutingEvent: { base: async (f) => ({ stateId: await completedState(f), edgeId: f.edge, mode: 'move', reason: { r: 1 } }), call: on('recordRoutingEvent') },
  recordRoutingEvents: {
    base: async (f) => ({ stateId: await completedState(f), routes: [{ edgeId: f.edge, mode: 'copy' }], reason: {} }),
    call: on('recordRoutingEvents'),
  },
  recordCall: {
    base: async (f) => ({
      callType: 'http',
      status: 'success',
      requestData: { u: 'x' },
      stateId: (await f.state()).stateId,
      callIndex: 0,
      responseData: { ok: true },
      latencyMs: 2.5,
      requestRef: 'req',
      responseRef: 'res',
    }),
    call: on('recordCall'),
  },
  beginOperation: { base: async (f) => ({ nodeId: f.source, operationType: 'source_load', inputData: { a: 1 } }), call: on('beginOperation') },
  completeOperation: {
    base: async (f) => ({
      operationId: (await f.run.beginOperation({ nodeId: f.source, operationType: 'source_load' })).operationId,
      status: 'completed',
      durationMs: 3,
      outputData: {},
    }),
    call: on('completeOperation'),
  },
  createBatch: { base: async (f) => ({ aggregationNodeId: f.agg, attempt: 0 }), call: on('createBatch') },
  addBatchMember: {
    base: async (f) => ({ batchId: (await f.run.createBatch({ aggregationNodeId: f.agg })).batchId, tokenId: (await f.token()).tokenId, ordinal: 0 }),
    call: on('addBatchMember'),
  },
  updateBatchStatus: {
    base: async (f) => ({ batchId: (await f.batch()).batchId, status: 'executing', triggerType: 'count', triggerReason: 'n=1', stateId: (await f.state(f.agg)).stateId }),
    call: on('updateBatchStatus'),
  },
  retryBatch: {
    base: async (f) => {
      const { batchId } = await f.batch();
      await f.run.updateBatchStatus({ batchId, status: 'failed' });
      return { batchId };
    },
    call: on('retryBatch'),
  },
  recordBatchOutputs: {
    base: async (f) => {
      const { batchId } = await f.batch();
      await f.run.updateBatchStatus({ batchId, status: 'executing' });
      await f.run.updateBatchStatus({ batchId, status: 'completed' });
      return { batchId, tokenCount: 1, stepInPipeline: 2 };
    },
    call: on('recordBatchOutputs'),
  },
  registerArtifact: {
    base: async (f) => ({
      stateIds: [(await f.state(f.sink)).stateId],
      sinkNodeId: f.sink,
      artifactType: 'csv',
      pathOrUri: 'out.csv',
      contentHash: H,
      sizeBytes: 10,
      idempotencyKey: `k${f.n()}`,
    }),
    call: on('registerArtifact'),
  },
  recordTokenOutcome: { base: async (f) => ({ tokenId: (await f.token()).tokenId, outcome: 'completed', sinkName: 'out', context: { c: 1 } }), call: on('recordTokenOutcome') },
  recordValidationError: {
    base: async (f) => ({
      rowData: { a: 'x' },
      error: 'a is not an int',
      schemaMode: 'fixed',
      destination: 'quarantine',
      nodeId: f.source,
      rowIndex: 0,
      violation: { violationType: 'type_mismatch', originalFieldName: 'a', normalizedFieldName: 'a', expectedType: 'int', actualType: 'str' },
    }),
    call: on('recordValidationError'),
  },
  recordTransformError: {
    base: async (f) => ({ tokenId: (await f.token()).tokenId, transformId: f.transform, rowData: { a: 1 }, errorDetails: { e: 'x' }, destination: 'errors' }),
    call: on('recordTransformError'),
  },
  recordSecretResolutions: {
    base: async () => [{ envVarName: 'API_KEY', source: 'env', fingerprint: H, resolvedAt: '2026-01-02T03:04:05.678Z', vaultUrl: 'v', secretName: 's', resolutionLatencyMs: 1 }],
    call: on('recordSecretResolutions'),
  },
  recordPreflightResults: { base: async () => [{ resultType: 'readiness_check', name: 'db', result: { ok: true } }], call: on('recordPreflightResults') },
  recordCheckpoint: {
    base: async (f) => ({
      tokenId: (await f.token()).tokenId,
      nodeId: f.transform,
      sequenceNumber: f.n(),
      upstreamTopologyHash: H,
      checkpointNodeConfigHash: H,
      formatVersion: 1,
      aggregationState: {},
      coalesceState: {},
    }),
    call: on('recordCheckpoint'),
  },
  recordSourceFieldResolution: { base: async () => ({ resolutionMapping: { A: 'a' }, normalizationVersion: '1' }), call: on('recordSourceFieldResolution') },
  updateRunContract: { base: async () => ({ contract: { fields: ['a'] } }), call: on('updateRunContract') },
  updateNodeOutputContract: { base: async (f) => ({ nodeId: f.transform, contract: { fields: [] } }), call: on('updateNodeOutputContract') },
  setExportStatus: { base: async () => ({ status: 'pending', format: 'jsonl', sink: 's' }), call: on('setExportStatus') },
  updateRunStatus: {
    base: async () => ({ status: 'running', reason: 'resumed' }),
    call: on('updateRunStatus'),
    fresh: async (f) => {
      await f.run.complete({ status: 'interrupted' });
    },
  },
  complete: { base: async () => ({ status: 'failed', reproducibilityGrade: 'attributable_only' }), call: on('complete'), fresh: async () => undefined },
};

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** Each hostile value is built anew for every case (some are mutable or stateful). */
const HOSTILE: Array<[string, () => unknown]> = [
  ['a string', () => 'x'],
  ['an empty string', () => ''],
  ['a number', () => 7],
  ['a boolean', () => true],
  ['null', () => null],
  ['undefined', () => undefined],
  ['an array', () => [1]],
  ['an empty object', () => ({})],
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['-Infinity', () => -Infinity],
  ['-0', () => -0],
  ['2^53', () => 2 ** 53],
  ['-1', () => -1],
  ['1.5', () => 1.5],
  ['Number.MAX_VALUE', () => Number.MAX_VALUE],
  ['a lone high surrogate', () => 'p\uD800'],
  ['a lone low surrogate', () => '\uDC00q'],
  ['a lone surrogate in a key', () => ({ ['k\uD800']: 1 })],
  ['JSON nested past the limit', () => nested(MAX_DEPTH + 2)],
  ['an own __proto__ key', () => JSON.parse('{"__proto__":{"polluted":true}}') as unknown],
  ['a constructor key', () => ({ constructor: { prototype: { polluted: true } } })],
  ['a Date', () => new Date(0)],
  ['a Map', () => new Map([['a', 1]])],
  ['a Set', () => new Set([1])],
  ['a BigInt', () => 10n],
  ['a function', () => () => 1],
  ['a symbol', () => Symbol('s')],
  ['a typed array', () => new Uint8Array(2)],
  ['a sparse array', () => [, 1]], // eslint-disable-line no-sparse-arrays
  ['an object without prototype', () => Object.assign(Object.create(null) as object, { a: 1 })],
  ['a class instance', () => new (class Point { x = 1; })()],
  [
    'a cycle',
    () => {
      const o: Record<string, unknown> = { a: 1 };
      o.self = o;
      return o;
    },
  ],
  [
    'a throwing getter',
    () =>
      Object.defineProperty({}, 'a', {
        enumerable: true,
        get() {
          throw new Error('getter');
        },
      }),
  ],
  ['a throwing proxy', () => new Proxy({ a: 1 }, { ownKeys: () => { throw new Error('proxy'); }, get: () => { throw new Error('proxy'); } })],
];

interface Mutation {
  where: string;
  apply(base: Input, value: unknown): unknown;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every top-level field, one level down into JSON objects and arrays, the input itself, an extra key. */
function mutations(base: Input): Mutation[] {
  const out: Mutation[] = [{ where: '(the input)', apply: (_b, v) => v }];
  const record = Array.isArray(base) ? (base[0] as Record<string, unknown>) : base;
  const wrap = (change: (r: Record<string, unknown>) => Record<string, unknown>) => (b: Input) =>
    Array.isArray(b) ? [change({ ...(b[0] as Record<string, unknown>) })] : change({ ...b });
  for (const key of Object.keys(record)) {
    out.push({ where: key, apply: (b, v) => wrap((r) => ({ ...r, [key]: v }))(b) });
    const current = record[key];
    if (isPlainObject(current)) out.push({ where: `${key}.k`, apply: (b, v) => wrap((r) => ({ ...r, [key]: { ...current, k: v } }))(b) });
    if (Array.isArray(current)) out.push({ where: `${key}[0]`, apply: (b, v) => wrap((r) => ({ ...r, [key]: [v, ...current.slice(1)] }))(b) });
  }
  out.push({ where: '(an extra key)', apply: (b, v) => wrap((r) => ({ ...r, extra: v }))(b) });
  if (Array.isArray(base)) out.push({ where: '[1]', apply: (b, v) => [...(b as unknown[]), v] });
  return out;
}

async function revisions(f: Fixture): Promise<string> {
  const runs = await f.ledger.listRuns();
  const revs = await Promise.all(runs.map((r) => f.ledger.store.streamRevision(runStreamId(r.runId))));
  return JSON.stringify(revs);
}

/** The run must still export (every record canonicalises) and fold without anomalies. */
async function assertExportable(f: Fixture, what: string): Promise<number> {
  let records = 0;
  for (const r of await f.ledger.listRuns()) {
    const state = await f.ledger.loadRun(r.runId);
    expect({ what, anomalies: state.anomalies }).toEqual({ what, anomalies: [] });
    for await (const record of f.ledger.exportRun(r.runId)) {
      canonicalize(record);
      records++;
    }
  }
  return records;
}

const CODES = new Set(Object.keys(ERROR_CODES));

test.each(Object.keys(SPECS))('%s: hostile input is accepted and exportable, or a typed error with nothing appended', async (method) => {
  const spec = SPECS[method]!;
  let f = await fixture();
  if (spec.fresh) await spec.fresh(f);
  // The valid input is accepted (otherwise every rejection below would prove nothing).
  await spec.call(f, await spec.base(f));
  const probe = await spec.base(f);
  let accepted = 0;
  let rejected = 0;
  for (const mutation of mutations(probe)) {
    for (const [name, make] of HOSTILE) {
      if (spec.fresh) {
        await f.ledger.close();
        f = await fixture();
        await spec.fresh(f);
      }
      const input = mutation.apply(await spec.base(f), make());
      const before = await revisions(f);
      const where = `${method} ${mutation.where} = ${name}`;
      let error: unknown = null;
      try {
        await spec.call(f, input);
      } catch (e) {
        error = e;
      }
      if (error === null) {
        accepted++;
        if (spec.fresh) await assertExportable(f, where);
        continue;
      }
      rejected++;
      const typed = isLedgerError(error) && CODES.has(error.code);
      expect({ where, typed, error: typed ? 'typed' : String(error) }).toEqual({ where, typed: true, error: 'typed' });
      expect({ where, appended: (await revisions(f)) !== before }).toEqual({ where, appended: false });
      expect({ where, stale: f.run.isStale }).toEqual({ where, stale: false });
    }
  }
  if (!spec.fresh) expect(await assertExportable(f, method)).toBeGreaterThan(0);
  expect(({} as Record<string, unknown>).polluted).toBe(undefined);
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  // Every method refuses most of the classes (those that take JSON accept some: -0, {}, [1]).
  expect(rejected).toBeGreaterThan(accepted);
  await f.ledger.close();
});
