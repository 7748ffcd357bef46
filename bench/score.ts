/**
 * Batch scoring benchmark (`npm run bench:score`): a generated 1,000,000-row CSV for the example fraud model,
 * scored and read several ways, runs interleaved 3 times, printed as medians and ratios measured in this same run:
 *
 * - floor: raw ONNX Runtime on already-parsed data at the chosen batch size (rows/s);
 * - modelport: `modelport score` end to end, spawned as a real CLI process against a real server started here
 *   (process start, registry look-up, parse, inference and write included), with its peak RSS; with the CSV parsed
 *   by worker threads (THREADS threads in all) and on the main thread alone (`--parse-threads 0`);
 * - the reading floor: DuckDB's `read_csv` of the same file (every feature column parsed and summed), with 1 thread
 *   and with THREADS;
 * - pandas: Python with pandas and scikit-learn (Debian's python3-pandas, python3-sklearn) reading the CSV,
 *   predicting with an equivalent LogisticRegression (coef_ and intercept_ set from the fraud model's weights) and
 *   writing the same CSV.
 *
 * Ambition: modelport/floor >= 0.7, modelport/pandas > 1, modelport/DuckDB read >= 1 with the same threads. Run: node bench/score.ts [rows, default 1000000]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
/** Threads in all for the parallel run (modelport: the main thread and THREADS - 1 parse workers; DuckDB: THREADS). */
const THREADS = Math.max(2, Math.min(4, availableParallelism()));
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

  // modelport score, as a user runs it (/usr/bin/time reports the peak RSS): the CSV parsed by worker threads
  // besides the main one (THREADS threads in all, the default on a THREADS-core machine) and on the main thread
  // only (--parse-threads 0). `inside` is the rate the CLI's summary line reports: scoring alone, without the
  // process start-up and the registry look-up.
  const modelportOut = join(dir, 'modelport-out.csv');
  const runModelport = async (parseThreads: number) => {
    const timeFile = join(dir, 'time.txt');
    const started = performance.now();
    let stderr = '';
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
          '--parse-threads',
          String(parseThreads),
        ],
        {
          env: { ...process.env, MODELPORT_URL: server.url, MODELPORT_CACHE_DIR: join(dir, 'cache') },
          stdio: ['ignore', 'inherit', 'pipe'],
        },
      );
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`modelport score exited ${code}: ${stderr}`);
    const endToEnd = ROWS / ((performance.now() - started) / 1000);
    const inside = Number(/ ([\d,]+) rows\/s/.exec(stderr)?.[1]?.replaceAll(',', '') ?? Number.NaN);
    const peak = Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop()) * 1024;
    return { endToEnd, inside, peak };
  };

  // The reading floor: DuckDB's read_csv of the same file, every feature column parsed and summed, with 1 thread and
  // with THREADS (no extension installed or loaded).
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const runDuckdb = async (threads: number) => {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(threads),
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    const connection = await instance.connect();
    try {
      const sums = model.featureNames.map((name) => `sum("${name}")`).join(', ');
      const started = performance.now();
      const reader = await connection.runAndReadAll(
        `SELECT count(*), ${sums} FROM read_csv('${input}', header = true)`,
      );
      const rate = ROWS / ((performance.now() - started) / 1000);
      if (Number(reader.getRows()[0]?.[0]) !== ROWS) throw new Error('DuckDB read a different number of rows');
      return rate;
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };

  // Interleaved runs, so the machine's other load falls on every contender alike.
  type ModelportRun = Awaited<ReturnType<typeof runModelport>>;
  const parallel: ModelportRun[] = [];
  const serial: ModelportRun[] = [];
  const duckdb1: number[] = [];
  const duckdbN: number[] = [];
  let pandasRates: number[] = [];
  let pandasError: string | undefined;
  for (let run = 0; run < RUNS; run++) {
    parallel.push(await runModelport(THREADS - 1));
    duckdbN.push(await runDuckdb(THREADS));
    serial.push(await runModelport(0));
    duckdb1.push(await runDuckdb(1));
    if (pandasError === undefined) {
      try {
        const started = performance.now();
        execFileSync(PYTHON, [script, input, pandasOut], { stdio: ['ignore', 'ignore', 'pipe'] });
        pandasRates.push(ROWS / ((performance.now() - started) / 1000));
      } catch (error) {
        pandasError = (error as Error).message.split('\n')[0];
        pandasRates = [];
      }
    }
  }
  if (pandasError !== undefined) {
    console.log(`pandas: not run (${pandasError}); apt-get install python3-pandas python3-sklearn`);
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
  const pick = (runs: ModelportRun[], key: keyof ModelportRun) => median(runs.map((r) => r[key]));
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const rate = (n: number) => `${fmt(n).padStart(10)} rows/s`;
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${availableParallelism()} cores)`,
  );
  console.log(`floor (ONNX Runtime, parsed data):         ${rate(floor)}`);
  console.log(`DuckDB read_csv, 1 thread:                 ${rate(median(duckdb1))}`);
  console.log(`DuckDB read_csv, ${THREADS} threads:                ${rate(median(duckdbN))}`);
  for (const [name, runs] of [
    [`${THREADS} threads`, parallel],
    ['1 thread ', serial],
  ] as const) {
    console.log(
      `modelport score, ${name}, end to end: ${rate(pick(runs, 'endToEnd'))}; scoring alone ${rate(pick(runs, 'inside'))}; peak RSS ${mib(pick(runs, 'peak'))}`,
    );
  }
  if (pandasRates.length > 0) console.log(`pandas + scikit-learn:                     ${rate(median(pandasRates))}`);
  console.log(
    `modelport/DuckDB read, ${THREADS} threads: ${ratio(pick(parallel, 'endToEnd'), median(duckdbN))} end to end, ${ratio(pick(parallel, 'inside'), median(duckdbN))} scoring alone  (ambition >= 1)`,
  );
  console.log(
    `modelport/DuckDB read, 1 thread:  ${ratio(pick(serial, 'endToEnd'), median(duckdb1))} end to end, ${ratio(pick(serial, 'inside'), median(duckdb1))} scoring alone`,
  );
  console.log(
    `modelport ${THREADS} threads / 1 thread: ${ratio(pick(parallel, 'endToEnd'), pick(serial, 'endToEnd'))} end to end`,
  );
  console.log(`modelport/floor:  ${ratio(pick(parallel, 'endToEnd'), floor)}  (ambition >= 0.7)`);
  if (pandasRates.length > 0) {
    console.log(`modelport/pandas: ${ratio(pick(parallel, 'endToEnd'), median(pandasRates))}  (ambition > 1)`);
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
