/**
 * The README's reference sections are generated from the codecs and tables: this test
 * fails when they drift (fix with `npm run docs`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GENERATED_SECTIONS, updateGeneratedSections } from '../../src/docs/reference';
import { OUTCOMES } from '../../src/events/outcomes';
import { EVENT_TYPES } from '../../src/events/catalogue';
import { RECORD_TYPES } from '../../src/projections/entities';

const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

test('the generated README sections match the codecs (run `npm run docs` to update)', () => {
  expect(updateGeneratedSections(readme)).toBe(readme);
});

test.each(Object.keys(GENERATED_SECTIONS))('the %s section is present and not empty', (name) => {
  const block = readme.split(`<!-- generated:${name} -->`)[1]!.split(`<!-- /generated:${name} -->`)[0]!;
  expect(block.trim().split('\n').length).toBeGreaterThan(3);
});

test('every outcome, event type and record type is documented', () => {
  for (const o of OUTCOMES) expect(readme).toContain(`| \`${o}\` |`);
  for (const e of EVENT_TYPES) expect(readme).toContain(`| \`${e}\` |`);
  for (const r of RECORD_TYPES) expect(readme).toContain(`| \`${r}\` |`);
});
