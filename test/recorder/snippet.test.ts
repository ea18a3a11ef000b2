/**
 * Acceptance: the README's usage snippet, extracted from README.md itself, runs as
 * written against the built package (in a fresh folder, so its sqlite:./lineage.db is
 * new), its run passes the audit check, and every group id (fork, join, expand) reaches
 * the export on the right records.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLedger, recordsOf } from '../../src';
import type { ExportRecord, RecordOf, RecordType } from '../../src';

const ROOT = path.resolve(__dirname, '../..');
const built = fs.existsSync(path.join(ROOT, 'dist/src/index.js'));

async function exported(ledger: Awaited<ReturnType<typeof openLedger>>, runId: string): Promise<ExportRecord[]> {
  const records: ExportRecord[] = [];
  for await (const r of ledger.exportRun(runId)) records.push(r);
  return records;
}

/** The records of one type whose `field` is `id`. */
function of<R extends RecordType>(records: ExportRecord[], type: R, field: keyof RecordOf<R> & string, id: string): Array<RecordOf<R>> {
  return recordsOf(records, type).filter((r) => (r as unknown as Record<string, unknown>)[field] === id);
}

/** The first js code block after the README's "## Usage" heading. */
function readmeSnippet(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const usage = readme.indexOf('\n## Usage\n');
  expect(usage).toBeGreaterThan(0);
  const open = readme.indexOf('```js\n', usage);
  const close = readme.indexOf('\n```\n', open);
  expect(open).toBeGreaterThan(usage);
  return readme.slice(open + '```js\n'.length, close + 1);
}

(built ? test : test.skip)('the README usage snippet runs as written and its run passes check (run `npm run build` first)', async () => {
  const snippet = readmeSnippet();
  expect(snippet).toContain("from 'lineage-ledger'");
  // The package resolves itself by name only from inside its folder, so the script lives in
  // the (ignored) .tmp/ folder; it runs with a fresh folder as its working directory.
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  const script = path.join(ROOT, '.tmp', `readme-snippet-${process.pid}.mjs`);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'll-snippet-'));
  fs.writeFileSync(script, snippet);
  try {
    const out = execFileSync(process.execPath, [script], { cwd, encoding: 'utf8' }).trim().split('\n');
    const [ok, forkGroupId, expandGroupId] = out[out.length - 1]!.split(' ');
    expect(ok).toBe('true');
    const ledger = await openLedger({ store: `sqlite:${path.join(cwd, 'lineage.db')}` });
    const [run] = await ledger.listRuns();
    expect(run!.status).toBe('completed');
    const records = await exported(ledger, run!.runId);
    await ledger.close();
    expect(out.slice(0, -1).map((l) => l.trimEnd())).toEqual(records.map((r) => `${r.record_type} ${'expand_group_id' in r ? (r.expand_group_id ?? '') : ''}`.trimEnd()));
    const tokens = recordsOf(records, 'token');
    expect(tokens.filter((r) => r.fork_group_id === forkGroupId)).toHaveLength(2);
    expect(tokens.filter((r) => r.join_group_id !== null)).toHaveLength(1);
    const expanded = tokens.filter((r) => r.expand_group_id === expandGroupId);
    expect(expanded).toHaveLength(2);
    for (const t of expanded) {
      expect(of(records, 'token_outcome', 'token_id', t.token_id as string)).toEqual([expect.objectContaining({ outcome: 'completed', sink_name: 'out' })]);
    }
  } finally {
    fs.rmSync(script, { force: true });
    fs.rmSync(cwd, { recursive: true, force: true });
  }
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
    // each child's link ordinal is its position in the expansion
    children.forEach((c, k) => expect(of(records, 'token_parent', 'token_id', c.tokenId)).toEqual([expect.objectContaining({ parent_token_id: parent.tokenId, ordinal: k })]));
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
