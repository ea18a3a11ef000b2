/**
 * Benchmark phases after recording: export (unsigned and signed), explain, check.
 * Each loads what it needs from the SQLite store the recording phase wrote.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeExport } from '../src/export/bundle';
import { ed25519Signer } from '../src/export/keys';
import { openLedger } from '../src/ledger';
import { checkRun } from '../src/lineage/check';
import { explainToken } from '../src/lineage/explain';
import type { PhaseFigure } from './run-once';

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Writes the run as a JSON Lines export (load, records, canonical JSON, hash chain, Merkle root, fsync), unsigned and signed. */
export async function benchExport(store: string, runId: string, dir: string): Promise<Record<string, PhaseFigure>> {
  const out: Record<string, PhaseFigure> = {};
  const { privateKey } = generateKeyPairSync('ed25519');
  for (const [name, signer] of [
    ['export_unsigned', undefined],
    ['export_signed_ed25519', ed25519Signer(privateKey)],
  ] as const) {
    const ledger = await openLedger({ store });
    try {
      const file = path.join(dir, `${name}.jsonl`);
      const t0 = process.hrtime.bigint();
      const result = await writeExport(ledger, runId, file, signer === undefined ? {} : { signer });
      const ms = msSince(t0);
      out[name] = { ms, recordsPerSec: (result.manifest.record_count / ms) * 1000, records: result.manifest.record_count };
      fs.rmSync(file, { force: true });
    } finally {
      await ledger.close();
    }
  }
  return out;
}

/** Loads the run once, then explains 1,000 random sink tokens (the whole ancestor DAG each). */
export async function benchExplain(store: string, runId: string, sinkTokens: readonly string[]): Promise<Record<string, PhaseFigure>> {
  const ledger = await openLedger({ store });
  try {
    const t0 = process.hrtime.bigint();
    const state = await ledger.loadRun(runId);
    const loadMs = msSince(t0);
    // the live heap with the projection loaded (after a full collection, when run with --expose-gc)
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapMiB = gc === undefined ? undefined : process.memoryUsage().heapUsed / (1 << 20);
    let seed = 12345;
    const pick = (): string => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return sinkTokens[seed % sinkTokens.length]!;
    };
    for (let i = 0; i < 100; i++) explainToken(state, pick()); // warm-up
    const times: number[] = [];
    let ancestors = 0;
    for (let i = 0; i < 1000; i++) {
      const t = process.hrtime.bigint();
      const e = explainToken(state, pick());
      times.push(msSince(t));
      ancestors += e.tokens.length;
    }
    times.sort((a, b) => a - b);
    return {
      load_run: heapMiB === undefined ? { ms: loadMs } : { ms: loadMs, liveHeapMiB: heapMiB },
      explain_sink_token: {
        ms: times.reduce((a, b) => a + b, 0),
        medianMs: percentile(times, 0.5),
        p99Ms: percentile(times, 0.99),
        maxMs: times[times.length - 1]!,
        tokensPerExplain: ancestors / 1000,
      },
    };
  } finally {
    await ledger.close();
  }
}

/** Loads the run, then times the audit sweep over it. */
export async function benchCheck(store: string, runId: string): Promise<Record<string, PhaseFigure>> {
  const ledger = await openLedger({ store });
  try {
    const state = await ledger.loadRun(runId);
    const t0 = process.hrtime.bigint();
    const result = checkRun(state);
    const ms = msSince(t0);
    if (!result.ok) throw new Error(`the benchmark run does not pass the audit check: ${result.violations[0]?.message ?? ''}`);
    return { check: { ms, violations: result.violations.length } };
  } finally {
    await ledger.close();
  }
}
