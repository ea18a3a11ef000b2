/**
 * The progress bar: its line (done/total, rate, ETA) is a pure function of the counts and the
 * time taken; it is drawn only on a terminal, and never with --json, in CI or on TERM=dumb.
 */
import * as path from 'node:path';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';
import { cli, cliOnTerminal } from './support';
import { formatDuration, progressBar, ProgressStream, progressEnabled, renderProgress } from '../../src/cli/progress';

function stream(isTTY: boolean, columns?: number): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, ...(columns !== undefined ? { columns } : {}), written, write: (s: string) => written.push(s) };
}

describe('renderProgress', () => {
  test('with a total: bar, percent, done/total, rate and ETA', () => {
    const line = renderProgress({ label: 'verifying', done: 3000, total: 10000, elapsedMs: 2000, width: 10 });
    expect(line).toBe('verifying [###.......]  30% 3000/10000  1500 records/s  ETA 5s');
  });

  test('the unit names the rate; a slow rate keeps a decimal; a long ETA is in minutes', () => {
    // 3 in 4 s: 0.75/s, 397 to go: 529 s
    const line = renderProgress({ label: 'importing', done: 3, total: 400, elapsedMs: 4000, unit: 'lines' });
    expect(line).toContain('0.8 lines/s');
    expect(line).toContain('ETA 8m49s');
  });

  test('at the start the rate and ETA are not known yet; at the end the ETA is 0s', () => {
    expect(renderProgress({ label: 'x', done: 0, total: 10, elapsedMs: 0 })).toMatch(/ - records\/s {2}ETA -$/);
    expect(renderProgress({ label: 'x', done: 0, total: 10, elapsedMs: 500 })).toMatch(/ 0\.0 records\/s {2}ETA -$/);
    expect(renderProgress({ label: 'x', done: 10, total: 10, elapsedMs: 500 })).toMatch(/100% 10\/10 {2}20 records\/s {2}ETA 0s$/);
  });

  test('without a total: the count, the rate and the time taken, no ETA', () => {
    const line = renderProgress({ label: 'exporting', done: 4500, total: null, elapsedMs: 3000 });
    expect(line).toBe('exporting 4500 records  1500 records/s  3s');
  });

  test('formatDuration', () => {
    expect([0, 4.4, 59, 65, 3599, 3600, 7380].map(formatDuration)).toEqual(['0s', '4s', '59s', '1m05s', '59m59s', '1h00m', '2h03m']);
  });
});

describe('progressBar', () => {
  const clock = (): { now: () => number; advance: (ms: number) => void } => {
    let t = 1_000;
    return { now: () => t, advance: (ms) => (t += ms) };
  };

  test('on a terminal: draws the line with rate and ETA, at most every 100 ms, and clears it at the end', () => {
    const s = stream(true);
    const c = clock();
    const bar = progressBar('verifying', 100, s, { env: {}, now: c.now });
    c.advance(1000);
    bar.update(10);
    c.advance(50);
    bar.update(15); // too soon: not drawn
    c.advance(60);
    bar.update(20);
    bar.finish();
    expect(s.written).toHaveLength(3);
    expect(s.written[0]).toBe(`\r${renderProgress({ label: 'verifying', done: 10, total: 100, elapsedMs: 1000 })}\x1b[K`);
    expect(s.written[0]).toContain('10 records/s  ETA 9s');
    expect(s.written[1]).toContain('20/100');
    expect(s.written[2]).toBe('\r\x1b[K');
  });

  test('a total learnt later gives the ETA from then on', () => {
    const s = stream(true);
    const c = clock();
    const bar = progressBar('verifying', null, s, { env: {}, now: c.now });
    c.advance(1000);
    bar.update(5);
    c.advance(1000);
    bar.update(10, 40);
    expect(s.written[0]).not.toContain('ETA');
    expect(s.written[1]).toContain('10/40  5.0 records/s  ETA 6s');
  });

  test('the line is cut to the terminal width', () => {
    const s = stream(true, 40);
    progressBar('verifying', 100, s, { env: {} }).update(1);
    expect(s.written[0]!.replace('\r', '').replace('\x1b[K', '').length).toBe(39);
  });

  test('nothing is drawn when stderr is not a terminal, with --json, in CI or on TERM=dumb', () => {
    const cases: Array<[ProgressStream & { written: string[] }, Parameters<typeof progressBar>[3]]> = [
      [stream(false), { env: {} }],
      [stream(true), { env: {}, json: true }],
      [stream(true), { env: { CI: 'true' } }],
      [stream(true), { env: { CI: '1' } }],
      [stream(true), { env: { TERM: 'dumb' } }],
    ];
    for (const [s, options] of cases) {
      expect(progressEnabled(s, options)).toBe(false);
      const bar = progressBar('verifying', 10, s, options);
      bar.update(1);
      bar.update(10);
      bar.finish();
      expect(s.written).toEqual([]);
    }
    expect(progressEnabled(stream(true), { env: { CI: 'false' } })).toBe(true);
    expect(progressEnabled(stream(true), { env: { CI: '' } })).toBe(true);
  });
});

describe('the long verbs draw it on a terminal stderr', () => {
  let dir: string;
  let file: string;
  // the bar is off in CI and on TERM=dumb: run these as on a developer's terminal
  const saved = { CI: process.env.CI, TERM: process.env.TERM };
  beforeAll(async () => {
    delete process.env.CI;
    process.env.TERM = 'xterm';
    dir = makeTempDir('ll-progress-');
    file = path.join(dir, 'e.jsonl');
    const store = `sqlite:${path.join(dir, 'l.db')}`;
    expect((await cli('demo', '--store', store, '--rows', '3')).code).toBe(0);
    expect((await cli('export', '--store', store, '--run', 'latest', '--out', file)).code).toBe(0);
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    removeDir(dir);
  });

  test.each([
    ['verify', 'verifying', () => ['verify', file, '--no-signature']],
    ['import', 'importing', () => ['import', file, '--no-signature', '--store', `sqlite:${path.join(dir, `import-${Date.now()}.db`)}`]],
  ])('%s: done/total, rate and ETA on stderr, then the line is cleared; nothing with --json', async (_verb, label, args) => {
    const r = await cliOnTerminal(...args());
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`\\r${label} \\[[#.]+\\] +\\d+% \\d+/\\d+ {2}\\S+ records/s {2}ETA \\S+\\x1b\\[K`));
    expect(r.err).toContain('\r\x1b[K');
    expect(r.out).not.toContain('\r');
    const j = await cliOnTerminal(...args(), '--json');
    expect(j.code).toBe(0);
    expect(j.err).not.toContain(label);
    expect(() => JSON.parse(j.out) as unknown).not.toThrow();
  });
});
