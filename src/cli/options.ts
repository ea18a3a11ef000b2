/**
 * Option parsers shared by the CLI verbs.
 */
import { ledgerError } from '../errors';
import type { AsOf } from '../ledger';
import type { CliIO } from './context';

export function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw ledgerError('INVALID_INPUT', `${name}: "${v}" is not a positive integer`, { path: name });
    return n;
  };
}

/** `--as-of <seq|time>`: a number is a sequence number, anything else an ISO-8601 time. */
export function parseAsOf(v: string): AsOf {
  if (/^\d+$/.test(v)) return Number(v);
  if (Number.isNaN(Date.parse(v))) throw ledgerError('INVALID_INPUT', `--as-of: "${v}" is neither a sequence number nor an ISO-8601 time`, { path: 'asOf' });
  return v;
}

export function println(io: CliIO, s = ''): void {
  io.stdout.write(`${s}\n`);
}
