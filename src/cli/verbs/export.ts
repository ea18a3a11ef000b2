import type { Command } from 'commander';
import { Option } from 'commander';
import { writeExport, ExportFormat } from '../../export/bundle';
import { CsvView } from '../../export/csv';
import { loadSigner } from '../../export/keys';
import { ledgerError } from '../../errors';
import { Timestamp } from '../../events/codecs';
import type { AsOf } from '../../ledger';
import { CliIO, storeOption, withLedger } from '../context';
import { asOfOption, println } from '../options';
import { progressBar } from '../progress';

interface ExportOpts {
  store: string;
  run: string;
  out: string;
  format: ExportFormat;
  signKey?: string;
  hmacKey?: string;
  csv?: string;
  asOf?: AsOf;
  allowAnomalies?: boolean;
  exportedAt?: string;
  json?: boolean;
}

export function registerExport(program: Command, io: CliIO): void {
  program
    .command('export')
    .addHelpText('after', '\nExample:\n  lineage-ledger export --run latest --out run.jsonl --sign-key demo-key.private.pem\n')
    .description(
      'write a run as a verifiable export: RFC 8785 canonical JSON Lines records in the documented order, ' +
        'each with a hash chain link, an RFC 6962 Merkle root and a manifest (signed with --sign-key or --hmac-key)',
    )
    .addOption(storeOption())
    .requiredOption('--run <id>', 'run id, or "latest"')
    .option('--out <path>', 'output file (jsonl), or directory (bundle); - for stdout (jsonl only)', '-')
    .addOption(
      new Option('--format <format>', 'jsonl: one file, the manifest as its last line; bundle: a directory with records.jsonl and manifest.json')
        .choices(['jsonl', 'bundle'])
        .default('jsonl'),
    )
    .option('--sign-key <pem>', 'sign the manifest with this Ed25519 private key (PKCS#8 PEM, see keygen)')
    .option('--hmac-key <file>', 'sign the manifest with HMAC-SHA256 and the key in this file (at least 32 bytes)')
    .option('--csv <dir>', 'also write the CSV view (one file per record type, and manifest.csv) to this new directory')
    .addOption(asOfOption('export the run'))
    .option('--allow-anomalies', 'export even when the run has events written around the recorder checks')
    .option('--exported-at <timestamp>', "the manifest's exported_at (ISO-8601 with an offset; default now): two exports of the same events with the same value are byte-identical")
    .option('--json', 'print {runId, format, out, recordCount, chainHead, merkleRoot, signature, csv} as JSON (needs --out <path>: stdout carries the export otherwise)')
    .action(async (opts: ExportOpts, cmd: Command) => {
      if (opts.json === true && opts.out === '-') cmd.error('error: --json prints a summary on stdout, which --out - uses for the export; give --out <path>', { exitCode: 2, code: 'lineage.usage' });
      if (opts.exportedAt !== undefined && !Timestamp.is(opts.exportedAt)) {
        throw ledgerError('INVALID_INPUT', '--exported-at: not an ISO-8601 timestamp with an offset (e.g. 2026-01-02T03:04:05.678Z)', { path: 'exportedAt' });
      }
      if (opts.format === 'bundle' && opts.out === '-') throw ledgerError('INVALID_INPUT', '--out: a bundle is a directory; give its path (--format bundle --out <dir>)', { path: 'out' });
      const signer = loadSigner({ ...(opts.signKey !== undefined ? { signKey: opts.signKey } : {}), ...(opts.hmacKey !== undefined ? { hmacKey: opts.hmacKey } : {}) });
      await withLedger(opts.store, async (ledger) => {
        const runId = await ledger.resolveRunId(opts.run);
        const csv = opts.csv === undefined ? undefined : CsvView.open(opts.csv);
        const bar = progressBar('exporting', null, io.stderr, { json: opts.json === true });
        let result;
        try {
          // writeExport commits the CSV view after the export, or discards it when anything fails
          result = await writeExport(ledger, runId, opts.out === '-' ? io.stdout : opts.out, {
            format: opts.format,
            signer,
            ...(csv !== undefined ? { csv } : {}),
            ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}),
            allowAnomalies: opts.allowAnomalies === true,
            ...(opts.exportedAt !== undefined ? { exportedAt: opts.exportedAt } : {}),
            onRecord: (n) => bar.update(n),
          });
        } finally {
          bar.finish();
        }
        const m = result.manifest;
        if (opts.json === true) {
          println(
            io,
            JSON.stringify({
              runId,
              format: opts.format,
              out: opts.out,
              recordCount: m.record_count,
              chainHead: m.chain_head,
              merkleRoot: m.merkle_root,
              signature: { algorithm: m.signature_algorithm, keyId: m.key_id },
              csv: opts.csv ?? null,
            }),
          );
          return;
        }
        const where = opts.out === '-' ? '' : ` to ${opts.out}`;
        const signed = m.signature_algorithm === 'none' ? 'unsigned' : `signed ${m.signature_algorithm}, key ${m.key_id}`;
        io.stderr.write(`exported ${m.record_count} records of run ${runId}${where} (${opts.format}; Merkle root ${m.merkle_root}; ${signed})\n`);
        if (opts.csv !== undefined) io.stderr.write(`CSV view (not verified on its own; see manifest.csv) in ${opts.csv}\n`);
      }, { create: false });
    });
}
