/**
 * Constant memory, proven by backpressure rather than by measuring RSS: with the output stalled, the pipeline stops
 * pulling input after a bounded number of bytes however large the input is, and finishes once the output drains
 * (with the CSV parse workers, which take over after the first 4 MiB, and without).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fraudSignature } from '../examples/fraud/artifacts.ts';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { InProcessScorer } from '../src/scoring/in-process-scorer.ts';
import { scoreStream } from '../src/scoring/score-stream.ts';
import { mergeSignature } from '../src/scoring/signature.ts';

for (const parseThreads of [0, 2])
  test(`a stalled output stops the input after a bounded number of bytes, then everything is scored in order (${parseThreads} parse workers)`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelport-backpressure-'));
    const model = trainFraudModel();
    await writeFile(join(dir, 'model.onnx'), model.onnx);
    const scorer = await InProcessScorer.open(join(dir, 'model.onnx'));
    try {
      const TOTAL_ROWS = 200_000; // about 60 MB of CSV, generated lazily
      const row = model.samples.fraud.join(',');
      let pulled = 0;
      async function* input() {
        yield Buffer.from(`${model.featureNames.join(',')}\n`);
        const chunk = Buffer.from(`${row}\n`.repeat(1000));
        for (let sent = 0; sent < TOTAL_ROWS; sent += 1000) {
          pulled += chunk.length;
          yield chunk;
        }
      }
      // The output accepts two writes, then blocks until released.
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let writes = 0;
      let lines = 0;
      let lastLine = '';
      const blocked = Promise.withResolvers<void>();
      const output = {
        async write(chunk: Buffer) {
          writes++;
          const text = chunk.toString();
          lines += text.split('\n').length - 1;
          lastLine = text.trimEnd().split('\n').pop() ?? '';
          if (writes === 2) {
            blocked.resolve();
            await released;
          }
        },
      };
      const run = scoreStream({
        input: input(),
        inputFormat: 'csv',
        output,
        outputFormat: 'csv',
        scorer,
        signature: mergeSignature(scorer.signature, fraudSignature(model)),
        batchSize: 512,
        parseThreads,
        waitForWorkers: true,
        onBadRow: () => assert.fail('no bad rows'),
      });
      await blocked.promise;
      // Give the pipeline every chance to run ahead: many turns of the event loop (no timing involved).
      for (let i = 0; i < 200; i++) await new Promise((resolve) => setImmediate(resolve));
      const pulledWhileBlocked = pulled;
      // Output is written in runs of 1 MiB, so the second write comes after about 13 MB of this input (with the CSV
      // parse workers' slices in flight); the other 47 MB wait.
      assert.ok(
        pulledWhileBlocked < 20 * 1024 * 1024,
        `pulled ${pulledWhileBlocked} bytes while the output was stalled`,
      );
      release();
      const summary = await run;
      assert.equal(summary.rows, TOTAL_ROWS);
      assert.equal(lines, TOTAL_ROWS + 1);
      assert.match(lastLine, /^fraud,0\.\d{6},0\.99\d{4}$/);
    } finally {
      await scorer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
