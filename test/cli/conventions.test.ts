/**
 * Conventions every verb keeps, checked over the verbs the program registers (a verb added
 * later is covered, or named by a failing test): --help has an example of the verb and marks
 * every required option "(required)"; every verb that prints data takes --json, and then
 * prints exactly one JSON document on stdout: the result, or `{"error": {code, message}}`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { REQUIRED_MARK } from '../../src/cli/options';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';
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

/** Verbs that print no data, so take no --json: serve (a server until stopped; its address goes to stderr). */
const NO_DATA_VERBS = ['serve'];
const dataVerbs = verbs.filter((v) => !NO_DATA_VERBS.includes(v));

describe('--json', () => {
  test('the verbs said to print no data exist', () => {
    for (const v of NO_DATA_VERBS) expect(verbs).toContain(v);
  });

  test.each(dataVerbs)('%s takes --json', (verb) => {
    expect(byName.get(verb)!.options.map((o) => o.long)).toContain('--json');
  });

  test.each(verbs)('%s --json with an unknown option: exit 2, and only {"error": {code: USAGE}} on stdout', async (verb) => {
    const r = await cli(verb, '--json', '--no-such-option');
    expect(r.code).toBe(2);
    expect(r.out.endsWith('\n')).toBe(true);
    // commander's message: the unknown option, or a required option it checks first
    const doc = JSON.parse(r.out) as { error: { message: string } };
    expect(doc).toEqual({ error: { code: 'USAGE', message: expect.stringMatching(/option/) } });
    expect(r.err).toContain(`error: ${doc.error.message}`);
  });

  describe('on every data verb: one JSON document on success, and an error document on failure', () => {
    let dir: string;
    let store: string;
    let exportFile: string;
    const p = (name: string): string => path.join(dir, name);
    const MISSING_RUN = '00000000-0000-4000-8000-000000000000';
    const ELSPETH_RICH = path.resolve(__dirname, '../../../shared/reference/elspeth-samples/rich-run/audit.db');

    beforeAll(async () => {
      dir = makeTempDir('ll-conventions-');
      store = `sqlite:${p('l.db')}`;
      exportFile = p('e.jsonl');
      expect((await cli('demo', '--store', store, '--rows', '3')).code).toBe(0);
      expect((await cli('export', '--store', store, '--run', 'latest', '--out', exportFile)).code).toBe(0);
      fs.writeFileSync(p('damaged.jsonl'), fs.readFileSync(exportFile, 'utf8').replace('"record_type":"row"', '"record_type":"rox"'));
      const runId = '0190a1b2-c3d4-7e5f-8a9b-000000000001';
      fs.writeFileSync(p('good.cmds.jsonl'), `${JSON.stringify({ runId, op: 'beginRun', input: { config: {} } })}\n`);
      fs.writeFileSync(p('bad.cmds.jsonl'), `${JSON.stringify({ runId, op: 'dropEverything', input: {} })}\n`);
    });
    afterAll(() => removeDir(dir));

    /**
     * Per data verb: arguments that succeed, and arguments that fail with an error code (and,
     * for verbs that report their failure, fields of that report beside the error). A verb
     * added to the CLI needs its entry here.
     */
    const SCENARIOS: Record<string, { ok: () => string[] | null; fail: () => string[]; code: string; report?: Record<string, unknown> }> = {
      demo: { ok: () => ['--store', `sqlite:${p('demo.db')}`, '--rows', '2'], fail: () => ['--store', 'nosuchscheme:x'], code: 'UNSUPPORTED_STORE_URL' },
      runs: { ok: () => ['--store', store], fail: () => ['--store', `sqlite:${p('missing.db')}`], code: 'NOT_FOUND' },
      purge: { ok: () => ['--store', store, '--older-than', '1d', '--dry-run'], fail: () => ['--store', `sqlite:${p('missing.db')}`, '--older-than', '1d'], code: 'NOT_FOUND' },
      export: { ok: () => ['--store', store, '--run', 'latest', '--out', p(`x-${Date.now()}.jsonl`)], fail: () => ['--store', store, '--run', MISSING_RUN, '--out', p('never.jsonl')], code: 'RUN_NOT_FOUND' },
      keygen: { ok: () => ['--out', p('k1')], fail: () => ['--out', p('k1')], code: 'INVALID_INPUT' },
      verify: { ok: () => [exportFile, '--no-signature'], fail: () => [p('damaged.jsonl'), '--no-signature'], code: 'VERIFY_FAILED', report: { ok: false } },
      prove: { ok: () => [exportFile, '--record', '0'], fail: () => [exportFile, '--record', '99999'], code: 'INVALID_INPUT' },
      import: { ok: () => [exportFile, '--no-signature', '--store', `sqlite:${p('copy.db')}`], fail: () => [exportFile, '--no-signature', '--store', store], code: 'DUPLICATE_ID' },
      explain: { ok: () => ['--store', store, '--run', 'latest', '--row', '0'], fail: () => ['--store', store, '--run', 'latest', '--row', '99999'], code: 'ROW_NOT_FOUND' },
      check: { ok: () => ['--store', store, '--run', 'latest'], fail: () => ['--store', store, '--run', MISSING_RUN], code: 'RUN_NOT_FOUND' },
      replay: { ok: () => ['--store', store, '--run', 'latest'], fail: () => ['--store', store, '--run', MISSING_RUN], code: 'RUN_NOT_FOUND' },
      'import-elspeth': {
        // ELSPETH's sample databases, when they are beside the repository
        ok: () => (fs.existsSync(ELSPETH_RICH) ? [ELSPETH_RICH, '--store', `sqlite:${p('elspeth.db')}`, '--payloads', 'none'] : null),
        fail: () => [p('no-such-audit.db'), '--store', `sqlite:${p('elspeth-never.db')}`],
        code: 'NOT_FOUND',
      },
      project: { ok: () => ['--store', store, '--once'], fail: () => ['--store', `sqlite:${p('missing.db')}`, '--once'], code: 'NOT_FOUND' },
      ingest: { ok: () => [p('good.cmds.jsonl'), '--store', `sqlite:${p('ingest.db')}`], fail: () => [p('bad.cmds.jsonl'), '--store', `sqlite:${p('ingest.db')}`], code: 'INVALID_INPUT', report: { applied: 0 } },
    };

    test('every data verb has its scenario', () => {
      expect(Object.keys(SCENARIOS).sort()).toEqual([...dataVerbs].sort());
    });

    test.each(dataVerbs)('%s --json', async (verb) => {
      const s = SCENARIOS[verb];
      if (s === undefined) throw new Error(`no --json scenario for the verb ${verb}: add one to SCENARIOS`);
      const okArgs = s.ok();
      if (okArgs !== null) {
        const ok = await cli(verb, ...okArgs, '--json');
        expect({ code: ok.code, err: ok.err }).toEqual({ code: 0, err: expect.any(String) });
        expect(ok.out.endsWith('\n')).toBe(true);
        const doc = JSON.parse(ok.out) as unknown; // exactly one document: anything more does not parse
        expect(doc).not.toHaveProperty('error');
      }

      const bad = await cli(verb, ...s.fail(), '--json');
      expect(bad.code).toBe(1);
      expect(bad.out.endsWith('\n')).toBe(true);
      const failure = JSON.parse(bad.out) as { error: { code: string; message: string } };
      expect(failure.error).toEqual(expect.objectContaining({ code: s.code, message: expect.any(String) }));
      expect(failure).toMatchObject(s.report ?? {});
      if (s.report === undefined) expect(Object.keys(failure)).toEqual(['error']);
      // and the diagnostic line on stderr
      expect(bad.err).toContain(`lineage-ledger ${verb}: ${s.code}: ${failure.error.message}`);
    });
  });
});
