/**
 * The benchmark harness: the reference workload (DESIGN §5) side by side with the
 * physical limit (raw batched SQLite inserts and a plain file append of the same
 * events), as medians of K repeats with min and max. Each repeat runs in a fresh
 * process (bench/run-once.ts).
 *
 *   npm run bench -- [--rows 1000[,10000,...]] [--repeat 3] [--json] [--scale] [--large] [--phases ...]
 *
 * --scale runs 1,000 and 10,000 rows (add --large for 100,000) to show the cost per row.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunFigures } from './run-once';

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

interface SizeReport {
  readonly rows: number;
  readonly events: number;
  readonly repeats: number;
  /** phase → metric → statistic over the repeats. */
  readonly phases: Record<string, Record<string, Stat>>;
  /** Our SQLite recording rate as a fraction of the raw batched-insert rate, per driving mode (per-repeat ratios, then the median). */
  readonly ratios: Record<string, Stat>;
  readonly peakRssMiB: Stat;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function stat(values: number[]): Stat {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]! };
}

function runOnce(rows: number, phases: string | undefined): RunFigures {
  const script = path.join(__dirname, 'run-once.js');
  // a run of 100,000 rows holds millions of entities: let the heap grow to most of the machine's memory
  const heapMiB = Math.floor((os.totalmem() / (1 << 20)) * 0.75);
  const args = ['--expose-gc', `--max-old-space-size=${heapMiB}`, script, '--rows', String(rows), ...(phases ? ['--phases', phases] : [])];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as RunFigures;
}

function summarise(rows: number, runs: RunFigures[]): SizeReport {
  const phases: Record<string, Record<string, Stat>> = {};
  const names = new Set(runs.flatMap((r) => Object.keys(r.phases)));
  for (const name of names) {
    const metrics = new Set(runs.flatMap((r) => Object.keys(r.phases[name] ?? {})));
    phases[name] = {};
    for (const m of metrics) {
      const values = runs.map((r) => r.phases[name]?.[m]).filter((x): x is number => typeof x === 'number');
      if (values.length > 0) phases[name]![m] = stat(values);
    }
    const ms = runs.map((r) => r.phases[name]?.ms).filter((x): x is number => typeof x === 'number');
    if (ms.length > 0 && /^(record|raw|plain)/.test(name)) phases[name]!.usPerRow = stat(ms.map((x) => (x * 1000) / rows));
  }
  const ratios: Record<string, Stat> = {};
  for (const mode of ['sequential', 'concurrent']) {
    const values = runs
      .map((r) => {
        const ours = r.phases[`record_sqlite_${mode}`]?.eventsPerSec;
        const raw = r.phases.raw_sqlite_batched?.eventsPerSec;
        return ours !== undefined && raw !== undefined ? ours / raw : undefined;
      })
      .filter((x): x is number => x !== undefined);
    if (values.length > 0) ratios[`sqlite_${mode}_vs_raw`] = stat(values);
  }
  return { rows, events: runs[0]!.events, repeats: runs.length, phases, ratios, peakRssMiB: stat(runs.map((r) => r.peakRssMiB)) };
}

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function cell(s: Stat | undefined): string {
  return s === undefined ? '-' : `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
}

function table(report: SizeReport): string {
  const lines: string[] = [];
  lines.push(`${report.rows.toLocaleString('en-US')} rows, ${report.events.toLocaleString('en-US')} events per run, median (min-max) of ${report.repeats} repeats`);
  lines.push(`  ${'phase'.padEnd(28)} ${'rows/s'.padEnd(28)} ${'events or records/s'.padEnd(30)} ${'us/row or ms'.padEnd(24)}`);
  for (const [name, m] of Object.entries(report.phases)) {
    const perSec = m.eventsPerSec ?? m.recordsPerSec;
    const extra = m.usPerRow !== undefined ? `${cell(m.usPerRow)} us/row` : m.medianMs !== undefined ? `${cell(m.medianMs)} ms median` : `${cell(m.ms)} ms`;
    lines.push(`  ${name.padEnd(28)} ${cell(m.rowsPerSec).padEnd(28)} ${cell(perSec).padEnd(30)} ${extra}`);
    for (const [k, v] of Object.entries(m)) {
      if (['ms', 'rowsPerSec', 'eventsPerSec', 'recordsPerSec', 'usPerRow', 'medianMs'].includes(k)) continue;
      lines.push(`  ${''.padEnd(28)} ${k}: ${cell(v)}`);
    }
  }
  for (const [k, v] of Object.entries(report.ratios)) lines.push(`  ${k.padEnd(28)} ${cell(v)}`);
  lines.push(`  ${'peak RSS (MiB)'.padEnd(28)} ${cell(report.peakRssMiB)}`);
  return lines.join('\n');
}

function main(): void {
  const repeat = Number(arg('repeat') ?? '3');
  const phases = arg('phases');
  let sizes = (arg('rows') ?? '1000').split(',').map(Number);
  if (process.argv.includes('--scale')) sizes = [1000, 10000, ...(process.argv.includes('--large') ? [100000] : [])];
  else if (process.argv.includes('--large')) sizes = [...sizes, 100000];
  if (!Number.isInteger(repeat) || repeat < 1 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write('usage: npm run bench -- [--rows N[,N...]] [--repeat K] [--json] [--scale] [--large] [--phases record,anchor,export,explain,check]\n');
    process.exitCode = 2;
    return;
  }
  const reports: SizeReport[] = [];
  for (const rows of sizes) {
    const runs: RunFigures[] = [];
    for (let k = 0; k < repeat; k++) {
      process.stderr.write(`bench: ${rows} rows, repeat ${k + 1}/${repeat}\n`);
      runs.push(runOnce(rows, phases));
    }
    reports.push(summarise(rows, runs));
  }
  const env = { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: os.cpus().length };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ env, sizes: reports })}\n`);
  } else {
    process.stdout.write(`node ${env.node}, ${env.platform}, ${env.cpus} cpus\n\n`);
    process.stdout.write(`${reports.map(table).join('\n\n')}\n`);
  }
}

main();
