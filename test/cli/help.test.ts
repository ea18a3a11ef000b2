/**
 * Every verb has --help (exit 0, usage on stdout); an unknown verb or option is a usage error (exit 2).
 */
import { buildProgram } from '../../src/cli/main';
import { captureIO, cli } from './support';

const verbs = buildProgram(captureIO().io).commands.map((c) => c.name());

test('the CLI offers every verb of the design', () => {
  // at least these: a verb added later is covered by the per-verb tests (here and in conventions.test.ts)
  expect(verbs).toEqual(expect.arrayContaining(['check', 'demo', 'explain', 'export', 'import', 'import-elspeth', 'ingest', 'keygen', 'project', 'prove', 'purge', 'replay', 'runs', 'serve', 'verify']));
});

test.each(verbs)('%s --help prints its usage and exits 0', async (verb) => {
  const r = await cli(verb, '--help');
  expect(r.code).toBe(0);
  expect(r.out).toContain(`Usage: lineage-ledger ${verb}`);
  // and an example of its use
  expect(r.out).toMatch(new RegExp(`Example:\\n  lineage-ledger ${verb} `));
});

test('--help, --version, an unknown verb and an unknown option', async () => {
  const help = await cli('--help');
  expect(help.code).toBe(0);
  for (const v of verbs) expect(help.out).toContain(v);
  expect((await cli('--version')).out).toMatch(/^\d+\.\d+\.\d+/);
  const unknown = await cli('frobnicate');
  expect(unknown.code).toBe(2);
  expect(unknown.err).toContain("unknown command 'frobnicate'");
  const badOption = await cli('runs', '--no-such-option');
  expect(badOption.code).toBe(2);
  expect(badOption.err).toContain('unknown option');
});
