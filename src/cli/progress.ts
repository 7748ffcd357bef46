/**
 * The CLI's one progress bar, on stderr, drawn only when stderr is a terminal and redrawn at most 10 times a
 * second. Two readings of it: a transfer (bytes, bytes/s) and a scoring run (rows, rows/s and the ETA from input
 * bytes, when the input size is known). `scoreSummary` is the one line printed at the end of a run either way.
 */
import { formatBytes } from '../core/index.ts';
import type { Io } from './output.ts';

export interface ProgressBar {
  update(done: number): void;
  finish(): void;
}

export interface ScoreProgress {
  update(rows: number, bytes: number): void;
  /** Clears the bar's line. */
  finish(): void;
}

const WIDTH = 30;
const REDRAW_MS = 100;
const silent = { update() {}, finish() {} };

/** `[########......................]  25%` (the percentage padded to 3). */
function bar(ratio: number): string {
  const filled = Math.round(Math.min(1, ratio) * WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(Math.min(1, ratio) * 100).toFixed(0).padStart(3)}%`;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s % 60).padStart(2, '0')}`;
}

/** A transfer of `total` bytes (uploads, downloads); nothing for transfers under 1 MiB. */
export function progressBar(io: Io, label: string, total: number, now: () => number = Date.now): ProgressBar {
  if (!io.interactive || total < 1024 * 1024) return silent;
  const started = now();
  let last = 0;
  const draw = (done: number) => {
    const seconds = Math.max((now() - started) / 1000, 0.001);
    io.err(
      `\r${label} ${bar(done / total)} ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(done / seconds)}/s `,
    );
  };
  return {
    update(done) {
      const t = now();
      if (t - last < REDRAW_MS && done < total) return;
      last = t;
      draw(done);
    },
    finish() {
      draw(total);
      io.err('\n');
    },
  };
}

/** A scoring run: rows and rows/s, plus the bar and the ETA when `totalBytes` (the input's size) is known. */
export function scoreProgress(
  write: (text: string) => void,
  interactive: boolean,
  totalBytes: number | undefined,
  now: () => number = Date.now,
): ScoreProgress {
  if (!interactive) return silent;
  const started = now();
  let last = 0;
  return {
    update(rows, bytes) {
      const t = now();
      if (t - last < REDRAW_MS) return;
      last = t;
      const seconds = Math.max((t - started) / 1000, 0.001);
      const rate = `${count(rows)} rows  ${count(rows / seconds)} rows/s`;
      if (totalBytes === undefined || totalBytes <= 0) {
        write(`\rscoring ${rate} `);
        return;
      }
      const ratio = Math.min(1, bytes / totalBytes);
      const eta = ratio > 0 ? clock((seconds / ratio) * (1 - ratio)) : '?';
      write(`\rscoring ${bar(ratio)}  ${rate}  ETA ${eta} `);
    },
    finish() {
      if (last > 0) write('\r\x1b[K');
    },
  };
}

/** `scored 1,000 rows (2 rejected) with fraud@2 (latest) in 0.41 s, 2,439 rows/s -> out.csv` */
export function scoreSummary(
  rows: number,
  rejected: number,
  seconds: number,
  destination: string,
  scoredWith?: string,
): string {
  return `scored ${count(rows)} rows (${count(rejected)} rejected)${scoredWith ? ` with ${scoredWith}` : ''} in ${seconds.toFixed(2)} s, ${count(rows / Math.max(seconds, 0.001))} rows/s -> ${destination}`;
}
