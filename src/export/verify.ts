/**
 * Verification of an export (src/export/bundle.ts) from its files alone (read through read.ts),
 * and of an inclusion proof (proof.ts) against an export's manifest. Both reports are built by
 * one ReportBuilder.
 *
 * `verifyExport` checks, in this order, and names the first problem:
 *   1. manifest: present (the last line of a `jsonl` file, or `manifest.json`), a JSON object
 *      with exactly the manifest's fields, of a format and algorithms this version knows;
 *   2. run: with `expectedRunId`, the manifest is of that run (a valid export of ANOTHER run fails here);
 *   3. records: every line ends with "\n", is valid UTF-8 and RFC 8785 canonical JSON, is a record of
 *      a known type of the manifest's run, and its chain_hash follows from the previous one. The first
 *      line that fails is named with its index, type and id; a chain break is diagnosed (modified or
 *      deleted, inserted, duplicated, out of order) by a second pass over the file;
 *   4. record_count, 5. chain_head, 6. merkle_root: as the manifest states them (a missing last
 *      record, records appended, records re-chained after a change);
 *   7. signature: Ed25519 with a public key, HMAC-SHA256 with the shared key. A manifest verified
 *      without a key never passes unless the caller explicitly gives up the signature check
 *      (`requireSignature: false`, the CLI's --no-signature); the report then says it was not checked.
 */
import {
  BUNDLE_RECORDS_FILE,
  chainGenesis,
  ExportManifest,
  manifestSigningBytes,
  nextChainHash,
  recordHash,
  recordId,
} from './bundle';
import type { SignatureVerifier } from './keys';
import { leafHash, MerkleTreeBuilder } from './merkle';
import { checkProof } from './proof';
import { ExportFiles, ExportLayout, locateExport, parseManifest, parseRecordLine, readRawLines } from './read';
import { RECORD_TYPES } from '../projections/entities';

const KNOWN_TYPES = new Set<string>(RECORD_TYPES);

// ---------------------------------------------------------------------------
// Verifying

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface VerifyCheck {
  readonly name: 'manifest' | 'run' | 'records' | 'record_count' | 'chain_head' | 'merkle_root' | 'signature' | 'proof';
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface BadRecord {
  readonly index: number;
  readonly recordType: string | null;
  readonly recordId: string | null;
  readonly problem: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly path: string;
  readonly layout: ExportLayout;
  readonly manifest: ExportManifest | null;
  /** Record lines read (all of them when the records check passed). */
  readonly recordsRead: number;
  /** True only when a key checked the signature. */
  readonly signatureChecked: boolean;
  readonly checks: VerifyCheck[];
  readonly firstBadRecord?: BadRecord;
  /** The first failing check's detail (absent when ok). */
  readonly problem?: string;
}

export interface VerifyOptions {
  /** Key to check the signature with (Ed25519 public key, or the HMAC key). */
  readonly verifier?: SignatureVerifier | null;
  /**
   * Default true: without a key the verification fails. False (--no-signature) accepts
   * an unsigned or unchecked manifest and reports that the signature was not checked.
   */
  readonly requireSignature?: boolean;
  /** The run the export must be of. */
  readonly expectedRunId?: string;
  /** Called for every record that passed its checks, in order (import collects them). */
  readonly onRecord?: (record: Record<string, unknown>, index: number, canonical: string) => void;
  /** Progress: called after every record checked, with the count so far and the manifest's record count. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The signature check of a manifest. */
export function checkSignature(manifest: ExportManifest, options: VerifyOptions): VerifyCheck & { checked: boolean } {
  const alg = manifest.signature_algorithm;
  const v = options.verifier ?? null;
  const fail = (detail: string) => ({ name: 'signature' as const, status: 'fail' as const, detail, checked: false });
  if (v !== null) {
    if (alg === 'none') return fail(`the export is unsigned, but a key was given: nothing proves who wrote it`);
    if (v.algorithm !== alg) return fail(`the manifest is signed with ${alg}, but the given key is an ${v.algorithm} key`);
    if (manifest.key_id !== v.keyId) {
      return fail(`the manifest is signed by key ${manifest.key_id}, not by the given key ${v.keyId} (signed with another key?)`);
    }
    if (!v.verify(manifestSigningBytes(manifest), manifest.signature ?? '')) {
      return fail(`the ${alg} signature does not match the manifest (manifest edited after signing?)`);
    }
    return { name: 'signature', status: 'pass', detail: `valid ${alg} signature by key ${v.keyId}`, checked: true };
  }
  if (options.requireSignature === false) {
    return {
      name: 'signature',
      status: 'skipped',
      detail:
        alg === 'none'
          ? 'NOT CHECKED: the export is unsigned (--no-signature): only its internal consistency was verified'
          : `NOT CHECKED (--no-signature): the manifest says it is signed with ${alg} by key ${manifest.key_id}`,
      checked: false,
    };
  }
  return fail(
    alg === 'none'
      ? 'the export is unsigned: nothing proves who wrote it (pass --no-signature to accept an unsigned export)'
      : `the manifest is signed with ${alg} by key ${manifest.key_id}, but no key was given to check it (--public-key or --hmac-key; --no-signature to skip)`,
  );
}

function badRecord(index: number, record: Record<string, unknown> | null, problem: string): BadRecord {
  return {
    index,
    recordType: record !== null && typeof record.record_type === 'string' ? record.record_type : null,
    recordId: record !== null ? recordId(record) : null,
    problem,
  };
}

/** "record 17 (token 3f2a…): problem" */
export function describeBadRecord(b: BadRecord): string {
  const what = b.recordType === null ? '' : b.recordId === null ? ` (${b.recordType})` : ` (${b.recordType} ${b.recordId})`;
  return `record ${b.index}${what}: ${b.problem}`;
}

/**
 * Builds a verification report: checks in the order they ran, the first failing one named as
 * the report's problem (a failing records check names its bad record). Used for exports and for
 * proofs, so both reports mean the same thing field by field.
 */
class ReportBuilder {
  private readonly checks: VerifyCheck[] = [];

  constructor(
    private readonly path: string,
    private readonly layout: ExportLayout,
  ) {}

  add(check: VerifyCheck): void {
    this.checks.push(check);
  }

  skip(names: readonly VerifyCheck['name'][], why: string): void {
    for (const name of names) this.checks.push({ name, status: 'skipped', detail: why });
  }

  /** With an expected run, the manifest must be of it (a valid export of another run fails here). */
  run(manifest: ExportManifest, expectedRunId: string | undefined): void {
    if (expectedRunId === undefined) return;
    this.add(
      manifest.run_id === expectedRunId
        ? { name: 'run', status: 'pass', detail: `the export is of run ${manifest.run_id}` }
        : { name: 'run', status: 'fail', detail: `the export is of run ${manifest.run_id}, not of the expected run ${expectedRunId} (an export of another run?)` },
    );
  }

  /** Adds the signature check; true when a key checked it. */
  signature(manifest: ExportManifest, options: VerifyOptions): boolean {
    const sig = checkSignature(manifest, options);
    this.add({ name: sig.name, status: sig.status, detail: sig.detail });
    return sig.checked;
  }

  finish(manifest: ExportManifest | null, recordsRead: number, signatureChecked: boolean, firstBadRecord?: BadRecord): VerifyReport {
    const failed = this.checks.find((c) => c.status === 'fail');
    return {
      ok: failed === undefined,
      path: this.path,
      layout: this.layout,
      manifest,
      recordsRead,
      signatureChecked,
      checks: this.checks,
      ...(firstBadRecord !== undefined ? { firstBadRecord } : {}),
      ...(failed !== undefined ? { problem: failed.name === 'records' && firstBadRecord !== undefined ? describeBadRecord(firstBadRecord) : failed.detail } : {}),
    };
  }
}

/** The manifest of located export files, or the problem that makes it unusable. */
function manifestOf(files: ExportFiles): { manifest: ExportManifest } | { problem: string } {
  return files.manifestText === null ? { problem: files.manifestProblem ?? 'no manifest' } : parseManifest(files.manifestText);
}

/** Verifies an export (a `jsonl` file or a `bundle` directory) from its files alone. */
export async function verifyExport(exportPath: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const files = locateExport(exportPath);
  const report = new ReportBuilder(exportPath, files.layout);

  // 1. manifest
  const parsed = manifestOf(files);
  if ('problem' in parsed) {
    report.add({ name: 'manifest', status: 'fail', detail: parsed.problem });
    report.skip(['records', 'record_count', 'chain_head', 'merkle_root', 'signature'], 'not checked: no usable manifest');
    return report.finish(null, 0, false);
  }
  const manifest = parsed.manifest;
  report.add({
    name: 'manifest',
    status: 'pass',
    detail: `${manifest.format}, run ${manifest.run_id}, ${manifest.record_count} records, seq ${manifest.first_seq}..${manifest.last_seq}, exported ${manifest.exported_at} by ${manifest.exporter} ${manifest.exporter_version}`,
  });
  // 2. run
  report.run(manifest, options.expectedRunId);
  // 3. records
  const scan = await scanRecords(files, manifest, options.onRecord, options.onProgress);
  const n = scan.count;
  let firstBad = scan.firstBad;
  if (files.recordsFile === null) {
    report.add({ name: 'records', status: 'fail', detail: `${BUNDLE_RECORDS_FILE} is missing from the bundle directory` });
  } else if (firstBad !== undefined) {
    report.add({ name: 'records', status: 'fail', detail: describeBadRecord(firstBad) });
  } else {
    report.add({ name: 'records', status: 'pass', detail: `${n} records: canonical JSON, all of run ${manifest.run_id}, hash chain intact from the genesis` });
  }
  // 4-6. count, head, root
  if (files.recordsFile === null || firstBad !== undefined) {
    report.skip(['record_count', 'chain_head', 'merkle_root'], 'not checked: the records did not verify');
  } else {
    if (n === manifest.record_count) report.add({ name: 'record_count', status: 'pass', detail: `${n} records, as the manifest states` });
    else if (n < manifest.record_count) {
      firstBad = badRecord(n, null, `is missing: the records end after record ${n - 1}, but the manifest lists ${manifest.record_count} (file truncated, or records deleted at the end?)`);
      report.add({ name: 'record_count', status: 'fail', detail: `${describeBadRecord(firstBad)}` });
    } else {
      firstBad = badRecord(manifest.record_count, scan.extra, `is not covered by the manifest, which lists ${manifest.record_count} records (records appended?)`);
      report.add({ name: 'record_count', status: 'fail', detail: `${describeBadRecord(firstBad)}` });
    }
    report.add(
      scan.chainHead === manifest.chain_head
        ? { name: 'chain_head', status: 'pass', detail: `chain head ${manifest.chain_head}` }
        : {
            name: 'chain_head',
            status: 'fail',
            detail: `the chain ends at ${scan.chainHead}, the manifest says ${manifest.chain_head}${n === manifest.record_count ? ' (records changed and their chain recomputed, or the manifest edited)' : ''}`,
          },
    );
    report.add(
      scan.merkleRoot === manifest.merkle_root
        ? { name: 'merkle_root', status: 'pass', detail: `Merkle root ${manifest.merkle_root}` }
        : { name: 'merkle_root', status: 'fail', detail: `the records' Merkle root is ${scan.merkleRoot}, the manifest says ${manifest.merkle_root}` },
    );
  }
  // 7. signature
  const checked = report.signature(manifest, options);
  return report.finish(manifest, n, checked, firstBad);
}

interface Scan {
  count: number;
  chainHead: string;
  merkleRoot: string;
  firstBad?: BadRecord;
  /** The first record beyond the manifest's count (for messages). */
  extra: Record<string, unknown> | null;
}

async function scanRecords(files: ExportFiles, manifest: ExportManifest, onRecord: VerifyOptions['onRecord'], onProgress: VerifyOptions['onProgress']): Promise<Scan> {
  const genesis = chainGenesis(manifest.run_id);
  const merkle = new MerkleTreeBuilder();
  let prev = genesis;
  let index = 0;
  let extra: Record<string, unknown> | null = null;
  if (files.recordsFile === null) return { count: 0, chainHead: prev, merkleRoot: merkle.root().toString('hex'), extra };
  for await (const batch of readRawLines(files.recordsFile, files.recordsEnd)) {
    for (const line of batch) {
      const p = parseRecordLine(line);
      if (!p.ok) return stop(index, badRecord(index, p.record, p.problem));
      const rec = p.record;
      const rt = rec.record_type;
      if (rt === 'manifest') return stop(index, badRecord(index, null, 'is a manifest, not a record (a manifest inside the records?)'));
      if (typeof rt !== 'string' || !KNOWN_TYPES.has(rt)) return stop(index, badRecord(index, rec, `has an unknown record_type ${JSON.stringify(rt)}`));
      if (rec.run_id !== manifest.run_id) {
        return stop(index, badRecord(index, rec, `belongs to run ${String(rec.run_id)}, not to run ${manifest.run_id} of the manifest (records of another run?)`));
      }
      const leaf = leafHash(Buffer.from(p.canonical, 'utf8'));
      const rh = leaf.toString('hex');
      if (nextChainHash(prev, rh) !== p.chainHash) {
        const problem = await diagnoseChainBreak(files, index, line.bytes, rh, p.chainHash, prev, genesis);
        return stop(index, badRecord(index, rec, problem));
      }
      if (index === manifest.record_count) extra = rec;
      merkle.pushLeafHash(leaf);
      onRecord?.(rec, index, p.canonical);
      prev = p.chainHash;
      index++;
      onProgress?.(index, manifest.record_count);
    }
  }
  return { count: index, chainHead: prev, merkleRoot: merkle.root().toString('hex'), extra };

  function stop(i: number, bad: BadRecord): Scan {
    return { count: i, chainHead: prev, merkleRoot: merkle.root().toString('hex'), firstBad: bad, extra };
  }
}

/**
 * Line `index` does not follow the chain: find out how, by a second pass over the file
 * (O(1) memory): a copy of an earlier line (duplicated); a line whose chain hash follows
 * another line's (reordered, or lines inserted before it); a next line that follows the
 * previous one directly (this one inserted); otherwise its content changed, or the line
 * before it in the original was deleted (the two look the same to a hash chain).
 */
async function diagnoseChainBreak(
  files: ExportFiles,
  index: number,
  bytes: Buffer,
  hashOfRecord: string,
  stored: string,
  prev: string,
  genesis: string,
): Promise<string> {
  let duplicateOf = -1;
  let follows = nextChainHash(genesis, hashOfRecord) === stored ? -1 : -2;
  let nextFollowsPrevious = false;
  let k = 0;
  for await (const batch of readRawLines(files.recordsFile!, files.recordsEnd)) {
    for (const line of batch) {
      if (k < index && duplicateOf < 0 && line.bytes.equals(bytes)) duplicateOf = k;
      if (k !== index && (follows === -2 || k === index + 1)) {
        const p = parseRecordLine(line);
        if (p.ok) {
          if (follows === -2 && nextChainHash(p.chainHash, hashOfRecord) === stored) follows = k;
          if (k === index + 1 && nextChainHash(prev, recordHash(p.canonical)) === p.chainHash) nextFollowsPrevious = true;
        }
      }
      k++;
    }
  }
  if (duplicateOf >= 0) return `duplicates record ${duplicateOf} (a record was duplicated)`;
  if (follows >= 0 && follows > index) return `is out of order: its chain hash says it follows record ${follows}, not record ${index - 1} (records swapped or reordered?)`;
  if (follows >= 0) {
    return follows === index - 2
      ? `chain hash does not follow record ${index - 1} but record ${follows}: record ${index - 1} was inserted (or the records reordered?)`
      : `chain hash does not follow record ${index - 1} but record ${follows}: records ${follows + 1}..${index - 1} were inserted or moved here (records reordered?)`;
  }
  if (follows === -1 && index > 0) return `is out of order: its chain hash says it is the first record (records reordered?)`;
  if (nextFollowsPrevious) return `is not part of the chain: record ${index + 1} follows record ${index - 1} directly (record ${index} was inserted?)`;
  return index === 0
    ? 'content does not match its chain hash (the record was modified, or the export is of another run or a record before it was deleted)'
    : 'content does not match its chain hash (the record was modified, or the record before it was deleted)';
}

/**
 * Verifies a proof (a parsed proof document) against an export's manifest, whose
 * signature is checked as in verifyExport. Only the manifest is read: the records
 * file need not be present (a manifest file alone will do).
 */
export function verifyProof(exportPath: string, proof: unknown, options: VerifyOptions = {}): VerifyReport {
  const files = locateExport(exportPath);
  const report = new ReportBuilder(exportPath, files.layout);
  const parsed = manifestOf(files);
  if ('problem' in parsed) {
    report.add({ name: 'manifest', status: 'fail', detail: parsed.problem });
    report.skip(['proof', 'signature'], 'not checked: no usable manifest');
    return report.finish(null, 0, false);
  }
  const manifest = parsed.manifest;
  report.add({ name: 'manifest', status: 'pass', detail: `${manifest.format}, run ${manifest.run_id}, ${manifest.record_count} records` });
  report.run(manifest, options.expectedRunId);
  const problem = checkProof(manifest, proof);
  const idx = (proof as { record_index?: unknown } | null)?.record_index;
  report.add(
    problem === null
      ? { name: 'proof', status: 'pass', detail: `record ${String(idx)} is included under Merkle root ${manifest.merkle_root}` }
      : { name: 'proof', status: 'fail', detail: problem },
  );
  const checked = report.signature(manifest, options);
  return report.finish(manifest, 0, checked);
}
