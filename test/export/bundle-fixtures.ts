/**
 * Shared helpers for the export bundle, verify, import and CSV tests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../../src/canonical/hash';
import { openLedger, Ledger } from '../../src/ledger';

export const TINY_RUN_ID = '11111111-1111-4111-8111-111111111111';

/** A clock that starts at a fixed instant and moves 1 ms per call. */
export function fixedClock(start = Date.parse('2026-01-02T03:04:05.000Z')): () => string {
  let t = start;
  return () => new Date(t++).toISOString();
}

/** Deterministic lowercase UUIDs (version 4 layout): ...-4000-8000-<counter>. */
export function sequentialIds(prefix = '00000000'): () => string {
  let n = 0;
  return () => `${prefix}-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(label = 'll-export-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), label));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic ledger (fixed clock, sequential ids) on a memory store. */
export async function deterministicLedger(): Promise<Ledger> {
  return openLedger({ store: 'memory:', now: fixedClock(), newId: sequentialIds() });
}

/**
 * A tiny fixed run: one source and one sink node, an edge, two rows with a token
 * each, a completed and a failed state, outcomes, an empty-object config, one artifact.
 */
export async function recordTinyRun(ledger: Ledger): Promise<string> {
  const r = await ledger.beginRun({ runId: TINY_RUN_ID, config: {} });
  const src = (await r.registerNode({ pluginName: 'csv_source', nodeType: 'source', pluginVersion: '1.0.0', config: { path: 'in.csv' }, sequence: 0 })).nodeId;
  const sink = (await r.registerNode({ pluginName: 'json_sink', nodeType: 'sink', pluginVersion: '1.0.0', config: {}, sequence: 1 })).nodeId;
  await r.registerEdge({ fromNodeId: src, toNodeId: sink, label: 'continue', mode: 'move' });
  const states: string[] = [];
  for (let i = 0; i < 2; i++) {
    const row = await r.createRow({ sourceNodeId: src, rowIndex: i, data: { id: i, note: 'café ☕ "quoted", with comma' }, withToken: true });
    const st = await r.beginNodeState({ tokenId: row.tokenId!, nodeId: sink, stepIndex: 1, inputHash: row.sourceDataHash });
    if (i === 0) {
      await r.completeNodeState({ stateId: st.stateId, status: 'completed', outputData: { ok: true }, durationMs: 0.5, contextAfter: {} });
      await r.recordTokenOutcome({ tokenId: row.tokenId!, outcome: 'completed', sinkName: 'json' });
      states.push(st.stateId);
    } else {
      await r.completeNodeState({ stateId: st.stateId, status: 'failed', error: { reason: 'bad row' }, durationMs: 1 });
      await r.recordTokenOutcome({ tokenId: row.tokenId!, outcome: 'failed', errorHash: sha256Hex('bad row') });
    }
  }
  await r.registerArtifact({ sinkNodeId: sink, stateIds: states, artifactType: 'jsonl', pathOrUri: 'file://out.jsonl', contentHash: sha256Hex('out'), sizeBytes: 12 });
  await r.complete({ status: 'completed' });
  return r.runId;
}

/** The lines of a file, without the final empty string after the last "\n". */
export function fileLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function writeLinesFile(file: string, lines: readonly string[]): void {
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

/** Copies a bundle directory (or file) to a new place. */
export function copyExport(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}
