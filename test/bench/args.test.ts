/** The benchmark harness's arguments (no benchmark is run and no timing asserted here). */
import { HUGE_ROWS, parseBenchArgs, SCALE_SIZES } from '../../bench/main';
import { BENCH_POSTGRES_ENV, PHASES, POSTGRES_PHASES } from '../../bench/run-once';

test('defaults: 1,000 rows, 3 repeats, every phase but the PostgreSQL ones (no server given)', () => {
  expect(parseBenchArgs([])).toEqual({ sizes: [1000], repeat: 3, phases: PHASES.filter((p) => !POSTGRES_PHASES.includes(p)), json: false, postgres: null });
});

test('a PostgreSQL server (--postgres or the environment) adds its phases to the same run', () => {
  const url = 'postgres://u@localhost/bench';
  expect(parseBenchArgs(['--postgres', url])).toMatchObject({ phases: [...PHASES], postgres: url });
  expect(parseBenchArgs([], { [BENCH_POSTGRES_ENV]: url })).toMatchObject({ phases: [...PHASES], postgres: url });
  expect(parseBenchArgs(['--postgres', 'mysql://x'])).toEqual(expect.stringContaining('postgres://'));
  expect(parseBenchArgs(['--phases', 'record_postgres'])).toEqual(expect.stringContaining('--postgres'));
  expect(parseBenchArgs(['--phases', 'record_postgres', '--postgres', url])).toMatchObject({ phases: ['record', 'record_postgres'] });
});

test('--scale covers 1,000, 10,000 and 100,000 rows, one repeat unless asked', () => {
  expect(SCALE_SIZES).toEqual([1000, 10000, 100000]);
  expect(parseBenchArgs(['--scale'])).toMatchObject({ sizes: [1000, 10000, 100000], repeat: 1 });
  expect(parseBenchArgs(['--scale', '--repeat', '2'])).toMatchObject({ repeat: 2 });
});

test('a run above the huge threshold needs --huge', () => {
  expect(parseBenchArgs(['--rows', '1000000'])).toEqual(expect.stringContaining('--huge'));
  expect(parseBenchArgs(['--rows', '1000000', '--huge'])).toMatchObject({ sizes: [1000000], repeat: 1 });
  expect(parseBenchArgs(['--rows', String(HUGE_ROWS)])).toMatchObject({ sizes: [HUGE_ROWS] });
});

test('--phases keeps the record phase (the others read its file) and the harness order', () => {
  expect(parseBenchArgs(['--phases', 'explain,export'])).toMatchObject({ phases: ['record', 'export', 'explain'] });
});

test('bad values are usage errors', () => {
  expect(typeof parseBenchArgs(['--rows', 'ten'])).toBe('string');
  expect(typeof parseBenchArgs(['--repeat', '0'])).toBe('string');
  expect(parseBenchArgs(['--phases', 'record,nope'])).toEqual(expect.stringContaining('nope'));
  expect(parseBenchArgs(['--large'])).toEqual(expect.stringContaining('--large'));
});
