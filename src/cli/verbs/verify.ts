import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ledgerError } from '../../errors';
import { loadVerifier } from '../../export/keys';
import { verifyExport, VerifyOptions, verifyProof, VerifyReport } from '../../export/verify';
import { CliIO, CommandFailed } from '../context';
import { println } from '../options';
import { progressBar } from '../progress';

export interface KeyOpts {
  publicKey?: string;
  hmacKey?: string;
  /** false with --no-signature. */
  signature: boolean;
  run?: string;
}

/** The key options verify and import share. */
export function addKeyOptions(cmd: Command): Command {
  return cmd
    .option('--public-key <pem>', 'check the Ed25519 signature with this public key (SPKI PEM)')
    .option('--hmac-key <file>', 'check the HMAC-SHA256 signature with the key in this file')
    .option('--no-signature', 'do not require a checked signature (an unsigned export, or no key at hand); the output says the signature was not checked')
    .option('--run <id>', 'require the export to be of this run');
}

export function verifyOptionsFrom(opts: KeyOpts): VerifyOptions {
  if (opts.signature === false && (opts.publicKey !== undefined || opts.hmacKey !== undefined)) {
    throw ledgerError('INVALID_INPUT', '--no-signature cannot be combined with a key: give one or the other', { path: 'signature' });
  }
  const verifier = loadVerifier({ ...(opts.publicKey !== undefined ? { publicKey: opts.publicKey } : {}), ...(opts.hmacKey !== undefined ? { hmacKey: opts.hmacKey } : {}) });
  return { verifier, requireSignature: opts.signature !== false, ...(opts.run !== undefined ? { expectedRunId: opts.run } : {}) };
}

/** The report as JSON: { ok, checks, firstBadRecord?, ... }. */
export function reportJson(report: VerifyReport): Record<string, unknown> {
  const m = report.manifest;
  return {
    ok: report.ok,
    path: report.path,
    layout: report.layout,
    runId: m?.run_id ?? null,
    recordCount: m?.record_count ?? null,
    chainHead: m?.chain_head ?? null,
    merkleRoot: m?.merkle_root ?? null,
    exportedAt: m?.exported_at ?? null,
    signature: { algorithm: m?.signature_algorithm ?? null, keyId: m?.key_id ?? null, checked: report.signatureChecked },
    checks: report.checks,
    ...(report.firstBadRecord !== undefined ? { firstBadRecord: report.firstBadRecord } : {}),
    ...(report.problem !== undefined ? { problem: report.problem } : {}),
  };
}

const LABEL = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' } as const;

export function printReport(io: CliIO, report: VerifyReport, json: boolean): void {
  if (json) {
    println(io, JSON.stringify(reportJson(report)));
    return;
  }
  for (const c of report.checks) println(io, `${LABEL[c.status]}  ${c.name.padEnd(12)}  ${c.detail}`);
  const m = report.manifest;
  if (report.ok && m !== null) {
    const sig = report.signatureChecked ? `signature checked (${m.signature_algorithm}, key ${m.key_id})` : 'signature NOT checked';
    const what = report.recordsRead > 0 || report.checks.some((c) => c.name === 'records') ? `${m.record_count} records, ` : '';
    println(io, `verified: run ${m.run_id}, ${what}Merkle root ${m.merkle_root}; ${sig}`);
  }
}

/**
 * Runs `work` on a copy of stdin in a private temporary folder, removed afterwards (the
 * verifier reads the file twice: records, then the manifest line at its end).
 */
async function withStdinCopy<T>(work: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lineage-ledger-verify-'));
  try {
    const file = path.join(dir, 'stdin.jsonl');
    await pipeline(process.stdin, fs.createWriteStream(file, { mode: 0o600 }));
    return await work(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function registerVerify(program: Command, io: CliIO): void {
  const cmd = program
    .command('verify')
    .addHelpText('after', '\nExample:\n  lineage-ledger verify run.jsonl --public-key demo-key.public.pem\n')
    .description(
      'check an export from its files alone: canonical records, hash chain, record count, Merkle root, run and signature; ' +
        'exits 0 only when everything checks, and otherwise names the first bad record and what is wrong',
    )
    .argument('<export>', 'export file (jsonl), - for a jsonl export on stdin, or bundle directory (with --proof, a manifest file is enough)');
  addKeyOptions(cmd)
    .option('--proof <file>', 'check this inclusion proof (lineage-ledger prove) against the export\'s manifest instead of the records')
    .option('--json', 'print the report as JSON: {ok, checks, firstBadRecord?, ...}')
    .action(async (exportPath: string, opts: KeyOpts & { proof?: string; json?: boolean }) => {
      const options = verifyOptionsFrom(opts);
      let report: VerifyReport;
      if (opts.proof !== undefined) {
        let proof: unknown;
        try {
          proof = JSON.parse(fs.readFileSync(opts.proof, 'utf8'));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') throw ledgerError('NOT_FOUND', `proof file ${opts.proof} does not exist`, { path: opts.proof });
          throw ledgerError('VERIFY_FAILED', `proof file ${opts.proof} is not JSON: ${(e as Error).message}`, { path: opts.proof });
        }
        report = verifyProof(exportPath, proof, options);
      } else {
        const bar = progressBar('verifying', null, io.stderr, { json: opts.json === true });
        const withProgress: VerifyOptions = { ...options, onProgress: (done, total) => bar.update(done, total) };
        try {
          if (exportPath === '-') report = { ...(await withStdinCopy((file) => verifyExport(file, withProgress))), path: '-' };
          else report = await verifyExport(exportPath, withProgress);
        } finally {
          bar.finish();
        }
      }
      if (!report.ok) {
        const error = ledgerError('VERIFY_FAILED', report.problem ?? 'the export did not verify', { firstBadRecord: report.firstBadRecord });
        // --json: the report and the error are one document (main prints it)
        if (opts.json === true) throw new CommandFailed(error.toJSON(), reportJson(report));
        printReport(io, report, false);
        throw error;
      }
      printReport(io, report, opts.json === true);
      if (!report.signatureChecked) io.stderr.write('warning: the signature was NOT checked (--no-signature)\n');
    });
}
