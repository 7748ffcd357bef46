/** A batch of parsed rows: one feature matrix (row-major) and the kept columns' values, reused from batch to batch. */

export interface RowBatch {
  readonly capacity: number;
  /** Rows filled so far. */
  rows: number;
  /** `capacity * width` values; the first `rows * width` are this batch's. */
  readonly features: Float32Array | Float64Array;
  /** `capacity * keepCount` values: strings from CSV, JSON values from JSON lines. */
  readonly kept: unknown[];
}

export function createRowBatch(
  capacity: number,
  width: number,
  keepCount: number,
  datatype: 'FP32' | 'FP64',
): RowBatch {
  return {
    capacity,
    rows: 0,
    features: datatype === 'FP32' ? new Float32Array(capacity * width) : new Float64Array(capacity * width),
    kept: new Array(capacity * keepCount).fill(''),
  };
}

/** Called for each row that cannot be scored; may throw to stop the run (`--on-error fail`). */
export type BadRowHandler = (line: number, reason: string, record: string) => void;

/** Turns input bytes into row batches. Feed it with `push`, then `end`; call `fill` until it returns false. */
export interface BatchParser {
  push(chunk: Buffer): void;
  end(): void;
  /**
   * Parses complete records into `batch` until it is full (returns true) or no complete record is left
   * (returns false: push more, or, after `end`, the input is done).
   */
  fill(batch: RowBatch): boolean;
  /** The plan, once the first record was read. */
  readonly keepNames: readonly string[] | undefined;
}
