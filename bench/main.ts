/**
 * The benchmark harness: the reference workload (DESIGN §5) through the public API, each
 * phase in its own Node process with default flags (bench/run-once.ts), side by side with
 * raw SQLite inserts of the very same stored events. Figures are medians (min-max) of K
 * repeats; ratios are computed per repeat, then the median is taken.
 *
 *   npm run bench -- [--rows N[,N...]] [--repeat K] [--scale] [--huge] [--phases a,b] [--json]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BENCH_POSTGRES_ENV, PhaseName, PhaseResult, PHASES, POSTGRES_PHASES, SEQUENTIAL_ROWS_CAP } from './run-once';

/** Above this many rows a run takes long enough that it must be asked for with --huge. */
export const HUGE_ROWS = 200_000;
export const SCALE_SIZES = [1000, 10_000, 100_000] as const;

export interface BenchArgs {
  readonly sizes: number[];
  readonly repeat: number;
  readonly phases: PhaseName[];
  readonly json: boolean;
  /** The PostgreSQL server of the postgres phases (--postgres, else the environment); null: those phases are left out. */
  readonly postgres: string | null;
}

const USAGE = `usage: npm run bench -- [--rows N[,N...]] [--repeat K] [--scale] [--huge] [--phases ${PHASES.join(',')}] [--postgres <url>] [--json]

  --rows N[,N...]  run sizes (default 1000)
  --scale          sizes ${SCALE_SIZES.map((n) => n.toLocaleString('en-US')).join(', ')} (cost per row as the run grows)
  --huge           allow sizes above ${HUGE_ROWS.toLocaleString('en-US')} rows (1,000,000 rows takes hours on a 2-core machine)
  --repeat K       repeats per size (default 3, or 1 with --scale or above 10,000 rows)
  --phases a,b     only these phases (record always runs: the others read its file)
  --postgres URL   also record on this PostgreSQL server (postgres://...; default: $${BENCH_POSTGRES_ENV}),
                   beside SQLite in the same run, with raw batched inserts there as its anchor
  --json           one JSON object on stdout instead of tables

example: npm run bench -- --rows 10000 --repeat 1
`;

/** Parses the harness's arguments; a string is a usage error to print. */
export function parseBenchArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): BenchArgs | string {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--rows', '--repeat', '--scale', '--huge', '--phases', '--postgres', '--json', '--help']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    if (!known.has(a)) return `unknown option ${a}`;
    if (['--rows', '--repeat', '--phases', '--postgres'].includes(a)) i++;
  }
  const scale = argv.includes('--scale');
  const sizes = scale ? [...SCALE_SIZES] : (value('rows') ?? '1000').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) return '--rows takes positive whole numbers, separated by commas';
  const largest = Math.max(...sizes);
  if (largest > HUGE_ROWS && !argv.includes('--huge')) return `${largest.toLocaleString('en-US')} rows takes a long time: add --huge to run it`;
  const repeatText = value('repeat');
  const repeat = repeatText === undefined ? (scale || largest > 10_000 ? 1 : 3) : Number(repeatText);
  if (!Number.isInteger(repeat) || repeat < 1) return '--repeat takes a positive whole number';
  const asked = value('phases');
  const phases = asked === undefined ? [...PHASES] : asked.split(',');
  const unknown = phases.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) return `unknown phase ${unknown[0]} (phases: ${PHASES.join(', ')})`;
  const postgres = value('postgres') ?? env[BENCH_POSTGRES_ENV] ?? null;
  if (postgres !== null && !/^postgres(ql)?:\/\//.test(postgres)) return '--postgres takes a postgres:// URL';
  if (asked !== undefined && postgres === null && phases.some((p) => POSTGRES_PHASES.includes(p))) return `the postgres phases need --postgres <url> (or ${BENCH_POSTGRES_ENV})`;
  const selected = PHASES.filter((p) => (p === 'record' || phases.includes(p)) && (postgres !== null || !POSTGRES_PHASES.includes(p)));
  return { sizes, repeat, phases: selected, json: argv.includes('--json'), postgres: postgres === '' ? null : postgres };
}

type Outcome = { ok: true; result: PhaseResult } | { ok: false; phase: PhaseName; why: string };

function runPhase(phase: PhaseName, rows: number, dir: string, postgres: string | null): Promise<Outcome> {
  const script = path.join(__dirname, 'run-once.js');
  return new Promise((resolve) => {
    const env = postgres === null ? process.env : { ...process.env, [BENCH_POSTGRES_ENV]: postgres };
    const child = spawn(process.execPath, [script, '--phase', phase, '--rows', String(rows), '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    const tail: string[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      process.stderr.write(text);
      tail.push(...text.split('\n').filter((l) => l.length > 0));
      tail.splice(0, Math.max(0, tail.length - 5));
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        try {
          resolve({ ok: true, result: JSON.parse(stdout.trim().split('\n').pop()!) as PhaseResult });
          return;
        } catch {
          // reported below
        }
      }
      resolve({ ok: false, phase, why: `exit ${code ?? 'none'}${signal !== null ? `, signal ${signal}` : ''}: ${tail.join(' | ') || 'no output'}` });
    });
  });
}

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function stat(values: readonly number[]): Stat {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return { median: v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, min: v[0]!, max: v[v.length - 1]! };
}

interface PhaseReport {
  readonly rows: number;
  readonly unit: string;
  readonly seconds: Stat;
  readonly rate: Stat;
  readonly usPerRow: Stat;
  readonly peakRssMiB: Stat;
  readonly extra: Record<string, Stat>;
}

interface SizeReport {
  readonly rows: number;
  readonly repeats: number;
  readonly phases: Partial<Record<PhaseName, PhaseReport>>;
  readonly failures: string[];
  /** Our recording rate over the raw insert rate of the same events, per repeat, then the median. */
  readonly ratios: Record<string, Stat>;
}

function summarise(rows: number, repeats: Outcome[][]): SizeReport {
  const phases: Partial<Record<PhaseName, PhaseReport>> = {};
  const failures: string[] = [];
  for (const outcomes of repeats) for (const o of outcomes) if (!o.ok) failures.push(`${o.phase}: ${o.why}`);
  for (const phase of PHASES) {
    const results = repeats.flatMap((r) => r.flatMap((o) => (o.ok && o.result.phase === phase ? [o.result] : [])));
    if (results.length === 0) continue;
    const keys = new Set(results.flatMap((r) => Object.keys(r.extra)));
    const extra: Record<string, Stat> = {};
    for (const k of keys) extra[k] = stat(results.map((r) => r.extra[k]).filter((x): x is number => typeof x === 'number'));
    phases[phase] = {
      rows: results[0]!.rows,
      unit: results[0]!.unit,
      seconds: stat(results.map((r) => r.ms / 1000)),
      rate: stat(results.map((r) => r.rate)),
      usPerRow: stat(results.map((r) => (r.ms * 1000) / r.rows)),
      peakRssMiB: stat(results.map((r) => r.peakRssMiB)),
      extra,
    };
  }
  const ratios: Record<string, Stat> = {};
  /** `of(a, b)` for the results of phases a and b in each repeat that has both; the median over repeats. */
  const between = (name: string, a: PhaseName, b: PhaseName, of: (x: PhaseResult, y: PhaseResult) => number | undefined): void => {
    const values = repeats.flatMap((outcomes) => {
      const x = outcomes.find((o): o is { ok: true; result: PhaseResult } => o.ok && o.result.phase === a)?.result;
      const y = outcomes.find((o): o is { ok: true; result: PhaseResult } => o.ok && o.result.phase === b)?.result;
      const v = x !== undefined && y !== undefined ? of(x, y) : undefined;
      return v === undefined ? [] : [v];
    });
    if (values.length > 0) ratios[name] = stat(values);
  };
  // our events/s over the anchor's events/s
  const events = (x: PhaseResult, y: PhaseResult): number | undefined => (x.extra.eventsPerSec === undefined ? undefined : x.extra.eventsPerSec / y.rate);
  const rates = (x: PhaseResult, y: PhaseResult): number => x.rate / y.rate;
  between('record (64 in flight) / raw batched', 'record', 'raw_batched', events);
  between('record sequential / raw per event', 'record_sequential', 'raw_per_event', events);
  between('record on PostgreSQL (64 in flight) / raw batched on PostgreSQL', 'record_postgres', 'raw_batched_postgres', events);
  between('record on PostgreSQL / record on SQLite (rows/s)', 'record_postgres', 'record', rates);
  between('record through HTTP (16 clients) / in-process record (64 in flight) (rows/s)', 'record_http', 'record', rates);
  between('full / normal, 64 in flight', 'record', 'record_normal', rates);
  between('full / normal, sequential', 'record_sequential', 'record_sequential_normal', rates);
  return { rows, repeats: repeats.length, phases, failures, ratios };
}

function fmt(n: number): string {
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function cell(s: Stat | undefined, repeats: number): string {
  if (s === undefined) return '-';
  return repeats === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
}

function table(r: SizeReport): string {
  const lines = [`${r.rows.toLocaleString('en-US')} rows${r.repeats > 1 ? `, median (min-max) of ${r.repeats} repeats` : ''}`];
  lines.push(`  ${'phase'.padEnd(22)} ${'rows'.padStart(10)} ${'time s'.padStart(14)} ${'rate'.padStart(22)} ${'us/row'.padStart(14)} ${'peak RSS MiB'.padStart(14)}  details`);
  for (const [name, p] of Object.entries(r.phases) as [PhaseName, PhaseReport][]) {
    const details = Object.entries(p.extra)
      .filter(([k]) => k !== 'events')
      .map(([k, v]) => `${k} ${cell(v, r.repeats)}`)
      .join(', ');
    lines.push(
      `  ${name.padEnd(22)} ${p.rows.toLocaleString('en-US').padStart(10)} ${cell(p.seconds, r.repeats).padStart(14)} ${`${cell(p.rate, r.repeats)} ${p.unit}`.padStart(22)} ${cell(p.usPerRow, r.repeats).padStart(14)} ${cell(p.peakRssMiB, r.repeats).padStart(14)}  ${details}`,
    );
  }
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`  ratio ${k}: ${cell(v, r.repeats)}`);
  for (const f of r.failures) lines.push(`  FAILED ${f}`);
  return lines.join('\n');
}

/** us/row of each phase at the largest size over its us/row at 10,000 rows (flat cost per row: close to 1). */
function scaling(reports: readonly SizeReport[]): Record<string, number> {
  const base = reports.find((r) => r.rows === 10_000);
  const top = reports[reports.length - 1];
  const out: Record<string, number> = {};
  if (base === undefined || top === undefined || top.rows <= base.rows) return out;
  for (const phase of ['record', 'export', 'verify', 'check'] as const) {
    const a = base.phases[phase]?.usPerRow.median;
    const b = top.phases[phase]?.usPerRow.median;
    if (a !== undefined && b !== undefined) out[phase] = b / a;
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const args = parseBenchArgs(argv, process.env);
  if (typeof args === 'string') {
    process.stderr.write(`bench: ${args}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const reports: SizeReport[] = [];
  for (const rows of args.sizes) {
    const repeats: Outcome[][] = [];
    for (let k = 0; k < args.repeat; k++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-'));
      const outcomes: Outcome[] = [];
      try {
        for (const phase of args.phases) {
          if (phase !== 'record' && outcomes[0]?.ok !== true) {
            outcomes.push({ ok: false, phase, why: 'not run: the record phase failed' });
            continue;
          }
          process.stderr.write(`bench: ${rows.toLocaleString('en-US')} rows, repeat ${k + 1}/${args.repeat}, ${phase}\n`);
          outcomes.push(await runPhase(phase, rows, dir, args.postgres));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      repeats.push(outcomes);
    }
    reports.push(summarise(rows, repeats));
  }
  const env = { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: os.cpus().length, sequentialRowsCap: SEQUENTIAL_ROWS_CAP };
  const scale = scaling(reports);
  if (args.json) process.stdout.write(`${JSON.stringify({ env, sizes: reports, scaleVs10000: scale })}\n`);
  else {
    process.stdout.write(`node ${env.node}, ${env.platform}, ${env.cpus} cpus\n\n${reports.map(table).join('\n\n')}\n`);
    if (Object.keys(scale).length > 0) {
      process.stdout.write(`\nus/row at ${reports[reports.length - 1]!.rows.toLocaleString('en-US')} rows over us/row at 10,000: ${Object.entries(scale).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}\n`);
    }
  }
  if (reports.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

if (require.main === module) void main();
