/** `verify -` reads an export from stdin; a bare `lineage-ledger` prints its help and exits 2. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir, TS_RUN } from '../store/sqlite/helpers';
import { cli } from './support';

const CHILD = path.resolve(__dirname, 'main-child.ts');
const run = (args: string[], input?: Buffer | string) => spawnSync(process.execPath, [TS_RUN, CHILD, ...args], { input, encoding: 'utf8', timeout: 60_000 });

let dir: string;
beforeAll(() => (dir = makeTempDir('ll-stdin-')));
afterAll(() => removeDir(dir));

test('bare lineage-ledger: help on stderr, exit 2', () => {
  const r = run([]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('Usage: lineage-ledger');
  expect(r.stderr).toContain('verify');
  expect(r.stdout).toBe('');
});

test('verify - checks an export read from stdin, and fails on a damaged one', async () => {
  const db = path.join(dir, 'l.db');
  const file = path.join(dir, 'e.jsonl');
  expect((await cli('demo', '--store', `sqlite:${db}`, '--rows', '3', '--json')).code).toBe(0);
  expect((await cli('export', '--store', `sqlite:${db}`, '--run', 'latest', '--out', file)).code).toBe(0);
  const good = run(['verify', '-', '--no-signature', '--json'], fs.readFileSync(file));
  expect(good.status).toBe(0);
  expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, path: '-' });
  const damaged = fs.readFileSync(file, 'utf8').replace('"record_type":"row"', '"record_type":"rox"');
  const bad = run(['verify', '-', '--no-signature', '--json'], damaged);
  expect(bad.status).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, path: '-', error: { code: 'VERIFY_FAILED' } });
}, 90_000);
