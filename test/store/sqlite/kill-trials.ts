/**
 * Store-level crash-safety trials as a script:
 *   node test/support/ts-require-run.js test/store/sqlite/kill-trials.ts --trials 200 [--workload store|recorder] [--seed N] [--min-ms 20] [--max-ms 300] [--verbose]
 * `store` (default) appends deterministic events directly; `recorder` records the reference
 * workload through the public API and also checks that every run's projection rebuilds.
 * Prints "trials: N, lost acknowledged events: X, partial events: Y, duplicates: Z" and
 * exits 1 when anything was lost, partial, duplicated or otherwise wrong.
 */
import { formatSummary, runKillTrials } from './kill-harness';
import { RECORDER_KILL_CHILD, verifyRecorderTrial } from './kill-recorder-workload';
import { STORE_KILL_CHILD, verifyStoreTrial } from './kill-store-workload';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const trials = Number(arg('trials') ?? '20');
  const seedArg = arg('seed');
  const verbose = process.argv.includes('--verbose');
  const started = Date.now();
  const workload = arg('workload') ?? 'store';
  if (workload !== 'store' && workload !== 'recorder') throw new Error(`--workload: "${workload}" is neither store nor recorder`);
  const summary = await runKillTrials({
    childScript: workload === 'store' ? STORE_KILL_CHILD : RECORDER_KILL_CHILD,
    verify: workload === 'store' ? verifyStoreTrial : verifyRecorderTrial,
    trials,
    killAfterMs: [Number(arg('min-ms') ?? '20'), Number(arg('max-ms') ?? '300')],
    ...(seedArg === undefined ? {} : { seed: Number(seedArg) }),
    onTrial: (trial, v, ctx) => {
      if (verbose || v.problems.length > 0) {
        process.stderr.write(
          `trial ${trial} seed ${ctx.seed} killed after ${ctx.killedAfterMs} ms: acknowledged ${v.acknowledged}, stored ${v.stored}, lost ${v.lost}, partial ${v.partial}, duplicates ${v.duplicates}${v.problems.length ? `\n  ${v.problems.join('\n  ')}` : ''}\n`,
        );
      } else if ((trial + 1) % 20 === 0) {
        process.stderr.write(`${trial + 1}/${trials} trials\n`);
      }
    },
  });
  process.stdout.write(`${formatSummary(summary)}\n`);
  process.stdout.write(`elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  for (const p of summary.problems.slice(0, 50)) process.stdout.write(`  ${p}\n`);
  const ok = summary.lost === 0 && summary.partial === 0 && summary.duplicates === 0 && summary.problems.length === 0;
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
});
