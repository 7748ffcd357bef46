/**
 * Per-token rate limits: a token bucket per token id, refilled at `rate` tokens per second up to a burst of
 * `max(1, rate)`. `take` returns 0 when the request may go, else the seconds to wait (for Retry-After).
 */
export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number; rate: number }>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  take(id: string, rate: number): number {
    const now = this.#now();
    const burst = Math.max(1, rate);
    let bucket = this.#buckets.get(id);
    if (bucket === undefined || bucket.rate !== rate) {
      bucket = { tokens: burst, at: now, rate };
      this.#buckets.set(id, bucket);
      // Bounded: buckets of idle tokens are full anyway, so forgetting them changes nothing.
      if (this.#buckets.size > 100_000) this.#pruneFull(now);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / rate;
  }

  forget(id: string): void {
    this.#buckets.delete(id);
  }

  #pruneFull(now: number): void {
    for (const [id, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * b.rate >= Math.max(1, b.rate)) this.#buckets.delete(id);
    }
  }
}
