/**
 * Verifiable export bundles: records with a per-record hash chain, an RFC 6962
 * Merkle root and a signed manifest. The format is documented in full in
 * docs/export-bundle.md; in short:
 *
 * Records file (JSON Lines, UTF-8, every line ends with "\n"): line i is the RFC 8785
 * canonical JSON of record i (src/export/records.ts, documented order) with ONE added
 * member, `chain_hash`:
 *
 *   record_hash_i  = hex(SHA-256(0x00 || canonical(record_i)))    record_i WITHOUT chain_hash: its RFC 6962 leaf hash
 *   chain_hash_-1  = hex(SHA-256(UTF-8("lineage-ledger/chain/v1:" + run_id)))   the genesis
 *   chain_hash_i   = hex(SHA-256(UTF-8(chain_hash_{i-1} + record_hash_i)))      128 hex chars hashed
 *
 * (hex is lowercase; `+` is string concatenation). The Merkle tree (RFC 6962: leaf =
 * SHA-256(0x00 || data), node = SHA-256(0x01 || left || right)) has one leaf per record,
 * whose data is canonical(record_i) WITHOUT chain_hash, so the root does not depend on the chain.
 *
 * Manifest: a JSON object `{"record_type":"manifest", ...}` (fields: {@link ExportManifest}).
 * Its `signature` is computed over the RFC 8785 canonical JSON of the manifest WITHOUT the
 * `signature` member (every other member, `exported_at` and `key_id` included, is covered).
 *
 * Layouts:
 * - `jsonl` (default): one file, the record lines, then the manifest as the last line
 *   (canonical JSON); can be written to stdout.
 * - `bundle`: a directory with `records.jsonl` (the record lines) and `manifest.json`
 *   (the manifest as one canonical JSON line).
 *
 * Exporting the same events twice gives byte-identical record lines, chain head and Merkle
 * root; the manifest differs only in `exported_at` (and its signature).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { CANONICAL_VERSION, sha256Hex } from '../canonical/hash';
import { canonicalBytes, canonicalize } from '../canonical/jcs';
import { Hash, Id, Int, literalUnion, NonNegativeInt, nullable, Str, struct, Timestamp } from '../events/codecs';
import { ledgerError } from '../errors';
import type { ReadOptions } from '../projections/state';
import { RECORD_KEYS, type RecordType } from '../projections/entities';
import type { RunState } from '../projections/state';
import type { CsvView } from './csv';
import { writeDirectoryAtomically, writeFileAtomically, writeLines, writeLinesToFd } from './files';
import type { Signer, SignatureAlgorithm } from './keys';
import { leafHash, MerkleTreeBuilder } from './merkle';
import { ExportRecord, runRecords } from './records';

export const EXPORT_FORMAT = 'lineage-ledger/export/v1';
export const MANIFEST_RECORD_TYPE = 'manifest';
/** The only member the exporter adds to a record line. */
export const CHAIN_FIELD = 'chain_hash';
export const CHAIN_GENESIS_PREFIX = 'lineage-ledger/chain/v1:';
export const HASH_ALGORITHM = 'sha256';
export const CANONICALIZATION = 'RFC8785';
export const MERKLE_TREE = 'RFC6962';
export const EXPORTER = 'lineage-ledger';
/** File names inside a `bundle` directory. */
export const BUNDLE_RECORDS_FILE = 'records.jsonl';
export const BUNDLE_MANIFEST_FILE = 'manifest.json';

export type ExportFormat = 'jsonl' | 'bundle';

/** The manifest: what the signature vouches for. */
export interface ExportManifest {
  readonly record_type: 'manifest';
  /** `lineage-ledger/export/v1`. */
  readonly format: string;
  readonly run_id: string;
  readonly record_count: number;
  /** Event seq range of the run the records reflect: 0 and the seq of the last event folded in. */
  readonly first_seq: number;
  readonly last_seq: number;
  /** chain_hash of the last record (the genesis when there are no records). */
  readonly chain_head: string;
  /** RFC 6962 root over the records (SHA-256 of the empty string when there are none). */
  readonly merkle_root: string;
  readonly merkle_tree: string;
  readonly hash_algorithm: string;
  readonly canonicalization: string;
  /** How the ledger's own payload hashes (input_hash, config_hash, ...) are computed. */
  readonly payload_hash_scheme: string;
  readonly exporter: string;
  readonly exporter_version: string;
  /** When the export was written: covered by the signature, not part of the byte-identity claim. */
  readonly exported_at: string;
  /** null when unsigned. */
  readonly key_id: string | null;
  readonly signature_algorithm: SignatureAlgorithm;
  /** Lowercase hex; null when unsigned. */
  readonly signature: string | null;
}

export const ManifestCodec = struct('ExportManifest', {
  record_type: literalUnion('ManifestRecordType', [MANIFEST_RECORD_TYPE]),
  format: Str,
  run_id: Id,
  record_count: NonNegativeInt,
  first_seq: NonNegativeInt,
  last_seq: Int,
  chain_head: Hash,
  merkle_root: Hash,
  merkle_tree: Str,
  hash_algorithm: Str,
  canonicalization: Str,
  payload_hash_scheme: Str,
  exporter: Str,
  exporter_version: Str,
  exported_at: Timestamp,
  key_id: nullable(Hash),
  signature_algorithm: literalUnion('SignatureAlgorithm', ['none', 'ed25519', 'hmac-sha256']),
  signature: nullable(Str),
});

// ---------------------------------------------------------------------------
// Record ids (for messages)


/** A record's id for messages (its primary key fields joined with "/"), or null when it has none. */
export function recordId(record: { readonly [k: string]: unknown }): string | null {
  const fields = RECORD_KEYS[record.record_type as RecordType];
  if (fields === undefined) return null;
  const parts: string[] = [];
  for (const f of fields) {
    const v = record[f];
    parts.push(typeof v === 'string' || typeof v === 'number' ? String(v) : '?');
  }
  return parts.join('/');
}

/** "record 17 (token 3f2a…)" */
export function describeRecord(index: number, record: { readonly [k: string]: unknown } | null): string {
  if (record === null) return `record ${index}`;
  const rt = typeof record.record_type === 'string' ? record.record_type : '?';
  const id = recordId(record);
  return id === null ? `record ${index} (${rt})` : `record ${index} (${rt} ${id})`;
}

// ---------------------------------------------------------------------------
// The chain

/** hex(SHA-256(UTF-8("lineage-ledger/chain/v1:" + runId))). */
export function chainGenesis(runId: string): string {
  return sha256Hex(CHAIN_GENESIS_PREFIX + runId);
}

/** A record's hash: hex of its RFC 6962 Merkle leaf hash, SHA-256(0x00 || UTF-8 canonical JSON without chain_hash). */
export function recordHash(canonicalRecord: string | Uint8Array): string {
  return leafHash(typeof canonicalRecord === 'string' ? Buffer.from(canonicalRecord, 'utf8') : canonicalRecord).toString('hex');
}

/** hex(SHA-256(UTF-8(previousChainHash + recordHash))). */
export function nextChainHash(previousChainHash: string, recordHash: string): string {
  return sha256Hex(previousChainHash + recordHash);
}

const CHAIN_MEMBER_HEAD = `"${CHAIN_FIELD}":"`;

/**
 * Removes the top-level member that starts at `at` (`"chain_hash":"<64 hex>"`) from canonical
 * object text, with its separating comma: the result is the canonical text of the object
 * without that member (RFC 8785 writes `{` members joined by `,` `}`).
 */
export function removeChainMember(line: string, at: number): string {
  const end = at + CHAIN_MEMBER_HEAD.length + 64 + 1;
  if (line.charCodeAt(at - 1) === 0x2c /* , */) return line.slice(0, at - 1) + line.slice(end);
  if (line.charCodeAt(end) === 0x2c) return line.slice(0, at) + line.slice(end + 1);
  return line.slice(0, at) + line.slice(end);
}

/** Digest of a sequence of records: what the manifest states about them. */
export interface RecordsDigest {
  readonly recordCount: number;
  readonly chainHead: string;
  readonly merkleRoot: string;
}

/**
 * Where the chain_hash member goes in a record's canonical text, or -1 when that cannot be
 * told without a second canonicalisation. RFC 8785 writes `{` + members sorted by key, joined
 * by `,` + `}`; chain_hash goes before the first key that sorts after it (or before the final
 * `}`). That key's member is found by its text `,"key":`, which is unambiguous when every member
 * before it has a scalar value: a string value cannot hold an unescaped `"`, and the keys
 * before it are other keys. Returns the index of the `,` (or of the `}`) to insert before;
 * 1 (after `{`) when no key sorts before chain_hash.
 */
function chainInsertionPoint(record: Readonly<Record<string, unknown>>, canonical: string): number {
  let next: string | null = null;
  let before = 0;
  for (const k in record) {
    if (k < CHAIN_FIELD) {
      const v = record[k];
      if (typeof v === 'object' && v !== null) return -1;
      before++;
    } else if (next === null || k < next) next = k;
  }
  if (before === 0) return 1;
  if (next === null) return canonical.length - 1;
  return canonical.indexOf(`,${JSON.stringify(next)}:`);
}

/**
 * Turns records into chained lines, one at a time (O(log n) memory), and keeps the
 * chain head and Merkle root. Each record is canonicalised once; its line is that text
 * with the chain_hash member spliced in at its sorted place (a second canonicalisation
 * only for records with an object value under a key that sorts before chain_hash).
 */
export class ChainEncoder {
  private readonly merkle = new MerkleTreeBuilder();
  private head: string;
  private count = 0;
  private scratch = Buffer.allocUnsafe(1 << 16);

  constructor(readonly runId: string) {
    this.head = chainGenesis(runId);
  }

  /** The line for the next record (without the line end). */
  encode(record: ExportRecord): string {
    if (Object.prototype.hasOwnProperty.call(record, CHAIN_FIELD)) {
      throw ledgerError('EXPORT_FAILED', `record ${this.count} already has a ${CHAIN_FIELD} field`, { index: this.count });
    }
    const canonical = canonicalize(record);
    // UTF-8 bytes into a reused buffer (at most 3 bytes per UTF-16 unit): no allocation per record.
    if (canonical.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafe(canonical.length * 3 + 1024);
    const bytes = this.scratch.subarray(0, this.scratch.write(canonical, 0, 'utf8'));
    // the record hash is its Merkle leaf hash: one SHA-256 serves the chain and the tree
    const leaf = leafHash(bytes);
    const chain = nextChainHash(this.head, leaf.toString('hex'));
    this.merkle.pushLeafHash(leaf);
    this.head = chain;
    this.count++;
    const at = chainInsertionPoint(record, canonical);
    if (at < 0) return canonicalize({ ...record, [CHAIN_FIELD]: chain });
    const member = `${CHAIN_MEMBER_HEAD}${chain}"`;
    if (at === 1) return canonical.length === 2 ? `{${member}}` : `{${member},${canonical.slice(1)}`;
    return `${canonical.slice(0, at)},${member}${canonical.slice(at)}`;
  }

  digest(): RecordsDigest {
    return { recordCount: this.count, chainHead: this.head, merkleRoot: this.merkle.root().toString('hex') };
  }
}

/** Count, chain head and Merkle root of records (no lines kept). */
export function digestRecords(runId: string, records: Iterable<ExportRecord>): RecordsDigest {
  const enc = new ChainEncoder(runId);
  for (const r of records) enc.encode(r);
  return enc.digest();
}

// ---------------------------------------------------------------------------
// The manifest

export interface ManifestInput {
  readonly runId: string;
  readonly digest: RecordsDigest;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Default: now. */
  readonly exportedAt?: string;
  readonly signer?: Signer | null;
}

/** The bytes a manifest's signature covers: canonical JSON of the manifest without `signature`. */
export function manifestSigningBytes(manifest: Omit<ExportManifest, 'signature'> | ExportManifest): Buffer {
  const copy: Record<string, unknown> = { ...manifest };
  delete copy.signature;
  return canonicalBytes(copy);
}

export function buildManifest(input: ManifestInput): ExportManifest {
  const signer = input.signer ?? null;
  const unsigned: Omit<ExportManifest, 'signature'> = {
    record_type: 'manifest',
    format: EXPORT_FORMAT,
    run_id: input.runId,
    record_count: input.digest.recordCount,
    first_seq: input.firstSeq,
    last_seq: input.lastSeq,
    chain_head: input.digest.chainHead,
    merkle_root: input.digest.merkleRoot,
    merkle_tree: MERKLE_TREE,
    hash_algorithm: HASH_ALGORITHM,
    canonicalization: CANONICALIZATION,
    payload_hash_scheme: CANONICAL_VERSION,
    exporter: EXPORTER,
    exporter_version: exporterVersion(),
    exported_at: input.exportedAt ?? new Date().toISOString(),
    key_id: signer === null ? null : signer.keyId,
    signature_algorithm: signer === null ? 'none' : signer.algorithm,
  };
  return { ...unsigned, signature: signer === null ? null : signer.sign(manifestSigningBytes(unsigned)) };
}

let cachedVersion: string | null = null;

/** This package's version (nearest package.json named lineage-ledger, from src/ or dist/). */
export function exporterVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  let dir = __dirname;
  cachedVersion = '0.0.0';
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'lineage-ledger' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // not a readable package.json: keep looking
      }
    }
    dir = path.dirname(dir);
  }
  return cachedVersion;
}

// ---------------------------------------------------------------------------
// Writing

export interface ExportStateOptions {
  readonly signer?: Signer | null;
  /** Default: now. */
  readonly exportedAt?: string;
  /** Also feeds every record to this CSV view (src/export/csv.ts). */
  readonly csv?: CsvView;
  /** Progress: called with the number of records written so far. */
  readonly onRecord?: (n: number) => void;
}

/**
 * The lines of a `jsonl` export of a run state: every record line, then the manifest line.
 * `done` receives the manifest once the last record has been encoded.
 */
export function* exportStateLines(state: RunState, options: ExportStateOptions, done?: (m: ExportManifest) => void): Generator<string> {
  const box: { manifest: ExportManifest | null } = { manifest: null };
  yield* recordLines(state, options, (m) => (box.manifest = m));
  const m = box.manifest;
  if (m === null) throw ledgerError('EXPORT_FAILED', 'the records were not all written', {});
  done?.(m);
  yield canonicalize(m);
}

/** The record lines of a run state; `done` receives the manifest after the last one. */
export function* recordLines(state: RunState, options: ExportStateOptions, done: (m: ExportManifest) => void): Generator<string> {
  const enc = new ChainEncoder(state.runId);
  let n = 0;
  for (const r of runRecords(state)) {
    yield enc.encode(r);
    options.csv?.write(r);
    options.onRecord?.(++n);
  }
  done(
    buildManifest({
      runId: state.runId,
      digest: enc.digest(),
      firstSeq: 0,
      lastSeq: state.version,
      ...(options.exportedAt !== undefined ? { exportedAt: options.exportedAt } : {}),
      signer: options.signer ?? null,
    }),
  );
}

export interface ExportBundleOptions extends ExportRunOptions, ExportStateOptions {
  /** Default `jsonl`. */
  readonly format?: ExportFormat;
}

export interface ExportResult {
  readonly runId: string;
  readonly format: ExportFormat;
  readonly manifest: ExportManifest;
}

export interface ExportRunOptions extends ReadOptions {
  /** Export even when the fold found anomalies (events written around the recorder's checks). Default false. */
  readonly allowAnomalies?: boolean;
}

/** What an export reads a run from (a Ledger is one): its state, anomalies refused unless allowed. */
export interface ExportSource {
  loadRunForExport(runId: string, options?: ExportRunOptions): Promise<RunState>;
}

/** Loads a run (refusing anomalies unless allowed, as Ledger.exportRun does). */
export function loadRunForExport(source: ExportSource, runId: string, options: ExportRunOptions = {}): Promise<RunState> {
  return source.loadRunForExport(runId, options);
}

/**
 * Exports a run: `out` is a file path (`jsonl`), a directory path (`bundle`) or a
 * writable stream (`jsonl` only, e.g. stdout). Files and directories are written
 * beside their target and renamed into place when complete; an existing bundle
 * directory is never overwritten (an empty one is replaced).
 */
export async function writeExport(source: ExportSource, runId: string, out: string | Writable, options: ExportBundleOptions = {}): Promise<ExportResult> {
  const format = options.format ?? 'jsonl';
  let state: RunState;
  try {
    state = await loadRunForExport(source, runId, options);
  } catch (e) {
    options.csv?.abort();
    throw e;
  }
  return exportState(state, out, { ...options, format });
}

/** Writes a loaded run state as an export (see {@link writeExport}); a CSV view given is committed after it, or discarded on failure. */
export async function exportState(state: RunState, out: string | Writable, options: ExportStateOptions & { format?: ExportFormat } = {}): Promise<ExportResult> {
  const format = options.format ?? 'jsonl';
  try {
    const manifest = format === 'jsonl' ? await writeJsonl(state, out, options) : await writeBundle(state, out, options);
    options.csv?.commit(manifest);
    return { runId: state.runId, format, manifest };
  } catch (e) {
    options.csv?.abort();
    throw e;
  }
}

async function writeJsonl(state: RunState, out: string | Writable, options: ExportStateOptions): Promise<ExportManifest> {
  const box: { manifest: ExportManifest | null } = { manifest: null };
  const lines = exportStateLines(state, options, (m) => (box.manifest = m));
  if (typeof out === 'string') await writeFileAtomically(out, (fd) => writeLinesToFd(lines, fd));
  else await writeLines(lines, out);
  if (box.manifest === null) throw ledgerError('EXPORT_FAILED', 'the export ended before its manifest was written', {});
  return box.manifest;
}

async function writeBundle(state: RunState, out: string | Writable, options: ExportStateOptions): Promise<ExportManifest> {
  if (typeof out !== 'string') throw ledgerError('INVALID_INPUT', 'a bundle export is a directory: give a path, not a stream', { path: 'out' });
  return writeDirectoryAtomically(out, async (tmp) => {
    const box: { manifest: ExportManifest | null } = { manifest: null };
    await writeFileAtomically(path.join(tmp, BUNDLE_RECORDS_FILE), (fd) => writeLinesToFd(recordLines(state, options, (m) => (box.manifest = m)), fd));
    const m = box.manifest;
    if (m === null) throw ledgerError('EXPORT_FAILED', 'the records were not all written', {});
    await writeFileAtomically(path.join(tmp, BUNDLE_MANIFEST_FILE), (fd) => writeLinesToFd([canonicalize(m)], fd));
    return m;
  });
}
