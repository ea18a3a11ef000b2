/**
 * Acceptance: the README snippet runs as written against the built package, and
 * every group id (expand, fork, join) reaches the export on the right records.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src';
import type { ExportRecord } from '../../src';

const ROOT = path.resolve(__dirname, '../..');
const built = fs.existsSync(path.join(ROOT, 'dist/src/index.js'));

async function exported(ledger: Awaited<ReturnType<typeof openLedger>>, runId: string): Promise<ExportRecord[]> {
  const records: ExportRecord[] = [];
  for await (const r of ledger.exportRun(runId)) records.push(r);
  return records;
}

const of = (records: ExportRecord[], type: string, field: string, id: string) =>
  records.filter((r) => r.record_type === type && r[field] === id);

(built ? test : test.skip)('the snippet runs as written against the built package (run `npm run build` first)', () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'test/fixtures/snippet.mjs')], { cwd: ROOT, encoding: 'utf8' });
  const { parentTokenId, children, expandGroupId, records } = JSON.parse(out) as {
    parentTokenId: string;
    children: Array<{ tokenId: string }>;
    expandGroupId: string;
    records: ExportRecord[];
  };
  expect(children).toHaveLength(2);
  expect(expandGroupId).toMatch(/^[0-9a-f-]{36}$/);
  for (const c of children) expect(of(records, 'token', 'token_id', c.tokenId)[0]!.expand_group_id).toBe(expandGroupId);
  const parentToken = of(records, 'token', 'token_id', parentTokenId)[0]!;
  expect(parentToken).toHaveProperty('expand_group_id', null);
  const outcome = of(records, 'token_outcome', 'token_id', parentTokenId);
  expect(outcome).toHaveLength(1);
  expect(outcome[0]).toMatchObject({ outcome: 'expanded', expand_group_id: expandGroupId, is_terminal: true, expected_branches_json: { count: 2 } });
});

describe('group ids reach the export', () => {
  test('expand: children share a non-null expand_group_id, parent has null and an expanded outcome', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const run = await ledger.beginRun({ config: { pipeline: 'demo' } });
    const node = await run.registerNode({ pluginName: 't', nodeType: 'transform', pluginVersion: '1', config: {} });
    const row = await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: {} });
    const parent = await run.createToken({ rowId: row.rowId });
    const { children, expandGroupId } = await run.expandToken({ parentTokenId: parent.tokenId, rowId: row.rowId, count: 2, stepInPipeline: 1 });
    const records = await exported(ledger, run.runId);
    expect(children.map((c) => of(records, 'token', 'token_id', c.tokenId)[0]!.expand_group_id)).toEqual([expandGroupId, expandGroupId]);
    expect(of(records, 'token', 'token_id', parent.tokenId)[0]!.expand_group_id).toBeNull();
    expect(of(records, 'token_outcome', 'token_id', parent.tokenId)).toEqual([expect.objectContaining({ outcome: 'expanded', expand_group_id: expandGroupId })]);
    for (const c of children) expect(of(records, 'token_parent', 'token_id', c.tokenId)).toEqual([expect.objectContaining({ parent_token_id: parent.tokenId, ordinal: 0 })]);
    await ledger.close();
  });

  test('fork: one child per branch with fork_group_id and branch_name, parent forked', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const run = await ledger.beginRun({ config: {} });
    const node = await run.registerNode({ pluginName: 'g', nodeType: 'gate', pluginVersion: '1', config: {} });
    const row = await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: { v: 1 } });
    const parent = await run.createToken({ rowId: row.rowId });
    const { children, forkGroupId } = await run.forkToken({ parentTokenId: parent.tokenId, rowId: row.rowId, branches: ['left', 'right', 'middle'], stepInPipeline: 2 });
    const records = await exported(ledger, run.runId);
    const childRecords = children.map((c) => of(records, 'token', 'token_id', c.tokenId)[0]!);
    expect(childRecords.map((r) => [r.branch_name, r.fork_group_id, r.step_in_pipeline])).toEqual([
      ['left', forkGroupId, 2],
      ['right', forkGroupId, 2],
      ['middle', forkGroupId, 2],
    ]);
    expect(of(records, 'token', 'token_id', parent.tokenId)[0]!.fork_group_id).toBeNull();
    expect(of(records, 'token_outcome', 'token_id', parent.tokenId)).toEqual([
      expect.objectContaining({ outcome: 'forked', fork_group_id: forkGroupId, expected_branches_json: ['left', 'right', 'middle'] }),
    ]);
    await ledger.close();
  });

  test('coalesce: merged token has join_group_id and ordered parents, each parent coalesced', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const run = await ledger.beginRun({ config: {} });
    const node = await run.registerNode({ pluginName: 'g', nodeType: 'gate', pluginVersion: '1', config: {} });
    const co = await run.registerNode({ pluginName: 'c', nodeType: 'coalesce', pluginVersion: '1', config: {} });
    const row = await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: {} });
    const parent = await run.createToken({ rowId: row.rowId });
    const fork = await run.forkToken({ parentTokenId: parent.tokenId, rowId: row.rowId, branches: ['a', 'b'] });
    const states = [];
    for (const c of fork.children) states.push(await run.beginNodeState({ tokenId: c.tokenId, nodeId: co.nodeId, stepIndex: 3, inputData: {} }));
    const reversed = [...fork.children].reverse().map((c) => c.tokenId);
    const merged = await run.coalesceTokens({
      parentTokenIds: reversed,
      rowId: row.rowId,
      stepInPipeline: 3,
      completeStates: states.map((s) => ({ stateId: s.stateId, durationMs: 2 })),
      metadata: { policy: 'require_all' },
    });
    const records = await exported(ledger, run.runId);
    const m = of(records, 'token', 'token_id', merged.tokenId)[0]!;
    expect(m.join_group_id).toBe(merged.joinGroupId);
    expect(m.fork_group_id).toBeNull();
    expect(of(records, 'token_parent', 'token_id', merged.tokenId).map((p) => [p.parent_token_id, p.ordinal])).toEqual([
      [reversed[0], 0],
      [reversed[1], 1],
    ]);
    for (const c of fork.children) {
      expect(of(records, 'token_outcome', 'token_id', c.tokenId)).toEqual([expect.objectContaining({ outcome: 'coalesced', join_group_id: merged.joinGroupId })]);
    }
    for (const s of states) expect(of(records, 'node_state', 'state_id', s.stateId)[0]).toMatchObject({ status: 'completed', duration_ms: 2 });
    await ledger.close();
  });
});
