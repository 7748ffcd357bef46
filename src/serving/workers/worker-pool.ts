/**
 * `WorkerPool`: the worker processes serving one model version, supervised.
 *
 * - N replicas (`replicas`, changed at run time with `scaleTo(n)`; `scaleTo(0)` releases every process and
 *   `scaleTo(1)` + `whenReady()` starts one on demand).
 * - Least-loaded dispatch over ready workers (ties rotate).
 * - Supervision: the moment a worker's channel breaks it gets no more requests; a batch that was on it is run
 *   once more on another (or the replacement) worker within the batch's deadline, since inference is a pure
 *   function of its input, so one crash fails no request; a batch that also fails there (it crashes workers)
 *   fails with `worker_failed` (503, Retry-After). The dead worker is restarted after an exponential backoff (`restartDelayMs` doubling up to `maxRestartDelayMs`, reset once one is ready);
 *   the others keep serving. `restarts` counts the replacements, for metrics.
 * - `close()` stops accepting, lets in-flight batches finish (bounded by `closeTimeoutMs`) and stops every child.
 *
 * Example:
 *   const pool = new WorkerPool({ kind: 'onnx', load: { path }, replicas: 2 });
 *   await pool.start();
 *   const outputs = await pool.predict(inputs);
 *   await pool.close();
 */

import type { ModelSignature, Tensor } from '../../core/index.ts';
import { invalid, ModelportError } from '../../core/index.ts';
import type { WorkerStats } from './messages.ts';
import { type WorkerExit, WorkerProcess, type WorkerProcessOptions } from './worker-process.ts';

export interface WorkerPoolOptions extends WorkerProcessOptions {
  /** Worker processes to run. Default 1; 0 means scaled to zero. */
  replicas?: number;
  /** First restart delay after a crash; doubles per consecutive failure. Default 100 ms. */
  restartDelayMs?: number;
  /** Cap of the restart delay. Default 10000 ms. */
  maxRestartDelayMs?: number;
  /** Told about worker starts, exits and restarts (for logs); must not throw. */
  onEvent?: (event: WorkerPoolEvent) => void;
}

export type WorkerPoolEvent =
  | { type: 'ready'; pid: number | undefined }
  | { type: 'exit'; pid: number | undefined; exit: WorkerExit; restartInMs: number | undefined }
  | { type: 'load_failed'; error: ModelportError };

/**
 * Most batches a ready worker is given at once. One: with work-conserving batching, the next batch gathers while
 * the worker runs this one. Measured against 2 (one running, one waiting in the channel): equal or lower gateway
 * CPU per request and equal throughput, and a crash catches fewer requests on the worker.
 */
const PIPELINE_DEPTH = 1;
const MAX_REPLICAS = 256;

export interface WorkerPoolStats {
  /** Replicas asked for. */
  target: number;
  ready: number;
  starting: number;
  /** Workers replaced after dying unasked (crash, kill -9, hang), since the pool was created. */
  restarts: number;
  inFlight: number;
  workers: { pid: number | undefined; state: string; inFlight: number }[];
}

interface Slot {
  worker: WorkerProcess | undefined;
  /** Consecutive failed starts or crashes; 0 once a worker is ready. */
  failures: number;
  retired: boolean;
  wake: (() => void) | undefined;
  done: Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (error: ModelportError) => void;
}

function compileOptions(
  options: WorkerPoolOptions,
): Required<Pick<WorkerPoolOptions, 'restartDelayMs' | 'maxRestartDelayMs'>> {
  const restartDelayMs = options.restartDelayMs ?? 100;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 10_000;
  for (const [field, value] of [
    ['restartDelayMs', restartDelayMs],
    ['maxRestartDelayMs', maxRestartDelayMs],
    ['requestTimeoutMs', options.requestTimeoutMs ?? 1],
    ['loadTimeoutMs', options.loadTimeoutMs ?? 1],
    ['closeTimeoutMs', options.closeTimeoutMs ?? 1],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) throw invalid(field, 'must be a non-negative number of milliseconds');
  }
  return { restartDelayMs, maxRestartDelayMs };
}

function checkReplicas(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_REPLICAS) {
    throw invalid('replicas', `must be an integer from 0 to ${MAX_REPLICAS}, got ${String(n)}`);
  }
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #backoff: { restartDelayMs: number; maxRestartDelayMs: number };
  readonly #slots = new Set<Slot>();
  #waiters: Waiter[] = [];
  #target = 0;
  #restarts = 0;
  #retries = 0;
  #closed = false;
  #rotate = 0;
  #lastError: ModelportError | undefined;
  #signature: ModelSignature | undefined;

  constructor(options: WorkerPoolOptions) {
    this.#backoff = compileOptions(options);
    checkReplicas(options.replicas ?? 1);
    this.#options = options;
  }

  /** True when at least one worker has loaded and warmed up. */
  get ready(): boolean {
    return this.#readyWorkers().length > 0;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** The loaded model's signature, once a worker has been ready. */
  get signature(): ModelSignature | undefined {
    return this.#signature;
  }

  /** How many batches the pool can run now without queueing them in a worker (at least 1), for the batcher. */
  capacity(): number {
    return Math.max(1, this.#readyWorkers().length * PIPELINE_DEPTH);
  }

  /**
   * Starts `replicas` workers and resolves once one is ready. If every one fails to load before any is ready, it
   * rejects with the load error (an `invalid_model`, say) and the pool is scaled back to zero.
   */
  async start(signal?: AbortSignal): Promise<void> {
    this.scaleTo(this.#options.replicas ?? 1);
    if (this.#target === 0) return;
    try {
      await this.whenReady(signal);
    } catch (error) {
      this.scaleTo(0);
      throw error;
    }
  }

  /** Sets the number of workers. New ones start at once; surplus ones are closed gracefully (least busy first). */
  scaleTo(replicas: number): void {
    checkReplicas(replicas);
    if (this.#closed) throw new ModelportError('not_ready', 'the worker pool is closed');
    this.#target = replicas;
    const live = [...this.#slots].filter((s) => !s.retired);
    for (let i = live.length; i < replicas; i++) this.#spawn();
    const surplus = live.length - replicas;
    if (surplus > 0) {
      const rank = (s: Slot) => (s.worker?.state === 'ready' ? 1 + s.worker.inFlight : 0);
      for (const slot of live.sort((a, b) => rank(a) - rank(b)).slice(0, surplus)) this.#retire(slot);
    }
    this.#checkWaiters();
  }

  /**
   * Resolves when a worker is ready. Rejects with `not_ready` when the pool is closed or scaled to zero, with the
   * last load error when every worker has failed since the last ready one, and with `timeout` when `signal` fires.
   */
  whenReady(signal?: AbortSignal): Promise<void> {
    if (this.ready) return Promise.resolve();
    const blocked = this.#blocked();
    if (blocked) return Promise.reject(blocked);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new ModelportError('timeout', 'no worker became ready before the request was cancelled or timed out'));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Runs one batch on the least-loaded ready worker, waiting (until `signal` or `deadline`) for one if they are
   * all starting. If that worker dies meanwhile the batch runs once more on another or a fresh worker (inference
   * is pure); it fails with `worker_failed` only when that one dies too. Other requests are unaffected.
   */
  async predict(
    inputs: Tensor[],
    outputs?: string[],
    options: { signal?: AbortSignal; deadline?: number; traceparent?: string } = {},
  ): Promise<Tensor[]> {
    let signal = options.signal;
    for (let attempt = 0; ; attempt++) {
      let worker = this.#pick();
      while (!worker) {
        await this.whenReady(signal);
        worker = this.#pick();
      }
      try {
        return await worker.predict(inputs, outputs, options.traceparent);
      } catch (error) {
        const crashed = error instanceof ModelportError && error.code === 'worker_failed';
        if (!crashed || attempt > 0 || this.#closed) throw error;
        this.#retries++;
        // The retry may wait for a replacement worker: never past the batch's deadline.
        if (options.deadline !== undefined) {
          const left = Math.max(0, options.deadline - Date.now());
          signal = signal ? AbortSignal.any([signal, AbortSignal.timeout(left)]) : AbortSignal.timeout(left);
        }
      }
    }
  }

  /** Batches run again on another worker after theirs died under them, since the pool was created. */
  get retries(): number {
    return this.#retries;
  }

  /** Counters and worker states, for metrics and status. */
  stats(): WorkerPoolStats {
    const workers = [...this.#slots]
      .filter((s) => s.worker)
      .map((s) => ({ pid: s.worker?.pid, state: s.worker?.state ?? 'exited', inFlight: s.worker?.inFlight ?? 0 }));
    return {
      target: this.#target,
      ready: this.#readyWorkers().length,
      starting: workers.filter((w) => w.state === 'starting').length,
      restarts: this.#restarts,
      inFlight: workers.reduce((sum, w) => sum + w.inFlight, 0),
      workers,
    };
  }

  /** Each ready worker's own counters (batches, rows, batch sizes), for metrics and tests. */
  workerStats(): Promise<WorkerStats[]> {
    return Promise.all(this.#readyWorkers().map((w) => w.stats()));
  }

  /** Stops accepting work, waits for in-flight batches (bounded by `closeTimeoutMs` per worker), stops every child. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#target = 0;
      for (const slot of this.#slots) this.#retire(slot);
      this.#checkWaiters();
    }
    await Promise.all([...this.#slots].map((s) => s.done));
  }

  #readyWorkers(): WorkerProcess[] {
    const ready: WorkerProcess[] = [];
    for (const slot of this.#slots) if (!slot.retired && slot.worker?.state === 'ready') ready.push(slot.worker);
    return ready;
  }

  #pick(): WorkerProcess | undefined {
    if (this.#closed)
      throw new ModelportError('not_ready', 'the model is shutting down; retry shortly', { retryAfter: 1 });
    const ready = this.#readyWorkers();
    if (ready.length === 0) return undefined;
    const start = this.#rotate++ % ready.length;
    let best: WorkerProcess | undefined;
    for (let i = 0; i < ready.length; i++) {
      const w = ready[(start + i) % ready.length] as WorkerProcess;
      if (!best || w.inFlight < best.inFlight) best = w;
    }
    return best;
  }

  /** Why a waiter cannot be served now, or undefined while a worker may still become ready. */
  #blocked(): ModelportError | undefined {
    if (this.#closed) return new ModelportError('not_ready', 'the model is shutting down', { retryAfter: 1 });
    const live = [...this.#slots].filter((s) => !s.retired);
    if (live.length === 0) {
      return new ModelportError('not_ready', 'the model is scaled to zero; scale it up first', { retryAfter: 1 });
    }
    if (this.#lastError && live.every((s) => s.failures > 0)) return this.#lastError;
    return undefined;
  }

  #checkWaiters(): void {
    if (this.#waiters.length === 0) return;
    if (this.ready) {
      for (const w of this.#waiters.splice(0)) w.resolve();
      return;
    }
    const blocked = this.#blocked();
    if (blocked) for (const w of this.#waiters.splice(0)) w.reject(blocked);
  }

  #emit(event: WorkerPoolEvent): void {
    this.#options.onEvent?.(event);
  }

  #spawn(): void {
    const slot: Slot = { worker: undefined, failures: 0, retired: false, wake: undefined, done: Promise.resolve() };
    this.#slots.add(slot);
    slot.done = this.#supervise(slot).finally(() => {
      this.#slots.delete(slot);
      this.#checkWaiters();
    });
  }

  #retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    slot.wake?.();
    void slot.worker?.close();
  }

  /** One slot's life: start a worker, wait for it to exit, back off, start again, until retired. */
  async #supervise(slot: Slot): Promise<void> {
    while (!slot.retired) {
      const worker = new WorkerProcess(this.#options);
      slot.worker = worker;
      try {
        this.#signature = await worker.start();
        slot.failures = 0;
        this.#lastError = undefined;
        this.#emit({ type: 'ready', pid: worker.pid });
        this.#checkWaiters();
        // Retired while starting: close it now that it can be closed gracefully.
        if (slot.retired) void worker.close();
      } catch (error) {
        this.#lastError =
          error instanceof ModelportError ? error : new ModelportError('worker_failed', 'the worker failed to start');
        if (!slot.retired) this.#emit({ type: 'load_failed', error: this.#lastError });
      }
      const exit = await worker.exited;
      if (slot.retired) break;
      slot.failures++;
      this.#restarts++;
      const delay = Math.min(this.#backoff.restartDelayMs * 2 ** (slot.failures - 1), this.#backoff.maxRestartDelayMs);
      this.#emit({ type: 'exit', pid: worker.pid, exit, restartInMs: delay });
      this.#checkWaiters();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        slot.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      slot.wake = undefined;
    }
    slot.worker = undefined;
  }
}
