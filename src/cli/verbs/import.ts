import * as fs from 'node:fs';
import type { Command } from 'commander';
import { importExport } from '../../export/import';
import { parseStoreUrl } from '../../store/url';
import { CliIO, storeOption, withLedger } from '../context';
import { println } from '../options';
import { progressBar } from '../progress';
import { addKeyOptions, KeyOpts, verifyOptionsFrom } from './verify';

type ImportOpts = KeyOpts & { store: string; json?: boolean };

export function registerImport(program: Command, io: CliIO): void {
  const cmd = program
    .command('import')
    .addHelpText('after', '\nExample:\n  lineage-ledger import run.jsonl --public-key demo-key.public.pem --store sqlite:./copy.db\n')
    .description(
      'verify an export (as `verify` does) and rebuild its run in a store from the export alone; ' +
        'exporting the imported run gives the same records and Merkle root. A run that exists is refused; a failed import writes nothing',
    )
    .argument('<export>', 'export file (jsonl) or bundle directory')
    .addOption(storeOption());
  addKeyOptions(cmd)
    .option('--json', 'print {runId, events, records, chainHead, merkleRoot} as JSON')
    .action(async (exportPath: string, opts: ImportOpts) => {
      // a store file this import creates is removed again when the import fails: a failed import leaves nothing behind
      const parsed = parseStoreUrl(opts.store);
      const created = parsed.kind === 'sqlite' && !fs.existsSync(parsed.path) ? parsed.path : null;
      try {
        await importInto(io, exportPath, opts);
      } catch (e) {
        if (created !== null) for (const suffix of ['', '-wal', '-shm']) fs.rmSync(created + suffix, { force: true });
        throw e;
      }
    });
}

async function importInto(io: CliIO, exportPath: string, opts: ImportOpts): Promise<void> {
  const options = verifyOptionsFrom(opts);
  await withLedger(opts.store, async (ledger) => {
    // the bar counts the records verified (the rest of an import is one append and a read-back)
    const bar = progressBar('importing', null, io.stderr, { json: opts.json === true });
    let r;
    try {
      r = await importExport(ledger, exportPath, { ...options, onProgress: (done, total) => bar.update(done, total) });
    } finally {
      bar.finish();
    }
    if (opts.json === true) {
      println(io, JSON.stringify({ runId: r.runId, events: r.events, records: r.records, chainHead: r.chainHead, merkleRoot: r.merkleRoot, store: opts.store, signatureChecked: r.report.signatureChecked }));
      return;
    }
    println(io, r.runId);
    io.stderr.write(
      `imported run ${r.runId} into ${opts.store}: ${r.records} records rebuilt from ${r.events} events (Merkle root ${r.merkleRoot}; ` +
        `signature ${r.report.signatureChecked ? 'checked' : 'NOT checked'})\n`,
    );
  });
}
