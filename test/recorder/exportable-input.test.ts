/**
 * What the recorder accepts, the exporter can write: one rule (EXPORTABLE in src/canonical/jcs.ts)
 * for strings (no lone surrogate), numbers (finite; integers within ±(2^53-1)) and nesting depth.
 * Each case below used to be accepted and then made every export of the run fail.
 */
import { openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import { canonicalize, EXPORTABLE, MAX_DEPTH } from '../../src/canonical/jcs';

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

test('lone surrogates, over-deep JSON and unsafe numbers are refused on write; the run still exports', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const run = await ledger.beginRun({ config: {} });
  const node = await run.registerNode({ pluginName: 'p', nodeType: 'source', pluginVersion: '1', determinism: 'deterministic', config: {} });
  const { tokenId } = await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: {}, withToken: true });
  const before = await ledger.store.streamRevision(runStreamId(run.runId));
  const state = await run.beginNodeState({ tokenId: tokenId!, nodeId: node.nodeId, stepIndex: 0, inputData: {} });
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['pluginName with a lone high surrogate', () => run.registerNode({ pluginName: 'p\uD800', nodeType: 'transform', pluginVersion: '1', determinism: 'deterministic', config: {} })],
    ['a lone low surrogate in config', () => run.registerNode({ pluginName: 'q', nodeType: 'transform', pluginVersion: '1', determinism: 'deterministic', config: { x: '\uDC00' } })],
    ['a lone surrogate in a member name', () => run.registerNode({ pluginName: 'q', nodeType: 'transform', pluginVersion: '1', determinism: 'deterministic', config: { ['k\uD800']: 1 } })],
    ['JSON nested to the writer limit', () => run.registerNode({ pluginName: 'q', nodeType: 'transform', pluginVersion: '1', determinism: 'deterministic', config: nested(MAX_DEPTH - 1) as never })],
    ['durationMs of 2^53+2', () => run.completeNodeState({ stateId: state.stateId, status: 'completed', outputData: {}, durationMs: 2 ** 53 + 2 })],
    ['durationMs of Number.MAX_VALUE', () => run.completeNodeState({ stateId: state.stateId, status: 'completed', outputData: {}, durationMs: Number.MAX_VALUE })],
  ];
  for (const [what, call] of cases) {
    const code = await call().then(
      () => 'accepted',
      (e: { code?: string }) => e.code,
    );
    expect({ what, code }).toEqual({ what, code: 'INVALID_INPUT' });
  }
  expect(await ledger.store.streamRevision(runStreamId(run.runId))).toBe((before ?? 0) + 1);
  // the deepest accepted value still canonicalises inside an export record
  const deepest = nested(EXPORTABLE.valueDepth) as Record<string, unknown>;
  await run.registerNode({ pluginName: 'deep', nodeType: 'transform', pluginVersion: '1', determinism: 'deterministic', config: deepest as never });
  await run.completeNodeState({ stateId: state.stateId, status: 'completed', outputData: {}, durationMs: 2 ** 53 - 1 });
  let records = 0;
  for await (const r of ledger.exportRun(run.runId)) {
    canonicalize(r);
    records++;
  }
  expect(records).toBeGreaterThan(4);
  await ledger.close();
});
