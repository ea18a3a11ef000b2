/**
 * Tamper evidence (DESIGN §5): every single-record change, deletion, insertion,
 * reordering, truncation, forged manifest, wrong key and export of another run is
 * detected, and verification names the first bad record (index and id) and the problem.
 */
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalize } from '../../src/canonical/jcs';
import { BUNDLE_MANIFEST_FILE, BUNDLE_RECORDS_FILE, chainGenesis, writeExport, ExportManifest, manifestSigningBytes, nextChainHash, recordHash, recordId } from '../../src/export/bundle';
import { ed25519Signer, ed25519Verifier, hmacSigner, SignatureVerifier } from '../../src/export/keys';
import { verifyExport, VerifyOptions, VerifyReport } from '../../src/export/verify';
import { openLedger, Ledger } from '../../src/ledger';
import { recordDemoRun } from '../../src/workloads/demo';
import { fileLines, tempDir, writeLinesFile } from './bundle-fixtures';

const tmp = tempDir('ll-tamper-');
let ledger: Ledger;
let runA: string;
let runB: string;
let privateKey: KeyObject;
let verifier: SignatureVerifier;
let bundleA: string;
let bundleB: string;
let jsonlA: string;
let lines: string[];
let counter = 0;

beforeAll(async () => {
  ledger = await openLedger({ store: 'memory:' });
  runA = (await recordDemoRun(ledger, { rows: 30 })).runId;
  runB = (await recordDemoRun(ledger, { rows: 10 })).runId;
  const keys = generateKeyPairSync('ed25519');
  privateKey = keys.privateKey;
  verifier = ed25519Verifier(keys.publicKey);
  const signer = ed25519Signer(privateKey);
  bundleA = path.join(tmp.dir, 'a');
  bundleB = path.join(tmp.dir, 'b');
  jsonlA = path.join(tmp.dir, 'a.jsonl');
  await writeExport(ledger, runA, bundleA, { format: 'bundle', signer });
  await writeExport(ledger, runB, bundleB, { format: 'bundle', signer });
  await writeExport(ledger, runA, jsonlA, { signer });
  lines = fileLines(path.join(bundleA, BUNDLE_RECORDS_FILE));
});
afterAll(async () => {
  await ledger.close();
  tmp.cleanup();
});

/** Copies bundle A, rewrites its records, verifies with the right public key. */
async function tamperRecords(mutate: (lines: string[]) => string[], options: VerifyOptions = { verifier }): Promise<VerifyReport> {
  const dir = path.join(tmp.dir, `t${++counter}`);
  fs.cpSync(bundleA, dir, { recursive: true });
  writeLinesFile(path.join(dir, BUNDLE_RECORDS_FILE), mutate([...lines]));
  return verifyExport(dir, options);
}

async function tamperManifest(mutate: (m: Record<string, unknown>) => void, options: VerifyOptions = { verifier }): Promise<VerifyReport> {
  const dir = path.join(tmp.dir, `t${++counter}`);
  fs.cpSync(bundleA, dir, { recursive: true });
  const file = path.join(dir, BUNDLE_MANIFEST_FILE);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  mutate(m);
  fs.writeFileSync(file, `${canonicalize(m)}\n`);
  return verifyExport(dir, options);
}

const idOf = (line: string): string => recordId(JSON.parse(line) as Record<string, unknown>)!;
const typeOf = (line: string): string => (JSON.parse(line) as { record_type: string }).record_type;

/** Index of the first line at or after `from` of a record type. */
function indexOf(type: string, from = 0): number {
  for (let i = from; i < lines.length; i++) if (typeOf(lines[i]!) === type) return i;
  throw new Error(`no ${type}`);
}

function expectBad(report: VerifyReport, index: number, problem: RegExp, line: string | null = lines[index]!): void {
  expect(report.ok).toBe(false);
  expect(report.firstBadRecord).toBeDefined();
  expect(report.firstBadRecord!.index).toBe(index);
  expect(report.firstBadRecord!.problem).toMatch(problem);
  if (line !== null) {
    expect(report.firstBadRecord!.recordId).toBe(idOf(line));
    expect(report.firstBadRecord!.recordType).toBe(typeOf(line));
  }
  // the one-line problem names the record
  expect(report.problem).toContain(`record ${index}`);
}

test('a fresh export of the demo run verifies (bundle and jsonl)', async () => {
  for (const p of [bundleA, jsonlA]) {
    const report = await verifyExport(p, { verifier, expectedRunId: runA });
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.signatureChecked).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['manifest', 'pass'],
      ['run', 'pass'],
      ['records', 'pass'],
      ['record_count', 'pass'],
      ['chain_head', 'pass'],
      ['merkle_root', 'pass'],
      ['signature', 'pass'],
    ]);
    expect(report.recordsRead).toBe(lines.length);
  }
});

describe('record tampering names the first bad record', () => {
  test('flip one byte of a hash in record k: content does not match its chain hash', async () => {
    const k = indexOf('node_state', 100);
    const report = await tamperRecords((ls) => {
      const line = ls[k]!;
      const at = line.indexOf('"input_hash":"') + '"input_hash":"'.length;
      ls[k] = line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 1) + line.slice(at + 1);
      return ls;
    });
    expectBad(report, k, /content does not match its chain hash.*modified/);
    expect(report.problem).toMatch(new RegExp(`^record ${k} \\(node_state ${idOf(lines[k]!)}\\): content does not match`));
  });

  test('flip a byte so that the line is no longer JSON: not canonical JSON', async () => {
    const k = 57;
    const report = await tamperRecords((ls) => {
      ls[k] = `[${ls[k]!.slice(1)}`;
      return ls;
    });
    expectBad(report, k, /not canonical JSON/, null);
  });

  test('re-serialise a record non-canonically (same content, other bytes): not canonical JSON', async () => {
    const k = 12;
    const report = await tamperRecords((ls) => {
      ls[k] = JSON.stringify(JSON.parse(ls[k]!), null, 1).replace(/\n/g, '');
      return ls;
    });
    expectBad(report, k, /not canonical JSON \(RFC 8785\)/);
  });

  test('delete record k: the next record is named (its predecessor deleted)', async () => {
    const k = 200;
    const report = await tamperRecords((ls) => {
      ls.splice(k, 1);
      return ls;
    });
    expectBad(report, k, /deleted/, lines[k + 1]!);
  });

  test('duplicate record k: the copy is named as a duplicate', async () => {
    const k = 150;
    const report = await tamperRecords((ls) => {
      ls.splice(k + 1, 0, ls[k]!);
      return ls;
    });
    expectBad(report, k + 1, new RegExp(`duplicates record ${k}`), lines[k]!);
  });

  test('swap records k and k+1: out of order', async () => {
    const k = 300;
    const report = await tamperRecords((ls) => {
      [ls[k], ls[k + 1]] = [ls[k + 1]!, ls[k]!];
      return ls;
    });
    expectBad(report, k, new RegExp(`out of order: its chain hash says it follows record ${k + 1}.*reordered`), lines[k + 1]!);
  });

  test('swap two distant records: out of order', async () => {
    const report = await tamperRecords((ls) => {
      [ls[40], ls[400]] = [ls[400]!, ls[40]!];
      return ls;
    });
    expectBad(report, 40, /out of order: its chain hash says it follows record 399/, lines[400]!);
  });

  test('insert a forged record (no valid chain link): the forgery is named as inserted', async () => {
    const k = 250;
    const forged = JSON.parse(lines[k]!) as Record<string, unknown>;
    const idField = Object.keys(forged).find((f) => f.endsWith('_id') && f !== 'run_id' && f !== 'chain_hash')!;
    forged[idField] = '99999999-9999-4999-8999-999999999999';
    const line = canonicalize(forged);
    const report = await tamperRecords((ls) => {
      ls.splice(k, 0, line);
      return ls;
    });
    expectBad(report, k, new RegExp(`record ${k + 1} follows record ${k - 1} directly \\(record ${k} was inserted\\?\\)`), line);
  });

  test('insert a forged record with a correctly computed chain link: the next record names the insertion', async () => {
    const k = 260;
    const forged = JSON.parse(lines[k]!) as Record<string, unknown>;
    delete forged.chain_hash;
    forged.created_at = '2030-01-01T00:00:00.000Z';
    const prev = (JSON.parse(lines[k - 1]!) as { chain_hash: string }).chain_hash;
    const line = canonicalize({ ...forged, chain_hash: nextChainHash(prev, recordHash(canonicalize(forged))) });
    const report = await tamperRecords((ls) => {
      ls.splice(k, 0, line);
      return ls;
    });
    expectBad(report, k + 1, new RegExp(`does not follow record ${k} but record ${k - 1}: record ${k} was inserted`), lines[k]!);
  });

  test('modify a record and recompute the whole chain: the chain head and root no longer match the signed manifest', async () => {
    const k = 90;
    const report = await tamperRecords((ls) => {
      let prev = chainGenesis(runA);
      return ls.map((l, i) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        delete r.chain_hash;
        if (i === k) r.created_at = '2030-01-01T00:00:00.000Z';
        const chain = nextChainHash(prev, recordHash(canonicalize(r)));
        prev = chain;
        return canonicalize({ ...r, chain_hash: chain });
      });
    });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'records')!.status).toBe('pass');
    expect(report.checks.find((c) => c.name === 'chain_head')!.status).toBe('fail');
    expect(report.checks.find((c) => c.name === 'merkle_root')!.status).toBe('fail');
    expect(report.problem).toMatch(/chain ends at .* the manifest says .*recomputed/);
  });

  test('truncate the last record: the missing record is named', async () => {
    const n = lines.length;
    const report = await tamperRecords((ls) => ls.slice(0, -1));
    expectBad(report, n - 1, /is missing: the records end after record .*truncated/, null);
    expect(report.checks.find((c) => c.name === 'record_count')!.status).toBe('fail');
  });

  test('cut the file inside the last record: incomplete line', async () => {
    const dir = path.join(tmp.dir, `t${++counter}`);
    fs.cpSync(bundleA, dir, { recursive: true });
    const file = path.join(dir, BUNDLE_RECORDS_FILE);
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 20);
    const report = await verifyExport(dir, { verifier });
    expectBad(report, lines.length - 1, /incomplete.*truncated/, null);
  });

  test('append a record at the end (valid chain link): not covered by the manifest', async () => {
    const extra = JSON.parse(lines[5]!) as Record<string, unknown>;
    delete extra.chain_hash;
    const prev = (JSON.parse(lines[lines.length - 1]!) as { chain_hash: string }).chain_hash;
    const line = canonicalize({ ...extra, chain_hash: nextChainHash(prev, recordHash(canonicalize(extra))) });
    const report = await tamperRecords((ls) => [...ls, line]);
    expectBad(report, lines.length, /not covered by the manifest.*appended/, line);
  });

  test('an empty line inside the records is not a record', async () => {
    const report = await tamperRecords((ls) => {
      ls.splice(10, 0, '');
      return ls;
    });
    expectBad(report, 10, /empty line/, null);
  });

  test('invalid UTF-8 inside a record', async () => {
    const dir = path.join(tmp.dir, `t${++counter}`);
    fs.cpSync(bundleA, dir, { recursive: true });
    const file = path.join(dir, BUNDLE_RECORDS_FILE);
    const buf = fs.readFileSync(file);
    const at = buf.indexOf('"label":"') + 9;
    buf[at] = 0xff;
    fs.writeFileSync(file, buf);
    const report = await verifyExport(dir, { verifier });
    expect(report.ok).toBe(false);
    expect(report.firstBadRecord!.problem).toMatch(/not valid UTF-8/);
  });
});

describe('manifest tampering', () => {
  test('record_count edited without re-signing', async () => {
    const report = await tamperManifest((m) => {
      m.record_count = (m.record_count as number) + 1;
    });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'record_count')!.status).toBe('fail');
    expect(report.checks.find((c) => c.name === 'signature')!.status).toBe('fail');
    expect(report.firstBadRecord).toMatchObject({ index: lines.length, problem: expect.stringMatching(/missing/) });
  });

  test('merkle_root edited without re-signing', async () => {
    const report = await tamperManifest((m) => {
      m.merkle_root = 'f'.repeat(64);
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatch(/Merkle root is [0-9a-f]{64}, the manifest says f{64}/);
    expect(report.checks.find((c) => c.name === 'signature')!.detail).toMatch(/does not match the manifest/);
  });

  test('run_id edited without re-signing: record 0 belongs to another run', async () => {
    const report = await tamperManifest((m) => {
      m.run_id = runB;
    });
    expectBad(report, 0, new RegExp(`belongs to run ${runA}, not to run ${runB}`));
    expect(report.checks.find((c) => c.name === 'signature')!.status).toBe('fail');
  });

  test('exported_at edited without re-signing: the signature fails', async () => {
    const report = await tamperManifest((m) => {
      m.exported_at = '2020-01-01T00:00:00.000Z';
    });
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.name)).toEqual(['signature']);
    expect(report.problem).toMatch(/ed25519 signature does not match the manifest \(manifest edited after signing\?\)/);
  });

  test('records and manifest forged together and re-signed with another key: wrong key', async () => {
    const other = generateKeyPairSync('ed25519');
    const report = await tamperManifest((m) => {
      m.exported_at = '2020-01-01T00:00:00.000Z';
      const signer = ed25519Signer(other.privateKey);
      m.key_id = signer.keyId;
      m.signature = signer.sign(manifestSigningBytes(m as unknown as ExportManifest));
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatch(/signed by key [0-9a-f]{64}, not by the given key [0-9a-f]{64} \(signed with another key\?\)/);
    // with the other key it verifies: the signature itself is sound
    expect((await verifyExport(path.join(tmp.dir, `t${counter}`), { verifier: ed25519Verifier(other.publicKey) })).ok).toBe(true);
  });

  test('an unknown field, a missing field or another format is refused', async () => {
    expect((await tamperManifest((m) => (m.extra = 1))).problem).toMatch(/manifest is malformed: extra: unknown field/);
    expect((await tamperManifest((m) => delete m.chain_head)).problem).toMatch(/chain_head: is required/);
    expect((await tamperManifest((m) => (m.format = 'lineage-ledger/export/v9'))).problem).toMatch(/format is "lineage-ledger\/export\/v9"/);
    expect((await tamperManifest((m) => (m.signature_algorithm = 'none'))).problem).toMatch(/says "unsigned" but carries a signature/);
  });

  test('the manifest is missing', async () => {
    const dir = path.join(tmp.dir, `t${++counter}`);
    fs.cpSync(bundleA, dir, { recursive: true });
    fs.rmSync(path.join(dir, BUNDLE_MANIFEST_FILE));
    const report = await verifyExport(dir, { verifier });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatch(/manifest.json is missing/);
  });

  test('jsonl: the manifest line deleted, or the file cut inside it', async () => {
    const all = fileLines(jsonlA);
    const noManifest = path.join(tmp.dir, `t${++counter}.jsonl`);
    writeLinesFile(noManifest, all.slice(0, -1));
    expect((await verifyExport(noManifest, { verifier })).problem).toMatch(/the last line is a \w+ record, not the manifest/);
    const cut = path.join(tmp.dir, `t${++counter}.jsonl`);
    fs.writeFileSync(cut, fs.readFileSync(jsonlA).subarray(0, fs.statSync(jsonlA).size - 10));
    expect((await verifyExport(cut, { verifier })).problem).toMatch(/does not end with a line end.*truncated/);
  });

  test('jsonl: a tampered record is named as in a bundle', async () => {
    const all = fileLines(jsonlA);
    const file = path.join(tmp.dir, `t${++counter}.jsonl`);
    all.splice(33, 1);
    writeLinesFile(file, all);
    expectBad(await verifyExport(file, { verifier }), 33, /deleted/, lines[34]!);
  });
});

describe('keys and signatures', () => {
  test('verifying with another public key fails', async () => {
    const report = await verifyExport(bundleA, { verifier: ed25519Verifier(generateKeyPairSync('ed25519').publicKey) });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatch(/not by the given key/);
  });

  test('a signed export without a key fails unless the signature check is explicitly skipped', async () => {
    const strict = await verifyExport(bundleA, {});
    expect(strict.ok).toBe(false);
    expect(strict.problem).toMatch(/signed with ed25519 by key [0-9a-f]{64}, but no key was given/);
    const skipped = await verifyExport(bundleA, { requireSignature: false });
    expect(skipped.ok).toBe(true);
    expect(skipped.signatureChecked).toBe(false);
    expect(skipped.checks.find((c) => c.name === 'signature')).toMatchObject({ status: 'skipped', detail: expect.stringMatching(/NOT CHECKED/) });
  });

  test('unsigned export: fails without --no-signature, passes with it and says the signature was not checked', async () => {
    const file = path.join(tmp.dir, 'unsigned.jsonl');
    await writeExport(ledger, runA, file);
    const strict = await verifyExport(file, {});
    expect(strict.ok).toBe(false);
    expect(strict.problem).toMatch(/unsigned/);
    const relaxed = await verifyExport(file, { requireSignature: false });
    expect(relaxed.ok).toBe(true);
    expect(relaxed.checks.find((c) => c.name === 'signature')!.detail).toMatch(/NOT CHECKED: the export is unsigned/);
    // a key given for an unsigned export: fails (nothing proves its origin)
    expect((await verifyExport(file, { verifier })).problem).toMatch(/unsigned, but a key was given/);
    // tampering is still detected without a signature
    const all = fileLines(file);
    all.splice(3, 1);
    writeLinesFile(file, all);
    expect((await verifyExport(file, { requireSignature: false })).firstBadRecord!.index).toBe(3);
  });

  test('HMAC-SHA256: the right key passes, another key or an Ed25519 key fails', async () => {
    const key = Buffer.alloc(32, 1);
    const file = path.join(tmp.dir, 'hmac.jsonl');
    await writeExport(ledger, runA, file, { signer: hmacSigner(key) });
    expect((await verifyExport(file, { verifier: hmacSigner(key) })).ok).toBe(true);
    expect((await verifyExport(file, { verifier: hmacSigner(Buffer.alloc(32, 2)) })).problem).toMatch(/not by the given key/);
    expect((await verifyExport(file, { verifier })).problem).toMatch(/signed with hmac-sha256, but the given key is an ed25519 key/);
  });
});

describe('exports of another run', () => {
  test('a valid export of another run, expected to be of this run: names the run', async () => {
    const report = await verifyExport(bundleB, { verifier, expectedRunId: runA });
    expect(report.ok).toBe(false);
    expect(report.problem).toBe(`the export is of run ${runB}, not of the expected run ${runA} (an export of another run?)`);
    expect(report.checks.find((c) => c.name === 'records')!.status).toBe('pass');
  });

  test("records of another run under this run's manifest: record 0 belongs to another run", async () => {
    const dir = path.join(tmp.dir, `t${++counter}`);
    fs.cpSync(bundleA, dir, { recursive: true });
    fs.copyFileSync(path.join(bundleB, BUNDLE_RECORDS_FILE), path.join(dir, BUNDLE_RECORDS_FILE));
    const report = await verifyExport(dir, { verifier });
    const first = fileLines(path.join(bundleB, BUNDLE_RECORDS_FILE))[0]!;
    expectBad(report, 0, new RegExp(`belongs to run ${runB}, not to run ${runA}`), first);
  });

  test("another run's records re-labelled with this run's id: the chain breaks at record 0", async () => {
    const report = await tamperRecords(() =>
      fileLines(path.join(bundleB, BUNDLE_RECORDS_FILE)).map((l) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        r.run_id = runA;
        return canonicalize(r);
      }),
    );
    expect(report.ok).toBe(false);
    expect(report.firstBadRecord!.index).toBe(0);
    expect(report.firstBadRecord!.problem).toMatch(/content does not match its chain hash/);
  });
});
