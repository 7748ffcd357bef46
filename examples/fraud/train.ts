/**
 * Trains the example credit-card-fraud model: a logistic regression over a synthetic dataset shaped like the public
 * creditcard.csv (Kaggle / ULB), in plain TypeScript, deterministically for a seed.
 *
 * ```ts
 * const { onnx, metrics } = trainFraudModel({ seed: 42, rows: 20_000 });
 * ```
 *
 * Run as a script it is the example pipeline's trainer: it reads a CSV (time, v1..v28, amount, class), fits, and
 * writes model.onnx, metrics.json (held-out 20%) and signature.json to the output folder:
 *
 *   node examples/fraud/train.ts --data transactions.csv --out ./out
 *
 * It imports the model builder as `modelport/onnx` (the package's own export), which a pipeline step resolves to
 * the library of the server running it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ModelportError } from 'modelport/errors';
import { buildLogisticRegressionModel, createRandom, type Random } from 'modelport/onnx';

/** Column order of the model's input, as in creditcard.csv (lower-cased). */
export const FEATURE_NAMES: readonly string[] = [
  'time',
  ...Array.from({ length: 28 }, (_, i) => `v${i + 1}`),
  'amount',
];
/** Class labels by index: `label` 0 is legit, 1 is fraud; `probabilities` follow the same order. */
export const CLASS_LABELS: readonly string[] = ['legit', 'fraud'];

const FEATURES = FEATURE_NAMES.length;
const TIME = 0;
const AMOUNT = 29;
const TWO_DAYS = 172_800;
/** Share of fraud rows (creditcard.csv has 0.17%; more here so a 20k-row sample has enough to learn from). */
const FRAUD_RATE = 0.012;
const STEPS = 100;
const RATE = 8;
const L2 = 1e-4;
/** Mean shift of fraud rows on some PCA columns, in units of the column's spread (signs as in creditcard.csv). */
const FRAUD_SHIFTS: Readonly<Record<number, number>> = { 3: -2.5, 4: 2, 10: -2, 11: 1.8, 12: -2.5, 14: -3, 17: -2.5 };

export interface FraudTrainingOptions {
  /** Seeds the data, the split and nothing else (training is deterministic); default 42. */
  seed?: number;
  /** Rows generated before the 80/20 train/held-out split; default 10000, at least 2000. */
  rows?: number;
}

export interface FraudMetrics {
  accuracy: number;
  /** Area under the ROC curve. */
  auc: number;
  /** At threshold 0.5. */
  precision: number;
  recall: number;
}

export interface FraudModel {
  /** The ONNX model: input `input` FP32 [N, 30] of raw values -> `label` INT64 [N], `probabilities` FP32 [N, 2]. */
  onnx: Uint8Array;
  /** Weights on the raw (unscaled) features, in FEATURE_NAMES order; standardisation is folded in. */
  weights: number[];
  bias: number;
  featureNames: readonly string[];
  labels: readonly string[];
  /** Measured on the held-out 20%. */
  metrics: FraudMetrics;
  /** A held-out legit row the model scores below 0.01 and a held-out fraud row it scores above 0.99. */
  samples: { legit: number[]; fraud: number[] };
}

/** P(fraud) for one row of raw feature values. */
export function fraudProbability(model: Pick<FraudModel, 'weights' | 'bias'>, row: ArrayLike<number>): number {
  let z = model.bias;
  for (let j = 0; j < model.weights.length; j++) z += model.weights[j]! * row[j]!;
  return 1 / (1 + Math.exp(-z));
}

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/** One row: fraud rows are shifted on v3, v4, v10, v11, v12, v14, v17 by a random severity, and spend differently. */
function generateRow(rng: Random, fraud: boolean): number[] {
  const row = new Array<number>(FEATURES);
  row[TIME] = Math.floor(rng.uniform() * TWO_DAYS);
  const severity = 0.3 + rng.uniform();
  for (let k = 1; k <= 28; k++) {
    const sigma = 1.96 * 0.936 ** (k - 1);
    const shift = fraud ? (FRAUD_SHIFTS[k] ?? 0) * severity : 0;
    row[k] = round(sigma * (rng.normal() + shift), 6);
  }
  // Legit: median about 20 EUR with a long tail. Fraud: either a small card test or a larger purchase.
  const logAmount = !fraud ? 3 + 1.4 * rng.normal() : rng.uniform() < 0.4 ? 0.3 + 0.8 * rng.normal() : 5 + rng.normal();
  row[AMOUNT] = round(Math.min(Math.exp(logAmount), 25_000), 2);
  return row;
}

/**
 * `rows` labelled transactions shaped like creditcard.csv (label 1 is fraud, about 1.2% of rows), drawn from `rng`.
 * A row is `[time, v1, ..., v28, amount]`: seconds over two days, PCA-like columns whose spread shrinks from about
 * 2 (v1) to 0.33 (v28), and an amount in EUR with cents.
 */
export function generateTransactions(rng: Random, rows: number): { data: number[][]; labels: number[] } {
  const data: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < rows; i++) {
    const fraud = rng.uniform() < FRAUD_RATE;
    data.push(generateRow(rng, fraud));
    labels.push(fraud ? 1 : 0);
  }
  return { data, labels };
}

/** Area under the ROC curve by the rank-sum (Mann-Whitney U) formula, with tied scores sharing their mean rank. */
function areaUnderCurve(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const meanRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += meanRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Fits logistic regression on standardised rows `x` ([n, FEATURES], row-major) by full-batch gradient descent with
 * a small L2 penalty. Starting the bias at the base rate's log-odds saves most of the early steps.
 */
function gradientDescent(x: Float64Array, y: Float64Array, initialBias: number): { w: Float64Array; b: number } {
  const n = y.length;
  const w = new Float64Array(FEATURES);
  const grad = new Float64Array(FEATURES);
  let b = initialBias;
  for (let step = 0; step < STEPS; step++) {
    grad.fill(0);
    let gradB = 0;
    for (let r = 0, at = 0; r < n; r++, at += FEATURES) {
      let z = b;
      for (let j = 0; j < FEATURES; j++) z += w[j]! * x[at + j]!;
      const error = 1 / (1 + Math.exp(-z)) - y[r]!;
      for (let j = 0; j < FEATURES; j++) grad[j]! += error * x[at + j]!;
      gradB += error;
    }
    for (let j = 0; j < FEATURES; j++) w[j]! -= RATE * (grad[j]! / n + L2 * w[j]!);
    b -= RATE * (gradB / n);
  }
  return { w, b };
}

/**
 * Generates the data, splits 80/20, standardises with the training split's mean and spread, fits a logistic
 * regression by full-batch gradient descent (100 steps, rate 8, L2 1e-4), folds the scaling into the weights so
 * the model takes raw values, and measures it on the held-out split. Takes about 0.1 s for 10k rows.
 */
export function trainFraudModel(options: FraudTrainingOptions = {}): FraudModel {
  const seed = options.seed ?? 42;
  const rows = options.rows ?? 10_000;
  if (!Number.isSafeInteger(rows) || rows < 2000) {
    throw new ModelportError('invalid_request', 'rows must be an integer of at least 2000', { field: 'rows' });
  }
  const rng = createRandom(seed);
  const { data, labels } = generateTransactions(rng, rows);
  const model = fitFraudModel(data, labels, rng, seed);
  if (!model.samples) {
    throw new ModelportError('invalid_request', `rows: ${rows} rows give no clear samples; use more rows`, {
      field: 'rows',
    });
  }
  return model as FraudModel;
}

/**
 * Fits on labelled rows (`[time, v1..v28, amount]`, label 1 is fraud): an 80/20 split drawn from `rng`, the
 * fit and held-out metrics as in `trainFraudModel`. `samples` is null when the held-out rows have no clear ones.
 */
export function fitFraudModel(
  data: number[][],
  labels: number[],
  rng: Random,
  seed: number,
): Omit<FraudModel, 'samples'> & { samples: FraudModel['samples'] | null } {
  const rows = data.length;
  if (rows < 100 || labels.length !== rows) {
    throw new ModelportError('invalid_request', 'data: give at least 100 labelled rows', { field: 'data' });
  }
  // Fisher-Yates shuffle of row indices, then the first 80% train.
  const order = data.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const cut = Math.floor(rows * 0.8);
  const train = order.slice(0, cut);
  const heldOut = order.slice(cut);

  const mean = new Float64Array(FEATURES);
  const spread = new Float64Array(FEATURES);
  for (const i of train) for (let j = 0; j < FEATURES; j++) mean[j]! += data[i]![j]! / train.length;
  for (const i of train) for (let j = 0; j < FEATURES; j++) spread[j]! += (data[i]![j]! - mean[j]!) ** 2 / train.length;
  for (let j = 0; j < FEATURES; j++) spread[j] = Math.sqrt(spread[j]!) || 1;
  const x = new Float64Array(train.length * FEATURES);
  train.forEach((i, r) => {
    for (let j = 0; j < FEATURES; j++) x[r * FEATURES + j] = (data[i]![j]! - mean[j]!) / spread[j]!;
  });
  const y = train.map((i) => labels[i]!);

  const positiveRate = y.reduce((a, v) => a + v, 0) / y.length;
  const { w, b } = gradientDescent(x, Float64Array.from(y), Math.log(positiveRate / (1 - positiveRate)));

  // Fold standardisation into the weights: w.(x - mean)/spread + b = (w/spread).x + (b - sum(w.mean/spread)).
  const weights = Array.from(w, (wj, j) => wj / spread[j]!);
  const bias = b - weights.reduce((a, wj, j) => a + wj * mean[j]!, 0);
  const model = { weights, bias };

  const scores = heldOut.map((i) => fraudProbability(model, data[i]!));
  const truth = heldOut.map((i) => labels[i]!);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  scores.forEach((p, k) => {
    const predicted = p > 0.5 ? 1 : 0;
    if (predicted === truth[k]) correct++;
    if (predicted === 1 && truth[k] === 1) tp++;
    if (predicted === 1 && truth[k] === 0) fp++;
    if (predicted === 0 && truth[k] === 1) fn++;
  });
  const metrics: FraudMetrics = {
    accuracy: correct / scores.length,
    auc: areaUnderCurve(scores, truth),
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp / (tp + fn),
  };

  const legit = heldOut.find((_, k) => truth[k] === 0 && scores[k]! < 0.01);
  const fraud = heldOut.find((_, k) => truth[k] === 1 && scores[k]! > 0.99);

  const onnx = buildLogisticRegressionModel({
    weights,
    bias,
    featureCount: FEATURES,
    name: 'fraud',
    metadata: { feature_names: FEATURE_NAMES.join(','), labels: CLASS_LABELS.join(','), seed: String(seed) },
    docString: 'Credit-card fraud: logistic regression over time, v1..v28, amount (raw values).',
  });
  return {
    onnx,
    weights,
    bias,
    featureNames: FEATURE_NAMES,
    labels: CLASS_LABELS,
    metrics,
    samples: legit === undefined || fraud === undefined ? null : { legit: data[legit]!, fraud: data[fraud]! },
  };
}

/** The CSV the example pipeline trains on: a header (time, v1..v28, amount, class) and one line per row. */
export function transactionsCsv(data: readonly number[][], labels: readonly number[]): string {
  const lines = [[...FEATURE_NAMES, 'class'].join(',')];
  data.forEach((row, i) => {
    lines.push(`${row.join(',')},${labels[i]}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Reads a CSV written by `transactionsCsv` (or creditcard.csv with lower-cased names). */
export function readTransactionsCsv(text: string): { data: number[][]; labels: number[] } {
  const [header, ...lines] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const names = (header ?? '').split(',').map((n) => n.trim().replace(/^"|"$/g, '').toLowerCase());
  const columns = FEATURE_NAMES.map((name) => names.indexOf(name));
  const label = names.indexOf('class');
  const missing = FEATURE_NAMES.filter((_, j) => columns[j]! < 0);
  if (missing.length > 0 || label < 0) {
    throw new ModelportError(
      'invalid_input',
      `the CSV lacks the columns ${[...missing, ...(label < 0 ? ['class'] : [])].join(', ')}`,
    );
  }
  const data: number[][] = [];
  const labels: number[] = [];
  lines.forEach((line, i) => {
    const fields = line.split(',');
    const row = columns.map((c) => Number(fields[c]));
    const y = Number(fields[label]);
    if (row.some((v) => !Number.isFinite(v)) || (y !== 0 && y !== 1)) {
      throw new ModelportError('invalid_input', `line ${i + 2}: expected numbers and a class of 0 or 1`);
    }
    data.push(row);
    labels.push(y);
  });
  return { data, labels };
}

/** `node train.ts --data <csv> --out <folder> [--seed N]`: the example pipeline's train step. */
function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { data: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string', default: '42' } },
  });
  if (!values.data || !values.out) throw new Error('usage: node train.ts --data <transactions.csv> --out <folder>');
  const started = performance.now();
  const { data, labels } = readTransactionsCsv(readFileSync(values.data, 'utf8'));
  const seed = Number(values.seed);
  const model = fitFraudModel(data, labels, createRandom(seed), seed);
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'model.onnx'), model.onnx);
  writeFileSync(join(values.out, 'metrics.json'), `${JSON.stringify(model.metrics, null, 2)}\n`);
  writeFileSync(
    join(values.out, 'signature.json'),
    `${JSON.stringify({ featureNames: FEATURE_NAMES, labels: CLASS_LABELS }, null, 2)}\n`,
  );
  const m = model.metrics;
  console.log(
    `trained on ${data.length} rows (${labels.filter((l) => l === 1).length} fraud) in ${Math.round(performance.now() - started)} ms: ` +
      `held-out auc ${m.auc.toFixed(4)}, recall ${m.recall.toFixed(4)}, precision ${m.precision.toFixed(4)}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
