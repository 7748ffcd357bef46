/** Options of the dynamic batcher: defaults, validation (errors name `batching.<option>`), frozen config out. */
import { invalid } from '../../core/index.ts';

/**
 * Batching knobs of one model version (Triton's `dynamic_batching` and MLServer's adaptive batching, in our words).
 *
 * Batching is work-conserving: while a worker has capacity, a request is sent at once, alone or with whatever
 * is queued; batches form only from what gathers while every worker is busy (Triton's default queue delay of 0).
 *
 * - `maxBatchSize` (default 32): most rows in one batch; requests are merged whole, never split.
 * - `minBatchDelayMs` (default 0): the old, non-work-conserving behaviour: an incomplete batch waits this long for
 *   companions even when a worker is idle. It trades a lone request's latency for bigger batches; a CNN on a GPU
 *   may want it, tabular models on CPU do not.
 * - `maxQueueDelayMs` (default 1, or `minBatchDelayMs` when larger): the upper bound of any wait for companions;
 *   `minBatchDelayMs` may not exceed it. An idle system never waits it.
 * - `preferredBatchSizes` (default none): row counts dispatched at once, without waiting the delay.
 * - `maxQueueSize` (default 256): requests waiting at most; one more is rejected at once with `overloaded` (429,
 *   Retry-After), before its body is read. Small enough that a full queue drains in milliseconds for tabular models
 *   (256 rows are a few batches), so an overloaded model answers late by little rather than by seconds.
 * - `timeoutMs` (default 30000): longest a request may take from submission to answer, when the caller's own
 *   deadline is not earlier; one still queued then is dropped, never run.
 *
 * Example: `{ maxBatchSize: 128 }` for a tabular model under load; `{ maxBatchSize: 64, minBatchDelayMs: 2 }` to
 * always wait 2 ms for companions.
 */
export interface DynamicBatcherOptions {
  maxBatchSize?: number;
  minBatchDelayMs?: number;
  maxQueueDelayMs?: number;
  preferredBatchSizes?: number[];
  maxQueueSize?: number;
  timeoutMs?: number;
}

export interface DynamicBatcherConfig {
  readonly maxBatchSize: number;
  readonly minBatchDelayMs: number;
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
  const minBatchDelayMs = milliseconds('minBatchDelayMs', options.minBatchDelayMs ?? 0, 0, 60_000);
  const maxQueueDelayMs = milliseconds(
    'maxQueueDelayMs',
    options.maxQueueDelayMs ?? Math.max(1, minBatchDelayMs),
    0,
    60_000,
  );
  if (minBatchDelayMs > maxQueueDelayMs) {
    throw invalid(
      'batching.minBatchDelayMs',
      `must not exceed maxQueueDelayMs (${maxQueueDelayMs} ms), got ${minBatchDelayMs}; raise maxQueueDelayMs too`,
    );
  }
  return Object.freeze({
    maxBatchSize,
    minBatchDelayMs,
    maxQueueDelayMs,
    preferredBatchSizes: Object.freeze(preferredBatchSizes.sort((a, b) => a - b)),
    maxQueueSize: integer('maxQueueSize', options.maxQueueSize ?? 256, 1, 1_000_000),
    timeoutMs: milliseconds('timeoutMs', options.timeoutMs ?? 30_000, 1, 3_600_000),
  });
}
