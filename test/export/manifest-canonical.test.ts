/**
 * The manifest must be exactly its canonical bytes: a CR, extra whitespace, reordered or
 * repeated keys are refused even under a valid signature (a repeated run_id could be read
 * differently by two JSON parsers).
 */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeExport } from '../../src/export/bundle';
import { ed25519Signer, ed25519Verifier } from '../../src/export/keys';
import { verifyExport } from '../../src/export/verify';
import { deterministicLedger, recordTinyRun, tempDir } from './bundle-fixtures';

test.each([
  ['a CR before the line end', (m: string) => `${m}\r`],
  ['a space after a colon', (m: string) => m.replace('":', '": ')],
  ['reordered keys', (m: string) => `{${m.slice(1, -1).split(',').reverse().join(',')}}`],
  ['a repeated run_id', (m: string) => m.replace('{', `{"run_id":"22222222-2222-4222-8222-222222222222",`)],
])('a manifest with %s does not verify', async (_what, change) => {
  const { dir, cleanup } = tempDir();
  try {
    const ledger = await deterministicLedger();
    const runId = await recordTinyRun(ledger);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = path.join(dir, 'e.jsonl');
    await writeExport(ledger, runId, file, { signer: ed25519Signer(privateKey) });
    await ledger.close();
    const verifier = ed25519Verifier(publicKey);
    expect((await verifyExport(file, { verifier })).ok).toBe(true);

    const text = fs.readFileSync(file, 'utf8');
    const cut = text.lastIndexOf('\n', text.length - 2) + 1;
    const manifest = text.slice(cut, text.length - 1);
    fs.writeFileSync(file, `${text.slice(0, cut)}${change(manifest)}\n`);
    const report = await verifyExport(file, { verifier });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'manifest')).toMatchObject({ status: 'fail', detail: expect.stringContaining('canonical JSON') });
  } finally {
    cleanup();
  }
});
