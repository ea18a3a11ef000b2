/**
 * Export bundles: the documented layout, chain and manifest, computed here by hand
 * from the documented formulas (node:crypto directly, not the exporter's helpers),
 * byte-identical re-exports, signing, and inclusion proofs.
 */
import { createHash, generateKeyPairSync, verify as cryptoVerify, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { canonicalize } from '../../src/canonical/jcs';
import { isLedgerError } from '../../src/errors';
import { writeExport, BUNDLE_MANIFEST_FILE, BUNDLE_RECORDS_FILE, ChainEncoder, recordId } from '../../src/export/bundle';
import { RECORD_KEYS } from '../../src/projections/entities';
import { ed25519Signer, hmacKeyId, hmacSigner, parseHmacKey } from '../../src/export/keys';
import { inclusionProof, leafHash, MerkleTreeBuilder } from '../../src/export/merkle';
import { recordFieldNames } from '../../src/export/records';
import { proveRecord } from '../../src/export/proof';
import { parseRecordLine } from '../../src/export/read';
import { verifyExport, verifyProof } from '../../src/export/verify';
import type { Ledger } from '../../src/ledger';
import type { ExportRecord } from '../../src/export/records';
import { RECORD_TYPES } from '../../src/projections/entities';
import { deterministicLedger, fileLines, recordTinyRun, tempDir, TINY_RUN_ID } from './bundle-fixtures';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
/** The documented record hash, computed by hand: SHA-256 of a 0x00 byte followed by the UTF-8 canonical record (its RFC 6962 leaf hash). */
const leaf = (canonical: string): string => createHash('sha256').update(Buffer.from([0])).update(canonical, 'utf8').digest('hex');

let ledger: Ledger;
let runId: string;
const tmp = tempDir();
const EXPORTED_AT = '2026-02-03T04:05:06.000Z';

beforeAll(async () => {
  ledger = await deterministicLedger();
  runId = await recordTinyRun(ledger);
});
afterAll(async () => {
  await ledger.close();
  tmp.cleanup();
});

describe('known answer: the tiny fixed run', () => {
  let lines: string[];
  beforeAll(async () => {
    const file = path.join(tmp.dir, 'tiny.jsonl');
    await writeExport(ledger, runId, file, { exportedAt: EXPORTED_AT });
    lines = fileLines(file);
  });

  test('the chain genesis is SHA-256 of "lineage-ledger/chain/v1:" + run id', () => {
    expect(runId).toBe(TINY_RUN_ID);
    // printf '%s' 'lineage-ledger/chain/v1:11111111-1111-4111-8111-111111111111' | sha256sum
    expect(sha256(`lineage-ledger/chain/v1:${TINY_RUN_ID}`)).toBe('f8bf139f117a224b076949566eacc0e5309981ca7ae3b8aedbef9109b5fdadff');
  });

  test('every line is canonical JSON of the record plus chain_hash, chained from the genesis', () => {
    const records = lines.slice(0, -1);
    expect(records.length).toBe(13);
    let prev = 'f8bf139f117a224b076949566eacc0e5309981ca7ae3b8aedbef9109b5fdadff';
    const leaves: Buffer[] = [];
    for (const line of records) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      expect(canonicalize(rec)).toBe(line);
      const chain = rec.chain_hash as string;
      delete rec.chain_hash;
      const canonical = canonicalize(rec);
      // the only added member is chain_hash
      expect(Object.keys(rec).sort()).toEqual(recordFieldNames(rec.record_type as never).sort());
      // the record hash is the RFC 6962 leaf hash: SHA-256 of a 0x00 byte then the canonical record
      const recordHash = leaf(canonical);
      expect(chain).toBe(sha256(prev + recordHash));
      prev = chain;
      leaves.push(createHash('sha256').update(Buffer.from([0])).update(canonical, 'utf8').digest());
    }
    // the first record is the run: chain_hash_0 = SHA-256(genesis hex + record hash hex)
    const run = JSON.parse(records[0]!) as Record<string, unknown>;
    expect(run.record_type).toBe('run');
    const runCanonical = canonicalize(Object.fromEntries(Object.entries(run).filter(([k]) => k !== 'chain_hash')));
    expect(run.chain_hash).toBe(sha256('f8bf139f117a224b076949566eacc0e5309981ca7ae3b8aedbef9109b5fdadff' + leaf(runCanonical)));

    const manifest = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    expect(canonicalize(manifest)).toBe(lines[lines.length - 1]);
    const root = new MerkleTreeBuilder();
    for (const l of leaves) root.pushLeafHash(l);
    expect(manifest).toEqual({
      record_type: 'manifest',
      format: 'lineage-ledger/export/v1',
      run_id: TINY_RUN_ID,
      record_count: 13,
      first_seq: 0,
      last_seq: 15,
      chain_head: prev,
      merkle_root: root.root().toString('hex'),
      merkle_tree: 'RFC6962',
      hash_algorithm: 'sha256',
      canonicalization: 'RFC8785',
      payload_hash_scheme: 'sha256-rfc8785-v1',
      exporter: 'lineage-ledger',
      exporter_version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      exported_at: EXPORTED_AT,
      key_id: null,
      signature_algorithm: 'none',
      signature: null,
    });
  });

  test('exporting twice gives byte-identical records and the same root; the bundle layout holds the same bytes', async () => {
    const a = path.join(tmp.dir, 'twice-a.jsonl');
    const b = path.join(tmp.dir, 'twice-b.jsonl');
    const dir = path.join(tmp.dir, 'twice-bundle');
    const ra = await writeExport(ledger, runId, a, { exportedAt: EXPORTED_AT });
    const rb = await writeExport(ledger, runId, b, { exportedAt: '2027-01-01T00:00:00.000Z' });
    const rc = await writeExport(ledger, runId, dir, { format: 'bundle' });
    const recordsA = fileLines(a).slice(0, -1).join('\n') + '\n';
    expect(fileLines(b).slice(0, -1).join('\n') + '\n').toBe(recordsA);
    expect(fs.readFileSync(path.join(dir, BUNDLE_RECORDS_FILE), 'utf8')).toBe(recordsA);
    expect(rb.manifest.merkle_root).toBe(ra.manifest.merkle_root);
    expect(rc.manifest.merkle_root).toBe(ra.manifest.merkle_root);
    expect(rb.manifest.chain_head).toBe(ra.manifest.chain_head);
    // the manifest differs only in exported_at
    expect({ ...rb.manifest, exported_at: EXPORTED_AT }).toEqual(ra.manifest);
    expect(fs.readFileSync(path.join(dir, BUNDLE_MANIFEST_FILE), 'utf8')).toBe(`${canonicalize(rc.manifest)}\n`);
  });

  test('a jsonl export streams to a writable (stdout) with the manifest last', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeExport(ledger, runId, out, { exportedAt: EXPORTED_AT });
    expect(Buffer.concat(chunks).toString('utf8')).toBe(lines.join('\n') + '\n');
  });
});

describe('signing', () => {
  test('Ed25519: the signature covers the canonical manifest without `signature`; key id = SHA-256 of the SPKI DER', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = path.join(tmp.dir, 'signed.jsonl');
    const { manifest } = await writeExport(ledger, runId, file, { signer: ed25519Signer(privateKey) });
    expect(manifest.signature_algorithm).toBe('ed25519');
    expect(manifest.key_id).toBe(sha256(publicKey.export({ type: 'spki', format: 'der' })));
    const { signature, ...rest } = manifest;
    expect(signature).toMatch(/^[0-9a-f]{128}$/);
    expect(cryptoVerify(null, Buffer.from(canonicalize(rest), 'utf8'), publicKey, Buffer.from(signature!, 'hex'))).toBe(true);
    // the last line of the file is that manifest
    expect(JSON.parse(fileLines(file).pop()!)).toEqual(manifest);
  });

  test('HMAC-SHA256: key id = SHA-256 of the domain tag, 0x00 and the key; signature = HMAC over the same bytes', async () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'utf8');
    const file = path.join(tmp.dir, 'hmac.jsonl');
    const { manifest } = await writeExport(ledger, runId, file, { signer: hmacSigner(key) });
    expect(manifest.signature_algorithm).toBe('hmac-sha256');
    expect(manifest.key_id).toBe(sha256(Buffer.concat([Buffer.from('lineage-ledger/hmac-sha256-key-id/v1', 'utf8'), Buffer.from([0]), key])));
    expect(hmacKeyId(key)).toBe(manifest.key_id);
    const { signature, ...rest } = manifest;
    expect(signature).toBe(createHmac('sha256', key).update(canonicalize(rest)).digest('hex'));
  });

  test('an HMAC key file loses one trailing line end and must hold at least 32 bytes', () => {
    expect(parseHmacKey(Buffer.from(`${'k'.repeat(32)}\r\n`)).toString()).toBe('k'.repeat(32));
    expect(parseHmacKey(Buffer.from(`${'k'.repeat(32)}\n\n`)).length).toBe(33);
    expect(() => parseHmacKey(Buffer.from('short\n'))).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    // a PEM key (public or private) is never an HMAC secret: with a public key anyone could forge the signature
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    for (const pem of [publicKey.export({ type: 'spki', format: 'pem' }), privateKey.export({ type: 'pkcs8', format: 'pem' })]) {
      expect(() => parseHmacKey(Buffer.from(pem))).toThrow(expect.objectContaining({ code: 'KEY_INVALID', message: expect.stringContaining('PEM key') }));
    }
  });
});

describe('the encoder', () => {
  const nested = {
    record_type: 'preflight_result',
    run_id: TINY_RUN_ID,
    result_id: TINY_RUN_ID,
    result_type: 'readiness_check',
    name: 'x',
    result_json: { chain_hash: 'a'.repeat(64), nested: { chain_hash: 'b' } },
    created_at: EXPORTED_AT,
  } as const;

  const withObjectFirst = { ...nested, a_object_before_chain: { chain_hash: 'x', z: [1, { y: {} }] } };
  const onlyScalarsBefore = { ...nested, batch_id: null, attempt: 2, call_type: 'a"b,c' };

  test.each([
    ['a nested chain_hash member', nested],
    ['an object value before chain_hash (second canonicalisation)', withObjectFirst],
    ['scalars, with quotes and commas, before chain_hash', onlyScalarsBefore],
    ['no member after chain_hash', { a: 1, b: 'x' }],
    ['no member at all', {}],
  ])('records with %s give canonical lines chained as documented', (_label, rec) => {
    const enc = new ChainEncoder(TINY_RUN_ID);
    const line = enc.encode(rec as never);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(canonicalize(parsed)).toBe(line);
    const chain = parsed.chain_hash as string;
    delete parsed.chain_hash;
    expect(parsed).toEqual(rec);
    expect(chain).toBe(sha256(sha256(`lineage-ledger/chain/v1:${TINY_RUN_ID}`) + leaf(canonicalize(rec))));
    expect(enc.digest().chainHead).toBe(chain);
  });

  test('the verifier cuts out the top-level chain_hash even when a nested member has the same text', () => {
    const h = 'c'.repeat(64);
    const rec = { ...nested, result_json: { chain_hash: h } };
    const line = canonicalize({ ...rec, chain_hash: h });
    const p = parseRecordLine({ bytes: Buffer.from(line, 'utf8'), terminated: true });
    expect(p.ok && p.canonical).toBe(canonicalize(rec));
    const q = parseRecordLine({ bytes: Buffer.from(canonicalize({ ...nested, chain_hash: h }), 'utf8'), terminated: true });
    expect(q.ok && q.canonical).toBe(canonicalize(nested));
  });

  test('a record that already has chain_hash is refused', () => {
    const enc = new ChainEncoder(TINY_RUN_ID);
    expect(() => enc.encode({ record_type: 'run', run_id: TINY_RUN_ID, chain_hash: 'x' } as unknown as ExportRecord)).toThrow(expect.objectContaining({ code: 'EXPORT_FAILED' }));
  });

  test('every record type has id fields that are fields of the record', () => {
    for (const rt of RECORD_TYPES) for (const f of RECORD_KEYS[rt]) expect(recordFieldNames(rt)).toContain(f);
    expect(recordId({ record_type: 'token_parent', token_id: 'a', parent_token_id: 'b' })).toBe('a/b');
  });
});

describe('writing', () => {
  test('a bundle directory is never written over; an empty one is replaced', async () => {
    const dir = path.join(tmp.dir, 'exists');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'x');
    await expect(writeExport(ledger, runId, dir, { format: 'bundle' })).rejects.toMatchObject({ code: 'EXPORT_FAILED' });
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    const empty = path.join(tmp.dir, 'empty');
    fs.mkdirSync(empty);
    await writeExport(ledger, runId, empty, { format: 'bundle' });
    expect(fs.readdirSync(empty).sort()).toEqual([BUNDLE_MANIFEST_FILE, BUNDLE_RECORDS_FILE]);
    // no temporary directories are left behind
    expect(fs.readdirSync(tmp.dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('a missing parent directory is NOT_FOUND', async () => {
    await expect(writeExport(ledger, runId, path.join(tmp.dir, 'nope', 'x'), { format: 'bundle' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(writeExport(ledger, runId, path.join(tmp.dir, 'nope', 'x.jsonl'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('inclusion proofs', () => {
  let bundle: string;
  let verifier: ReturnType<typeof hmacSigner>;
  beforeAll(async () => {
    verifier = hmacSigner(Buffer.alloc(32, 7));
    bundle = path.join(tmp.dir, 'prove-bundle');
    await writeExport(ledger, runId, bundle, { format: 'bundle', signer: verifier });
  });

  test('every record proves against the manifest root, with the audit path of an independent implementation', async () => {
    const lines = fileLines(path.join(bundle, BUNDLE_RECORDS_FILE));
    const leaves = lines.map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.chain_hash;
      return leafHash(Buffer.from(canonicalize(r), 'utf8'));
    });
    for (let i = 0; i < lines.length; i++) {
      const proof = await proveRecord(bundle, i);
      expect(proof.record_index).toBe(i);
      expect(proof.tree_size).toBe(lines.length);
      expect(proof.audit_path).toEqual(inclusionProof(leaves, i).map((h) => h.toString('hex')));
      const report = verifyProof(bundle, proof, { verifier });
      expect(report.problem).toBeUndefined();
      expect(report.ok).toBe(true);
    }
  });

  test('a proof checks against a manifest file alone', async () => {
    const proof = await proveRecord(bundle, 3);
    const report = verifyProof(path.join(bundle, BUNDLE_MANIFEST_FILE), proof, { verifier });
    expect(report.ok).toBe(true);
  });

  test('a proof for a modified record, a modified path, another root or another run fails', async () => {
    const proof = await proveRecord(bundle, 5);
    const modified = { ...proof, record: { ...proof.record, created_at: '2030-01-01T00:00:00.000Z' } };
    expect(verifyProof(bundle, modified, { verifier }).problem).toMatch(/record 5 .*does not hash to the proof's leaf_hash/);
    const noLeaf: Record<string, unknown> = { ...modified };
    delete noLeaf.leaf_hash;
    expect(verifyProof(bundle, noLeaf, { verifier }).problem).toMatch(/record 5 .*not in the tree/);
    const badPath = { ...proof, audit_path: [...proof.audit_path].reverse() };
    expect(verifyProof(bundle, badPath, { verifier }).ok).toBe(false);
    const otherIndex = { ...proof, record_index: 4 };
    expect(verifyProof(bundle, otherIndex, { verifier }).ok).toBe(false);
    expect(verifyProof(bundle, { ...proof, run_id: '22222222-2222-4222-8222-222222222222' }, { verifier }).problem).toMatch(/run/);
    // the manifest's signature is checked too
    expect(verifyProof(bundle, proof, {}).ok).toBe(false);
    expect(verifyProof(bundle, proof, { requireSignature: false }).ok).toBe(true);
  });

  test('an index outside the export is INVALID_INPUT', async () => {
    await expect(proveRecord(bundle, 13)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  test('proving from records that do not match the manifest fails', async () => {
    const copy = path.join(tmp.dir, 'prove-tampered');
    fs.cpSync(bundle, copy, { recursive: true });
    const file = path.join(copy, BUNDLE_RECORDS_FILE);
    const lines = fileLines(file);
    lines.pop();
    fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    const err = await proveRecord(copy, 0).catch((e: unknown) => e);
    expect(isLedgerError(err, 'VERIFY_FAILED')).toBe(true);
  });

  test('verifyExport passes on the signed bundle', async () => {
    const report = await verifyExport(bundle, { verifier });
    expect(report.ok).toBe(true);
    expect(report.signatureChecked).toBe(true);
  });
});
