/**
 * Robustness of a model to changes of its input:
 *
 * - `flipRate`: each row gets `samples` copies whose mutable numeric features move by uniform noise of at most
 *   epsilon x the feature's range (clipped to the range); the flip rate is the share of copies whose decision
 *   (score > threshold) differs from the row's own.
 * - `counterfactuals`: for each row, the nearest input with the other decision, found by growing spheres (Laugel et
 *   al. 2018, "Comparison-based inverse classification for interpretability in machine learning"): candidates are
 *   sampled uniformly in spherical layers of growing radius around the row in range-normalised space (restricted
 *   features fixed, values clipped to their ranges) until one flips; the closest flipped candidate is then made
 *   sparse by setting each changed feature back, smallest change first, while the decision stays flipped. Its
 *   distance is the normalised L1 distance sum_j |x'_j - x_j| / (max_j - min_j) (or L2). Cost is bounded: at most
 *   rows x samples x maxLayers model rows, plus one per mutable feature per row.
 */
import { type BatchModel, checkTable, DEFAULT_BATCH_ROWS, type FeatureRange, scoreAll, type Table } from './model.ts';
import { createRng } from './random.ts';

export interface FlipRateOptions {
  model: BatchModel;
  data: Table;
  ranges: FeatureRange[];
  /** Features that may move (default: every feature whose range is not empty). */
  mutable?: boolean[];
  /** Largest change as a share of the range (default 0.05). */
  epsilon?: number;
  /** Perturbed copies per row (default 5). */
  samples?: number;
  threshold?: number;
  seed?: number;
  batchRows?: number;
  signal?: AbortSignal;
  /** Called after each block of rows with (rows done, rows). */
  onProgress?: (done: number, total: number) => void;
}

export interface FlipRate {
  /** Flipped copies / copies. */
  flipRate: number;
  /** Rows with at least one flipped copy / rows. */
  rowsFlipped: number;
  /** Mean |score change| over the copies. */
  meanScoreChange: number;
  copies: number;
  epsilon: number;
}

export async function flipRate(options: FlipRateOptions): Promise<FlipRate> {
  const { model, data, ranges } = options;
  checkTable(data);
  const { n, width } = data;
  const epsilon = options.epsilon ?? 0.05;
  const samples = options.samples ?? 5;
  const threshold = options.threshold ?? 0.5;
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const mutable = mutableMask(ranges, width, options.mutable);
  const rng = createRng(options.seed ?? 1);
  const base = await scoreAll(model, data.rows, n, width, batchRows, options.signal);
  // Rows are perturbed a block at a time so memory stays at one batch of copies.
  const block = Math.max(1, Math.floor(batchRows / samples));
  const copies = new Float32Array(block * samples * width);
  let flipped = 0;
  let rowsFlipped = 0;
  let change = 0;
  for (let start = 0; start < n; start += block) {
    options.signal?.throwIfAborted();
    const m = Math.min(block, n - start);
    for (let i = 0; i < m; i++) {
      const row = data.rows.subarray((start + i) * width, (start + i + 1) * width);
      for (let s = 0; s < samples; s++) {
        const at = (i * samples + s) * width;
        for (let j = 0; j < width; j++) {
          let v = row[j]!;
          if (mutable[j]) {
            const r = ranges[j]!;
            v += (2 * rng.next() - 1) * epsilon * (r.max - r.min);
            v = Math.min(Math.max(v, r.min), r.max);
          }
          copies[at + j] = v;
        }
      }
    }
    const scores = await scoreAll(model, copies.subarray(0, m * samples * width), m * samples, width, batchRows);
    for (let i = 0; i < m; i++) {
      const own = base[start + i]!;
      let any = false;
      for (let s = 0; s < samples; s++) {
        const score = scores[i * samples + s]!;
        change += Math.abs(score - own);
        if (score > threshold !== own > threshold) {
          flipped++;
          any = true;
        }
      }
      if (any) rowsFlipped++;
    }
    options.onProgress?.(start + m, n);
  }
  const total = n * samples;
  return {
    flipRate: total ? flipped / total : Number.NaN,
    rowsFlipped: n ? rowsFlipped / n : Number.NaN,
    meanScoreChange: total ? change / total : Number.NaN,
    copies: total,
    epsilon,
  };
}

function mutableMask(ranges: FeatureRange[], width: number, mutable?: boolean[]): boolean[] {
  if (ranges.length !== width) throw new RangeError(`ranges has ${ranges.length} features, the rows ${width}`);
  return ranges.map((r, j) => (mutable ? mutable[j] === true : true) && r.max > r.min);
}

export interface CounterfactualOptions {
  model: BatchModel;
  data: Table;
  ranges: FeatureRange[];
  /** Features a counterfactual may change (false: restricted, e.g. a protected attribute). Default: all. */
  mutable?: boolean[];
  /** Features that take integer values only (rounded after sampling). */
  integer?: boolean[];
  threshold?: number;
  /** Candidates per layer per row (default 200). */
  samples?: number;
  /** Layer width in normalised units (default 0.05). */
  step?: number;
  /** Layers before giving up (default 40: radius up to 2 in normalised units). */
  maxLayers?: number;
  norm?: 'l1' | 'l2';
  seed?: number;
  batchRows?: number;
  signal?: AbortSignal;
  /** Called after each layer with (rows resolved or given up, rows). */
  onProgress?: (done: number, total: number) => void;
}

export interface Counterfactual {
  /** Normalised distance to the counterfactual; NaN when none was found within the layers. */
  distance: number;
  /** The counterfactual row (null when none was found). */
  row: Float32Array | null;
  /** Indices of the features it changes. */
  changed: number[];
  /** The row's own score and the counterfactual's. */
  score: number;
  counterfactualScore: number;
}

export async function counterfactuals(options: CounterfactualOptions): Promise<Counterfactual[]> {
  const { model, data, ranges } = options;
  checkTable(data);
  const { n, width } = data;
  const threshold = options.threshold ?? 0.5;
  const samples = options.samples ?? 200;
  const step = options.step ?? 0.05;
  const maxLayers = options.maxLayers ?? 40;
  const norm = options.norm ?? 'l1';
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const mutable = mutableMask(ranges, width, options.mutable);
  const free = mutable.flatMap((m, j) => (m ? [j] : []));
  const rng = createRng(options.seed ?? 1);
  const span = ranges.map((r) => r.max - r.min);
  const base = await scoreAll(model, data.rows, n, width, batchRows, options.signal);
  const results: Counterfactual[] = Array.from({ length: n }, (_, i) => ({
    distance: Number.NaN,
    row: null,
    changed: [],
    score: base[i]!,
    counterfactualScore: Number.NaN,
  }));
  if (free.length === 0) return results;
  const distance = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let d = 0;
    for (const j of free) {
      const z = Math.abs(a[j]! - b[j]!) / span[j]!;
      d += norm === 'l1' ? z : z * z;
    }
    return norm === 'l1' ? d : Math.sqrt(d);
  };
  let active = Array.from({ length: n }, (_, i) => i);
  const candidates = new Float32Array(Math.max(1, Math.floor(batchRows / samples)) * samples * width);
  const rowsPerCall = Math.max(1, Math.floor(batchRows / samples));
  const direction = new Float64Array(free.length);
  for (let layer = 0; layer < maxLayers && active.length > 0; layer++) {
    const lo = layer * step;
    const hi = lo + step;
    const stillActive: number[] = [];
    for (let start = 0; start < active.length; start += rowsPerCall) {
      options.signal?.throwIfAborted();
      const chunk = active.slice(start, start + rowsPerCall);
      for (const [c, i] of chunk.entries()) {
        const row = data.rows.subarray(i * width, (i + 1) * width);
        for (let s = 0; s < samples; s++) {
          const at = (c * samples + s) * width;
          candidates.set(row, at);
          // A uniform point of the shell lo < |z| <= hi in the free dimensions (Gaussian direction, radius by the
          // inverse CDF of r^d on [lo, hi]).
          let len = 0;
          for (let k = 0; k < free.length; k++) {
            direction[k] = rng.normal();
            len += direction[k]! ** 2;
          }
          len = Math.sqrt(len) || 1;
          const d = free.length;
          const radius = (lo ** d + rng.next() * (hi ** d - lo ** d)) ** (1 / d);
          for (let k = 0; k < free.length; k++) {
            const j = free[k]!;
            let v = row[j]! + (direction[k]! / len) * radius * span[j]!;
            v = Math.min(Math.max(v, ranges[j]!.min), ranges[j]!.max);
            if (options.integer?.[j]) v = Math.round(v);
            candidates[at + j] = v;
          }
        }
      }
      const scores = await scoreAll(
        model,
        candidates.subarray(0, chunk.length * samples * width),
        chunk.length * samples,
        width,
        batchRows,
      );
      for (const [c, i] of chunk.entries()) {
        const own = base[i]! > threshold;
        const row = data.rows.subarray(i * width, (i + 1) * width);
        let best = -1;
        let bestDistance = Infinity;
        for (let s = 0; s < samples; s++) {
          if (scores[c * samples + s]! > threshold === own) continue;
          const at = (c * samples + s) * width;
          const dist = distance(candidates.subarray(at, at + width), row);
          if (dist < bestDistance) {
            bestDistance = dist;
            best = s;
          }
        }
        if (best < 0) stillActive.push(i);
        else {
          const at = (c * samples + best) * width;
          const r = results[i]!;
          r.row = candidates.slice(at, at + width);
          r.counterfactualScore = scores[c * samples + best]!;
        }
      }
    }
    active = stillActive;
    options.onProgress?.(layer + 1 === maxLayers ? n : n - active.length, n);
  }
  await sparsify(options, results, free, threshold, batchRows);
  for (const [i, r] of results.entries()) {
    if (!r.row) continue;
    const row = data.rows.subarray(i * width, (i + 1) * width);
    r.distance = distance(r.row, row);
    r.changed = free.filter((j) => r.row![j] !== row[j]);
  }
  return results;
}

/** Sets changed features back to the row's value, smallest normalised change first, while the decision stays flipped. */
async function sparsify(
  options: CounterfactualOptions,
  results: Counterfactual[],
  free: number[],
  threshold: number,
  batchRows: number,
): Promise<void> {
  const { model, data, ranges } = options;
  const { width } = data;
  const found = results.flatMap((r, i) => (r.row ? [i] : []));
  const order = new Map<number, number[]>();
  for (const i of found) {
    const row = data.rows.subarray(i * width, (i + 1) * width);
    const cf = results[i]!.row!;
    const changed = free.filter((j) => cf[j] !== row[j]);
    changed.sort(
      (a, b) =>
        Math.abs(cf[a]! - row[a]!) / (ranges[a]!.max - ranges[a]!.min) -
        Math.abs(cf[b]! - row[b]!) / (ranges[b]!.max - ranges[b]!.min),
    );
    order.set(i, changed.slice(0, -1)); // at least one feature must stay changed
  }
  for (let k = 0; k < free.length; k++) {
    const trying = found.filter((i) => (order.get(i)?.length ?? 0) > k);
    if (trying.length === 0) break;
    const rows = new Float32Array(trying.length * width);
    for (const [c, i] of trying.entries()) {
      const candidate = Float32Array.from(results[i]!.row!);
      const j = order.get(i)![k]!;
      candidate[j] = data.rows[i * width + j]!;
      rows.set(candidate, c * width);
    }
    options.signal?.throwIfAborted();
    const scores = await scoreAll(model, rows, trying.length, width, batchRows);
    for (const [c, i] of trying.entries()) {
      const own = results[i]!.score > threshold;
      if (scores[c]! > threshold !== own) {
        results[i]!.row = rows.slice(c * width, (c + 1) * width);
        results[i]!.counterfactualScore = scores[c]!;
      }
    }
  }
}
