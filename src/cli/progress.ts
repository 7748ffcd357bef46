/** A progress bar on stderr for long transfers; silent when stderr is not a terminal. */
import { formatBytes } from '../core/index.ts';
import type { Io } from './output.ts';

export interface ProgressBar {
  update(done: number): void;
  finish(): void;
}

export function progressBar(io: Io, label: string, total: number): ProgressBar {
  if (!io.interactive || total < 1024 * 1024) return { update() {}, finish() {} };
  const started = Date.now();
  let last = 0;
  const draw = (done: number) => {
    const ratio = Math.min(1, done / total);
    const width = 30;
    const filled = Math.round(ratio * width);
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = done / seconds;
    io.err(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s `,
    );
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      draw(done);
    },
    finish() {
      draw(total);
      io.err('\n');
    },
  };
}
