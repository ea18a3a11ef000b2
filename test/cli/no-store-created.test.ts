/**
 * Reading verbs never create a store: with --store naming a SQLite file that does not exist,
 * runs, export, check, replay and explain fail with NOT_FOUND (exit 1) and leave no file; an
 * import that fails removes the store file it would have created.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';
import { cli } from './support';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-cli-nf-');
});
afterEach(() => removeDir(dir));

const RUN = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

test.each([
  ['runs', []],
  ['project', ['--once']],
  ['export', ['--run', RUN, '--out', 'x.jsonl']],
  ['check', ['--run', RUN]],
  ['replay', ['--run', RUN]],
  ['explain', ['--run', RUN, '--row', '0']],
] as const)('%s on a missing SQLite file: NOT_FOUND, exit 1, no file created', async (verb, args) => {
  const store = path.join(dir, 'typo.db');
  const r = await cli(verb, ...args, '--store', `sqlite:${store}`);
  expect(r.code).toBe(1);
  expect(r.err).toContain('NOT_FOUND');
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a failed import leaves no store file behind', async () => {
  const garbage = path.join(dir, 'garbage.jsonl');
  fs.writeFileSync(garbage, 'not an export\n');
  const store = path.join(dir, 'new.db');
  const r = await cli('import', garbage, '--store', `sqlite:${store}`, '--no-signature');
  expect(r.code).toBe(1);
  expect(fs.readdirSync(dir)).toEqual(['garbage.jsonl']);
});
