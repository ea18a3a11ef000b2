import { openLedger, RECORD_TYPES } from '../../src';
import type { ExportRecord, RecordOf } from '../../src';
import { recordReferenceRun } from '../../src/workloads/reference';

async function exportAll(ledger: Awaited<ReturnType<typeof openLedger>>, runId: string): Promise<ExportRecord[]> {
  const out: ExportRecord[] = [];
  for await (const r of ledger.exportRun(runId)) out.push(r);
  return out;
}

describe('the reference workload (DESIGN §5) for 100 rows', () => {
  let records: ExportRecord[];
  let sinkTokens: string[];
  let rowIds: string[];

  beforeAll(async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const result = await recordReferenceRun(ledger, { rows: 100, concurrency: 8 });
    sinkTokens = result.rows.map((r) => r.sinkTokenId);
    rowIds = result.rows.map((r) => r.rowId);
    records = await exportAll(ledger, result.runId);
    await ledger.close();
  });

  test('export record counts per type', () => {
    const counts = Object.fromEntries(RECORD_TYPES.map((t) => [t, 0]));
    for (const r of records) counts[r.record_type] = (counts[r.record_type] ?? 0) + 1;
    expect(counts).toEqual({
      run: 1,
      secret_resolution: 0,
      preflight_result: 0,
      node: 6,
      edge: 6,
      operation: 1,
      call: 200,
      row: 100,
      token: 400,
      token_parent: 400,
      token_outcome: 400,
      node_state: 700,
      routing_event: 200,
      batch: 0,
      batch_member: 0,
      batch_output: 0,
      artifact: 1,
      validation_error: 0,
      transform_error: 0,
      checkpoint: 0,
    });
    expect(records).toHaveLength(2415);
  });

  test('lineage from every sink token back to its source row is rebuilt from the export records alone', () => {
    const tokens = new Map(records.filter((r) => r.record_type === 'token').map((r) => [r.token_id as string, r]));
    const parents = new Map<string, Array<RecordOf<'token_parent'>>>();
    for (const p of records.filter((r) => r.record_type === 'token_parent')) {
      const list = parents.get(p.token_id as string) ?? [];
      list.push(p);
      parents.set(p.token_id as string, list);
    }
    const statesByToken = new Map<string, Array<RecordOf<'node_state'>>>();
    for (const s of records.filter((r) => r.record_type === 'node_state')) {
      const list = statesByToken.get(s.token_id as string) ?? [];
      list.push(s);
      statesByToken.set(s.token_id as string, list);
    }
    const rows = new Map(records.filter((r) => r.record_type === 'row').map((r) => [r.row_id as string, r]));
    const nodes = new Map(records.filter((r) => r.record_type === 'node').map((r) => [r.node_id as string, r]));

    sinkTokens.forEach((sinkToken, i) => {
      // walk the ancestor DAG
      const seen = new Set<string>();
      const stack = [sinkToken];
      const roots: string[] = [];
      const nodeTypesVisited = new Set<string>();
      while (stack.length > 0) {
        const t = stack.pop()!;
        if (seen.has(t)) continue;
        seen.add(t);
        expect(tokens.has(t)).toBe(true);
        for (const s of statesByToken.get(t) ?? []) nodeTypesVisited.add(nodes.get(s.node_id as string)!.node_type as string);
        const ps = parents.get(t) ?? [];
        if (ps.length === 0) roots.push(t);
        for (const p of ps) stack.push(p.parent_token_id as string);
      }
      // merged token ← two branch tokens ← one initial token
      expect(seen.size).toBe(4);
      expect(roots).toHaveLength(1);
      const root = tokens.get(roots[0]!)!;
      expect(root.row_id).toBe(rowIds[i]);
      expect(rows.get(root.row_id as string)!.row_index).toBe(i);
      expect([...nodeTypesVisited].sort()).toEqual(['coalesce', 'gate', 'sink', 'source', 'transform']);
      const merged = tokens.get(sinkToken)!;
      expect(merged.join_group_id).not.toBeNull();
      const branchTokens = (parents.get(sinkToken) ?? []).map((p) => tokens.get(p.parent_token_id as string)!);
      expect(branchTokens.map((b) => b.branch_name)).toEqual(['enrich', 'score']);
      expect(new Set(branchTokens.map((b) => b.fork_group_id)).size).toBe(1);
      expect(branchTokens[0]!.fork_group_id).not.toBeNull();
    });
  });
});
