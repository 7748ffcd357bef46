/**
 * The model as the model-driven statistics see it: an async function from `n` rows (row-major Float32Array of
 * n x width features) to `n` scores (P(favourable) for a classifier, the prediction for a regressor). The caller
 * wraps the scorer (in-process, a deployment behind a rate limit, a hosted model) and decides the batching; this
 * room only calls it with at most `batchRows` rows at a time.
 */
export type BatchModel = (rows: Float32Array, n: number) => Promise<Float32Array>;

export interface Table {
  /** Row-major n x width features. */
  rows: Float32Array;
  n: number;
  width: number;
}

/** Feature ranges (a data profile's min and max), in the model's feature order. */
export interface FeatureRange {
  min: number;
  max: number;
}

export const DEFAULT_BATCH_ROWS = 8192;

/** Scores `n` rows through `model` in chunks of at most `batchRows`. */
export async function scoreAll(
  model: BatchModel,
  rows: Float32Array,
  n: number,
  width: number,
  batchRows = DEFAULT_BATCH_ROWS,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += batchRows) {
    signal?.throwIfAborted();
    const m = Math.min(batchRows, n - start);
    const scores = await model(rows.subarray(start * width, (start + m) * width), m);
    if (scores.length < m) throw new RangeError(`the model answered ${scores.length} scores for ${m} rows`);
    out.set(scores.subarray(0, m), start);
  }
  return out;
}

export function checkTable(table: Table): void {
  if (table.rows.length !== table.n * table.width) {
    throw new RangeError(`rows has ${table.rows.length} values, not n x width = ${table.n} x ${table.width}`);
  }
}
