/**
 * A progress bar on stderr for long work (import, verify, export, ingest, demo): done/total,
 * the rate and, when the total is known, the time left. Drawn only when stderr is a terminal,
 * never with --json, in CI (CI set) or on a dumb terminal; redrawn at most every 100 ms.
 */
export interface Progress {
  /** Sets the count done so far, and the total when it has become known. */
  update(done: number, total?: number | null): void;
  /** Clears the bar. */
  finish(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  /** Terminal width: the line is cut to fit. */
  columns?: number;
  write(s: string): unknown;
}

export interface ProgressOptions {
  /** What the count counts, for the rate ("records" gives "records/s"). Default "records". */
  readonly unit?: string;
  /** --json was given: no bar. */
  readonly json?: boolean;
  /** Default process.env (CI, TERM). */
  readonly env?: NodeJS.ProcessEnv;
  /** Milliseconds clock. Default Date.now. */
  readonly now?: () => number;
}

export interface ProgressLine {
  readonly label: string;
  readonly done: number;
  /** null: not known (no bar, no ETA). */
  readonly total: number | null;
  readonly elapsedMs: number;
  readonly unit?: string;
  /** Width of the bar in characters. Default 30. */
  readonly width?: number;
}

const NOOP: Progress = { update: () => undefined, finish: () => undefined };
const REDRAW_MS = 100;

/** True when CI names a CI system (any value but empty, "0" or "false"). */
function inCI(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** Whether a bar is drawn on `stream`: a terminal, not --json, not CI, not TERM=dumb. */
export function progressEnabled(stream: ProgressStream, options: Pick<ProgressOptions, 'json' | 'env'> = {}): boolean {
  const env = options.env ?? process.env;
  return stream.isTTY === true && options.json !== true && !inCI(env) && env.TERM !== 'dumb';
}

/** 4s, 1m05s, 2h03m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 0.5, 12, 4321 (per second). */
function formatRate(rate: number): string {
  return rate < 10 ? rate.toFixed(1) : String(Math.round(rate));
}

/**
 * The text of the bar (no control characters), e.g.
 * `verifying [#########.....................]  30% 3000/10000  1500 records/s  ETA 5s`, or,
 * without a total, `exporting 3000 records  1500 records/s  2s`.
 */
export function renderProgress(p: ProgressLine): string {
  const unit = p.unit ?? 'records';
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.done / seconds : null;
  const rateText = `${rate === null ? '-' : formatRate(rate)} ${unit}/s`;
  if (p.total === null || p.total <= 0) return `${p.label} ${p.done} ${unit}  ${rateText}  ${formatDuration(seconds)}`;
  const width = p.width ?? 30;
  const frac = Math.min(1, Math.max(0, p.done / p.total));
  const filled = Math.round(frac * width);
  const left = p.total - p.done;
  const eta = left <= 0 ? formatDuration(0) : rate === null || rate === 0 ? '-' : formatDuration(left / rate);
  return `${p.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${p.done}/${p.total}  ${rateText}  ETA ${eta}`;
}

/** A bar on `stream` (see the module comment); a no-op when it is not drawn. */
export function progressBar(label: string, total: number | null, stream: ProgressStream = process.stderr, options: ProgressOptions = {}): Progress {
  if (!progressEnabled(stream, options)) return NOOP;
  const now = options.now ?? Date.now;
  const start = now();
  let last: number | null = null;
  let known = total;
  let drawn = false;
  const draw = (done: number, at: number): void => {
    let line = renderProgress({ label, done, total: known, elapsedMs: at - start, ...(options.unit !== undefined ? { unit: options.unit } : {}) });
    if (stream.columns !== undefined && stream.columns > 1 && line.length >= stream.columns) line = line.slice(0, stream.columns - 1);
    stream.write(`\r${line}\x1b[K`);
    drawn = true;
  };
  return {
    update(done: number, newTotal?: number | null) {
      if (newTotal !== undefined) known = newTotal;
      const at = now();
      if (last !== null && at - last < REDRAW_MS) return;
      last = at;
      draw(done, at);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
