/**
 * Inclusion proofs of single records (RFC 6962): built by one pass over an export's records
 * (O(log n) memory, the audit path's subtree ranges from the one split rule in merkle.ts), and
 * checked against a manifest alone.
 */
import { canonicalize } from '../canonical/jcs';
import { isLedgerError, ledgerError } from '../errors';
import { BUNDLE_RECORDS_FILE, describeRecord, ExportManifest } from './bundle';
import { inclusionRanges, leafHash, MerkleTreeBuilder, verifyInclusion } from './merkle';
import { HEX64, locateExport, parseManifest, parseRecordLine, readRawLines } from './read';

export const PROOF_FORMAT = 'lineage-ledger/inclusion-proof/v1';

/** An RFC 6962 inclusion proof of one record, checkable against a manifest. */
export interface InclusionProofDocument {
  readonly format: string;
  readonly run_id: string;
  readonly record_index: number;
  readonly tree_size: number;
  readonly merkle_root: string;
  /** The record, without chain_hash: the leaf data is its canonical JSON. */
  readonly record: Record<string, unknown>;
  /** hex(SHA-256(0x00 || canonical(record))). */
  readonly leaf_hash: string;
  /** RFC 6962 audit path, from the leaf's sibling up to the child of the root. */
  readonly audit_path: string[];
}

/**
 * Builds the inclusion proof of record `index` by one pass over the records (O(log n)
 * memory). Fails when a record line is malformed or the records do not give the
 * manifest's root (verify the export first).
 */
export async function proveRecord(exportPath: string, index: number): Promise<InclusionProofDocument> {
  const files = locateExport(exportPath);
  const parsed = files.manifestText === null ? { problem: files.manifestProblem ?? 'no manifest' } : parseManifest(files.manifestText);
  if ('problem' in parsed) throw ledgerError('VERIFY_FAILED', `cannot prove a record of ${exportPath}: ${parsed.problem}`, { path: exportPath });
  const manifest = parsed.manifest;
  const n = manifest.record_count;
  if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
    throw ledgerError('INVALID_INPUT', `--record: ${index} is not a record of this export (0..${n - 1})`, { path: 'record', index, recordCount: n });
  }
  if (files.recordsFile === null) throw ledgerError('VERIFY_FAILED', `${exportPath} has no ${BUNDLE_RECORDS_FILE}`, { path: exportPath });
  const ranges = inclusionRanges(index, n);
  const builders = ranges.map(() => new MerkleTreeBuilder());
  const whole = new MerkleTreeBuilder();
  let leaf: Buffer | null = null;
  let record: Record<string, unknown> | null = null;
  let k = 0;
  for await (const batch of readRawLines(files.recordsFile, files.recordsEnd)) {
    for (const line of batch) {
      const p = parseRecordLine(line);
      if (!p.ok) throw ledgerError('VERIFY_FAILED', `cannot prove: ${describeRecord(k, p.record)} ${p.problem}; run lineage-ledger verify`, { path: exportPath, index: k });
      const h = leafHash(Buffer.from(p.canonical, 'utf8'));
      whole.pushLeafHash(h);
      if (k === index) {
        leaf = h;
        record = p.record;
      } else {
        for (let r = 0; r < ranges.length; r++) {
          const [lo, hi] = ranges[r]!;
          if (k >= lo && k < hi) {
            builders[r]!.pushLeafHash(h);
            break;
          }
        }
      }
      k++;
    }
  }
  const root = whole.root().toString('hex');
  if (k !== n || root !== manifest.merkle_root || leaf === null || record === null) {
    throw ledgerError('VERIFY_FAILED', `cannot prove: the records (${k}, root ${root}) do not match the manifest (${n}, root ${manifest.merkle_root}); run lineage-ledger verify`, {
      path: exportPath,
    });
  }
  const proof: InclusionProofDocument = {
    format: PROOF_FORMAT,
    run_id: manifest.run_id,
    record_index: index,
    tree_size: n,
    merkle_root: manifest.merkle_root,
    record,
    leaf_hash: leaf.toString('hex'),
    audit_path: builders.map((b) => b.root().toString('hex')),
  };
  if (!verifyInclusion(leaf, index, n, proof.audit_path.map((h) => Buffer.from(h, 'hex')), Buffer.from(root, 'hex'))) {
    throw ledgerError('VERIFY_FAILED', 'internal error: the proof built does not verify', { index });
  }
  return proof;
}

/** Checks an inclusion proof against a manifest: names the first problem, or null when it holds. */
export function checkProof(manifest: ExportManifest, proof: unknown): string | null {
  if (typeof proof !== 'object' || proof === null || Array.isArray(proof)) return 'the proof is not a JSON object';
  const p = proof as Record<string, unknown>;
  if (p.format !== PROOF_FORMAT) return `the proof's format is ${JSON.stringify(p.format)}; expected ${PROOF_FORMAT}`;
  if (p.run_id !== manifest.run_id) return `the proof is for run ${String(p.run_id)}, the export is of run ${manifest.run_id}`;
  const index = p.record_index;
  const size = p.tree_size;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return 'the proof has no valid record_index';
  if (size !== manifest.record_count) return `the proof is for a tree of ${String(size)} records, the manifest lists ${manifest.record_count}`;
  if (p.merkle_root !== manifest.merkle_root) return `the proof's root ${String(p.merkle_root)} is not the manifest's ${manifest.merkle_root}`;
  const record = p.record;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'the proof has no record';
  if ((record as Record<string, unknown>).run_id !== manifest.run_id) return `the proof's record belongs to run ${String((record as Record<string, unknown>).run_id)}`;
  let leaf: Buffer;
  try {
    leaf = leafHash(Buffer.from(canonicalize(record), 'utf8'));
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return `the proof's record is not JSON the ledger writes (${e.message})`;
  }
  const who = describeRecord(index, record as Record<string, unknown>);
  if (typeof p.leaf_hash === 'string' && p.leaf_hash !== leaf.toString('hex')) return `${who}: the record does not hash to the proof's leaf_hash (record modified?)`;
  const pathHex = p.audit_path;
  if (!Array.isArray(pathHex) || !pathHex.every((h) => typeof h === 'string' && HEX64.test(h))) return 'the proof has no valid audit_path';
  const ok = verifyInclusion(leaf, index, manifest.record_count, pathHex.map((h: string) => Buffer.from(h, 'hex')), Buffer.from(manifest.merkle_root, 'hex'));
  return ok ? null : `${who}: the record is not in the tree with the manifest's Merkle root at index ${index} (record or proof modified?)`;
}
