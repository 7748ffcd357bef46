/**
 * Quantiles from histogram buckets, the way Prometheus's `histogram_quantile` computes them: find the bucket holding
 * the rank, then interpolate linearly inside it (the first bucket starts at 0). A rank that falls above the last
 * finite bound answers that bound, since nothing is known about the observations beyond it.
 *
 *   bucketQuantile([0.1, 0.2, 0.4], [10, 10, 0], 20, 0.5) // 0.1: the 10th of 20 observations ends the first bucket
 */
export function bucketQuantile(
  bounds: readonly number[],
  /** Observations per bucket, not cumulative: `counts[i]` fell in (bounds[i-1], bounds[i]]. */
  counts: readonly number[],
  /** All observations, including those above the last bound. */
  total: number,
  q: number,
): number | null {
  if (total <= 0 || bounds.length === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const inBucket = counts[i] ?? 0;
    if (inBucket > 0 && below + inBucket >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * Math.max(0, (rank - below) / inBucket);
    }
    below += inBucket;
  }
  return bounds[bounds.length - 1]!;
}

/** `after - before` per bucket, never negative (a series that restarted counts from zero). */
export function bucketDelta(after: readonly number[], before: readonly number[] | undefined): number[] {
  return after.map((value, i) => Math.max(0, value - (before?.[i] ?? 0)));
}
