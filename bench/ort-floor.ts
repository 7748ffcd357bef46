/**
 * The inference floor: raw ONNX Runtime (onnxruntime-node, in this process, inputs already built) in rows/s, at
 * batch 1 and over a sweep of batch sizes; the best of the sweep is the batched floor. Each size is measured
 * `runs` times for `seconds` and the median kept.
 *
 * Example: `await ortFloor(bytes, [30], { threads: 1, batchSizes: [1, 8, 64], seconds: 1, runs: 3 })`.
 */
import * as ort from 'onnxruntime-node';

export interface OrtFloor {
  threads: number;
  /** rows/s by batch size */
  sweep: Record<number, number>;
  batch1: number;
  best: { batch: number; rowsPerSecond: number };
}

export interface OrtFloorOptions {
  /** intraOpNumThreads of the session */
  threads: number;
  batchSizes: number[];
  seconds: number;
  runs: number;
}

/** `rowShape` is the input's shape without the batch dimension; the input is named `input`, FP32. */
export async function ortFloor(model: Uint8Array, rowShape: number[], options: OrtFloorOptions): Promise<OrtFloor> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const sweep: Record<number, number> = {};
  try {
    for (const batch of options.batchSizes) {
      const data = Float32Array.from({ length: batch * rowSize }, (_, i) => (i % 97) / 97);
      const feeds = { input: new ort.Tensor('float32', data, [batch, ...rowShape]) };
      for (let i = 0; i < 20; i++) await session.run(feeds);
      const rates: number[] = [];
      for (let run = 0; run < options.runs; run++) {
        let rows = 0;
        const started = performance.now();
        const end = started + options.seconds * 1000;
        while (performance.now() < end) {
          await session.run(feeds);
          rows += batch;
        }
        rates.push(rows / ((performance.now() - started) / 1000));
      }
      sweep[batch] = rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
    }
  } finally {
    await session.release();
  }
  const [batch, rowsPerSecond] = Object.entries(sweep)
    .map(([b, r]) => [Number(b), r] as const)
    .reduce((best, next) => (next[1] > best[1] ? next : best));
  return { threads: options.threads, sweep, batch1: sweep[1] ?? 0, best: { batch, rowsPerSecond } };
}
