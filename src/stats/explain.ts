/**
 * Explainability:
 *
 * - `permutationImportance` (Breiman 2001; scikit-learn's `permutation_importance`): a feature's importance is how
 *   much the metric worsens when that feature's column is shuffled (breaking its link with the outcome), repeated
 *   `repeats` times with a seeded generator; mean, standard deviation (ddof 0, as scikit-learn) and a Student-t
 *   interval of the mean over the repeats.
 * - `kernelShap` (Lundberg and Lee 2017): per-prediction attributions phi_j with sum_j phi_j = f(x) - E[f(B)] over a
 *   background sample B. The value of a coalition S is the mean model output over B with the features of S set to
 *   x's. Coalitions are sampled by the Shapley kernel (sizes in proportion to (M-1)/(s(M-s)), each with its
 *   complement) and the attributions are the kernel-weighted least squares fit with the efficiency constraint; with
 *   2^M - 2 samples or more every coalition is enumerated and the answer is the exact Shapley value. Cost per
 *   explained row: (coalitions + 2) x |B| model rows, bounded by `samples` and the background size.
 */
import { type BatchModel, checkTable, DEFAULT_BATCH_ROWS, scoreAll, type Table } from './model.ts';
import { createRng } from './random.ts';
import { studentTQuantile } from './special.ts';

export interface ImportanceOptions {
  model: BatchModel;
  data: Table;
  truth: ArrayLike<number>;
  /** The metric of (scores, truth), e.g. rocAuc; higher is better unless `lowerIsBetter`. */
  metric: (scores: Float32Array, truth: ArrayLike<number>) => number;
  lowerIsBetter?: boolean;
  /** Default 5. */
  repeats?: number;
  level?: number;
  seed?: number;
  /** Features to measure (default: all). */
  features?: number[];
  batchRows?: number;
  signal?: AbortSignal;
  /** Called after each feature with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface FeatureImportance {
  feature: number;
  /** Mean drop of the metric over the repeats. */
  mean: number;
  std: number;
  lo: number;
  hi: number;
  values: number[];
}

export interface ImportanceResult {
  baseline: number;
  importances: FeatureImportance[];
  repeats: number;
  /** Rows scored in total (the cost). */
  rowsScored: number;
}

export async function permutationImportance(options: ImportanceOptions): Promise<ImportanceResult> {
  const { model, data, truth, metric } = options;
  checkTable(data);
  const { n, width } = data;
  const repeats = options.repeats ?? 5;
  const level = options.level ?? 0.95;
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const features = options.features ?? Array.from({ length: width }, (_, j) => j);
  const rng = createRng(options.seed ?? 1);
  const sign = options.lowerIsBetter ? -1 : 1;
  const baseline = metric(await scoreAll(model, data.rows, n, width, batchRows, options.signal), truth);
  // One working copy; the shuffled column is written in place and restored after each feature.
  const work = Float32Array.from(data.rows);
  const column = new Float32Array(n);
  const scores = new Float32Array(n);
  const t = repeats > 1 ? studentTQuantile((1 + level) / 2, repeats - 1) : Number.NaN;
  const importances: FeatureImportance[] = [];
  let rowsScored = n;
  for (const [done, j] of features.entries()) {
    for (let i = 0; i < n; i++) column[i] = data.rows[i * width + j]!;
    const values: number[] = [];
    for (let r = 0; r < repeats; r++) {
      shuffle(column, rng);
      for (let i = 0; i < n; i++) work[i * width + j] = column[i]!;
      for (let start = 0; start < n; start += batchRows) {
        options.signal?.throwIfAborted();
        const m = Math.min(batchRows, n - start);
        scores.set((await model(work.subarray(start * width, (start + m) * width), m)).subarray(0, m), start);
      }
      rowsScored += n;
      values.push(sign * (baseline - metric(scores, truth)));
    }
    for (let i = 0; i < n; i++) work[i * width + j] = data.rows[i * width + j]!;
    const mean = values.reduce((a, b) => a + b, 0) / repeats;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / repeats);
    const sample = repeats > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (repeats - 1)) : 0;
    const half = (t * sample) / Math.sqrt(repeats);
    importances.push({ feature: j, mean, std, lo: mean - half, hi: mean + half, values });
    options.onProgress?.(done + 1, features.length);
  }
  return { baseline, importances, repeats, rowsScored };
}

/** Fisher-Yates, in place. */
function shuffle(values: Float32Array, rng: { int(n: number): number }): void {
  for (let i = values.length - 1; i > 0; i--) {
    const k = rng.int(i + 1);
    const v = values[i]!;
    values[i] = values[k]!;
    values[k] = v;
  }
}

export interface ShapOptions {
  model: BatchModel;
  /** The rows to explain. */
  data: Table;
  /** The background sample (same width); keep it small (tens to a hundred rows): cost is linear in it. */
  background: Table;
  /** Coalitions per explained row (default 2M + 2048, at most 2^M - 2, which is exact). */
  samples?: number;
  seed?: number;
  batchRows?: number;
  signal?: AbortSignal;
  /** Called after each explained row with (rows done, rows). */
  onProgress?: (done: number, total: number) => void;
}

export interface Attribution {
  /** E[f(B)]: the background's mean output. */
  base: number;
  /** f(x). */
  value: number;
  /** One per feature; sum = value - base. */
  phi: Float64Array;
  exact: boolean;
}

export async function kernelShap(options: ShapOptions): Promise<Attribution[]> {
  const { model, data, background } = options;
  checkTable(data);
  checkTable(background);
  const M = data.width;
  if (background.width !== M) throw new RangeError('kernelShap: the background has another width than the rows');
  if (background.n === 0) throw new RangeError('kernelShap: the background sample is empty');
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const B = background.n;
  const bgScores = await scoreAll(model, background.rows, B, M, batchRows, options.signal);
  const base = bgScores.reduce((a, b) => a + b, 0) / B;
  const own = await scoreAll(model, data.rows, data.n, M, batchRows, options.signal);
  const all = 2 ** M - 2;
  const wanted = options.samples ?? 2 * M + 2048;
  const exact = M <= 30 && wanted >= all;
  const coalitions = exact ? enumerateCoalitions(M) : sampleCoalitions(M, wanted, options.seed ?? 1);
  const K = coalitions.masks.length;
  const out: Attribution[] = [];
  const hybrid = new Float32Array(K * B * M);
  for (let i = 0; i < data.n; i++) {
    options.signal?.throwIfAborted();
    const x = data.rows.subarray(i * M, (i + 1) * M);
    for (let k = 0; k < K; k++) {
      const mask = coalitions.masks[k]!;
      for (let b = 0; b < B; b++) {
        const at = (k * B + b) * M;
        for (let j = 0; j < M; j++) hybrid[at + j] = mask[j] ? x[j]! : background.rows[b * M + j]!;
      }
    }
    const scores = await scoreAll(model, hybrid, K * B, M, batchRows, options.signal);
    const y = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += scores[k * B + b]!;
      y[k] = s / B - base;
    }
    const value = own[i]!;
    out.push({ base, value, phi: solveConstrained(coalitions.masks, coalitions.weights, y, value - base, M), exact });
    options.onProgress?.(i + 1, data.n);
  }
  return out;
}

function enumerateCoalitions(M: number): { masks: Uint8Array[]; weights: Float64Array } {
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  for (let code = 1; code < 2 ** M - 1; code++) {
    const mask = new Uint8Array(M);
    let s = 0;
    for (let j = 0; j < M; j++) {
      if ((code / 2 ** j) % 2 >= 1) {
        mask[j] = 1;
        s++;
      }
    }
    masks.push(mask);
    weights.push((M - 1) / (binomial(M, s) * s * (M - s)));
  }
  return { masks, weights: Float64Array.from(weights) };
}

/** Coalitions drawn by the Shapley kernel's size distribution, each with its complement; equal weights. */
function sampleCoalitions(M: number, samples: number, seed: number): { masks: Uint8Array[]; weights: Float64Array } {
  const rng = createRng(seed);
  const sizeWeights = Array.from({ length: M - 1 }, (_, k) => (M - 1) / ((k + 1) * (M - k - 1)));
  const total = sizeWeights.reduce((a, b) => a + b, 0);
  const masks: Uint8Array[] = [];
  const order = Array.from({ length: M }, (_, j) => j);
  for (let k = 0; k + 1 < samples; k += 2) {
    let u = rng.next() * total;
    let s = 1;
    while (s < M - 1 && u > sizeWeights[s - 1]!) {
      u -= sizeWeights[s - 1]!;
      s++;
    }
    for (let j = M - 1; j > 0; j--) {
      const r = rng.int(j + 1);
      [order[j], order[r]] = [order[r]!, order[j]!];
    }
    const mask = new Uint8Array(M);
    for (let j = 0; j < s; j++) mask[order[j]!] = 1;
    masks.push(
      mask,
      mask.map((v) => 1 - v),
    );
  }
  return { masks, weights: new Float64Array(masks.length).fill(1) };
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * Weighted least squares of y on the masks with sum(phi) = total: phi_M is eliminated (phi_M = total - sum of the
 * others), the normal equations of the rest solved by Gaussian elimination with partial pivoting.
 */
function solveConstrained(
  masks: Uint8Array[],
  weights: Float64Array,
  y: Float64Array,
  total: number,
  M: number,
): Float64Array {
  const phi = new Float64Array(M);
  if (M === 1) {
    phi[0] = total;
    return phi;
  }
  const P = M - 1;
  const A = new Float64Array(P * P);
  const rhs = new Float64Array(P);
  const row = new Float64Array(P);
  for (let k = 0; k < masks.length; k++) {
    const mask = masks[k]!;
    const w = weights[k]!;
    const last = mask[M - 1]!;
    for (let j = 0; j < P; j++) row[j] = mask[j]! - last;
    const target = y[k]! - last * total;
    for (let a = 0; a < P; a++) {
      if (row[a] === 0) continue;
      rhs[a]! += w * row[a]! * target;
      for (let b = 0; b < P; b++) A[a * P + b]! += w * row[a]! * row[b]!;
    }
  }
  const solution = gaussianSolve(A, rhs, P);
  let sum = 0;
  for (let j = 0; j < P; j++) {
    phi[j] = solution[j]!;
    sum += solution[j]!;
  }
  phi[M - 1] = total - sum;
  return phi;
}

function gaussianSolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  // A tiny ridge keeps a rank-deficient sample (a coalition pattern never drawn) solvable.
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(A[i * n + i]!));
  for (let i = 0; i < n; i++) A[i * n + i]! += 1e-12 * (scale || 1);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]!) > Math.abs(A[pivot * n + c]!)) pivot = r;
    if (pivot !== c) {
      for (let k = 0; k < n; k++) [A[c * n + k], A[pivot * n + k]] = [A[pivot * n + k]!, A[c * n + k]!];
      [b[c], b[pivot]] = [b[pivot]!, b[c]!];
    }
    const d = A[c * n + c]!;
    for (let r = c + 1; r < n; r++) {
      const f = A[r * n + c]! / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k]! -= f * A[c * n + k]!;
      b[r]! -= f * b[c]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < n; k++) s -= A[r * n + k]! * x[k]!;
    x[r] = s / A[r * n + r]!;
  }
  return x;
}
