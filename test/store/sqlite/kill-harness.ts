/**
 * Crash-safety (kill) trials: run a child process that writes to a store and reports
 * what it was told is durable, SIGKILL it at a random moment, then let a verifier
 * compare the store with the acknowledgements.
 *
 * The child script is a parameter (a .ts or .js file, run through
 * test/support/ts-require-run.js), so the same harness serves the store-level
 * workload (kill-store-workload.ts / kill-child.ts) and heavier ones (a whole pipeline
 * recorded through the recorder). A child is started as
 *
 *   node test/support/ts-require-run.js <childScript> <dbPath> <seed> [...childArgs]
 *
 * and must, on stdout, one JSON object per line, each written with a synchronous
 * write (see `writeLine`) so that a line is in the pipe before the child goes on:
 *   {"ready": true}        once, when the store is open and writing starts;
 *   {...}                  one line per acknowledgement (any shape: the verifier reads them),
 *                          written only after the append's promise resolved.
 * It writes until it is killed; exiting by itself is reported as a problem.
 * The kill comes a random delay (killAfterMs) after the "ready" line.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const TS_RUN = path.resolve(__dirname, '../../support/ts-require-run.js');

export interface TrialContext {
  readonly trial: number;
  readonly seed: number;
  readonly dir: string;
  readonly dbPath: string;
  /** Every complete line the child wrote after "ready", parsed (a line cut short by the kill is dropped). */
  readonly acks: readonly Record<string, unknown>[];
  readonly killedAfterMs: number;
  readonly stderr: string;
}

/** What a verifier found in one trial. Counts are of events. */
export interface TrialVerdict {
  readonly acknowledged: number;
  readonly stored: number;
  /** Acknowledged events missing from the store (or not where the acknowledgement said). */
  readonly lost: number;
  /** Stored events whose content is not exactly what the child wrote (torn, mixed, or never meant to be written). */
  readonly partial: number;
  /** Extra copies of an event id. */
  readonly duplicates: number;
  /** Anything else wrong (revision gaps, streams table disagreeing, integrity check failures, open errors...). */
  readonly problems: readonly string[];
}

export type TrialVerifier = (ctx: TrialContext) => Promise<TrialVerdict>;

export interface KillTrialsOptions {
  /** Absolute path of the child script (.ts or .js). */
  readonly childScript: string;
  readonly childArgs?: readonly string[];
  readonly verify: TrialVerifier;
  readonly trials: number;
  /** Kill between min and max ms after the child's "ready" line. Default [20, 300]. */
  readonly killAfterMs?: readonly [number, number];
  /** Base seed: trial i uses seed + i (for the child's workload and the kill delay). Default: random. */
  readonly seed?: number;
  /** Name of the store file inside each trial's temporary directory. Default 'store.db'. */
  readonly dbFileName?: string;
  /** A server store instead of a file: the store URL of trial i (passed to the child in place of the file path). */
  readonly storeUrl?: (trial: number) => string;
  /** How long the child may take to report "ready". Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** Keep the directory of a trial with problems (its path is in the problem text). Default true. */
  readonly keepFailed?: boolean;
  /** Called after each trial (progress output). */
  readonly onTrial?: (trial: number, verdict: TrialVerdict, ctx: TrialContext) => void;
}

export interface KillTrialsSummary {
  readonly trials: number;
  readonly acknowledged: number;
  readonly stored: number;
  readonly lost: number;
  readonly partial: number;
  readonly duplicates: number;
  /** Problems of every trial, prefixed with "trial N (seed S):". */
  readonly problems: readonly string[];
}

/** "trials: N, lost acknowledged events: X, partial events: Y, duplicates: Z" (+ totals and problem count). */
export function formatSummary(s: KillTrialsSummary): string {
  return (
    `trials: ${s.trials}, lost acknowledged events: ${s.lost}, partial events: ${s.partial}, duplicates: ${s.duplicates}` +
    ` (acknowledged events: ${s.acknowledged}, stored events: ${s.stored}, other problems: ${s.problems.length})`
  );
}

export async function runKillTrials(options: KillTrialsOptions): Promise<KillTrialsSummary> {
  const baseSeed = options.seed ?? Math.floor(Math.random() * 1e9);
  let acknowledged = 0;
  let stored = 0;
  let lost = 0;
  let partial = 0;
  let duplicates = 0;
  const problems: string[] = [];
  for (let trial = 0; trial < options.trials; trial++) {
    const seed = baseSeed + trial;
    const { verdict, ctx } = await runKillTrial(options, trial, seed);
    acknowledged += verdict.acknowledged;
    stored += verdict.stored;
    lost += verdict.lost;
    partial += verdict.partial;
    duplicates += verdict.duplicates;
    const bad = verdict.problems.length > 0 || verdict.lost > 0 || verdict.partial > 0 || verdict.duplicates > 0;
    for (const p of verdict.problems) problems.push(`trial ${trial} (seed ${seed}): ${p}`);
    if (bad && (options.keepFailed ?? true)) problems.push(`trial ${trial} (seed ${seed}): kept ${ctx.dir} for inspection`);
    else fs.rmSync(ctx.dir, { recursive: true, force: true });
    options.onTrial?.(trial, verdict, ctx);
  }
  return { trials: options.trials, acknowledged, stored, lost, partial, duplicates, problems };
}

/** One trial: start the child, kill it, verify. The trial's directory is left for the caller to remove. */
export async function runKillTrial(options: KillTrialsOptions, trial: number, seed: number): Promise<{ verdict: TrialVerdict; ctx: TrialContext }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-kill-'));
  const dbPath = options.storeUrl?.(trial) ?? path.join(dir, options.dbFileName ?? 'store.db');
  const [minMs, maxMs] = options.killAfterMs ?? [20, 300];
  const killAfterMs = Math.round(minMs + mulberry32(seed ^ 0x5eed)() * (maxMs - minMs));
  const run = await runChild(options, dbPath, seed, killAfterMs);
  const ctx: TrialContext = { trial, seed, dir, dbPath, acks: run.acks, killedAfterMs: killAfterMs, stderr: run.stderr };
  let verdict: TrialVerdict;
  try {
    verdict = await options.verify(ctx);
  } catch (e) {
    verdict = { acknowledged: 0, stored: 0, lost: 0, partial: 0, duplicates: 0, problems: [`the verifier threw: ${e instanceof Error ? e.message : String(e)}`] };
  }
  if (run.problems.length > 0) verdict = { ...verdict, problems: [...run.problems, ...verdict.problems] };
  return { verdict, ctx };
}

interface ChildRun {
  acks: Record<string, unknown>[];
  stderr: string;
  problems: string[];
}

function runChild(options: KillTrialsOptions, dbPath: string, seed: number, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TS_RUN, options.childScript, dbPath, String(seed), ...(options.childArgs ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Record<string, unknown>[] = [];
    const problems: string[] = [];
    let stderr = '';
    let pending = '';
    let ready = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    const readyTimer = setTimeout(() => {
      problems.push(`the child did not report ready within ${options.readyTimeoutMs ?? 20000} ms`);
      killed = true;
      child.kill('SIGKILL');
    }, options.readyTimeoutMs ?? 20000);

    const onLine = (line: string): void => {
      if (line.trim() === '') return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        problems.push(`the child wrote a line that is not JSON: ${line.slice(0, 200)}`);
        return;
      }
      if (!ready && parsed.ready === true) {
        ready = true;
        clearTimeout(readyTimer);
        killTimer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, killAfterMs);
        return;
      }
      acks.push(parsed);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 20000) stderr += chunk.toString('utf8');
    });
    child.on('error', (e) => problems.push(`could not start the child: ${e.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(readyTimer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      // `pending` holds a line the kill cut short: it was never a complete acknowledgement.
      if (!killed) problems.push(`the child exited by itself (code ${String(code)}, signal ${String(signal)}): ${stderr.trim().slice(0, 2000)}`);
      resolve({ acks, stderr, problems });
    });
  });
}

/** Small deterministic PRNG (children use it for their workload). Returns numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * For children: writes one line to stdout with a synchronous write(2), so it is in the
 * pipe (and will reach the parent even if the process is killed right after) before
 * the call returns. Do not mix with console.log / process.stdout in a child.
 */
export function writeLine(value: unknown): void {
  const buf = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
