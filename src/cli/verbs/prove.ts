import type { Command } from 'commander';
import { ledgerError } from '../../errors';
import { writeFileAtomically, writeLinesToFd } from '../../export/files';
import { proveRecord } from '../../export/proof';
import type { CliIO } from '../context';
import { println } from '../options';

function parseIndex(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw ledgerError('INVALID_INPUT', `--record: "${v}" is not a record index (0, 1, 2, ...)`, { path: 'record' });
  return n;
}

export function registerProve(program: Command, io: CliIO): void {
  program
    .command('prove')
    .addHelpText('after', '\nExample:\n  lineage-ledger prove run.jsonl --record 3 --out record-3.proof.json\n')
    .description(
      'print an RFC 6962 inclusion proof of one record of an export (the record, its leaf hash and audit path); ' +
        'check it with `lineage-ledger verify <export> --proof <file>`',
    )
    .argument('<export>', 'export file (jsonl) or bundle directory')
    .requiredOption('--record <n>', 'index of the record (0-based line number in the records)', parseIndex)
    .option('--out <file>', 'write the proof to this file instead of stdout')
    .option('--json', 'print the proof as one line of JSON (default: indented JSON); with --out, {out, record, runId, treeSize, merkleRoot}')
    .action(async (exportPath: string, opts: { record: number; out?: string; json?: boolean }) => {
      const proof = await proveRecord(exportPath, opts.record);
      const text = opts.json === true ? JSON.stringify(proof) : JSON.stringify(proof, null, 2);
      if (opts.out !== undefined) {
        await writeFileAtomically(opts.out, (fd) => writeLinesToFd([text], fd));
        if (opts.json === true) {
          println(io, JSON.stringify({ out: opts.out, record: opts.record, runId: proof.run_id, treeSize: proof.tree_size, merkleRoot: proof.merkle_root }));
          return;
        }
        io.stderr.write(`wrote the proof of record ${opts.record} of run ${proof.run_id} (tree of ${proof.tree_size}, root ${proof.merkle_root}) to ${opts.out}\n`);
      } else {
        println(io, text);
      }
    });
}
