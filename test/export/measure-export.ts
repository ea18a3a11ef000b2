/**
 * Export throughput on the reference workload (not a test: run it by hand).
 *
 *   node test/support/ts-require-run.js test/export/measure-export.ts --rows 1000,10000 [--store sqlite|memory] [--repeat 3]
 *
 * For each size: records the reference run into a fresh store, then (median of the repeats)
 * - end to end: `writeExport` to a jsonl file (load the run from the store, fold, records,
 *   canonicalise, chain, Merkle, write, manifest), unsigned, Ed25519-signed and HMAC-signed
 *   (the first export of the process is reported apart: it includes the JIT warm-up);
 * - phases on the loaded state: generating the records, canonicalising them (as the encoder
 *   does: once per record), hashing (record hash, Merkle leaf and nodes, chain link, on the
 *   canonical text), and the encoder as a whole (canonicalise + hash + line, no I/O).
 * Prints one JSON object per size on stdout.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../../src/canonical/hash';
import { canonicalize } from '../../src/canonical/jcs';
import { ChainEncoder, writeExport, nextChainHash } from '../../src/export/bundle';
import { ed25519Signer, hmacSigner, Signer } from '../../src/export/keys';
import { MerkleTreeBuilder, leafHash } from '../../src/export/merkle';
import { runRecords } from '../../src/export/records';
import { openLedger } from '../../src/ledger';
import { recordReferenceRun } from '../../src/workloads/reference';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measure(rows: number, storeKind: string, repeat: number): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-measure-'));
  try {
    const store = storeKind === 'memory' ? 'memory:' : `sqlite:${path.join(dir, 'lineage.db')}`;
    const ledger = await openLedger({ store });
    const t0 = process.hrtime.bigint();
    const { runId } = await recordReferenceRun(ledger, { rows, concurrency: 16 });
    const recordMs = ms(t0);
    const keys = generateKeyPairSync('ed25519');
    const signers: Record<string, Signer | null> = { unsigned: null, ed25519: ed25519Signer(keys.privateKey), hmac: hmacSigner(randomBytes(32)) };
    const endToEnd: Record<string, number> = {};
    let count = 0;
    // the first export of the process (what one CLI invocation does), then warm repeats
    const tc = process.hrtime.bigint();
    await writeExport(ledger, runId, path.join(dir, 'cold.jsonl'));
    const coldMs = ms(tc);
    fs.rmSync(path.join(dir, 'cold.jsonl'));
    for (const [name, signer] of Object.entries(signers)) {
      const times: number[] = [];
      for (let k = 0; k < repeat; k++) {
        const file = path.join(dir, `${name}-${k}.jsonl`);
        const t = process.hrtime.bigint();
        const r = await writeExport(ledger, runId, file, { signer });
        times.push(ms(t));
        count = r.manifest.record_count;
        fs.rmSync(file);
      }
      endToEnd[name] = median(times);
    }
    // phases on the loaded state
    const tl = process.hrtime.bigint();
    const state = await ledger.loadRun(runId);
    const loadMs = ms(tl);
    // Streaming, as the exporter works (holding every line would distort the figures with GC):
    // each pass adds one step, the differences are the steps' costs.
    const phase = { records: [] as number[], canonicalize: [] as number[], hash: [] as number[], encoder: [] as number[] };
    const scratch = Buffer.allocUnsafe(1 << 20);
    for (let k = 0; k < repeat; k++) {
      let t = process.hrtime.bigint();
      let n = 0;
      for (const _r of runRecords(state)) n++;
      const gen = ms(t);
      if (n !== count) throw new Error(`${n} records, the export wrote ${count}`);
      t = process.hrtime.bigint();
      for (const r of runRecords(state)) canonicalize(r);
      const genCanon = ms(t);
      t = process.hrtime.bigint();
      const merkle = new MerkleTreeBuilder();
      let head = sha256Hex(runId);
      for (const r of runRecords(state)) {
        const text = canonicalize(r);
        const bytes = scratch.subarray(0, scratch.write(text, 0, 'utf8'));
        const leaf = leafHash(bytes);
        head = nextChainHash(head, leaf.toString('hex'));
        merkle.pushLeafHash(leaf);
      }
      merkle.root();
      const genCanonHash = ms(t);
      t = process.hrtime.bigint();
      const enc = new ChainEncoder(runId);
      for (const r of runRecords(state)) enc.encode(r);
      enc.digest();
      const genEncode = ms(t);
      phase.records.push(gen);
      phase.canonicalize.push(genCanon - gen);
      phase.hash.push(genCanonHash - genCanon);
      phase.encoder.push(genEncode - gen);
    }
    await ledger.close();
    const unsigned = endToEnd.unsigned!;
    const canon = median(phase.canonicalize);
    const hash = median(phase.hash);
    return {
      rows,
      store: storeKind,
      records: count,
      recordRunMs: Math.round(recordMs),
      coldUnsignedExportMs: Math.round(coldMs),
      exportMs: Object.fromEntries(Object.entries(endToEnd).map(([k, v]) => [k, Math.round(v)])),
      recordsPerSecond: Object.fromEntries(Object.entries(endToEnd).map(([k, v]) => [k, Math.round((count / v) * 1000)])),
      phasesMs: {
        loadRun: Math.round(loadMs),
        generateRecords: Math.round(median(phase.records)),
        canonicalize: Math.round(canon),
        hash: Math.round(hash),
        encoderTotal: Math.round(median(phase.encoder)),
      },
      shareOfUnsignedExport: {
        canonicalize: Number((canon / unsigned).toFixed(2)),
        hash: Number((hash / unsigned).toFixed(2)),
        loadRun: Number((loadMs / unsigned).toFixed(2)),
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function mainMeasure(): Promise<void> {
  const sizes = arg('rows', '1000').split(',').map(Number);
  const storeKind = arg('store', 'sqlite');
  const repeat = Number(arg('repeat', '3'));
  for (const rows of sizes) process.stdout.write(`${JSON.stringify(await measure(rows, storeKind, repeat))}\n`);
}

mainMeasure().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
