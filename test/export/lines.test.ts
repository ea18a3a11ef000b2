/** Reading an export's lines: exact bytes across chunk boundaries, linear for long lines, and a cap on a line's length. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRecordLine, readRawLines } from '../../src/export/read';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('ll-lines-');
});
afterEach(() => removeDir(dir));

async function lines(file: string, cap?: number) {
  const out = [];
  for await (const batch of readRawLines(file, fs.statSync(file).size, cap)) out.push(...batch);
  return out;
}

test('lines spanning many 1 MiB chunks come back byte for byte, and the last unterminated line is marked', async () => {
  const long = 'x'.repeat(5 * 1024 * 1024 + 17);
  const file = path.join(dir, 'a.jsonl');
  fs.writeFileSync(file, `a\n${long}\nb\n${'y'.repeat(1024 * 1024)}\ntail`);
  const got = await lines(file);
  expect(got.map((l) => l.bytes.length)).toEqual([1, long.length, 1, 1024 * 1024, 4]);
  expect(got[1]!.bytes.toString()).toBe(long);
  expect(got.map((l) => l.terminated)).toEqual([true, true, true, true, false]);
});

test('a line over the cap is reported as too long, reading stops, and the record check names it', async () => {
  const file = path.join(dir, 'b.jsonl');
  fs.writeFileSync(file, `ok\n${'z'.repeat(3 * 1024 * 1024)}\nafter\n`);
  const got = await lines(file, 2 * 1024 * 1024);
  expect(got).toHaveLength(2);
  expect(got[1]!.tooLong).toBeGreaterThan(2 * 1024 * 1024);
  const parsed = parseRecordLine(got[1]!);
  expect(parsed.ok).toBe(false);
  expect(parsed.ok === false && parsed.problem).toContain('is longer than');
});
