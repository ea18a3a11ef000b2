import * as fs from 'node:fs';
import type { Command } from 'commander';
import { buildCollector, DEFAULT_BODY_LIMIT } from '../../collector/server';
import { ledgerError } from '../../errors';
import { loadSigner } from '../../export/keys';
import { CliIO, payloadsFromOption, payloadsOption, storeOption, withLedger } from '../context';
import { parsePositiveInt } from '../options';

interface ServeOpts {
  payloads?: string;
  store: string;
  listen: string;
  tokenFile?: string;
  bodyLimit: number;
  signKey?: string;
  hmacKey?: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** host:port (IPv6 in brackets); port 0 picks a free one. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw ledgerError('INVALID_INPUT', '--listen: expected host:port, e.g. 127.0.0.1:8080 ([::1]:8080 for IPv6; port 0 picks a free one)', { path: 'listen' });
  return { host: m[1] ?? m[2]!, port };
}

export function registerServe(program: Command, io: CliIO): void {
  program
    .command('serve')
    .description('run the HTTP collector: the recorder behind a JSON API (see docs/collector.md), until SIGTERM or SIGINT')
    .addOption(storeOption())
    .addOption(payloadsOption())
    .option('--listen <host:port>', 'address to listen on (port 0: a free port, printed)', '127.0.0.1:8080')
    .option('--token-file <file>', 'require Authorization: Bearer <token> (the file\'s first line) on every route but /v1/health; needed to listen beyond loopback')
    .option('--body-limit <bytes>', 'largest request body', parsePositiveInt('--body-limit'), DEFAULT_BODY_LIMIT)
    .option('--sign-key <pem>', 'sign exports with this Ed25519 private key (PKCS#8 PEM)')
    .option('--hmac-key <file>', 'sign exports with HMAC-SHA256 and the key in this file')
    .addHelpText('after', '\nExample:\n  lineage-ledger serve --store sqlite:./lineage.db --listen 127.0.0.1:8080 --token-file ./collector.token\n')
    .action(async (opts: ServeOpts) => {
      const { host, port } = parseListen(opts.listen);
      let token: string | null = null;
      if (opts.tokenFile !== undefined) {
        let text: string;
        try {
          text = fs.readFileSync(opts.tokenFile, 'utf8');
        } catch {
          throw ledgerError('NOT_FOUND', `--token-file: ${opts.tokenFile} cannot be read`, { path: 'tokenFile' });
        }
        token = text.split(/\r?\n/)[0]!.trim();
        if (token.length < 16) throw ledgerError('INVALID_INPUT', '--token-file: the token must be at least 16 characters', { path: 'tokenFile' });
      }
      if (token === null && !LOOPBACK.has(host)) {
        throw ledgerError('INVALID_INPUT', `--listen ${opts.listen}: serving beyond loopback needs --token-file (anyone who can reach the port could record)`, { path: 'listen' });
      }
      const signer = loadSigner({ ...(opts.signKey !== undefined ? { signKey: opts.signKey } : {}), ...(opts.hmacKey !== undefined ? { hmacKey: opts.hmacKey } : {}) });
      await withLedger(opts.store, async (ledger) => {
        const app = await buildCollector({ ledger, token, bodyLimit: opts.bodyLimit, signer, log: (line) => io.stderr.write(`${line}\n`) });
        const address = await app.listen({ host, port });
        io.stderr.write(`listening on ${address}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGTERM', stop);
            process.off('SIGINT', stop);
            io.stderr.write('stopping: finishing the requests in flight\n');
            // stop accepting, let the requests in flight finish; then the ledger closes (withLedger)
            // close waits for the requests in flight; a keep-alive connection is dropped as soon as its last response is out
            const idle = setInterval(() => app.server.closeIdleConnections(), 20);
            app.close().then(
              () => {
                clearInterval(idle);
                resolve();
              },
              () => {
                clearInterval(idle);
                resolve();
              },
            );
          };
          process.on('SIGTERM', stop);
          process.on('SIGINT', stop);
        });
      }, { payloads: payloadsFromOption(opts.payloads) });
      io.stderr.write('stopped\n');
    });
}
