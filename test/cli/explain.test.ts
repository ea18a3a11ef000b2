/**
 * `lineage-ledger explain` end to end: text tree, JSON, DOT (parsed, and drawn
 * by Graphviz when `dot` is installed) and Mermaid; --row by index or id,
 * --sink, --descendants, --as-of; usage errors exit 2, lookups that fail exit 1.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import parseDot, { type EdgeStmt, type Graph, type NodeId, type NodeStmt } from 'dotparser';
import { openLedger } from '../../src';
import { cli } from './support';
import { makeTempDir, ofType, removeDir, runEvents } from '../lineage/support';



interface DotGraph {
  nodes: Map<string, Record<string, string>>;
  edges: { from: string; to: string; attrs: Record<string, string> }[];
}

/** Parses DOT text (throws on a syntax error) into its declared nodes and edges. */
function readDot(text: string): DotGraph {
  const graphs: Graph[] = parseDot(text);
  expect(graphs).toHaveLength(1);
  expect(graphs[0]!.type).toBe('digraph');
  const attrs = (list: { id: string | number; eq: unknown }[]) => Object.fromEntries(list.map((a) => [String(a.id), String(a.eq)]));
  const nodes = new Map<string, Record<string, string>>();
  const edges: DotGraph['edges'] = [];
  for (const s of graphs[0]!.children) {
    if (s.type === 'node_stmt') nodes.set(String((s as NodeStmt).node_id.id), attrs((s as NodeStmt).attr_list));
    if (s.type === 'edge_stmt') {
      const [a, b] = (s as EdgeStmt).edge_list as NodeId[];
      edges.push({ from: String(a!.id), to: String(b!.id), attrs: attrs((s as EdgeStmt).attr_list) });
    }
  }
  return { nodes, edges };
}

const hasGraphviz = spawnSync('dot', ['-V'], { encoding: 'utf8' }).status === 0;

describe('lineage-ledger explain', () => {
  let dir: string;
  let store: string;
  let runId: string;
  let sinkToken: string;

  beforeAll(async () => {
    dir = makeTempDir();
    store = `sqlite:${path.join(dir, 'lineage.db')}`;
    const demo = await cli('demo', '--store', store, '--json');
    expect(demo.code).toBe(0);
    runId = JSON.parse(demo.out).runId as string;
    const row = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--format', 'json');
    expect(row.code).toBe(0);
    sinkToken = JSON.parse(row.out).paths[0].tokenId as string;
  });
  afterAll(() => {
    removeDir(dir);
  });

  test('--format json prints the whole ancestor DAG of a token', async () => {
    const r = await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--format', 'json');
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out);
    expect(e.tokenId).toBe(sinkToken);
    expect(e.tokens).toHaveLength(18);
    expect(e.sourceRows.map((x: { rowIndex: number }) => x.rowIndex)).toEqual([0, 1, 2, 4]);
    expect(e.groups.map((g: { kind: string }) => g.kind).sort()).toEqual(['batch', 'expand', 'fork', 'fork', 'fork', 'fork', 'join', 'join', 'join', 'join']);
  });

  test('text: a readable tree from the token back to every source row', async () => {
    const r = await cli('explain', '--store', store, '--run', runId, '--token', sinkToken);
    expect(r.code).toBe(0);
    const text = r.out;
    expect(text.split('\n')[0]).toBe(`Lineage of token ${sinkToken}`);
    expect(text).toContain('18 tokens back to 4 source rows (#0, #1, #2, #4)');
    for (const s of ['main_sink (sink)', 'split_lines (transform)', 'batch_totals (aggregation)', 'merge (coalesce)', 'http_enrich (transform)', 'llm_classify (transform)', 'fork_gate (gate)', 'csv_source (source)']) {
      expect(text).toContain(`state ${s}`);
    }
    expect(text).toMatch(/from expand group [0-9a-f-]{36}: 1 parent/);
    expect(text).toMatch(/from batch [0-9a-f-]{36} \(batch_totals, completed, trigger count\): 4 members/);
    expect(text).toMatch(/from join group [0-9a-f-]{36}: 2 parents/);
    expect(text).toMatch(/from fork group [0-9a-f-]{36}: 1 parent/);
    expect(text).toContain('call 0: http success');
    expect(text).toContain('call 0: llm success');
    expect(text).toContain('routed to http_enrich via "enrich" (copy');
    for (const i of [0, 1, 2, 4]) expect(text).toMatch(new RegExp(`source row #${i} [0-9a-f-]{36} from csv_source: sha256 [0-9a-f]{64}`));
    expect(text).toContain('├─ ');
    expect(text).toContain('└─ ');
  });

  test('--format dot is valid Graphviz: nodes for tokens and rows, edges labelled with group kind and id', async () => {
    const r = await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--format', 'dot');
    expect(r.code).toBe(0);
    const g = readDot(r.out);
    const tokens = [...g.nodes.keys()].filter((k) => k.startsWith('token:'));
    const rows = [...g.nodes.keys()].filter((k) => k.startsWith('row:'));
    expect(tokens).toHaveLength(18);
    expect(rows).toHaveLength(4);
    for (const e of g.edges) {
      expect(g.nodes.has(e.from)).toBe(true);
      expect(g.nodes.has(e.to)).toBe(true);
    }
    const kinds = g.edges.map((e) => e.attrs.label!.split(' ')[0]).sort();
    expect(kinds.filter((k) => k === 'source')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'fork')).toHaveLength(8);
    expect(kinds.filter((k) => k === 'join')).toHaveLength(8);
    expect(kinds.filter((k) => k === 'batch')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'expand')).toHaveLength(1);
    for (const e of g.edges.filter((x) => x.attrs.label !== 'source')) expect(e.attrs.label).toMatch(/^(fork|join|batch|expand) [0-9a-f-]{36}$/);
    // node states with node plugin names, branches and outcomes in the labels
    const target = g.nodes.get(`token:${sinkToken}`)!;
    expect(target.label).toContain('completed → main');
    expect(target.label).toContain('main_sink: completed');
    expect(target.penwidth).toBe('2');
    const labels = [...g.nodes.values()].map((n) => n.label).join('\n');
    expect(labels).toContain('branch enrich');
    expect(labels).toContain('branch classify');
    expect(labels).toContain('http_enrich: completed, call: http');
    expect(labels).toContain('batch_totals: completed');
    if (hasGraphviz) {
      const svg = spawnSync('dot', ['-Tsvg'], { input: r.out, encoding: 'utf8' });
      expect(svg.status).toBe(0);
      expect(svg.stdout).toContain('<svg');
    }
  });

  test('--format mermaid: a flowchart whose edges all join declared nodes with safe ids', async () => {
    const r = await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--format', 'mermaid');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart TD');
    const declared = new Set<string>();
    const edges: [string, string, string][] = [];
    for (const line of lines.slice(1).map((l) => l.trim())) {
      if (line.startsWith('%%') || line.startsWith('classDef') || line.startsWith('class ')) continue;
      const node = /^([A-Za-z][A-Za-z0-9_]*)(\["[^"]*"\]|\[\("[^"]*"\)\])$/.exec(line);
      const edge = /^([A-Za-z][A-Za-z0-9_]*) (-->|-\.->)\|"([^"]*)"\| ([A-Za-z][A-Za-z0-9_]*)$/.exec(line);
      if (node !== null) declared.add(node[1]!);
      else if (edge !== null) edges.push([edge[1]!, edge[4]!, edge[3]!]);
      else throw new Error(`unexpected Mermaid line: ${line}`);
    }
    expect([...declared].filter((d) => d.startsWith('t_'))).toHaveLength(18);
    expect([...declared].filter((d) => d.startsWith('r_'))).toHaveLength(4);
    expect(edges).toHaveLength(4 + 8 + 8 + 4 + 1);
    for (const [a, b] of edges) {
      expect(declared.has(a)).toBe(true);
      expect(declared.has(b)).toBe(true);
    }
    expect(edges.filter((e) => /^batch [0-9a-f-]{36}$/.test(e[2]))).toHaveLength(4);
    // '#' in labels is written as an entity, so "row #0" cannot be read as one
    expect(r.out).toContain('row #35;0');
    expect(r.out).toContain(`class t_${sinkToken.replace(/-/g, '_')} target;`);
  });

  test('--row by index or id returns every path; --sink filters them', async () => {
    const byIndex = await cli('explain', '--store', store, '--run', runId, '--row', '3', '--format', 'json');
    expect(byIndex.code).toBe(0);
    const r = JSON.parse(byIndex.out);
    expect(r.paths).toHaveLength(2);
    const byId = await cli('explain', '--store', store, '--run', runId, '--row', r.row.rowId, '--format', 'json');
    expect(JSON.parse(byId.out).paths.map((p: { tokenId: string }) => p.tokenId)).toEqual(r.paths.map((p: { tokenId: string }) => p.tokenId));
    const text = await cli('explain', '--store', store, '--run', runId, '--row', '3');
    expect(text.out).toMatch(/^Row #3 [0-9a-f-]{36} \(run [0-9a-f-]{36} as of seq \d+\): 2 paths/);
    expect(text.out).toContain('routed → errors');
    expect(text.out).toContain('failed');
    const errorsOnly = await cli('explain', '--store', store, '--run', runId, '--row', '3', '--sink', 'errors', '--format', 'json');
    expect(JSON.parse(errorsOnly.out).paths).toHaveLength(1);
    const dot = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--format', 'dot');
    const g = readDot(dot.out);
    // four lines of the summary, all leading back to rows 0, 1, 2 and 4
    expect([...g.nodes.keys()].filter((k) => k.startsWith('token:'))).toHaveLength(21);
    expect([...g.nodes.keys()].filter((k) => k.startsWith('row:'))).toHaveLength(4);
  });

  test('--descendants: what became of a row', async () => {
    const r = await cli('explain', '--store', store, '--run', runId, '--row', '1', '--descendants', '--format', 'json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.tokens).toHaveLength(9);
    expect(d.outputs).toHaveLength(4);
    const text = await cli('explain', '--store', store, '--run', runId, '--row', '1', '--descendants');
    expect(text.out).toContain('What became of row #1');
    expect(text.out).toMatch(/into expand group [0-9a-f-]{36}: 4 tokens/);
    expect(text.out).toMatch(/batch [0-9a-f-]{36}: .* \(rows #0, #1, #2, #4\)/);
    const dot = await cli('explain', '--store', store, '--run', runId, '--row', '1', '--descendants', '--format', 'dot');
    expect(readDot(dot.out).nodes.size).toBe(10);
  });

  test('--as-of: before the first coalesce, row 0 ends in its two branch tokens', async () => {
    const ledger = await openLedger({ store });
    const events = await runEvents(ledger, runId);
    await ledger.close();
    const coalesce = ofType(events, 'TokensCoalesced')[0]!;
    const seq = coalesce.seq - 1;
    const before = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--format', 'json', '--as-of', String(seq));
    expect(before.code).toBe(0);
    const r = JSON.parse(before.out);
    expect(r.asOf.seq).toBe(seq);
    expect(r.paths).toHaveLength(2);
    for (const p of r.paths) expect(p.tokens.map((t: { tokenId: string }) => t.tokenId)).not.toContain(coalesce.data.mergedTokenId);
    const missing = await cli('explain', '--store', store, '--run', runId, '--token', coalesce.data.mergedTokenId, '--as-of', String(seq));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('TOKEN_NOT_FOUND');
    // as of a time: the coalesce's own time includes it
    const byTime = await cli('explain', '--store', store, '--run', runId, '--token', coalesce.data.mergedTokenId, '--as-of', coalesce.recordedAt, '--format', 'json');
    expect(byTime.code).toBe(0);
    expect(JSON.parse(byTime.out).tokens[0].tokenId).toBe(coalesce.data.mergedTokenId);
  });

  test('usage errors exit 2; failed lookups exit 1 with the code', async () => {
    expect((await cli('explain', '--store', store, '--run', runId)).code).toBe(2);
    expect((await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--row', '0')).code).toBe(2);
    expect((await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--sink', 'main')).code).toBe(2);
    expect((await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--format', 'svg')).code).toBe(2);
    expect((await cli('explain', '--store', store, '--run', runId, '--token', sinkToken, '--as-of', 'soon')).code).not.toBe(0);
    const noToken = await cli('explain', '--store', store, '--run', runId, '--token', '00000000-0000-4000-8000-000000000000');
    expect(noToken.code).toBe(1);
    expect(noToken.err).toContain('TOKEN_NOT_FOUND');
    const noRow = await cli('explain', '--store', store, '--run', runId, '--row', '9');
    expect(noRow.code).toBe(1);
    expect(noRow.err).toContain('ROW_NOT_FOUND');
    const noRun = await cli('explain', '--store', store, '--run', '00000000-0000-4000-8000-000000000000', '--row', '0');
    expect(noRun.code).toBe(1);
    expect(noRun.err).toContain('RUN_NOT_FOUND');
    const help = await cli('explain', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--format <format>');
  });

  test('--json is --format json; with another --format it is a usage error', async () => {
    const viaFormat = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--format', 'json');
    const viaJson = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--json');
    expect(viaJson.code).toBe(0);
    expect(viaJson.out).toBe(viaFormat.out);
    expect((await cli('explain', '--store', store, '--run', runId, '--row', '0', '--json', '--format', 'json')).out).toBe(viaFormat.out);
    const both = await cli('explain', '--store', store, '--run', runId, '--row', '0', '--json', '--format', 'dot');
    expect(both.code).toBe(2);
    expect(JSON.parse(both.out)).toEqual({ error: { code: 'USAGE', message: '--json is --format json, not --format dot' } });
  });

  test('latest resolves to the most recent run', async () => {
    const r = await cli('explain', '--store', store, '--run', 'latest', '--row', '0', '--format', 'json');
    expect(JSON.parse(r.out).runId).toBe(runId);
  });
});
