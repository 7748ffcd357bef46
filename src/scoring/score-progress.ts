/**
 * Progress of a scoring run on stderr: a bar with rows/s and the ETA (from input bytes, when the input size is
 * known), redrawn at most 10 times a second, drawn only when `interactive`. `summary` is the one line printed
 * at the end either way.
 */

export interface ScoreProgress {
  update(rows: number, bytes: number): void;
  /** Clears the bar's line. */
  finish(): void;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s % 60).padStart(2, '0')}`;
}

export function scoreProgress(
  write: (text: string) => void,
  interactive: boolean,
  totalBytes: number | undefined,
  now: () => number = Date.now,
): ScoreProgress {
  if (!interactive) return { update() {}, finish() {} };
  const started = now();
  let last = 0;
  return {
    update(rows, bytes) {
      const t = now();
      if (t - last < 100) return;
      last = t;
      const seconds = Math.max((t - started) / 1000, 0.001);
      const rate = `${count(rows)} rows  ${count(rows / seconds)} rows/s`;
      if (totalBytes === undefined || totalBytes <= 0) {
        write(`\rscoring ${rate} `);
        return;
      }
      const ratio = Math.min(1, bytes / totalBytes);
      const filled = Math.round(ratio * 30);
      const eta = ratio > 0 ? clock((seconds / ratio) * (1 - ratio)) : '?';
      write(
        `\rscoring [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${rate}  ETA ${eta} `,
      );
    },
    finish() {
      if (last > 0) write('\r\x1b[K');
    },
  };
}

/** `scored 1,000 rows (2 rejected) in 0.41 s, 2,439 rows/s -> out.csv` */
export function scoreSummary(rows: number, rejected: number, seconds: number, destination: string): string {
  return `scored ${count(rows)} rows (${count(rejected)} rejected) in ${seconds.toFixed(2)} s, ${count(rows / Math.max(seconds, 0.001))} rows/s -> ${destination}`;
}
