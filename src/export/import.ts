/**
 * Import: rebuild a run in a store from a verified export alone.
 *
 * 1. The export is verified exactly as `verifyExport` does (same options: key, --no-signature,
 *    expected run); a problem refuses the import (IMPORT_FAILED, naming it) and nothing is written.
 * 2. Every record is decoded against its entity codec.
 * 3. Events are synthesised whose fold gives exactly the exported state: one event per fact
 *    (RunStarted, NodeRegistered, RowCreated, TokenCreated / TokenForked / TokenExpanded /
 *    TokensCoalesced / BatchOutputsProduced, NodeStateOpened + its completion, ...), each with the
 *    timestamp its record carries as `recordedAt`, fresh event ids and seq = position in the stream.
 *    Within a block the export orders entities by creation, so the events are ordered by a
 *    topological sort (Kahn, smallest record position first) of: causal edges (an event after the
 *    entities it names) and block-order edges (consecutive records of one block are created in
 *    their order). The original log is one valid order, so an order always exists for an export
 *    of an anomaly-free run; a cycle is reported, never half-imported.
 * 4. The events are folded in memory and re-exported: if the records, chain head or Merkle root
 *    differ from the export's, the import is refused with the first differing record, before
 *    anything is written.
 * 5. All events are appended in ONE append to the new stream `run-<runId>` (expected revision
 *    no_stream): a run that exists already fails with DUPLICATE_ID and the store is unchanged; an
 *    append is atomic on every adapter. On EventStoreDB one append is limited by the server's
 *    MaxAppendSize (1 MiB by default): a larger run is refused with APPEND_TOO_LARGE, never split.
 * 6. The run is read back from the store and exported once more; a difference (which would be a
 *    bug) fails loudly with IMPORT_FAILED saying that the run has been written.
 *
 * The imported run's event history is a reconstruction: its final state (and so its export
 * records, chain head and root) is identical, but it has other event ids, fewer events (a
 * node state that went pending then completed is one completion), and time travel (`--as-of`)
 * on it shows the reconstructed history. Its manifest's last_seq is that of the new stream.
 */
import { randomUUID } from 'node:crypto';
import { isLeft } from 'fp-ts/Either';
import { stableHash } from '../canonical/hash';
import { canonicalize } from '../canonical/jcs';
import { EVENT_CATALOGUE, EventDataOf, EventType, TERMINAL_RUN_STATUSES } from '../events/catalogue';
import { firstError } from '../events/codecs';
import { LedgerEvent, runStreamId } from '../events/envelope';
import { toProposedEvent } from '../store/events';
import { isLedgerError, ledgerError } from '../errors';
import type { EventStore } from '../store/port';
import { ENTITY_CODECS, EntityOf, RecordType, RECORD_TYPES } from '../projections/entities';
import { foldEvents } from '../projections/evolve';
import { emptyRunState, RunState } from '../projections/state';
import { describeRecord, digestRecords, ExportManifest, RecordsDigest } from './bundle';
import { RECORD_FIELDS, recordFieldNames, runRecords } from './records';
import { verifyExport, VerifyOptions, VerifyReport } from './verify';

export interface ImportOptions extends Omit<VerifyOptions, 'onRecord'> {
  /** Event id generator. Default crypto.randomUUID. */
  readonly newId?: () => string;
}

export interface ImportResult {
  readonly runId: string;
  readonly events: number;
  readonly records: number;
  readonly chainHead: string;
  readonly merkleRoot: string;
  readonly report: VerifyReport;
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw ledgerError('IMPORT_FAILED', message, details);
}

/** Where an import writes a run (a Ledger is one): the event store, and a read of the run written. */
export interface ImportTarget {
  readonly store: EventStore;
  loadRun(runId: string): Promise<RunState>;
}

/** Verifies an export and rebuilds its run in the target's store (see the module comment). */
export async function importExport(ledger: ImportTarget, exportPath: string, options: ImportOptions = {}): Promise<ImportResult> {
  const records: Record<string, unknown>[] = [];
  const report = await verifyExport(exportPath, { ...options, onRecord: (r) => records.push(r) });
  if (!report.ok || report.manifest === null) {
    fail(`${exportPath} did not verify, nothing was imported: ${report.problem ?? 'unknown problem'}`, { path: exportPath, checks: report.checks });
  }
  const manifest = report.manifest;
  const runId = manifest.run_id;
  const streamId = runStreamId(runId);
  if ((await ledger.store.streamRevision(streamId)) !== null) {
    throw ledgerError('DUPLICATE_ID', `run ${runId} already exists in the ${ledger.store.kind} store; nothing was imported`, { runId });
  }
  const events = synthesizeRunEvents(runId, records, { newId: options.newId ?? randomUUID });

  // Dry run: the events must give the exported records exactly, before anything is written.
  const state = foldEvents(emptyRunState(runId), events);
  if (state.anomalies.length > 0) {
    const a = state.anomalies[0]!;
    fail(`the events rebuilt from ${exportPath} fold with ${state.anomalies.length} anomalies (first: ${a.eventType}: ${a.message}); nothing was imported`, {
      anomalies: state.anomalies.slice(0, 20),
    });
  }
  const rebuilt = compareWithExport(state, manifest, records);
  if (rebuilt !== null) fail(`cannot rebuild the run from ${exportPath}: ${rebuilt}; nothing was imported`, { runId });

  try {
    await ledger.store.append(streamId, events.map(toProposedEvent), 'no_stream');
  } catch (e) {
    if (isLedgerError(e, 'CONCURRENCY_CONFLICT')) throw ledgerError('DUPLICATE_ID', `run ${runId} already exists in the ${ledger.store.kind} store; nothing was imported`, { runId });
    throw e;
  }

  // Read back from the store and export again.
  const stored = await ledger.loadRun(runId);
  const again = compareWithExport(stored, manifest, records);
  if (again !== null || stored.anomalies.length > 0) {
    fail(
      `run ${runId} WAS WRITTEN to the store, but reading it back does not give the export: ${again ?? `${stored.anomalies.length} anomalies`}. This is a bug; the imported run is not a faithful copy`,
      { runId, written: true },
    );
  }
  return { runId, events: events.length, records: records.length, chainHead: manifest.chain_head, merkleRoot: manifest.merkle_root, report };
}

/** null when the state's export is the manifest's (count, chain head, root); else the first difference. */
function compareWithExport(state: RunState, manifest: ExportManifest, records: readonly Record<string, unknown>[]): string | null {
  const d: RecordsDigest = digestRecords(state.runId, runRecords(state));
  if (d.recordCount === manifest.record_count && d.chainHead === manifest.chain_head && d.merkleRoot === manifest.merkle_root) return null;
  let i = 0;
  for (const r of runRecords(state)) {
    const want = records[i];
    if (want === undefined) return `the rebuilt run has more records than the export (${describeRecord(i, r)} is extra)`;
    if (canonicalize(r) !== canonicalize(want)) {
      const fields = [...new Set([...Object.keys(r), ...Object.keys(want)])].filter(
        (k) => canonicalize((r as Record<string, unknown>)[k] ?? null) !== canonicalize(want[k] ?? null),
      );
      return `${describeRecord(i, want)} comes out differently (fields ${fields.join(', ')}; rebuilt as ${describeRecord(i, r)})`;
    }
    i++;
  }
  if (i < records.length) return `the rebuilt run lacks ${describeRecord(i, records[i]!)} and the ${records.length - i - 1} after it`;
  return `the rebuilt records differ from the export (count ${d.recordCount}/${manifest.record_count}, root ${d.merkleRoot}/${manifest.merkle_root})`;
}

// ---------------------------------------------------------------------------
// Synthesis

type AnyEntity = EntityOf<RecordType>;

/** One BatchOutputsProduced event: output tokens (with their parent links), then artifact outputs. */
interface Segment {
  readonly tokens: number[];
  readonly artifacts: number[];
  readonly outputs: number[];
  readonly sig: string;
  /** Number of batch members the output tokens have as parents (-1: no tokens). */
  readonly prefix: number;
}

interface EvNode {
  readonly id: number;
  readonly type: EventType;
  readonly data: Record<string, unknown>;
  /** recordedAt, or null to take the previous event's. */
  readonly at: string | null;
  /** Smallest record position among the records it creates or changes (emission priority). */
  prio: number;
  /** Records it creates or changes (for messages). */
  readonly records: number[];
  /** Record positions whose creating events must come first. */
  readonly needs: number[];
  /** Record positions whose creating events must come after. */
  readonly before: number[];
  readonly succ: number[];
  indeg: number;
}

/** Turns a record back into its entity (exact fields, decoded by the entity codec). */
function toEntity(rt: RecordType, rec: Record<string, unknown>, index: number): AnyEntity {
  const allowed = new Set(recordFieldNames(rt));
  for (const k of Object.keys(rec)) if (!allowed.has(k)) fail(`${describeRecord(index, rec)} has a field ${k} that a ${rt} record does not have`, { index });
  const obj: Record<string, unknown> = {};
  for (const [key, field] of RECORD_FIELDS[rt]) {
    if (!Object.prototype.hasOwnProperty.call(rec, field)) fail(`${describeRecord(index, rec)} lacks its field ${field}`, { index });
    obj[key] = rec[field];
  }
  const d = (ENTITY_CODECS[rt] as unknown as { decode(u: unknown): ReturnType<(typeof ENTITY_CODECS)['run']['decode']> }).decode(obj);
  if (isLeft(d)) fail(`${describeRecord(index, rec)} is not a valid ${rt}: ${firstError(d.left).message}`, { index });
  return d.right as AnyEntity;
}

/**
 * Events whose fold gives exactly the state these records (in export order) describe.
 * Throws IMPORT_FAILED when the records cannot come from a fold (see the module comment).
 */
export function synthesizeRunEvents(runId: string, records: readonly Record<string, unknown>[], options: { newId?: () => string } = {}): LedgerEvent[] {
  const newId = options.newId ?? randomUUID;
  const n = records.length;
  if (n === 0) fail('the export holds no records: there is no run to import');
  const types: RecordType[] = new Array<RecordType>(n);
  const ents: AnyEntity[] = new Array<AnyEntity>(n);
  const known = new Set<string>(RECORD_TYPES);
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    const rt = rec.record_type as RecordType;
    if (!known.has(rt)) fail(`${describeRecord(i, rec)} has an unknown record type`, { index: i });
    if (rec.run_id !== runId) fail(`${describeRecord(i, rec)} belongs to run ${String(rec.run_id)}, not ${runId}`, { index: i });
    types[i] = rt;
    ents[i] = toEntity(rt, rec, i);
  }
  if (types[0] !== 'run') fail(`${describeRecord(0, records[0]!)} is not the run record: an export starts with its run`);
  for (let i = 1; i < n; i++) if (types[i] === 'run') fail(`${describeRecord(i, records[i]!)} is a second run record`, { index: i });
  const ent = <R extends RecordType>(i: number): EntityOf<R> => ents[i] as EntityOf<R>;
  const run = ent<'run'>(0);

  // ---- indexes
  const byId = (rt: RecordType, key: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (let i = 0; i < n; i++) if (types[i] === rt) m.set((ents[i] as unknown as Record<string, string>)[key]!, i);
    return m;
  };
  const nodeIdx = byId('node', 'nodeId');
  const opIdx = byId('operation', 'operationId');
  const rowIdx = byId('row', 'rowId');
  const tokenIdx = byId('token', 'tokenId');
  const stateIdx = byId('node_state', 'stateId');
  const batchIdx = byId('batch', 'batchId');
  const artifactIdx = byId('artifact', 'artifactId');
  const parentsOf = new Map<string, number[]>();
  const outcomesOf = new Map<string, number[]>();
  const membersOf = new Map<string, number[]>();
  const outputsOf = new Map<string, number[]>();
  const groupTokens = { fork: new Map<string, number[]>(), expand: new Map<string, number[]>(), join: new Map<string, number[]>(), batch: new Map<string, number[]>() };
  const push = (m: Map<string, number[]>, k: string, v: number): void => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [v]);
    else l.push(v);
  };
  for (let i = 0; i < n; i++) {
    switch (types[i]) {
      case 'token_parent':
        push(parentsOf, ent<'token_parent'>(i).tokenId, i);
        break;
      case 'token_outcome':
        push(outcomesOf, ent<'token_outcome'>(i).tokenId, i);
        break;
      case 'batch_member':
        push(membersOf, ent<'batch_member'>(i).batchId, i);
        break;
      case 'batch_output':
        push(outputsOf, ent<'batch_output'>(i).batchId, i);
        break;
      case 'token': {
        const t = ent<'token'>(i);
        const kinds = [t.forkGroupId, t.expandGroupId, t.joinGroupId, t.batchId].filter((g) => g !== null).length;
        if (kinds > 1) fail(`${describeRecord(i, records[i]!)} names more than one of fork, expand, join group and batch: no event creates such a token`, { index: i });
        if (t.forkGroupId !== null) push(groupTokens.fork, t.forkGroupId, i);
        else if (t.expandGroupId !== null) push(groupTokens.expand, t.expandGroupId, i);
        else if (t.joinGroupId !== null) push(groupTokens.join, t.joinGroupId, i);
        else if (t.batchId !== null) push(groupTokens.batch, t.batchId, i);
        break;
      }
      default:
        break;
    }
  }
  const who = (i: number): string => describeRecord(i, records[i]!);

  // ---- nodes
  const nodes: EvNode[] = [];
  const creator = new Int32Array(n).fill(-1);
  const addNode = (type: EventType, data: Record<string, unknown>, at: string | null, created: number[], needs: number[] = []): EvNode => {
    const node: EvNode = { id: nodes.length, type, data, at, prio: Math.min(...created), records: created, needs, before: [], succ: [], indeg: 0 };
    nodes.push(node);
    for (const r of created) {
      if (creator[r] !== -1) fail(`${who(r)} would be created by two events (${nodes[creator[r]!]!.type} and ${type})`, { index: r });
      creator[r] = node.id;
    }
    return node;
  };
  /** A node that changes (does not create) records: runs after their creation. */
  const addChange = (type: EventType, data: Record<string, unknown>, at: string | null, changed: number): EvNode => {
    const node: EvNode = { id: nodes.length, type, data, at, prio: changed, records: [changed], needs: [changed], before: [], succ: [], indeg: 0 };
    nodes.push(node);
    return node;
  };
  const idx = (m: Map<string, number>, id: string | null): number[] => {
    if (id === null) return [];
    const i = m.get(id);
    return i === undefined ? [] : [i];
  };
  const outcomeOf = (tokenId: string, outcome: string, groupField: 'forkGroupId' | 'expandGroupId' | 'joinGroupId', groupId: string): number => {
    const list = (outcomesOf.get(tokenId) ?? []).filter((o) => {
      const e = ent<'token_outcome'>(o);
      return e.outcome === outcome && e[groupField] === groupId;
    });
    if (list.length !== 1) fail(`token ${tokenId} has ${list.length} ${outcome} outcomes for group ${groupId}; the event that creates the group records exactly one`, { tokenId, groupId });
    return list[0]!;
  };
  const parentLinks = (tokenRecord: number): number[] => parentsOf.get(ent<'token'>(tokenRecord).tokenId) ?? [];

  // Fork and expand groups: one event creates the children, their parent links and the parent's outcome.
  for (const kind of ['fork', 'expand'] as const) {
    for (const [groupId, unordered] of groupTokens[kind]) {
      // in the order of their parent links' ordinals (the position of each child in the group)
      const linkOrdinal = (c: number): number => Math.min(...parentLinks(c).map((l) => ent<'token_parent'>(l).ordinal));
      const children = [...unordered].sort((a, b) => linkOrdinal(a) - linkOrdinal(b));
      const first = ent<'token'>(children[0]!);
      const links = children.flatMap(parentLinks);
      const parentIds = new Set(links.map((l) => ent<'token_parent'>(l).parentTokenId));
      if (links.length !== children.length || parentIds.size !== 1) {
        fail(`${kind} group ${groupId}: every child must have exactly one parent, the same for all (${who(children[0]!)})`, { groupId });
      }
      const parentTokenId = [...parentIds][0]!;
      const outcome = outcomeOf(parentTokenId, kind === 'fork' ? 'forked' : 'expanded', kind === 'fork' ? 'forkGroupId' : 'expandGroupId', groupId);
      const o = ent<'token_outcome'>(outcome);
      const late = o.recordedAt !== first.createdAt && o.recordedAt !== null ? { outcomeRecordedAt: o.recordedAt } : {};
      const data =
        kind === 'fork'
          ? {
              parentTokenId,
              rowId: first.rowId,
              forkGroupId: groupId,
              stepInPipeline: first.stepInPipeline,
              children: children.map((c) => ({ tokenId: ent<'token'>(c).tokenId, branchName: ent<'token'>(c).branchName })),
              outcomeId: o.outcomeId,
              contextJson: o.contextJson,
              ...late,
            }
          : {
              parentTokenId,
              rowId: first.rowId,
              expandGroupId: groupId,
              stepInPipeline: first.stepInPipeline,
              children: children.map((c) => ({ tokenId: ent<'token'>(c).tokenId })),
              outcomeId: o.outcomeId,
              contextJson: o.contextJson,
              ...late,
            };
      addNode(kind === 'fork' ? 'TokenForked' : 'TokenExpanded', data, first.createdAt, [...children, ...links, outcome], [...idx(tokenIdx, parentTokenId), ...idx(rowIdx, first.rowId)]);
    }
  }
  // Join groups: one merged token, its parent links and every parent's coalesced outcome.
  for (const [groupId, merged] of groupTokens.join) {
    if (merged.length !== 1) fail(`join group ${groupId} has ${merged.length} merged tokens; a coalesce creates one`, { groupId });
    const m = ent<'token'>(merged[0]!);
    const links = parentLinks(merged[0]!);
    if (links.length === 0) fail(`${who(merged[0]!)} is a merged token without parents`, { groupId });
    const outcomes = links.map((l) => outcomeOf(ent<'token_parent'>(l).parentTokenId, 'coalesced', 'joinGroupId', groupId));
    addNode(
      'TokensCoalesced',
      {
        mergedTokenId: m.tokenId,
        rowId: m.rowId,
        joinGroupId: groupId,
        stepInPipeline: m.stepInPipeline,
        branchName: m.branchName,
        parents: links.map((l, k) => {
          const o = ent<'token_outcome'>(outcomes[k]!);
          const late = o.recordedAt !== m.createdAt && o.recordedAt !== null ? { outcomeRecordedAt: o.recordedAt } : {};
          return { tokenId: ent<'token_parent'>(l).parentTokenId, outcomeId: o.outcomeId, stateId: null, durationMs: null, ...late };
        }),
        stateOutputHash: stableHash({ merged_into: m.tokenId }),
        contextJson: ent<'token_outcome'>(outcomes[0]!).contextJson,
      },
      m.createdAt,
      [merged[0]!, ...links, ...outcomes],
      [...links.flatMap((l) => idx(tokenIdx, ent<'token_parent'>(l).parentTokenId)), ...idx(rowIdx, m.rowId)],
    );
  }
  // Batch outputs: runs of token outputs (same time, step and parents) followed by artifact outputs.
  for (const [batchId, outputs] of outputsOf) {
    const members = membersOf.get(batchId) ?? [];
    const memberKeys = members.map((k) => `${ent<'batch_member'>(k).tokenId}#${ent<'batch_member'>(k).ordinal}`);
    const outTokens = new Set<number>();
    const outputGroup = new Map<string, string | null>();
    for (const o of outputs) outputGroup.set(ent<'batch_output'>(o).outputId, ent<'batch_output'>(o).expandGroupId);
    let cur: Segment | null = null;
    const segments: Segment[] = [];
    for (const o of outputs) {
      const out = ent<'batch_output'>(o);
      if (out.outputType === 'token') {
        const t = tokenIdx.get(out.outputId);
        if (t === undefined || ent<'token'>(t).batchId !== batchId) fail(`${who(o)} names token ${out.outputId}, which is not an output token of batch ${batchId}`, { index: o });
        outTokens.add(t);
        const tok = ent<'token'>(t);
        const links = parentLinks(t);
        const keys = links.map((l) => `${ent<'token_parent'>(l).parentTokenId}#${ent<'token_parent'>(l).ordinal}`);
        if (keys.length > memberKeys.length || keys.some((k, j) => memberKeys[j] !== k)) {
          fail(`${who(t)}: its parents are not the first members of batch ${batchId}, as a batch output's parents always are`, { index: t });
        }
        const sig = `${tok.createdAt}|${String(tok.stepInPipeline)}|${keys.length}`;
        if (cur === null || cur.artifacts.length > 0 || cur.sig !== sig) {
          cur = { tokens: [], artifacts: [], outputs: [], sig, prefix: keys.length };
          segments.push(cur);
        }
        cur.tokens.push(t, ...links);
        cur.outputs.push(o);
      } else {
        if (cur === null) {
          cur = { tokens: [], artifacts: [], outputs: [], sig: '', prefix: -1 };
          segments.push(cur);
        }
        cur.artifacts.push(o);
        cur.outputs.push(o);
      }
    }
    for (const t of groupTokens.batch.get(batchId) ?? []) if (!outTokens.has(t)) fail(`${who(t)} names batch ${batchId} but is not among its outputs`, { index: t });
    for (const s of segments) {
      const toks = s.tokens.filter((r) => types[r] === 'token');
      const first = toks.length > 0 ? ent<'token'>(toks[0]!) : null;
      const node = addNode(
        'BatchOutputsProduced',
        {
          batchId,
          stepInPipeline: first === null ? null : first.stepInPipeline,
          tokens: toks.map((t) => {
            const tok = ent<'token'>(t);
            const eg = outputGroup.get(tok.tokenId) ?? null;
            return eg === null ? { tokenId: tok.tokenId, rowId: tok.rowId } : { tokenId: tok.tokenId, rowId: tok.rowId, expandGroupId: eg };
          }),
          artifactIds: s.artifacts.map((a) => ent<'batch_output'>(a).outputId),
        },
        first === null ? null : first.createdAt,
        [...s.tokens, ...s.outputs],
        [
          ...idx(batchIdx, batchId),
          ...toks.flatMap((t) => idx(rowIdx, ent<'token'>(t).rowId)),
          ...s.artifacts.flatMap((a) => idx(artifactIdx, ent<'batch_output'>(a).outputId)),
          ...(s.prefix > 0 ? [members[s.prefix - 1]!] : []),
        ],
      );
      if (s.prefix >= 0 && s.prefix < members.length) node.before.push(members[s.prefix]!);
    }
  }

  // ---- one pass in record order: the remaining events and the block-order chains
  const edges: Array<[number, number]> = [];
  const last = new Map<string, number>();
  const chain = (block: string, record: number): void => {
    const c = creator[record]!;
    const prev = last.get(block);
    if (prev !== undefined && prev !== c) edges.push([prev, c]);
    last.set(block, c);
  };
  let routing: { node: EvNode; key: string } | null = null;
  const completions: EvNode[] = [];
  for (let i = 1; i < n; i++) {
    const rt = types[i]!;
    if (rt !== 'routing_event') routing = null;
    switch (rt) {
      case 'secret_resolution': {
        const e = ent<'secret_resolution'>(i);
        addNode(
          'SecretsResolved',
          {
            resolutions: [
              {
                resolutionId: e.resolutionId,
                resolvedAt: e.timestamp,
                envVarName: e.envVarName,
                source: e.source,
                vaultUrl: e.vaultUrl,
                secretName: e.secretName,
                fingerprint: e.fingerprint,
                resolutionLatencyMs: e.resolutionLatencyMs,
              },
            ],
          },
          e.recordedAt,
          [i],
        );
        chain('secret_resolution', i);
        break;
      }
      case 'preflight_result': {
        const e = ent<'preflight_result'>(i);
        addNode('PreflightRecorded', { results: [{ resultId: e.resultId, resultType: e.resultType, name: e.name, resultJson: e.resultJson }] }, e.createdAt, [i]);
        chain('preflight_result', i);
        break;
      }
      case 'node': {
        const e = ent<'node'>(i);
        const { registeredAt, ...data } = e;
        addNode('NodeRegistered', data, registeredAt, [i]);
        chain('node', i);
        break;
      }
      case 'edge': {
        const e = ent<'edge'>(i);
        const { createdAt, ...data } = e;
        addNode('EdgeRegistered', data, createdAt, [i], [...idx(nodeIdx, e.fromNodeId), ...idx(nodeIdx, e.toNodeId)]);
        chain('edge', i);
        break;
      }
      case 'operation': {
        const e = ent<'operation'>(i);
        addNode(
          'OperationStarted',
          { operationId: e.operationId, nodeId: e.nodeId, operationType: e.operationType, inputDataHash: e.inputDataHash, inputDataRef: e.inputDataRef },
          e.startedAt,
          [i],
        );
        chain('operation', i);
        if (e.status !== 'open') {
          completions.push(
            addChange(
              'OperationCompleted',
              {
                operationId: e.operationId,
                status: e.status,
                outputDataHash: e.outputDataHash,
                outputDataRef: e.outputDataRef,
                errorMessage: e.errorMessage,
                durationMs: e.durationMs,
              },
              e.completedAt,
              i,
            ),
          );
        }
        break;
      }
      case 'call': {
        const e = ent<'call'>(i);
        const { createdAt, ...data } = e;
        addNode('CallRecorded', data, createdAt, [i], [...idx(stateIdx, e.stateId), ...idx(opIdx, e.operationId)]);
        chain(`call ${e.stateId ?? ''} ${e.operationId ?? ''}`, i);
        break;
      }
      case 'row': {
        const e = ent<'row'>(i);
        const { createdAt, ...data } = e;
        addNode('RowCreated', data, createdAt, [i]);
        break;
      }
      case 'token': {
        const e = ent<'token'>(i);
        if (creator[i] === -1) {
          if ((parentsOf.get(e.tokenId) ?? []).length > 0) fail(`${who(i)} has parents but no fork, expand, join or batch that would create them`, { index: i });
          addNode('TokenCreated', { tokenId: e.tokenId, rowId: e.rowId, branchName: e.branchName, stepInPipeline: e.stepInPipeline }, e.createdAt, [i], idx(rowIdx, e.rowId));
        }
        chain(`token ${e.rowId}`, i);
        break;
      }
      case 'token_parent': {
        if (creator[i] === -1) fail(`${who(i)} is a parent link that no token creation makes`, { index: i });
        break;
      }
      case 'token_outcome': {
        const e = ent<'token_outcome'>(i);
        if (creator[i] === -1) {
          const { recordedAt, isTerminal: _terminal, ...data } = e;
          addNode('TokenOutcomeRecorded', data, recordedAt, [i], idx(tokenIdx, e.tokenId));
        }
        chain(`outcome ${e.tokenId}`, i);
        break;
      }
      case 'node_state': {
        const e = ent<'node_state'>(i);
        addNode(
          'NodeStateOpened',
          { stateId: e.stateId, tokenId: e.tokenId, nodeId: e.nodeId, stepIndex: e.stepIndex, attempt: e.attempt, inputHash: e.inputHash, contextBeforeJson: e.contextBeforeJson },
          e.startedAt,
          [i],
          idx(tokenIdx, e.tokenId),
        );
        chain(`state ${e.tokenId}`, i);
        if (e.status === 'completed') {
          completions.push(
            addChange(
              'NodeStateCompleted',
              { stateId: e.stateId, outputHash: e.outputHash, durationMs: e.durationMs, successReasonJson: e.successReasonJson, contextAfterJson: e.contextAfterJson },
              e.completedAt,
              i,
            ),
          );
        } else if (e.status === 'failed') {
          completions.push(
            addChange(
              'NodeStateFailed',
              { stateId: e.stateId, outputHash: e.outputHash, durationMs: e.durationMs, errorJson: e.errorJson, contextAfterJson: e.contextAfterJson },
              e.completedAt,
              i,
            ),
          );
        } else if (e.status === 'pending') {
          completions.push(addChange('NodeStatePending', { stateId: e.stateId, durationMs: e.durationMs, contextAfterJson: e.contextAfterJson }, e.completedAt, i));
        }
        break;
      }
      case 'routing_event': {
        const e = ent<'routing_event'>(i);
        const key = canonicalize([e.stateId, e.routingGroupId, e.createdAt, e.reasonHash, e.reasonRef]);
        const route = { eventId: e.eventId, edgeId: e.edgeId, mode: e.mode, ordinal: e.ordinal };
        if (routing !== null && routing.key === key) {
          (routing.node.data.routes as unknown[]).push(route);
          routing.node.records.push(i);
          creator[i] = routing.node.id;
        } else {
          const node = addNode(
            'RoutingDecided',
            { stateId: e.stateId, routingGroupId: e.routingGroupId, routes: [route], reasonHash: e.reasonHash, reasonRef: e.reasonRef },
            e.createdAt,
            [i],
            idx(stateIdx, e.stateId),
          );
          routing = { node, key };
        }
        chain(`routing ${e.stateId}`, i);
        break;
      }
      case 'batch': {
        const e = ent<'batch'>(i);
        if (e.retriedFromBatchId === null) addNode('BatchCreated', { batchId: e.batchId, aggregationNodeId: e.aggregationNodeId, attempt: e.attempt }, e.createdAt, [i]);
        else {
          addNode(
            'BatchRetried',
            { batchId: e.batchId, retriedFromBatchId: e.retriedFromBatchId, aggregationNodeId: e.aggregationNodeId, attempt: e.attempt, members: [] },
            e.createdAt,
            [i],
          );
        }
        chain('batch', i);
        if (e.status !== 'draft') {
          completions.push(
            addChange(
              'BatchStatusChanged',
              { batchId: e.batchId, status: e.status, triggerType: e.triggerType, triggerReason: e.triggerReason, aggregationStateId: e.aggregationStateId },
              e.status === 'completed' || e.status === 'failed' ? e.completedAt : null,
              i,
            ),
          );
        }
        break;
      }
      case 'batch_member': {
        const e = ent<'batch_member'>(i);
        addNode('BatchMemberAdded', { batchId: e.batchId, tokenId: e.tokenId, ordinal: e.ordinal }, null, [i], [...idx(batchIdx, e.batchId), ...idx(tokenIdx, e.tokenId)]);
        chain(`member ${e.batchId}`, i);
        break;
      }
      case 'batch_output': {
        if (creator[i] === -1) fail(`${who(i)} is a batch output that no event produces`, { index: i });
        break;
      }
      case 'artifact': {
        const e = ent<'artifact'>(i);
        addNode(
          'ArtifactRegistered',
          {
            artifactId: e.artifactId,
            sinkNodeId: e.sinkNodeId,
            stateIds: e.producedByStateIds,
            artifactType: e.artifactType,
            pathOrUri: e.pathOrUri,
            contentHash: e.contentHash,
            sizeBytes: e.sizeBytes,
            idempotencyKey: e.idempotencyKey,
          },
          e.createdAt,
          [i],
        );
        chain('artifact', i);
        break;
      }
      case 'validation_error': {
        const { createdAt, ...data } = ent<'validation_error'>(i);
        addNode('ValidationErrorRecorded', data, createdAt, [i]);
        chain('validation_error', i);
        break;
      }
      case 'transform_error': {
        const { createdAt, ...data } = ent<'transform_error'>(i);
        addNode('TransformErrorRecorded', data, createdAt, [i]);
        chain('transform_error', i);
        break;
      }
      case 'checkpoint': {
        const { createdAt, ...data } = ent<'checkpoint'>(i);
        addNode('CheckpointTaken', data, createdAt, [i]);
        chain('checkpoint', i);
        break;
      }
      case 'run':
        break;
    }
  }
  for (let i = 1; i < n; i++) if (creator[i] === -1) fail(`${who(i)} is created by no event`, { index: i });

  // ---- edges: causal needs, "must come before" and block order
  for (const node of nodes) {
    for (const r of node.needs) {
      const c = creator[r]!;
      if (c !== -1 && c !== node.id) edges.push([c, node.id]);
    }
    for (const r of node.before) {
      const c = creator[r]!;
      if (c !== -1 && c !== node.id) edges.push([node.id, c]);
    }
  }
  for (const [a, b] of edges) {
    nodes[a]!.succ.push(b);
    nodes[b]!.indeg++;
  }

  // ---- Kahn's algorithm, smallest record position first
  const heap = new MinHeap((a: EvNode, b: EvNode) => a.prio - b.prio || a.id - b.id);
  for (const node of nodes) if (node.indeg === 0) heap.push(node);
  const order: EvNode[] = [];
  while (heap.size > 0) {
    const node = heap.pop()!;
    order.push(node);
    for (const s of node.succ) if (--nodes[s]!.indeg === 0) heap.push(nodes[s]!);
  }
  if (order.length < nodes.length) {
    const stuck = nodes.filter((x) => x.indeg > 0).slice(0, 5);
    fail(
      `the records' order cannot be reproduced by any order of events (a cycle among the events for ${stuck.map((x) => `${x.type} of ${who(x.records[0]!)}`).join('; ')})`,
      { records: stuck.map((x) => x.records[0]) },
    );
  }

  // ---- envelopes: RunStarted, the source field resolution, the graph, then the run's end and export status
  const drafts: Array<{ type: EventType; data: Record<string, unknown>; at: string | null; records: number[] }> = [];
  drafts.push({
    type: 'RunStarted',
    data: {
      config: run.settings,
      configHash: run.configHash,
      canonicalVersion: run.canonicalVersion,
      reproducibilityGrade: run.reproducibilityGrade,
      sourceSchemaJson: run.sourceSchemaJson,
      schemaContractJson: run.schemaContractJson,
      schemaContractHash: run.schemaContractHash,
    },
    at: run.startedAt,
    records: [0],
  });
  if (run.sourceFieldResolutionJson !== null) {
    const sfr = run.sourceFieldResolutionJson as Record<string, unknown>;
    const keys = typeof sfr === 'object' && !Array.isArray(sfr) ? Object.keys(sfr).sort().join(',') : '';
    if (keys !== 'normalization_version,resolution_mapping') fail(`${who(0)}: source_field_resolution_json is not what SourceFieldResolutionRecorded writes`, { index: 0 });
    drafts.push({
      type: 'SourceFieldResolutionRecorded',
      data: { resolutionMapping: sfr.resolution_mapping, normalizationVersion: sfr.normalization_version },
      at: null,
      records: [0],
    });
  }
  for (const node of order) drafts.push({ type: node.type, data: node.data, at: node.at, records: node.records });
  const terminal = (TERMINAL_RUN_STATUSES as readonly string[]).includes(run.status);
  if (run.completedAt !== null) {
    drafts.push({ type: 'RunCompleted', data: { status: terminal ? run.status : 'interrupted', reproducibilityGrade: null }, at: run.completedAt, records: [0] });
    if (!terminal) drafts.push({ type: 'RunStatusChanged', data: { status: run.status, reason: null }, at: run.completedAt, records: [0] });
  } else if (run.status !== 'running') {
    drafts.push({ type: 'RunStatusChanged', data: { status: run.status, reason: null }, at: null, records: [0] });
  }
  if (run.exportStatus !== null) {
    if (run.exportStatus === 'completed') {
      drafts.push({
        type: 'ExportStatusChanged',
        data: { status: 'completed', error: run.exportError, format: run.exportFormat, sink: run.exportSink },
        at: run.exportedAt,
        records: [0],
      });
    } else {
      if (run.exportedAt !== null) {
        drafts.push({ type: 'ExportStatusChanged', data: { status: 'completed', error: null, format: run.exportFormat, sink: run.exportSink }, at: run.exportedAt, records: [0] });
      }
      drafts.push({
        type: 'ExportStatusChanged',
        data: { status: run.exportStatus, error: run.exportError, format: run.exportedAt !== null ? null : run.exportFormat, sink: run.exportedAt !== null ? null : run.exportSink },
        at: null,
        records: [0],
      });
    }
  }

  const events: LedgerEvent[] = [];
  let lastAt = run.startedAt;
  for (let seq = 0; seq < drafts.length; seq++) {
    const d = drafts[seq]!;
    const codec = EVENT_CATALOGUE[d.type].codec as unknown as { decode(u: unknown): ReturnType<(typeof EVENT_CATALOGUE)['RunStarted']['codec']['decode']> };
    const decoded = codec.decode(d.data);
    if (isLeft(decoded)) {
      fail(`${who(d.records[0]!)} cannot be written as a ${d.type} event: ${firstError(decoded.left).message}`, { index: d.records[0], type: d.type });
    }
    const at = d.at ?? lastAt;
    lastAt = at;
    events.push({
      eventId: newId(),
      type: d.type,
      schemaVersion: EVENT_CATALOGUE[d.type].schemaVersion,
      runId,
      seq,
      recordedAt: at,
      correlationId: null,
      causationId: null,
      data: decoded.right as EventDataOf<typeof d.type>,
    } as LedgerEvent);
  }
  return events;
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const end = a.pop()!;
    if (a.length > 0) {
      a[0] = end;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
