/**
 * Renderers for lineage results: a readable text tree, Graphviz DOT and
 * Mermaid flowcharts of the lineage graph, and the text of the audit check and
 * of a replay snapshot.
 *
 * Graphs: one node per token (labelled with its short id, row index, branch,
 * outcome and its node states with node plugin names) and per source row
 * (index, id, hash); edges follow the data (source row → token, parent →
 * child), labelled with the group kind and the full group id. Graph node ids
 * carry the full entity ids.
 */
import type { CheckResult } from './check';
import type { Descendants, ExplainedRow, ExplainedState, ExplainedToken, LineageEdge, RowExplanation, TokenExplanation } from './explain';
import type { RunSnapshot } from './snapshot';

// ---------------------------------------------------------------------------
// A graph model shared by DOT and Mermaid

interface GraphToken {
  readonly tokenId: string;
  readonly lines: string[];
  readonly highlight: boolean;
}

interface GraphRow {
  readonly rowId: string;
  readonly lines: string[];
  /** Tokens of the row that have no parents (the source edge goes to them). */
  readonly rootTokenIds: string[];
}

export interface LineageGraph {
  readonly title: string;
  readonly tokens: GraphToken[];
  readonly rows: GraphRow[];
  readonly edges: LineageEdge[];
}

/**
 * A short form of an id for graph labels: its last 8 hex digits (the ledger's
 * UUID v7 ids share their leading, time-ordered digits within a run; the
 * tail is random). Graph node ids always carry the full id.
 */
export function shortId(id: string): string {
  return `…${id.replace(/-/g, '').slice(-8)}`;
}

function outcomeText(o: { outcome: string; sinkName: string | null } | null, terminal: boolean): string {
  if (o === null) return 'no outcome yet';
  const sink = o.sinkName !== null ? ` → ${o.sinkName}` : '';
  return terminal ? `${o.outcome}${sink}` : `${o.outcome}${sink} (not terminal)`;
}

function stateLine(s: { stepIndex: number; nodeName: string | null; nodeId: string; attempt: number; status: string }, extra = ''): string {
  return `#${s.stepIndex} ${s.nodeName ?? s.nodeId}${s.attempt > 0 ? ` (attempt ${s.attempt})` : ''}: ${s.status}${extra}`;
}

/** A payload entry's status for the text output (with the reason of an integrity error). */
function payloadStatus(p: { status: string; reason?: string } | undefined): string {
  if (p === undefined) return 'unknown';
  return p.reason !== undefined ? `${p.status}: ${p.reason}` : p.status;
}

function callSummary(s: ExplainedState): string {
  if (s.calls.length === 0) return '';
  const types = s.calls.map((c) => `${c.callType}${c.status === 'error' ? ' error' : ''}`);
  return `, call${s.calls.length === 1 ? '' : 's'}: ${types.join(', ')}`;
}

function tokenLines(t: ExplainedToken): string[] {
  const lines = [`token ${shortId(t.tokenId)}`];
  const where = [`row #${t.rowIndex ?? '?'}`];
  if (t.branchName !== null) where.push(`branch ${t.branchName}`);
  lines.push(where.join(' · '));
  lines.push(outcomeText(t.outcome, t.terminal));
  for (const s of t.states) lines.push(stateLine(s, callSummary(s)));
  return lines;
}

function rowLines(r: ExplainedRow): string[] {
  return [`source row #${r.rowIndex}`, `row ${shortId(r.rowId)}${r.quarantined ? ' (quarantined)' : ''}`, `sha256 ${r.sourceDataHash.slice(0, 16)}…`];
}

function dedupeEdges(edges: Iterable<LineageEdge>): LineageEdge[] {
  const seen = new Set<string>();
  const out: LineageEdge[] = [];
  for (const e of edges) {
    const key = `${e.parentTokenId}>${e.childTokenId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

function graphOf(title: string, explanations: readonly TokenExplanation[], extraRows: readonly ExplainedRow[] = []): LineageGraph {
  const tokens = new Map<string, ExplainedToken>();
  const rows = new Map<string, ExplainedRow>();
  const targets = new Set(explanations.map((e) => e.tokenId));
  for (const e of explanations) {
    for (const t of e.tokens) if (!tokens.has(t.tokenId)) tokens.set(t.tokenId, t);
    for (const r of e.sourceRows) rows.set(r.rowId, r);
  }
  for (const r of extraRows) rows.set(r.rowId, r);
  const roots = new Map<string, string[]>();
  for (const t of tokens.values()) {
    if (t.parents.length > 0) continue;
    const list = roots.get(t.rowId) ?? [];
    list.push(t.tokenId);
    roots.set(t.rowId, list);
  }
  return {
    title,
    tokens: [...tokens.values()].map((t) => ({ tokenId: t.tokenId, lines: tokenLines(t), highlight: targets.has(t.tokenId) })),
    rows: [...rows.values()].sort((a, b) => a.rowIndex - b.rowIndex).map((r) => ({ rowId: r.rowId, lines: rowLines(r), rootTokenIds: roots.get(r.rowId) ?? [] })),
    edges: dedupeEdges(explanations.flatMap((e) => e.edges)),
  };
}

export function graphOfToken(e: TokenExplanation): LineageGraph {
  return graphOf(`lineage of token ${e.tokenId} (run ${e.runId}, seq ${e.asOf.seq})`, [e]);
}

export function graphOfRow(r: RowExplanation): LineageGraph {
  return graphOf(`lineage of row #${r.row.rowIndex} ${r.row.rowId}${r.sink !== null ? ` to sink ${r.sink}` : ''} (run ${r.runId}, seq ${r.asOf.seq})`, r.paths, [r.row]);
}

export function graphOfDescendants(d: Descendants): LineageGraph {
  const from = d.from.tokenId !== null ? `token ${d.from.tokenId}` : `row #${d.from.rowIndex ?? '?'} ${d.from.rowId ?? ''}`;
  const outputs = new Set(d.outputs);
  const tokens: GraphToken[] = d.tokens.map((t) => {
    const lines = [`token ${shortId(t.tokenId)}`, [`row #${t.rowIndex ?? '?'}`, ...(t.branchName !== null ? [`branch ${t.branchName}`] : [])].join(' · '), outcomeText(t.outcome, t.terminal)];
    for (const s of t.states) lines.push(stateLine(s));
    return { tokenId: t.tokenId, lines, highlight: outputs.has(t.tokenId) };
  });
  const rows: GraphRow[] = [];
  if (d.from.tokenId === null && d.from.rowId !== null) {
    rows.push({
      rowId: d.from.rowId,
      lines: [`source row #${d.from.rowIndex ?? '?'}`, `row ${shortId(d.from.rowId)}`],
      rootTokenIds: d.tokens.filter((t) => t.depth === 0).map((t) => t.tokenId),
    });
  }
  return { title: `descendants of ${from} (run ${d.runId}, seq ${d.asOf.seq})`, tokens, rows, edges: d.edges };
}

// ---------------------------------------------------------------------------
// DOT

/** A DOT double-quoted string: backslashes and quotes escaped, line breaks as \n. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

function dotLabel(lines: readonly string[]): string {
  // \l left-justifies each line in Graphviz; the escaping of the text comes first
  return `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, ' ')).join('\\l')}\\l"`;
}

function edgeLabel(e: LineageEdge): string {
  return e.groupKind === null ? 'parent (no group)' : `${e.groupKind} ${e.groupId ?? ''}`.trim();
}

export function renderDot(g: LineageGraph): string {
  const out: string[] = [];
  out.push('digraph lineage {');
  out.push(`  graph [label=${dotString(g.title)}, labelloc=t, rankdir=TB, fontname="Helvetica", fontsize=11];`);
  out.push('  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];');
  out.push('  edge [fontname="Helvetica", fontsize=9];');
  for (const r of g.rows) out.push(`  ${dotString(`row:${r.rowId}`)} [shape=cylinder, label=${dotLabel(r.lines)}];`);
  for (const t of g.tokens) {
    const style = t.highlight ? ', penwidth=2, color="#1f5fa8"' : '';
    out.push(`  ${dotString(`token:${t.tokenId}`)} [label=${dotLabel(t.lines)}${style}];`);
  }
  for (const r of g.rows) for (const t of r.rootTokenIds) out.push(`  ${dotString(`row:${r.rowId}`)} -> ${dotString(`token:${t}`)} [label="source", style=dashed];`);
  for (const e of g.edges) {
    out.push(`  ${dotString(`token:${e.parentTokenId}`)} -> ${dotString(`token:${e.childTokenId}`)} [label=${dotString(edgeLabel(e))}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// Mermaid

/** Text safe inside a Mermaid double-quoted label (entity codes for the characters Mermaid parses). */
export function mermaidText(s: string): string {
  return s.replace(/[#&"<>]/g, (c) => `#${c.charCodeAt(0)};`).replace(/\r?\n/g, ' ');
}

/** A Mermaid node id for an entity id: letters, digits and underscores only. */
export function mermaidId(prefix: 't' | 'r', id: string): string {
  return `${prefix}_${id.replace(/[^A-Za-z0-9]/g, '_')}`;
}

export function renderMermaid(g: LineageGraph): string {
  const out: string[] = [];
  out.push('flowchart TD');
  out.push(`  %% ${g.title.replace(/[\r\n]/g, ' ')}`);
  for (const r of g.rows) out.push(`  ${mermaidId('r', r.rowId)}[("${r.lines.map(mermaidText).join('<br/>')}")]`);
  for (const t of g.tokens) out.push(`  ${mermaidId('t', t.tokenId)}["${t.lines.map(mermaidText).join('<br/>')}"]`);
  for (const r of g.rows) for (const t of r.rootTokenIds) out.push(`  ${mermaidId('r', r.rowId)} -.->|"source"| ${mermaidId('t', t)}`);
  for (const e of g.edges) out.push(`  ${mermaidId('t', e.parentTokenId)} -->|"${mermaidText(edgeLabel(e))}"| ${mermaidId('t', e.childTokenId)}`);
  const highlighted = g.tokens.filter((t) => t.highlight).map((t) => mermaidId('t', t.tokenId));
  if (highlighted.length > 0) {
    out.push('  classDef target stroke-width:3px,stroke:#1f5fa8;');
    out.push(`  class ${highlighted.join(',')} target;`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// Text tree

interface TreeNode {
  readonly text: string;
  readonly children: TreeNode[];
}

function drawTree(node: TreeNode, prefix: string, out: string[]): void {
  node.children.forEach((child, k) => {
    const last = k === node.children.length - 1;
    out.push(`${prefix}${last ? '└─ ' : '├─ '}${child.text}`);
    drawTree(child, `${prefix}${last ? '   ' : '│  '}`, out);
  });
}

function ms(n: number | null): string {
  return n === null ? '' : `, ${n} ms`;
}

function stateNode(s: ExplainedState): TreeNode {
  const children: TreeNode[] = [];
  for (const c of s.calls) {
    children.push({
      text: `call ${c.callIndex}: ${c.callType} ${c.status}${ms(c.latencyMs)} · request ${c.requestHash} [${payloadStatus(c.requestPayload)}]${c.responseHash !== null ? ` · response ${c.responseHash} [${payloadStatus(c.responsePayload)}]` : ''} (call ${c.callId})`,
      children: [],
    });
  }
  for (const r of s.routing) {
    children.push({
      text: `routed to ${r.toNodeName ?? r.toNodeId ?? '?'} via ${r.label !== null ? `"${r.label}"` : `edge ${r.edgeId}`} (${r.mode}, routing group ${r.routingGroupId})`,
      children: [],
    });
  }
  if (s.errorJson !== null) children.push({ text: `error: ${JSON.stringify(s.errorJson)}`, children: [] });
  for (const a of s.artifactIds) children.push({ text: `wrote artifact ${a}`, children: [] });
  const type = s.nodeType !== null ? ` (${s.nodeType})` : '';
  return {
    text: `state ${s.nodeName ?? s.nodeId}${type} step ${s.stepIndex} attempt ${s.attempt}: ${s.status}${ms(s.durationMs)} (state ${s.stateId})`,
    children,
  };
}

function tokenHeadline(t: ExplainedToken): string {
  const parts = [`token ${t.tokenId}`, `row #${t.rowIndex ?? '?'}`];
  if (t.branchName !== null) parts.push(`branch ${t.branchName}`);
  let outcome = outcomeText(t.outcome, t.terminal);
  if (t.outcomes.length > 1) outcome += ` (outcomes: ${t.outcomes.map((o) => o.outcome).join(' → ')})`;
  parts.push(outcome);
  return parts.join(' · ');
}

function explanationTree(e: TokenExplanation): TreeNode {
  const byId = new Map(e.tokens.map((t) => [t.tokenId, t]));
  const rows = new Map(e.sourceRows.map((r) => [r.rowId, r]));
  const batches = new Map(e.batches.map((b) => [b.batchId, b]));
  const shown = new Set<string>();
  const build = (tokenId: string, prefix: string): TreeNode => {
    const t = byId.get(tokenId);
    if (t === undefined) return { text: `${prefix}token ${tokenId} (missing)`, children: [] };
    if (shown.has(tokenId)) return { text: `${prefix}token ${tokenId} (shown above)`, children: [] };
    shown.add(tokenId);
    const children: TreeNode[] = t.states.map(stateNode);
    for (const te of t.transformErrors) children.push({ text: `transform error at ${te.transformId} → ${te.destination}: ${JSON.stringify(te.errorDetailsJson)}`, children: [] });
    if (t.parents.length === 0) {
      const r = rows.get(t.rowId);
      if (r !== undefined) {
        const rowChildren: TreeNode[] = r.validationErrors.map((v) => ({ text: `validation error: ${v.error} → ${v.destination}`, children: [] }));
        children.push({
          text: `source row #${r.rowIndex} ${r.rowId} from ${r.sourceNodeName ?? r.sourceNodeId}: sha256 ${r.sourceDataHash}${r.quarantined ? ' (quarantined)' : ''}${` · payload ${payloadStatus(r.payload)}`}`,
          children: rowChildren,
        });
      }
    } else {
      const kind = t.parents[0]!.groupKind;
      const groupId = t.parents[0]!.groupId;
      let head: string;
      if (kind === 'batch' && groupId !== null) {
        const b = batches.get(groupId);
        head = `from batch ${groupId}${b !== undefined ? ` (${b.aggregationNodeName ?? b.aggregationNodeId}, ${b.status}${b.triggerType !== null ? `, trigger ${b.triggerType}` : ''})` : ''}: ${t.parents.length} member${t.parents.length === 1 ? '' : 's'}`;
      } else if (kind !== null) {
        head = `from ${kind} group ${groupId ?? '?'}: ${t.parents.length} parent${t.parents.length === 1 ? '' : 's'}`;
      } else {
        head = `from ${t.parents.length} parent${t.parents.length === 1 ? '' : 's'} (no group id)`;
      }
      children.push({ text: head, children: t.parents.map((p) => build(p.parentTokenId, t.parents.length > 1 ? `[${p.ordinal}] ` : '')) });
    }
    return { text: `${prefix}${tokenHeadline(t)}`, children };
  };
  return build(e.tokenId, '');
}

export function renderExplanationText(e: TokenExplanation): string {
  const out: string[] = [];
  out.push(`Lineage of token ${e.tokenId}`);
  out.push(`run ${e.runId} as of seq ${e.asOf.seq}${e.asOf.recordedAt !== null ? ` (${e.asOf.recordedAt})` : ''}`);
  const rows = e.sourceRows.map((r) => `#${r.rowIndex}`).join(', ');
  const kinds = new Map<string, number>();
  for (const g of e.groups) kinds.set(g.kind, (kinds.get(g.kind) ?? 0) + 1);
  const crossed = [...kinds.entries()].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  out.push(`${e.tokens.length} token${e.tokens.length === 1 ? '' : 's'} back to ${e.sourceRows.length} source row${e.sourceRows.length === 1 ? '' : 's'} (${rows}); groups crossed: ${crossed}`);
  out.push('');
  const tree = explanationTree(e);
  out.push(tree.text);
  drawTree(tree, '', out);
  if (e.problems.length > 0) {
    out.push('');
    out.push('Lineage problems:');
    for (const p of e.problems) out.push(`  ${p.message}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderRowExplanationText(r: RowExplanation): string {
  const out: string[] = [];
  out.push(`Row #${r.row.rowIndex} ${r.row.rowId} (run ${r.runId} as of seq ${r.asOf.seq}): ${r.paths.length} path${r.paths.length === 1 ? '' : 's'}${r.sink !== null ? ` to sink ${r.sink}` : ''}`);
  r.paths.forEach((p, k) => {
    const t = p.tokens[0]!;
    out.push(`  ${k + 1}. token ${p.tokenId}: ${outcomeText(t.outcome, t.terminal)}`);
  });
  for (const p of r.paths) {
    out.push('');
    out.push(renderExplanationText(p).trimEnd());
  }
  return `${out.join('\n')}\n`;
}

export function renderDescendantsText(d: Descendants): string {
  const out: string[] = [];
  const from = d.from.tokenId !== null ? `token ${d.from.tokenId}` : `row #${d.from.rowIndex ?? '?'} ${d.from.rowId ?? ''}`;
  out.push(`What became of ${from} (run ${d.runId} as of seq ${d.asOf.seq}): ${d.tokens.length} tokens, ${d.outputs.length} path end${d.outputs.length === 1 ? '' : 's'}`);
  const byId = new Map(d.tokens.map((t) => [t.tokenId, t]));
  const shown = new Set<string>();
  const build = (id: string): TreeNode => {
    const t = byId.get(id)!;
    const head = [`token ${t.tokenId}`, `row #${t.rowIndex ?? '?'}`, ...(t.branchName !== null ? [`branch ${t.branchName}`] : []), outcomeText(t.outcome, t.terminal)].join(' · ');
    if (shown.has(id)) return { text: `${head} (shown above)`, children: [] };
    shown.add(id);
    const children: TreeNode[] = t.states.map((s) => ({ text: `state ${stateLine(s)}`, children: [] }));
    const kids = t.childTokenIds.filter((c) => byId.has(c));
    if (kids.length > 0) {
      const first = byId.get(kids[0]!)!;
      const cb = first.createdBy;
      const head2 = cb !== null && cb.groupKind !== null ? `into ${cb.groupKind} group ${cb.groupId}` : 'into';
      children.push({ text: `${head2}: ${kids.length} token${kids.length === 1 ? '' : 's'}`, children: kids.map(build) });
    }
    return { text: head, children };
  };
  for (const t of d.tokens.filter((x) => x.depth === 0)) {
    out.push('');
    const tree = build(t.tokenId);
    out.push(tree.text);
    drawTree(tree, '', out);
  }
  if (d.groups.length > 0) {
    out.push('');
    out.push('Groups:');
    for (const g of d.groups) {
      out.push(
        `  ${g.kind} ${g.groupId}: parents ${g.parentTokenIds.join(', ') || 'none'} → children ${g.childTokenIds.join(', ') || 'none'} (rows ${g.rows.map((r) => `#${r.rowIndex ?? '?'}`).join(', ')})`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// check and replay

export function renderCheckText(c: CheckResult): string {
  const out: string[] = [];
  const counted = c.counted;
  const swept = `${counted.tokens} tokens, ${counted.outcomes} outcomes, ${counted.nodeStates} node states, ${counted.groups} groups, ${counted.batches} batches, ${counted.artifacts} artifacts, ${counted.calls} calls, ${counted.operations} operations`;
  const head = `run ${c.runId} (status ${c.runStatus ?? 'unknown'}, as of seq ${c.asOf.seq})`;
  if (c.ok) {
    out.push(`OK: ${head}: every token accounted for; swept ${swept}`);
    return `${out.join('\n')}\n`;
  }
  out.push(`FAILED: ${head}: ${c.violations.length} violation${c.violations.length === 1 ? '' : 's'}; swept ${swept}`);
  out.push('');
  for (const v of c.violations) out.push(`${v.code}: ${v.message}`);
  out.push('');
  out.push(
    `by code: ${Object.entries(c.byCode)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  return `${out.join('\n')}\n`;
}

export function renderSnapshotText(s: RunSnapshot): string {
  const out: string[] = [];
  out.push(`run ${s.runId} as of seq ${s.seq}${s.recordedAt !== null ? ` (recorded ${s.recordedAt})` : ''}`);
  out.push(`status: ${s.status ?? 'not started'}${s.startedAt !== null ? `, started ${s.startedAt}` : ''}${s.completedAt !== null ? `, ended ${s.completedAt}` : ''}`);
  out.push('counts:');
  const width = Math.max(...Object.keys(s.counts).map((k) => k.length));
  for (const [k, n] of Object.entries(s.counts)) out.push(`  ${k.padEnd(width)}  ${n}`);
  const list = (name: string, ids: readonly string[]): void => {
    out.push(`${name}: ${ids.length}`);
    for (const id of ids) out.push(`  ${id}`);
  };
  list('unfinished tokens', s.unfinishedTokens);
  list('unfinished node states', s.unfinishedStates);
  list('open operations', s.openOperations);
  list('open batches', s.openBatches);
  return `${out.join('\n')}\n`;
}
