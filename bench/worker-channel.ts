import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFraudModel } from '../examples/fraud/train.ts';
import type { Tensor } from '../src/core/tensor.ts';
import { buildCnnModel } from '../src/onnx-builder/index.ts';
import { WorkerProcess } from '../src/serving/workers/index.ts';
import { cpuSeconds } from './load.ts';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' } },
});
const cpuUs = (pid: number) => cpuSeconds(pid) * 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(worker: WorkerProcess, inputs: Tensor[], inFlight: number, seconds: number) {
  const parent0 = process.cpuUsage();
  const child0 = cpuUs(worker.pid ?? 0);
  const started = performance.now();
  const end = started + seconds * 1000;
  let trips = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await worker.predict(inputs);
        trips++;
      }
    }),
  );
  const parent = process.cpuUsage(parent0);
  return {
    parentUs: (parent.user + parent.system) / trips,
    workerUs: (cpuUs(worker.pid ?? 0) - child0) / trips,
    wallUs: ((performance.now() - started) * 1000) / trips,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-channel-'));
try {
  await writeFile(join(dir, 'fraud.onnx'), trainFraudModel().onnx);
  await writeFile(join(dir, 'cnn.onnx'), buildCnnModel());
  console.log(
    `worker channel, medians of ${args.runs} runs of ${args.seconds} s; load average ${loadavg()[0]?.toFixed(2)}`,
  );
  for (const [model, features] of [
    ['fraud', [30]],
    ['cnn', [1, 28, 28]],
  ] as const) {
    const worker = new WorkerProcess({
      kind: 'onnx',
      load: { path: join(dir, `${model}.onnx`), settings: { intraOpNumThreads: 1, interOpNumThreads: 1 } },
      stdio: 'ignore',
    });
    await worker.start();
    try {
      for (const rows of model === 'fraud' ? [1, 64] : [1]) {
        const size = features.reduce((a, b) => a * b, rows);
        const inputs: Tensor[] = [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [rows, ...features],
            data: Float32Array.from({ length: size }, (_, i) => (i % 7) / 7),
          },
        ];
        for (const inFlight of [1, 2]) {
          await measure(worker, inputs, inFlight, 0.3);
          const results = [];
          for (let run = 0; run < Number(args.runs); run++) {
            results.push(await measure(worker, inputs, inFlight, Number(args.seconds)));
          }
          console.log(
            `  ${model} batch ${String(rows).padStart(2)}, ${inFlight} in flight: parent ${median(results.map((r) => r.parentUs)).toFixed(1)} us, worker ${median(results.map((r) => r.workerUs)).toFixed(1)} us CPU per round trip; wall ${median(results.map((r) => r.wallUs)).toFixed(1)} us`,
          );
        }
      }
    } finally {
      await worker.close();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
