/**
 * `lineage-ledger keygen | export | verify | prove | import` end to end through main():
 * exit codes (0 ok, 1 failure, 2 usage), data on stdout, one-line errors on stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './support';
import { fileLines, tempDir, writeLinesFile } from '../export/bundle-fixtures';




const tmp = tempDir('ll-cli-export-');
const p = (name: string): string => path.join(tmp.dir, name);
let store: string;
let runId: string;

beforeAll(async () => {
  store = `sqlite:${p('lineage.db')}`;
  const demo = await cli('demo', '--store', store, '--rows', '12', '--json');
  expect(demo.code).toBe(0);
  runId = (JSON.parse(demo.out) as { runId: string }).runId;
});
afterAll(() => tmp.cleanup());

test.each(['keygen', 'export', 'verify', 'prove', 'import'])('%s --help exits 0', async (verb) => {
  const r = await cli(verb, '--help');
  expect(r.code).toBe(0);
  expect(r.out).toContain(`Usage: lineage-ledger ${verb}`);
});

describe('keygen', () => {
  test('writes a private key (0600) and a public key, prints the key id, never overwrites', async () => {
    const r = await cli('keygen', '--out', p('k1'));
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(p('k1.key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(p('k1.key.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(fs.readFileSync(p('k1.pub.pem'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    const before = fs.readFileSync(p('k1.key.pem'), 'utf8');
    const again = await cli('keygen', '--out', p('k1'));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^lineage-ledger keygen: INVALID_INPUT: .*k1\.key\.pem already exists; keygen never overwrites a key\n$/);
    expect(fs.readFileSync(p('k1.key.pem'), 'utf8')).toBe(before);
  });

  test('--hmac writes a 0600 HMAC key; --json prints the result', async () => {
    const r = await cli('keygen', '--out', p('h1'), '--hmac', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { algorithm: string; keyId: string; files: string[] };
    expect(j.algorithm).toBe('hmac-sha256');
    expect(fs.statSync(p('h1.hmac.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(p('h1.hmac.key'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });
});

describe('export, verify, prove, import', () => {
  let bundle: string;
  beforeAll(async () => {
    await cli('keygen', '--out', p('signer'));
    bundle = p('bundle');
    const r = await cli('export', '--store', store, '--run', 'latest', '--format', 'bundle', '--out', bundle, '--sign-key', p('signer.key.pem'), '--csv', p('csv'));
    expect(r.err).toMatch(/exported \d+ records of run .* \(bundle; Merkle root [0-9a-f]{64}; signed ed25519, key [0-9a-f]{64}\)/);
    expect(r.code).toBe(0);
  });

  test('a fresh signed export verifies: exit 0, the checks on stdout', async () => {
    const r = await cli('verify', bundle, '--public-key', p('signer.pub.pem'), '--run', runId);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^PASS {2}manifest/m);
    expect(r.out).toMatch(/^PASS {2}signature +valid ed25519 signature/m);
    expect(r.out).toMatch(new RegExp(`^verified: run ${runId}, \\d+ records, Merkle root [0-9a-f]{64}; signature checked`, 'm'));
    expect(r.err).toBe('');
  });

  test('--json prints { ok, checks }', async () => {
    const r = await cli('verify', bundle, '--public-key', p('signer.pub.pem'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { ok: boolean; checks: Array<{ name: string; status: string }>; runId: string; signature: { checked: boolean } };
    expect(j.ok).toBe(true);
    expect(j.runId).toBe(runId);
    expect(j.signature.checked).toBe(true);
    expect(j.checks.every((c) => c.status === 'pass')).toBe(true);
  });

  test('a tampered record: exit 1, the record named on stderr and in --json', async () => {
    const copy = p('tampered');
    fs.cpSync(bundle, copy, { recursive: true });
    const file = path.join(copy, 'records.jsonl');
    const lines = fileLines(file);
    const victim = JSON.parse(lines[17]!) as { record_type: string };
    lines[17] = lines[17]!.replace(/"run_id":"/, '"run_id":"x');
    writeLinesFile(file, lines);
    const r = await cli('verify', copy, '--public-key', p('signer.pub.pem'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL {2}records/m);
    expect(r.err).toMatch(new RegExp(`^lineage-ledger verify: VERIFY_FAILED: record 17 \\(${victim.record_type} [0-9a-f-]+\\): belongs to run x${runId}`));
    expect(r.err.trim().split('\n')).toHaveLength(1);
    const j = await cli('verify', copy, '--public-key', p('signer.pub.pem'), '--json');
    expect(j.code).toBe(1);
    const report = JSON.parse(j.out) as { ok: boolean; firstBadRecord: { index: number; recordType: string; recordId: string; problem: string } };
    expect(report.ok).toBe(false);
    expect(report.firstBadRecord).toMatchObject({ index: 17, recordType: victim.record_type, problem: expect.stringMatching(/belongs to run/) });
  });

  test('no key: exit 1 unless --no-signature, which says the signature was not checked', async () => {
    const strict = await cli('verify', bundle);
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(/VERIFY_FAILED: the manifest is signed with ed25519 by key [0-9a-f]{64}, but no key was given/);
    const relaxed = await cli('verify', bundle, '--no-signature');
    expect(relaxed.code).toBe(0);
    expect(relaxed.out).toMatch(/^SKIP {2}signature +NOT CHECKED/m);
    expect(relaxed.out).toMatch(/signature NOT checked$/m);
    expect(relaxed.err).toMatch(/signature was NOT checked/);
    const both = await cli('verify', bundle, '--no-signature', '--public-key', p('signer.pub.pem'));
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/INVALID_INPUT/);
  });

  test('another key or another run: exit 1', async () => {
    await cli('keygen', '--out', p('other'));
    const wrongKey = await cli('verify', bundle, '--public-key', p('other.pub.pem'));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toMatch(/signed with another key/);
    const wrongRun = await cli('verify', bundle, '--public-key', p('signer.pub.pem'), '--run', '22222222-2222-4222-8222-222222222222');
    expect(wrongRun.code).toBe(1);
    expect(wrongRun.err).toMatch(/the export is of run .*, not of the expected run 22222222-2222-4222-8222-222222222222/);
  });

  test('prove a record and verify the proof; a modified proof fails', async () => {
    const r = await cli('prove', bundle, '--record', '5', '--out', p('proof.json'));
    expect(r.code).toBe(0);
    const ok = await cli('verify', bundle, '--public-key', p('signer.pub.pem'), '--proof', p('proof.json'));
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^PASS {2}proof +record 5 is included under Merkle root/m);
    const proof = JSON.parse(fs.readFileSync(p('proof.json'), 'utf8')) as { record: Record<string, unknown> };
    proof.record.run_id = '22222222-2222-4222-8222-222222222222';
    fs.writeFileSync(p('proof-bad.json'), JSON.stringify(proof));
    const bad = await cli('verify', bundle, '--public-key', p('signer.pub.pem'), '--proof', p('proof-bad.json'));
    expect(bad.code).toBe(1);
    const oneLine = await cli('prove', bundle, '--record', '0', '--json');
    expect(oneLine.code).toBe(0);
    expect(oneLine.out.trim().split('\n')).toHaveLength(1);
    expect((JSON.parse(oneLine.out) as { record: { record_type: string } }).record.record_type).toBe('run');
    const outOfRange = await cli('prove', bundle, '--record', '999999');
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.err).toMatch(/INVALID_INPUT: --record: 999999 is not a record of this export/);
  });

  test('import into a new store, export again: the same record bytes; importing twice fails', async () => {
    const target = `sqlite:${p('imported.db')}`;
    const r = await cli('import', bundle, '--store', target, '--public-key', p('signer.pub.pem'));
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(runId);
    expect(r.err).toMatch(/imported run .* records rebuilt from \d+ events/);
    const again = await cli('export', '--store', target, '--run', runId, '--format', 'bundle', '--out', p('reexport'));
    expect(again.code).toBe(0);
    expect(fs.readFileSync(p('reexport/records.jsonl'))).toEqual(fs.readFileSync(path.join(bundle, 'records.jsonl')));
    const twice = await cli('import', bundle, '--store', target, '--public-key', p('signer.pub.pem'));
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/^lineage-ledger import: DUPLICATE_ID: run .* already exists/);
  });

  test('the CSV view was written beside the export', () => {
    expect(fs.readdirSync(p('csv'))).toEqual(expect.arrayContaining(['run.csv', 'token.csv', 'manifest.csv']));
  });
});

describe('export options', () => {
  test('jsonl to stdout: records then the manifest line; verify with --no-signature on the saved file', async () => {
    const r = await cli('export', '--store', store, '--run', runId);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect((JSON.parse(lines[lines.length - 1]!) as { record_type: string }).record_type).toBe('manifest');
    fs.writeFileSync(p('stdout.jsonl'), r.out);
    const v = await cli('verify', p('stdout.jsonl'), '--no-signature', '--json');
    expect(v.code).toBe(0);
    expect((JSON.parse(v.out) as { ok: boolean }).ok).toBe(true);
  });

  test('--json prints a summary of the export written to --out; with the export on stdout it is a usage error', async () => {
    const r = await cli('export', '--store', store, '--run', runId, '--out', p('summary.jsonl'), '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as { recordCount: number; merkleRoot: string };
    expect(summary).toEqual({
      runId,
      format: 'jsonl',
      out: p('summary.jsonl'),
      recordCount: expect.any(Number),
      chainHead: expect.stringMatching(/^[0-9a-f]{64}$/),
      merkleRoot: expect.stringMatching(/^[0-9a-f]{64}$/),
      signature: { algorithm: 'none', keyId: null },
      csv: null,
    });
    const v = JSON.parse((await cli('verify', p('summary.jsonl'), '--no-signature', '--json')).out) as { recordCount: number; merkleRoot: string };
    expect([v.recordCount, v.merkleRoot]).toEqual([summary.recordCount, summary.merkleRoot]);
    const toStdout = await cli('export', '--store', store, '--run', runId, '--json');
    expect(toStdout.code).toBe(2);
    expect(JSON.parse(toStdout.out)).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('--out') } });
  });

  test('prove --json --out: the proof in the file, a summary on stdout', async () => {
    const file = p(`export-${Date.now()}.jsonl`);
    expect((await cli('export', '--store', store, '--run', runId, '--out', file)).code).toBe(0);
    const r = await cli('prove', file, '--record', '2', '--out', p('proof2.json'), '--json');
    expect(r.code).toBe(0);
    const proof = JSON.parse(fs.readFileSync(p('proof2.json'), 'utf8')) as { tree_size: number; merkle_root: string };
    expect(JSON.parse(r.out)).toEqual({ out: p('proof2.json'), record: 2, runId, treeSize: proof.tree_size, merkleRoot: proof.merkle_root });
  });

  test('HMAC signing and checking', async () => {
    await cli('keygen', '--out', p('hm'), '--hmac');
    const e = await cli('export', '--store', store, '--run', runId, '--out', p('hmac.jsonl'), '--hmac-key', p('hm.hmac.key'));
    expect(e.code).toBe(0);
    expect((await cli('verify', p('hmac.jsonl'), '--hmac-key', p('hm.hmac.key'))).code).toBe(0);
    expect((await cli('verify', p('hmac.jsonl'), '--public-key', p('signer.pub.pem'))).code).toBe(1);
  });

  test('usage errors: exit 2 for a bad choice, exit 1 with a one-line error for bad values', async () => {
    expect((await cli('export', '--store', store, '--run', runId, '--format', 'xml')).code).toBe(2);
    const stdoutBundle = await cli('export', '--store', store, '--run', runId, '--format', 'bundle');
    expect(stdoutBundle.code).toBe(1);
    expect(stdoutBundle.err).toMatch(/^lineage-ledger export: INVALID_INPUT: --out: a bundle is a directory/);
    const noKey = await cli('export', '--store', store, '--run', runId, '--out', p('nokey.jsonl'), '--sign-key', p('missing.pem'));
    expect(noKey.code).toBe(1);
    expect(noKey.err).toMatch(/NOT_FOUND: signing key .*missing\.pem does not exist/);
    expect(fs.existsSync(p('nokey.jsonl'))).toBe(false);
    fs.writeFileSync(p('notakey.pem'), 'hello');
    const badKey = await cli('export', '--store', store, '--run', runId, '--out', p('badkey.jsonl'), '--sign-key', p('notakey.pem'));
    expect(badKey.code).toBe(1);
    expect(badKey.err).toMatch(/KEY_INVALID/);
    const two = await cli('export', '--store', store, '--run', runId, '--sign-key', p('signer.key.pem'), '--hmac-key', p('hm.hmac.key'));
    expect(two.code).toBe(1);
    expect(two.err).toMatch(/INVALID_INPUT: give either --sign-key/);
    const missing = await cli('verify', p('does-not-exist'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/NOT_FOUND/);
  });
});
