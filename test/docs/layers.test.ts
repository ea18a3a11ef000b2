/**
 * The layer rule (eslint.layers.mjs) refuses imports against the direction, allows the ones the
 * layers permit, and every listed exception is still needed (an exception whose import is gone
 * must be deleted from the list).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const ESLINT = path.join(ROOT, 'node_modules/.bin/eslint');

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
    expect(layerErrors('src/canonical/probe.ts', "import { OUTCOMES } from '../events/outcomes';\nexport const o = OUTCOMES;\n")).toHaveLength(1);
  });

  test('imports along the direction are allowed', () => {
    expect(layerErrors('src/recorder/probe.ts', "import type { EventStore } from '../store/port';\nimport { evolve } from '../projections/evolve';\nexport type S = EventStore;\nexport const e = evolve;\n")).toEqual([]);
    expect(layerErrors('src/cli/probe.ts', "import { openLedger } from '../ledger';\nexport const o = openLedger;\n")).toEqual([]);
    expect(layerErrors('src/lineage/probe.ts', "import { OUTCOMES } from '../events/outcomes';\nexport const o = OUTCOMES;\n")).toEqual([]);
  });

  test('every exception is still needed', () => {
    const files = ['src/store/port.ts', 'src/store/sqlite/index.ts', 'src/store/postgres/index.ts'];
    const without = filesLayerErrors(files, { LINEAGE_LEDGER_LAYERS_WITHOUT_EXCEPTIONS: '1' });
    const withExceptions = filesLayerErrors(files, {});
    for (const file of files) {
      expect({ file, needed: (without[file] ?? []).length > 0 }).toEqual({ file, needed: true });
      expect({ file, errors: withExceptions[file] }).toEqual({ file, errors: [] });
    }
  });
});
