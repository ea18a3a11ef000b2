/**
 * Reading an export from its files: locating its parts (a `jsonl` file whose last line is the
 * manifest, or a `bundle` directory with records.jsonl and manifest.json), parsing the manifest,
 * and reading record lines (linear, bounded per line) and parsing each (UTF-8, RFC 8785
 * canonical JSON, the chain_hash member). Verification (verify.ts) and proofs (proof.ts) read
 * exports only through this module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLeft } from 'fp-ts/Either';
import { CANONICAL_VERSION } from '../canonical/hash';
import { canonicalize } from '../canonical/jcs';
import { firstError } from '../events/codecs';
import { isLedgerError, ledgerError } from '../errors';
import {
  BUNDLE_MANIFEST_FILE,
  BUNDLE_RECORDS_FILE,
  CANONICALIZATION,
  CHAIN_FIELD,
  EXPORT_FORMAT,
  ExportManifest,
  HASH_ALGORITHM,
  ManifestCodec,
  MERKLE_TREE,
  removeChainMember,
} from './bundle';

/** 64 lowercase hex characters (a SHA-256 digest as the export writes it). */
export const HEX64 = /^[0-9a-f]{64}$/;

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
