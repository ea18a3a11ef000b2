/**
 * Option parsers shared by the CLI verbs. A bad option value is a usage error (exit 2).
 */
import { Help, InvalidArgumentError, Option } from 'commander';
import type { AsOf } from '../ledger';
import type { CliIO } from './context';

export function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name}: "${v}" is not a positive integer`);
    return n;
  };
}

/** `--as-of <seq|time>`: a number is a sequence number, anything else an ISO-8601 time. */
export function parseAsOf(v: string): AsOf {
  if (/^\d+$/.test(v)) return Number(v);
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError(`--as-of: "${v}" is neither a sequence number nor an ISO-8601 time`);
  return v;
}

/** `--as-of <seq|time>`: `what` says what is read as of that point (e.g. "export the run"). */
export function asOfOption(what: string): Option {
  return new Option('--as-of <seq|time>', `${what} as it was at a sequence number (inclusive) or ISO-8601 time`).argParser(parseAsOf);
}

export function println(io: CliIO, s = ''): void {
  io.stdout.write(`${s}\n`);
}

/** How --help marks an option the verb cannot run without (commander's requiredOption). */
export const REQUIRED_MARK = '(required)';

/**
 * Help convention: the description of every required option ends with "(required)". Set
 * on the program before the verbs are added, so every verb inherits it.
 */
export function optionDescription(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${text} ${REQUIRED_MARK}` : text;
}
