/**
 * The fold table's compile-time guarantee, checked with the TypeScript compiler: an event type
 * added to the catalogue without its fold and inverse, or a field added to an event and not to
 * its inverse, fails the typecheck in src/projections/evolve.ts; the type-level checks in
 * fold-table.types.ts hold. Also the table's facts that types cannot say.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { EVENT_TYPES } from '../../src/events/catalogue';
import { EVENT_FOLDS } from '../../src/projections/evolve';

const ROOT = path.resolve(__dirname, '../..');
const EVOLVE = path.join(ROOT, 'src/projections/evolve.ts');
const CATALOGUE = path.join(ROOT, 'src/events/catalogue.ts');

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (f) => ts.sys.readFile(f));
  return { ...ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).options, noEmit: true };
}

/** The diagnostics of a program rooted at `root`, with some files' text edited first ("file: message"). */
function diagnostics(root: string, edits: Record<string, (text: string) => string> = {}): string[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, shouldCreate) => {
    const edit = edits[path.resolve(fileName)];
    if (edit === undefined) return read(fileName, language, onError, shouldCreate);
    return ts.createSourceFile(fileName, edit(fs.readFileSync(fileName, 'utf8')), language);
  };
  const program = ts.createProgram([root], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file === undefined ? '' : path.relative(ROOT, d.file.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

/** Replaces `from` by `to` in a text, which must contain it. */
const replacing = (from: string, to: string) => (text: string): string => {
  expect(text).toContain(from);
  return text.replace(from, to);
};

const SLOW = 180_000;

test('evolve.ts compiles as it is', () => {
  expect(diagnostics(EVOLVE)).toEqual([]);
}, SLOW);

test('the type-level checks hold (every table they mark is refused)', () => {
  expect(diagnostics(path.join(__dirname, 'fold-table.types.ts'))).toEqual([]);
}, SLOW);

test('an event type added to the catalogue without its fold and inverse fails the typecheck in evolve.ts', () => {
  const found = diagnostics(EVOLVE, {
    [CATALOGUE]: replacing('  PayloadsPurged: { codec: PayloadsPurged,', "  NodeRetired: { codec: NodeOutputContractUpdated, schemaVersion: 1, summary: 'a node was retired' },\n  PayloadsPurged: { codec: PayloadsPurged,"),
  });
  expect(found.length).toBeGreaterThan(0);
  expect(found.every((d) => d.startsWith('src/projections/evolve.ts: '))).toBe(true);
  expect(found.join('\n')).toMatch(/Property 'NodeRetired' is missing/);
}, SLOW);

test('a field added to an event and not to its inverse fails the typecheck in evolve.ts', () => {
  const found = diagnostics(EVOLVE, {
    [CATALOGUE]: replacing("const NodeStateOpened = struct('NodeStateOpened', {\n", "const NodeStateOpened = struct('NodeStateOpened', {\n  priority: NonNegativeInt,\n"),
  });
  expect(found.length).toBeGreaterThan(0);
  expect(found.every((d) => d.startsWith('src/projections/evolve.ts: '))).toBe(true);
  expect(found.join('\n')).toMatch(/priority/);
}, SLOW);

describe('the table', () => {
  test('has one entry per event type of the catalogue, in its order', () => {
    expect(Object.keys(EVENT_FOLDS)).toEqual(EVENT_TYPES);
  });

  test('an event type carried by another names one whose inverse rebuilds events', () => {
    for (const type of EVENT_TYPES) {
      const inverse = EVENT_FOLDS[type].inverse;
      if (!('carriedBy' in inverse)) continue;
      expect({ type, carrier: 'carriedBy' in EVENT_FOLDS[inverse.carriedBy].inverse }).toEqual({ type, carrier: false });
    }
  });

  test("the run's opening and closing events have distinct ranks", () => {
    for (const side of ['opening', 'closing'] as const) {
      const ranks = EVENT_TYPES.map((t) => EVENT_FOLDS[t].inverse)
        .filter((i) => 'seat' in i && typeof i.seat === 'object' && side in i.seat)
        .map((i) => ('seat' in i ? (i.seat as Record<string, number>)[side] : -1));
      expect(new Set(ranks).size).toBe(ranks.length);
    }
  });
});
