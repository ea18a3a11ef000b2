import type { Command } from 'commander';
import { writeKeyFiles } from '../../export/keys';
import type { CliIO } from '../context';
import { println } from '../options';

export function registerKeygen(program: Command, io: CliIO): void {
  program
    .command('keygen')
    .addHelpText('after', '\nExample:\n  lineage-ledger keygen --out audit-key\n')
    .description('create a signing key for exports: <prefix>.key.pem (Ed25519 PKCS#8, mode 0600) and <prefix>.pub.pem (SPKI); prints the key id')
    .requiredOption('--out <prefix>', 'path prefix of the key files (never overwritten)')
    .option('--hmac', 'create an HMAC-SHA256 key instead: <prefix>.hmac.key (32 random bytes as hex, mode 0600)')
    .option('--json', 'print {algorithm, keyId, files} as JSON')
    .action((opts: { out: string; hmac?: boolean; json?: boolean }) => {
      const result = writeKeyFiles(opts.out, { hmac: opts.hmac === true });
      if (opts.json === true) {
        println(io, JSON.stringify(result));
        return;
      }
      println(io, result.keyId);
      if (result.algorithm === 'ed25519') {
        io.stderr.write(`wrote ${result.files[0]} (private: keep it secret) and ${result.files[1]} (public: give it to verifiers); key id ${result.keyId}\n`);
      } else {
        io.stderr.write(`wrote ${result.files[0]} (HMAC-SHA256 secret: share it only with verifiers); key id ${result.keyId}\n`);
      }
    });
}
