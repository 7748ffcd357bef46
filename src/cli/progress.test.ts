import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressBar, scoreProgress, scoreSummary } from './progress.ts';

function recorder() {
  const written: string[] = [];
  let clock = 0;
  return {
    written,
    write: (text: string) => written.push(text),
    now: () => clock,
    advance: (ms: number) => (clock += ms),
  };
}

test('a terminal gets a bar with rows/s and the ETA when the input size is known, at most 10 redraws a second', () => {
  const r = recorder();
  const progress = scoreProgress(r.write, true, 1000, r.now);
  r.advance(2000);
  progress.update(50_000, 250);
  assert.equal(r.written.length, 1);
  assert.equal(
    r.written[0],
    `\rscoring [${'#'.repeat(8)}${'.'.repeat(22)}]  25%  50,000 rows  25,000 rows/s  ETA 0:06 `,
  );
  r.advance(50);
  progress.update(60_000, 300);
  assert.equal(r.written.length, 1, 'no redraw within 100 ms');
  r.advance(50);
  progress.update(60_000, 300);
  assert.equal(r.written.length, 2);
  progress.finish();
  assert.equal(r.written.at(-1), '\r\x1b[K');
});

test('an input of unknown size (stdin) gets rows and rows/s without an ETA', () => {
  const r = recorder();
  const progress = scoreProgress(r.write, true, undefined, r.now);
  r.advance(1000);
  progress.update(1234, 99);
  assert.equal(r.written[0], '\rscoring 1,234 rows  1,234 rows/s ');
});

test('not a terminal: nothing but the summary line', () => {
  const r = recorder();
  const progress = scoreProgress(r.write, false, 1000, r.now);
  r.advance(1000);
  progress.update(10, 500);
  progress.finish();
  assert.deepEqual(r.written, []);
  assert.equal(
    scoreSummary(1_000_000, 2, 2.5, 'scored.csv'),
    'scored 1,000,000 rows (2 rejected) in 2.50 s, 400,000 rows/s -> scored.csv',
  );
});

test('a transfer of 1 MiB or more gets a bar with bytes and bytes/s, completed on finish; smaller ones get none', () => {
  const r = recorder();
  const io = { out: () => {}, err: r.write, interactive: true };
  const mib = 1024 * 1024;
  const bar = progressBar(io, 'uploading', 4 * mib, r.now);
  r.advance(1000);
  bar.update(mib);
  assert.match(r.written[0]!, /^\ruploading \[#{8}\.{22}\] {2}25% .*\/s $/);
  bar.update(2 * mib);
  assert.equal(r.written.length, 1, 'no redraw within 100 ms');
  bar.finish();
  assert.match(r.written.at(-2)!, /\[#{30}\] 100%/);
  assert.equal(r.written.at(-1), '\n');
  const small = recorder();
  progressBar({ ...io, err: small.write }, 'uploading', mib - 1, small.now).finish();
  assert.deepEqual(small.written, []);
});
