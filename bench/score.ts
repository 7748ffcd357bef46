/**
 * Batch scoring benchmark (`npm run bench:score`): a generated 1,000,000-row CSV for the example fraud model,
 * scored three ways, each run 3 times, printed as medians and ratios measured in this same run:
 *
 * - floor: raw ONNX Runtime on already-parsed data at the chosen batch size (rows/s);
 * - modelport: `modelport score` end to end, spawned as a real CLI process against a real server started here
 *   (process start, registry look-up, parse, inference and write included), with its peak RSS;
 * - pandas: Python with pandas and scikit-learn (Debian's python3-pandas, python3-sklearn) reading the CSV,
 *   predicting with an equivalent LogisticRegression (coef_ and intercept_ set from the fraud model's weights) and
 *   writing the same CSV.
 *
 * Ambition: modelport/floor >= 0.7 and modelport/pandas > 1. Run: node bench/score.ts [rows, default 1000000]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fraudSignature } from '../examples/fraud/artifacts.ts';
import { generateTransactions, trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { createRandom } from '../src/onnx-builder/index.ts';
import { createSession } from '../src/runtimes/onnx/session.ts';
import { REPO_ROOT, startTestServer } from '../test/support/server.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const BATCH = 1024;
const RUNS = 3;
const FEATURES = 30;
/** Debian's interpreter, where python3-pandas and python3-sklearn install (a pyenv shim on PATH lacks them). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-score-'));
const server = await startTestServer();
try {
  // The model, registered through the API, and its signature file for feature names and labels.
  const model = trainFraudModel();
  const client = new ModelportClient({ url: server.url });
  await client.registerVersion('fraud', model.onnx);
  const signaturePath = join(dir, 'signature.json');
  await writeFile(signaturePath, JSON.stringify(fraudSignature(model)));

  // The input: written in chunks so generating a million rows never holds them all as arrays.
  const input = join(dir, 'transactions.csv');
  const parsed = new Float32Array(ROWS * FEATURES);
  const rng = createRandom(2024);
  const out = createWriteStream(input);
  out.write(`${model.featureNames.join(',')}\n`);
  for (let done = 0; done < ROWS; ) {
    const n = Math.min(10_000, ROWS - done);
    const { data } = generateTransactions(rng, n);
    for (const [i, row] of data.entries()) parsed.set(row, (done + i) * FEATURES);
    if (!out.write(`${data.map((r) => r.join(',')).join('\n')}\n`)) await new Promise((r) => out.once('drain', r));
    done += n;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const inputBytes = (await stat(input)).size;
  console.log(
    `input: ${fmt(ROWS)} rows, ${(inputBytes / 1e6).toFixed(0)} MB CSV; batch size ${BATCH}; ${RUNS} runs each`,
  );

  // Floor: raw ONNX Runtime over the already-parsed rows, batch by batch.
  const ort = await import('onnxruntime-node');
  const session = await createSession(model.onnx);
  const floorRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    for (let at = 0; at < ROWS; at += BATCH) {
      const n = Math.min(BATCH, ROWS - at);
      const data = parsed.subarray(at * FEATURES, (at + n) * FEATURES);
      await session.run({ input: new ort.Tensor('float32', data, [n, FEATURES]) });
    }
    floorRates.push(ROWS / ((performance.now() - started) / 1000));
  }
  await session.release();

  // modelport score, as a user runs it; /usr/bin/time reports the peak RSS.
  const modelportOut = join(dir, 'modelport-out.csv');
  const modelportRates: number[] = [];
  const peaks: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const timeFile = join(dir, 'time.txt');
    const started = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        '/usr/bin/time',
        [
          '-f',
          '%M',
          '-o',
          timeFile,
          process.execPath,
          join(REPO_ROOT, 'bin/modelport.js'),
          'score',
          'fraud',
          input,
          '-o',
          modelportOut,
          '--signature',
          signaturePath,
          '--batch-size',
          String(BATCH),
        ],
        {
          env: { ...process.env, MODELPORT_URL: server.url, MODELPORT_CACHE_DIR: join(dir, 'cache') },
          stdio: ['ignore', 'inherit', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', (c) => {
        if (c !== 0) console.error(stderr);
        resolve(c);
      });
    });
    if (code !== 0) throw new Error(`modelport score exited ${code}`);
    modelportRates.push(ROWS / ((performance.now() - started) / 1000));
    peaks.push(Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop()) * 1024);
  }

  // The peer: pandas + scikit-learn with the same weights, writing the same columns at the same precision.
  const pandasOut = join(dir, 'pandas-out.csv');
  const script = join(dir, 'score.py');
  await writeFile(
    script,
    `import sys, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
weights = np.array([${model.weights.join(',')}])
features = ${JSON.stringify(model.featureNames)}
m = LogisticRegression()
m.coef_ = weights.reshape(1, -1)
m.intercept_ = np.array([${model.bias}])
m.classes_ = np.array([0, 1])
df = pd.read_csv(sys.argv[1])
p = m.predict_proba(df[features].to_numpy())
labels = np.array(${JSON.stringify(model.labels)})
out = pd.DataFrame({'prediction': labels[p.argmax(axis=1)], 'probability_legit': p[:, 0], 'probability_fraud': p[:, 1]})
out.to_csv(sys.argv[2], index=False, float_format='%.6f')
`,
  );
  let pandasRates: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      execFileSync(PYTHON, [script, input, pandasOut], { stdio: ['ignore', 'ignore', 'pipe'] });
      pandasRates.push(ROWS / ((performance.now() - started) / 1000));
    }
  } catch (error) {
    console.log(
      `pandas: not run (${(error as Error).message.split('\n')[0]}); apt-get install python3-pandas python3-sklearn`,
    );
    pandasRates = [];
  }

  // The two outputs must agree on the predicted labels (probabilities differ only past float32 precision).
  const sample = async (path: string) =>
    (await readFile(path, 'utf8')).split('\n', 100_001).map((l) => l.split(',')[0]);
  if (pandasRates.length > 0) {
    const [a, b] = [await sample(modelportOut), await sample(pandasOut)];
    const same = a.filter((label, i) => label === b[i]).length;
    console.log(`agreement on the first ${a.length - 1} predicted labels: ${((same / a.length) * 100).toFixed(3)}%`);
  }

  const floor = median(floorRates);
  const modelport = median(modelportRates);
  console.log(`floor (ONNX Runtime, parsed data):  ${fmt(floor).padStart(12)} rows/s`);
  console.log(
    `modelport score (end to end):       ${fmt(modelport).padStart(12)} rows/s, peak RSS ${(median(peaks) / 2 ** 20).toFixed(0)} MiB`,
  );
  if (pandasRates.length > 0) {
    console.log(`pandas + scikit-learn:              ${fmt(median(pandasRates)).padStart(12)} rows/s`);
  }
  console.log(`modelport/floor:  ${(modelport / floor).toFixed(3)}  (ambition >= 0.7)`);
  if (pandasRates.length > 0)
    console.log(`modelport/pandas: ${(modelport / median(pandasRates)).toFixed(2)}  (ambition > 1)`);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
