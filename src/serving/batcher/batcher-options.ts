/** Options of the dynamic batcher: defaults, validation (errors name `batching.<option>`), frozen config out. */
import { invalid } from '../../core/index.ts';

/**
 * Batching knobs of one model version (Triton's `dynamic_batching` and MLServer's adaptive batching, in our words).
 *
 * - `maxBatchSize` (default 32): most rows in one batch; requests are merged whole, never split.
 * - `maxQueueDelayMs` (default 1): longest a request waits for companions when its batch is not full.
 * - `preferredBatchSizes` (default none): row counts dispatched at once, without waiting the delay.
 * - `maxQueueSize` (default 1024): requests waiting at most; one more is rejected at once with `overloaded`.
 * - `timeoutMs` (default 30000): longest a request may take from submission to answer, when the caller's own
 *   deadline is not earlier; one still queued then is dropped, never run.
 *
 * Example: `{ maxBatchSize: 128, maxQueueDelayMs: 2 }` for a tabular model under load.
 */
export interface DynamicBatcherOptions {
  maxBatchSize?: number;
  maxQueueDelayMs?: number;
  preferredBatchSizes?: number[];
  maxQueueSize?: number;
  timeoutMs?: number;
}

export interface DynamicBatcherConfig {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly preferredBatchSizes: readonly number[];
  readonly maxQueueSize: number;
  readonly timeoutMs: number;
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`batching.${name}`, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function milliseconds(name: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`batching.${name}`, `must be a number of milliseconds from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function compileBatcherOptions(options: DynamicBatcherOptions = {}): DynamicBatcherConfig {
  const maxBatchSize = integer('maxBatchSize', options.maxBatchSize ?? 32, 1, 65_536);
  const preferred = options.preferredBatchSizes ?? [];
  if (!Array.isArray(preferred)) throw invalid('batching.preferredBatchSizes', 'must be a list of integers');
  const preferredBatchSizes = [...new Set(preferred.map((n) => integer('preferredBatchSizes', n, 1, maxBatchSize)))];
  return Object.freeze({
    maxBatchSize,
    maxQueueDelayMs: milliseconds('maxQueueDelayMs', options.maxQueueDelayMs ?? 1, 0, 60_000),
    preferredBatchSizes: Object.freeze(preferredBatchSizes.sort((a, b) => a - b)),
    maxQueueSize: integer('maxQueueSize', options.maxQueueSize ?? 1024, 1, 1_000_000),
    timeoutMs: milliseconds('timeoutMs', options.timeoutMs ?? 30_000, 1, 3_600_000),
  });
}
