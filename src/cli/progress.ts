/**
 * A progress bar on stderr, drawn only when stderr is a terminal (never in
 * pipes, files or CI logs), redrawn at most every 100 ms.
 */
export interface Progress {
  /** Sets the count done so far. */
  update(done: number): void;
  /** Clears the bar. */
  finish(): void;
}

const NOOP: Progress = { update: () => undefined, finish: () => undefined };

export function progressBar(label: string, total: number | null, stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr): Progress {
  if (!stream.isTTY) return NOOP;
  let last = 0;
  let drawn = false;
  const width = 30;
  const draw = (done: number): void => {
    let line: string;
    if (total !== null && total > 0) {
      const frac = Math.min(1, done / total);
      const filled = Math.round(frac * width);
      line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total}`;
    } else {
      line = `${label} ${done}`;
    }
    stream.write(`\r${line}\x1b[K`);
    drawn = true;
  };
  return {
    update(done: number) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(done);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
