/**
 * Verification of an export (src/export/bundle.ts) from its files alone, and
 * inclusion proofs for single records.
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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLeft } from 'fp-ts/Either';
import { CANONICAL_VERSION } from '../canonical/hash';
import { canonicalize } from '../canonical/jcs';
import { firstError } from '../events/codecs';
import { isLedgerError, ledgerError } from '../errors';
import { RECORD_TYPES } from '../projections/entities';
import {
  BUNDLE_MANIFEST_FILE,
  BUNDLE_RECORDS_FILE,
  CANONICALIZATION,
  CHAIN_FIELD,
  chainGenesis,
  describeRecord,
  EXPORT_FORMAT,
  ExportManifest,
  HASH_ALGORITHM,
  ManifestCodec,
  manifestSigningBytes,
  MERKLE_TREE,
  nextChainHash,
  recordHash,
  recordId,
  removeChainMember,
} from './bundle';
import type { SignatureVerifier } from './keys';
import { leafHash, MerkleTreeBuilder, verifyInclusion } from './merkle';

const KNOWN_TYPES = new Set<string>(RECORD_TYPES);
const HEX64 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------
// Locating the parts of an export

export type ExportLayout = 'jsonl' | 'bundle';

export interface ExportFiles {
  readonly path: string;
  readonly layout: ExportLayout;
  /** The file holding the record lines (null when missing). */
  readonly recordsFile: string | null;
  /** The record lines are bytes [0, recordsEnd) of recordsFile. */
  readonly recordsEnd: number;
  /** The manifest's text, or null when it cannot be found (see manifestProblem). */
  readonly manifestText: string | null;
  readonly manifestProblem: string | null;
}

/** Finds the records and the manifest of an export: a `jsonl` file or a `bundle` directory. */
export function locateExport(p: string): ExportFiles {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw ledgerError('NOT_FOUND', `${p} does not exist`, { path: p });
  }
  if (st.isDirectory()) {
    const recordsFile = path.join(p, BUNDLE_RECORDS_FILE);
    const manifestFile = path.join(p, BUNDLE_MANIFEST_FILE);
    const hasRecords = fs.existsSync(recordsFile);
    let manifestText: string | null = null;
    let manifestProblem: string | null = null;
    if (!fs.existsSync(manifestFile)) manifestProblem = `${BUNDLE_MANIFEST_FILE} is missing from the bundle directory`;
    else {
      manifestText = fs.readFileSync(manifestFile, 'utf8');
      if (manifestText.endsWith('\n')) manifestText = manifestText.slice(0, -1);
    }
    return {
      path: p,
      layout: 'bundle',
      recordsFile: hasRecords ? recordsFile : null,
      recordsEnd: hasRecords ? fs.statSync(recordsFile).size : 0,
      manifestText,
      manifestProblem,
    };
  }
  const size = st.size;
  const fd = fs.openSync(p, 'r');
  try {
    if (size === 0) return { path: p, layout: 'jsonl', recordsFile: p, recordsEnd: 0, manifestText: null, manifestProblem: 'the file is empty (no manifest line)' };
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) {
      return {
        path: p,
        layout: 'jsonl',
        recordsFile: p,
        recordsEnd: size,
        manifestText: null,
        manifestProblem: 'the file does not end with a line end: its last line (the manifest) is incomplete (file truncated?)',
      };
    }
    // Read backwards from the end until the line end before the last line.
    const chunk = 1 << 16;
    let start = -1;
    let pos = size - 1; // exclusive end of the region still to search
    const buf = Buffer.alloc(chunk);
    while (pos > 0 && start < 0) {
      const from = Math.max(0, pos - chunk);
      const len = pos - from;
      fs.readSync(fd, buf, 0, len, from);
      const k = buf.subarray(0, len).lastIndexOf(0x0a);
      if (k >= 0) start = from + k + 1;
      pos = from;
    }
    if (start < 0) start = 0;
    const text = Buffer.alloc(size - 1 - start);
    fs.readSync(fd, text, 0, text.length, start);
    return { path: p, layout: 'jsonl', recordsFile: p, recordsEnd: start, manifestText: text.toString('utf8'), manifestProblem: null };
  } finally {
    fs.closeSync(fd);
  }
}

/** Parses and checks a manifest's text; returns the manifest or the problem. */
export function parseManifest(text: string): { manifest: ExportManifest } | { problem: string } {
  let u: unknown;
  try {
    u = JSON.parse(text);
  } catch (e) {
    return { problem: `the manifest is not JSON (${(e as Error).message})` };
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return { problem: 'the manifest is not a JSON object' };
  // exactly its canonical bytes: no other spacing, key order, line end or repeated key, so that
  // every JSON parser reads the one manifest the signature covers
  let canonical: string | null = null;
  try {
    canonical = canonicalize(u);
  } catch {
    canonical = null;
  }
  if (canonical !== text) {
    return { problem: 'the manifest is not written as RFC 8785 canonical JSON (extra whitespace, a CR, reordered or repeated keys)' };
  }
  const rt = (u as Record<string, unknown>).record_type;
  if (rt !== 'manifest') {
    return {
      problem:
        typeof rt === 'string'
          ? `the last line is a ${rt} record, not the manifest (manifest removed, or the file truncated?)`
          : 'the manifest has no record_type "manifest"',
    };
  }
  const d = ManifestCodec.decode(u);
  if (isLeft(d)) return { problem: `the manifest is malformed: ${firstError(d.left).message}` };
  const m = d.right as ExportManifest;
  if (m.format !== EXPORT_FORMAT) return { problem: `the manifest's format is "${m.format}"; this version reads ${EXPORT_FORMAT}` };
  const fixed: Array<[keyof ExportManifest, string]> = [
    ['hash_algorithm', HASH_ALGORITHM],
    ['canonicalization', CANONICALIZATION],
    ['merkle_tree', MERKLE_TREE],
    ['payload_hash_scheme', CANONICAL_VERSION],
  ];
  for (const [k, v] of fixed) if (m[k] !== v) return { problem: `the manifest's ${k} is "${String(m[k])}"; this version knows only "${v}"` };
  if (m.first_seq !== 0) return { problem: `the manifest's first_seq is ${m.first_seq}; an export always starts at seq 0` };
  if (m.last_seq < -1) return { problem: `the manifest's last_seq ${m.last_seq} is not a sequence number` };
  if (m.signature_algorithm === 'none') {
    if (m.signature !== null || m.key_id !== null) return { problem: 'the manifest says "unsigned" but carries a signature or key id' };
  } else if (m.signature === null || m.key_id === null) {
    return { problem: `the manifest says it is signed with ${m.signature_algorithm} but has no ${m.signature === null ? 'signature' : 'key_id'}` };
  }
  return { manifest: m };
}

// ---------------------------------------------------------------------------
// Reading record lines

export interface RawLine {
  readonly bytes: Buffer;
  /** False for a last line with no "\n" after it. */
  readonly terminated: boolean;
  /** Set when the line was longer than MAX_RECORD_LINE_BYTES: its bytes are not kept (and reading stops there). */
  readonly tooLong?: number;
}

/** The longest record line an export may have (a record is one entity; the largest real ones are a few KB). */
export const MAX_RECORD_LINE_BYTES = 64 << 20;

/**
 * Reads bytes [0, end) of a file as lines, in batches. Linear in the file size however long a
 * line is: the pieces of a line that spans chunks are kept apart and joined once, when its end
 * is found. A line longer than MAX_RECORD_LINE_BYTES is reported (tooLong) and ends the reading.
 */
export async function* readRawLines(file: string, end: number, maxLineBytes = MAX_RECORD_LINE_BYTES): AsyncGenerator<RawLine[]> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = 1 << 20;
    let pos = 0;
    let pieces: Buffer[] = [];
    let carried = 0;
    while (pos < end) {
      const buf = Buffer.allocUnsafe(Math.min(size, end - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data = buf.subarray(0, bytesRead);
      const out: RawLine[] = [];
      let s = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, s);
        if (nl < 0) break;
        if (pieces.length > 0) {
          pieces.push(data.subarray(s, nl));
          const line = Buffer.concat(pieces, carried + (nl - s));
          pieces = [];
          carried = 0;
          if (line.length > maxLineBytes) {
            yield [...out, { bytes: Buffer.alloc(0), terminated: true, tooLong: line.length }];
            return;
          }
          out.push({ bytes: line, terminated: true });
        } else {
          if (nl - s > maxLineBytes) {
            yield [...out, { bytes: Buffer.alloc(0), terminated: true, tooLong: nl - s }];
            return;
          }
          out.push({ bytes: data.subarray(s, nl), terminated: true });
        }
        s = nl + 1;
      }
      if (s < data.length) {
        // the buffer is fresh for every read, so its tail can be kept without a copy
        pieces.push(data.subarray(s));
        carried += data.length - s;
        if (carried > maxLineBytes) {
          yield [...out, { bytes: Buffer.alloc(0), terminated: true, tooLong: carried }];
          return;
        }
      }
      if (out.length > 0) yield out;
    }
    if (pieces.length > 0) yield [{ bytes: Buffer.concat(pieces, carried), terminated: false }];
  } finally {
    await fh.close();
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export type ParsedLine =
  | {
      readonly ok: true;
      readonly record: Record<string, unknown>;
      /** Canonical JSON of the record without chain_hash (record hash and Merkle leaf data). */
      readonly canonical: string;
      readonly chainHash: string;
    }
  | { readonly ok: false; readonly problem: string; readonly record: Record<string, unknown> | null };

/** Checks one line: complete, UTF-8, canonical JSON of a record object with a chain_hash. */
export function parseRecordLine(line: RawLine): ParsedLine {
  if (line.tooLong !== undefined) {
    return { ok: false, problem: `is longer than ${MAX_RECORD_LINE_BYTES.toLocaleString('en-US')} bytes (at least ${line.tooLong.toLocaleString('en-US')}): not a record line`, record: null };
  }
  if (!line.terminated) return { ok: false, problem: 'is incomplete: the file ends inside it (file truncated?)', record: null };
  if (line.bytes.length === 0) return { ok: false, problem: 'is an empty line, not canonical JSON', record: null };
  const text = line.bytes.toString('utf8');
  if (text.includes('\uFFFD')) {
    try {
      strictUtf8.decode(line.bytes);
    } catch {
      return { ok: false, problem: 'is not valid UTF-8, so not canonical JSON', record: null };
    }
  }
  let u: unknown;
  try {
    u = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'is not canonical JSON (it does not parse as JSON)', record: null };
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return { ok: false, problem: 'is not canonical JSON of a record (not a JSON object)', record: null };
  const record = u as Record<string, unknown>;
  let canonicalLine: string;
  try {
    canonicalLine = canonicalize(record);
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return { ok: false, problem: `is not canonical JSON (${e.message})`, record };
  }
  if (canonicalLine !== text) return { ok: false, problem: 'is not canonical JSON (RFC 8785): its bytes differ from the canonical form of its content', record };
  const chain = record[CHAIN_FIELD];
  if (typeof chain !== 'string' || !HEX64.test(chain)) return { ok: false, problem: `has no valid ${CHAIN_FIELD} (64 lowercase hex characters)`, record };
  const head = `"${CHAIN_FIELD}":"${chain}"`;
  const at = text.indexOf(head);
  let canonical: string;
  if (at >= 0 && text.indexOf(head, at + 1) < 0) canonical = removeChainMember(text, at);
  else {
    const copy = { ...record };
    delete copy[CHAIN_FIELD];
    canonical = canonicalize(copy);
  }
  delete record[CHAIN_FIELD];
  return { ok: true, record, canonical, chainHash: chain };
}

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

/** Verifies an export (a `jsonl` file or a `bundle` directory) from its files alone. */
export async function verifyExport(exportPath: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const files = locateExport(exportPath);
  const checks: VerifyCheck[] = [];
  const finish = (manifest: ExportManifest | null, recordsRead: number, signatureChecked: boolean, firstBadRecord?: BadRecord): VerifyReport => {
    const failed = checks.find((c) => c.status === 'fail');
    return {
      ok: failed === undefined,
      path: exportPath,
      layout: files.layout,
      manifest,
      recordsRead,
      signatureChecked,
      checks,
      ...(firstBadRecord !== undefined ? { firstBadRecord } : {}),
      ...(failed !== undefined ? { problem: failed.name === 'records' && firstBadRecord !== undefined ? describeBadRecord(firstBadRecord) : failed.detail } : {}),
    };
  };
  const skipRest = (names: VerifyCheck['name'][], why: string): void => {
    for (const name of names) checks.push({ name, status: 'skipped', detail: why });
  };

  // 1. manifest
  let manifest: ExportManifest;
  {
    const parsed = files.manifestText === null ? { problem: files.manifestProblem ?? 'no manifest' } : parseManifest(files.manifestText);
    if ('problem' in parsed) {
      checks.push({ name: 'manifest', status: 'fail', detail: parsed.problem });
      skipRest(['records', 'record_count', 'chain_head', 'merkle_root', 'signature'], 'not checked: no usable manifest');
      return finish(null, 0, false);
    }
    manifest = parsed.manifest;
    checks.push({
      name: 'manifest',
      status: 'pass',
      detail: `${manifest.format}, run ${manifest.run_id}, ${manifest.record_count} records, seq ${manifest.first_seq}..${manifest.last_seq}, exported ${manifest.exported_at} by ${manifest.exporter} ${manifest.exporter_version}`,
    });
  }
  // 2. run
  if (options.expectedRunId !== undefined) {
    checks.push(
      manifest.run_id === options.expectedRunId
        ? { name: 'run', status: 'pass', detail: `the export is of run ${manifest.run_id}` }
        : { name: 'run', status: 'fail', detail: `the export is of run ${manifest.run_id}, not of the expected run ${options.expectedRunId} (an export of another run?)` },
    );
  }
  // 3. records
  const scan = await scanRecords(files, manifest, options.onRecord);
  const n = scan.count;
  let firstBad = scan.firstBad;
  if (files.recordsFile === null) {
    checks.push({ name: 'records', status: 'fail', detail: `${BUNDLE_RECORDS_FILE} is missing from the bundle directory` });
  } else if (firstBad !== undefined) {
    checks.push({ name: 'records', status: 'fail', detail: describeBadRecord(firstBad) });
  } else {
    checks.push({ name: 'records', status: 'pass', detail: `${n} records: canonical JSON, all of run ${manifest.run_id}, hash chain intact from the genesis` });
  }
  // 4-6. count, head, root
  if (files.recordsFile === null || firstBad !== undefined) {
    skipRest(['record_count', 'chain_head', 'merkle_root'], 'not checked: the records did not verify');
  } else {
    if (n === manifest.record_count) checks.push({ name: 'record_count', status: 'pass', detail: `${n} records, as the manifest states` });
    else if (n < manifest.record_count) {
      firstBad = badRecord(n, null, `is missing: the records end after record ${n - 1}, but the manifest lists ${manifest.record_count} (file truncated, or records deleted at the end?)`);
      checks.push({ name: 'record_count', status: 'fail', detail: `${describeBadRecord(firstBad)}` });
    } else {
      firstBad = badRecord(manifest.record_count, scan.extra, `is not covered by the manifest, which lists ${manifest.record_count} records (records appended?)`);
      checks.push({ name: 'record_count', status: 'fail', detail: `${describeBadRecord(firstBad)}` });
    }
    checks.push(
      scan.chainHead === manifest.chain_head
        ? { name: 'chain_head', status: 'pass', detail: `chain head ${manifest.chain_head}` }
        : {
            name: 'chain_head',
            status: 'fail',
            detail: `the chain ends at ${scan.chainHead}, the manifest says ${manifest.chain_head}${n === manifest.record_count ? ' (records changed and their chain recomputed, or the manifest edited)' : ''}`,
          },
    );
    checks.push(
      scan.merkleRoot === manifest.merkle_root
        ? { name: 'merkle_root', status: 'pass', detail: `Merkle root ${manifest.merkle_root}` }
        : { name: 'merkle_root', status: 'fail', detail: `the records' Merkle root is ${scan.merkleRoot}, the manifest says ${manifest.merkle_root}` },
    );
  }
  // 7. signature
  const sig = checkSignature(manifest, options);
  checks.push({ name: sig.name, status: sig.status, detail: sig.detail });
  return finish(manifest, n, sig.checked, firstBad);
}

interface Scan {
  count: number;
  chainHead: string;
  merkleRoot: string;
  firstBad?: BadRecord;
  /** The first record beyond the manifest's count (for messages). */
  extra: Record<string, unknown> | null;
}

async function scanRecords(files: ExportFiles, manifest: ExportManifest, onRecord: VerifyOptions['onRecord']): Promise<Scan> {
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

// ---------------------------------------------------------------------------
// Inclusion proofs

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

/** The subtree ranges whose roots form the audit path of `index` in a tree of `n` leaves (bottom-up). */
function auditRanges(index: number, n: number): Array<[number, number]> {
  const topDown: Array<[number, number]> = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    if (index < lo + k) {
      topDown.push([lo + k, hi]);
      hi = lo + k;
    } else {
      topDown.push([lo, lo + k]);
      lo += k;
    }
  }
  return topDown.reverse();
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
  const ranges = auditRanges(index, n);
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

/**
 * Verifies a proof (a parsed proof document) against an export's manifest, whose
 * signature is checked as in verifyExport. Only the manifest is read: the records
 * file need not be present (a manifest file alone will do).
 */
export function verifyProof(exportPath: string, proof: unknown, options: VerifyOptions = {}): VerifyReport {
  const files = locateExport(exportPath);
  const checks: VerifyCheck[] = [];
  const parsed = files.manifestText === null ? { problem: files.manifestProblem ?? 'no manifest' } : parseManifest(files.manifestText);
  let manifest: ExportManifest | null = null;
  let checked = false;
  if ('problem' in parsed) {
    checks.push({ name: 'manifest', status: 'fail', detail: parsed.problem });
    checks.push({ name: 'proof', status: 'skipped', detail: 'not checked: no usable manifest' });
    checks.push({ name: 'signature', status: 'skipped', detail: 'not checked: no usable manifest' });
  } else {
    manifest = parsed.manifest;
    checks.push({ name: 'manifest', status: 'pass', detail: `${manifest.format}, run ${manifest.run_id}, ${manifest.record_count} records` });
    if (options.expectedRunId !== undefined) {
      checks.push(
        manifest.run_id === options.expectedRunId
          ? { name: 'run', status: 'pass', detail: `the export is of run ${manifest.run_id}` }
          : { name: 'run', status: 'fail', detail: `the export is of run ${manifest.run_id}, not of the expected run ${options.expectedRunId}` },
      );
    }
    const problem = checkProof(manifest, proof);
    const idx = (proof as { record_index?: unknown } | null)?.record_index;
    checks.push(
      problem === null
        ? { name: 'proof', status: 'pass', detail: `record ${String(idx)} is included under Merkle root ${manifest.merkle_root}` }
        : { name: 'proof', status: 'fail', detail: problem },
    );
    const sig = checkSignature(manifest, options);
    checked = sig.checked;
    checks.push({ name: sig.name, status: sig.status, detail: sig.detail });
  }
  const failed = checks.find((c) => c.status === 'fail');
  return {
    ok: failed === undefined,
    path: exportPath,
    layout: files.layout,
    manifest,
    recordsRead: 0,
    signatureChecked: checked,
    checks,
    ...(failed !== undefined ? { problem: failed.detail } : {}),
  };
}
