/**
 * The layer rule (eslint.layers.mjs) refuses imports against the direction, allows the ones the
 * layers permit, and every listed exception matches files of src/ and is still needed (an
 * exception whose import is gone must be deleted from the list). Without the exceptions, no file
 * they do not cover has a layer error: with the list empty, all of src/ follows the direction.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../..');
const ESLINT = path.join(ROOT, 'node_modules/.bin/eslint');
const WITHOUT_EXCEPTIONS = { LINEAGE_LEDGER_LAYERS_WITHOUT_EXCEPTIONS: '1' };

interface Exception {
  readonly files: string[];
  readonly may: string[];
  /** For each of `files`, the files of src/ it matches. */
  readonly covers: string[][];
}

interface Message {
  ruleId: string | null;
  message: string;
}

/** Lints `code` as if it were the file `file` (relative to the repository); the layer messages. */
function layerErrors(file: string, code: string, env: Record<string, string> = {}): string[] {
  const r = spawnSync(ESLINT, ['--format', 'json', '--stdin', '--stdin-filename', file], {
    cwd: ROOT,
    input: code,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const results = JSON.parse(r.stdout) as Array<{ messages: Message[] }>;
  return results.flatMap((x) => x.messages).filter((m) => m.message.includes('layer rule')).map((m) => m.message);
}

/** The layer messages of real files of the repository, by file. */
function filesLayerErrors(files: string[], env: Record<string, string>): Record<string, string[]> {
  let out: string;
  try {
    out = execFileSync(ESLINT, ['--format', 'json', ...files], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  } catch (e) {
    out = (e as { stdout: string }).stdout;
  }
  const byFile: Record<string, string[]> = {};
  for (const r of JSON.parse(out) as Array<{ filePath: string; messages: Message[] }>) {
    byFile[path.relative(ROOT, r.filePath)] = r.messages.filter((m) => m.message.includes('layer rule')).map((m) => m.message);
  }
  return byFile;
}

/** EXCEPTIONS of eslint.layers.mjs (an ES module, so read by a child node), with the files of src/ each entry covers. */
function readExceptions(): Exception[] {
  const script = `
    import * as fs from 'node:fs';
    import * as path from 'node:path';
    const { EXCEPTIONS, matchesGlob } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'eslint.layers.mjs')).href)});
    const src = fs.readdirSync('src', { recursive: true }).map((f) => 'src/' + f.split(path.sep).join('/')).filter((f) => f.endsWith('.ts')).sort();
    const out = EXCEPTIONS.map((ex) => ({ ...ex, covers: ex.files.map((g) => src.filter((f) => matchesGlob(f, g))) }));
    process.stdout.write(JSON.stringify(out));
  `;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as Exception[];
}

describe('layer rule', () => {
  test('imports against the direction are lint errors naming the layer', () => {
    expect(layerErrors('src/events/probe.ts', "import type { Ledger } from '../ledger';\nexport type X = Ledger;\n")).toEqual([
      expect.stringContaining('events may import only canonical; not ledger'),
    ]);
    expect(layerErrors('src/projections/probe.ts', "import { decide } from '../recorder/decide';\nexport const d = decide;\n")).toEqual([
      expect.stringContaining('not recorder'),
    ]);
    expect(layerErrors('src/recorder/probe.ts', "import { SqliteEventStore } from '../store/sqlite';\nexport const s = SqliteEventStore;\n")).toEqual([
      expect.stringContaining('not store-adapters'),
    ]);
    expect(layerErrors('src/lineage/probe.ts', "import { runRecords } from '../export/records';\nexport const r = runRecords;\n")).toEqual([
      expect.stringContaining('not export'),
    ]);
    expect(layerErrors('src/store/sqlite/probe.ts', "import { decide } from '../../recorder/decide';\nexport const d = decide;\n")).toEqual([
      expect.stringContaining('store-adapters may import only'),
    ]);
    expect(layerErrors('src/events/probe.ts', "import { decodeStoredEvent } from '../store/events';\nexport const d = decodeStoredEvent;\n")).toEqual([
      expect.stringContaining('events may import only canonical; not store-port'),
    ]);
    expect(layerErrors('src/store/port.ts', "import type { RunState } from '../projections/state';\nexport type S = RunState;\n")).toEqual([
      expect.stringContaining('store-port may import only events, canonical; not projections'),
    ]);
    expect(layerErrors('src/store/sqlite/probe.ts', "import type { PersistedRunState } from '../../projections/persisted';\nexport type P = PersistedRunState;\n")).toEqual([
      expect.stringContaining('not projections'),
    ]);
    expect(layerErrors('src/projections/probe.ts', "import { follow } from '../subscriptions/follow';\nexport const f = follow;\n")).toEqual([
      expect.stringContaining('not subscriptions'),
    ]);
    expect(layerErrors('src/subscriptions/probe.ts', "import { decide } from '../recorder/decide';\nexport const d = decide;\n")).toEqual([
      expect.stringContaining('subscriptions may import only projections, events, canonical, store-port; not recorder'),
    ]);
    expect(layerErrors('src/canonical/probe.ts', "import { OUTCOMES } from '../events/outcomes';\nexport const o = OUTCOMES;\n")).toHaveLength(1);
  });

  test('imports along the direction are allowed', () => {
    expect(layerErrors('src/recorder/probe.ts', "import type { EventStore } from '../store/port';\nimport { evolve } from '../projections/evolve';\nexport type S = EventStore;\nexport const e = evolve;\n")).toEqual([]);
    expect(layerErrors('src/cli/probe.ts', "import { openLedger } from '../ledger';\nexport const o = openLedger;\n")).toEqual([]);
    expect(layerErrors('src/lineage/probe.ts', "import { OUTCOMES } from '../events/outcomes';\nexport const o = OUTCOMES;\n")).toEqual([]);
    expect(layerErrors('src/recorder/probe.ts', "import { toProposedEvent } from '../store/events';\nexport const t = toProposedEvent;\n")).toEqual([]);
    expect(layerErrors('src/subscriptions/probe.ts', "import { evolve } from '../projections/evolve';\nimport { decodeStoredEvent } from '../store/events';\nexport const e = [evolve, decodeStoredEvent];\n")).toEqual([]);
    expect(layerErrors('src/ledger.ts', "import { follow } from './subscriptions/follow';\nexport const f = follow;\n")).toEqual([]);
  });

  test('every exception matches files of src/ and is still needed', () => {
    const exceptions = readExceptions();
    const covered = [...new Set(exceptions.flatMap((ex) => ex.covers.flat()))];
    for (const ex of exceptions) ex.files.forEach((glob, i) => expect({ glob, matchesFiles: ex.covers[i]!.length > 0 }).toEqual({ glob, matchesFiles: true }));
    if (covered.length === 0) return; // the list is empty: nothing else to check here (see the next test)
    const without = filesLayerErrors(covered, WITHOUT_EXCEPTIONS);
    const withExceptions = filesLayerErrors(covered, {});
    for (const ex of exceptions) {
      ex.files.forEach((glob, i) => {
        const files = ex.covers[i]!;
        expect({ glob, needed: files.some((f) => (without[f] ?? []).length > 0) }).toEqual({ glob, needed: true });
        for (const file of files) expect({ file, errors: withExceptions[file] }).toEqual({ file, errors: [] });
      });
    }
  });

  test('without the exceptions, no file of src/ they do not cover has a layer error', () => {
    const covered = new Set(readExceptions().flatMap((ex) => ex.covers.flat()));
    const without = filesLayerErrors(['src'], WITHOUT_EXCEPTIONS);
    expect(Object.keys(without).length).toBeGreaterThan(50);
    const errors = Object.entries(without).filter(([file, messages]) => !covered.has(file) && messages.length > 0);
    expect(errors).toEqual([]);
  });
});
