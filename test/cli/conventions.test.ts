/**
 * Conventions every verb keeps, checked over the verbs the program registers (a verb added
 * later is covered without touching this file): --help has an example of the verb and marks
 * every required option "(required)".
 */
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { REQUIRED_MARK } from '../../src/cli/options';
import { captureIO, cli } from './support';

const commands: readonly Command[] = buildProgram(captureIO().io).commands;
const verbs = commands.map((c) => c.name());
const byName = new Map(commands.map((c) => [c.name(), c]));

/** Help text with every run of whitespace made one space (descriptions wrap at any width). */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

async function help(verb: string): Promise<string> {
  const r = await cli(verb, '--help');
  expect(r.code).toBe(0);
  return r.out;
}

test('the program registers verbs', () => {
  expect(verbs.length).toBeGreaterThan(0);
});

describe.each(verbs)('%s --help', (verb) => {
  const cmd = byName.get(verb)!;

  test('has an Example section whose lines run the verb', async () => {
    const text = await help(verb);
    const section = /\nExamples?:\n((?: {2}.*\n?)+)/.exec(text);
    expect(section).not.toBeNull();
    const lines = section![1]!.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.trim().startsWith(`lineage-ledger ${verb}`)).toBe(true);
  });

  test('marks every required option "(required)", and no other', async () => {
    const text = flat(await help(verb));
    const options: readonly Option[] = cmd.options;
    for (const o of options) {
      const entry = flat(`${o.flags} ${o.description}`);
      expect(text).toContain(entry);
      const after = text.slice(text.indexOf(entry) + entry.length);
      // the mark follows the description (after commander's own "(default: ...)" notes), before the next option
      const rest = after.split(/ --?[a-zA-Z]/)[0]!;
      if (o.mandatory) expect(rest).toContain(REQUIRED_MARK);
      else expect(rest).not.toContain(REQUIRED_MARK);
    }
  });
});
