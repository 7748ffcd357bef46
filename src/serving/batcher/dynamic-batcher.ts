/**
 * `DynamicBatcher`: one bounded queue per model version in front of its workers.
 *
 * Requests (already validated, first dimension = batch dimension, one or more rows each) wait in FIFO order.
 * Work-conserving: while fewer than `executor.capacity()` batches run, the head request is sent at once with the
 * compatible requests queued behind it (same requested outputs, same input names, datatypes and non-batch dims),
 * up to `maxBatchSize` rows; so a lone request never waits on a timer, and batches form from what gathers while
 * every worker is busy. With `minBatchDelayMs` > 0 an incomplete batch instead waits for companions until its
 * oldest request has waited that long (or it reaches `maxBatchSize` or a preferred size). Outputs are split back
 * by row counts. A full queue rejects at once (`overloaded`, Retry-After
 * 1 s); a request whose signal fires or deadline passes while queued is removed and never runs. Models whose
 * inputs or outputs do not all have a dynamic first dimension are not batched: each request runs alone, still
 * through the bounded queue.
 *
 * Example:
 *   const batcher = new DynamicBatcher(signature, pool, { maxBatchSize: 64 });
 *   const outputs = await batcher.submit(request, { signal, deadline });
 */

import type { Span } from '@opentelemetry/api';
import type { InferRequest, ModelSignature, Tensor } from '../../core/index.ts';
import { ModelportError, SlotList } from '../../core/index.ts';
import { hrNow, SPAN_ERROR, type Tracing } from '../../tracing/index.ts';
import { compileBatcherOptions, type DynamicBatcherConfig, type DynamicBatcherOptions } from './batcher-options.ts';
import { concatBatch, splitBatch } from './tensor-batch.ts';

/** What the batcher dispatches to: a `WorkerPool`, structurally. */
export interface BatchExecutor {
  /**
   * `deadline` (ms since the epoch): the latest any request of the batch still wants its answer (retries stop);
   * `traceparent`: the batch's span, when traced, for the worker's own span.
   */
  predict(
    inputs: Tensor[],
    outputs?: string[],
    context?: { deadline: number; traceparent?: string },
  ): Promise<Tensor[]>;
  /** Batches it can run at once right now (at least 1). */
  capacity(): number;
}

export interface SubmitContext {
  /** The caller gave up (client gone): a queued request is dropped, a running one is answered with an error. */
  signal?: AbortSignal;
  /** Absolute deadline in ms since the epoch. */
  deadline?: number;
  /** The request's span, when traced: its queue wait and its batch become children of it. */
  span?: Span;
  /** Filled in when the request leaves the queue: how long it waited there, in ms (the payload log's queue time). */
  timing?: { queueMs: number };
}

/** Observes each batch as it is sent (metrics): its rows and how long each of its requests waited, in ms. */
export type BatchObserver = (rows: number, waitsMs: readonly number[]) => void;

export interface DynamicBatcherStats {
  queued: number;
  runningBatches: number;
  batches: number;
  rows: number;
  /** Rejected with `overloaded` because the queue was full. */
  rejected: number;
  /** Dropped from the queue unrun (cancelled or past their deadline). */
  dropped: number;
}

interface Entry {
  inputs: Tensor[];
  outputs: string[] | undefined;
  rows: number;
  key: string;
  enqueuedAt: number;
  deadline: number;
  span: Span | undefined;
  timing: { queueMs: number } | undefined;
  state: 'queued' | 'running' | 'done';
  /** Its slot in the batcher's list of requests awaiting an answer, -1 once answered. */
  slot: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: ModelportError) => void;
}

/**
 * How many requests or batches one unit of `executor.capacity()` (a ready worker) may hold, so that the worker
 * never idles waiting for the gateway's event loop, which under overload turns only every few milliseconds (it
 * reads and refuses thousands of requests per turn). A worker runs its frames one after another, so what waits in
 * its pipe costs no latency that the gateway's queue would not cost too.
 * - Unbatched (one request per frame): 8, so a worker has a few frames to run while the next ones are sent.
 * - Batched: 1, plus one more only for a full batch (cut at `maxBatchSize` rows), which exists only when requests pile up
 *   faster than the worker drains them; at lighter load the next batch keeps gathering in the gateway instead.
 */
const UNBATCHED_DEPTH = 8;
const FULL_BATCH_DEPTH = 2;

function isBatchable(signature: ModelSignature): boolean {
  const dynamicFirst = (s: { shape: number[] }) => s.shape.length >= 1 && s.shape[0] === -1;
  return signature.inputs.length > 0 && signature.inputs.every(dynamicFirst) && signature.outputs.every(dynamicFirst);
}

export class DynamicBatcher {
  readonly config: DynamicBatcherConfig;
  /** False when the model's first dimension is not dynamic: every request runs alone. */
  readonly batching: boolean;
  readonly #executor: BatchExecutor;
  readonly #preferred: ReadonlySet<number>;
  #queue: Entry[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Requests not yet answered (queued or running), each with its deadline (a SlotList, not a Set: see there). */
  readonly #live = new SlotList<Entry>();
  /**
   * One timer for every request's deadline, armed for the earliest: a timer per request cost a list insertion and
   * removal each (their durations differ, so Node cannot share its per-duration lists). Left armed when the last
   * request is answered, but unreferenced, so it never keeps the process alive.
   */
  #deadlineTimer: NodeJS.Timeout | undefined;
  #deadlineAt = Number.POSITIVE_INFINITY;
  #closing = false;
  #idle: (() => void)[] = [];
  readonly #stats = { batches: 0, rows: 0, rejected: 0, dropped: 0 };
  readonly #observe: BatchObserver | undefined;
  readonly #tracing: Tracing | undefined;

  constructor(
    signature: ModelSignature,
    executor: BatchExecutor,
    options?: DynamicBatcherOptions,
    observe?: BatchObserver,
    tracing?: Tracing,
  ) {
    this.config = compileBatcherOptions(options);
    this.#observe = observe;
    this.#tracing = tracing;
    this.batching = isBatchable(signature) && this.config.maxBatchSize > 1;
    this.#executor = executor;
    this.#preferred = new Set(this.config.preferredBatchSizes);
  }

  /** Queues one request; resolves with its outputs (in the order the worker returned them). */
  submit(request: InferRequest, context: SubmitContext = {}): Promise<Tensor[]> {
    const { signal } = context;
    if (this.#closing)
      return Promise.reject(new ModelportError('not_ready', 'the model is shutting down', { retryAfter: 1 }));
    if (signal?.aborted) return Promise.reject(cancelled(signal));
    if (this.#queue.length >= this.config.maxQueueSize) return Promise.reject(this.#overloaded());
    const now = Date.now();
    const deadline = Math.min(now + this.config.timeoutMs, context.deadline ?? Number.POSITIVE_INFINITY);
    if (deadline <= now) return Promise.reject(expired());
    let entry: Entry;
    try {
      entry = this.#entry(request, now, deadline, context);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Tensor[]>((resolve, reject) => {
      const finish = () => {
        entry.state = 'done';
        this.#live.delete(entry);
        if (this.#live.size === 0) this.#deadlineTimer?.unref();
        signal?.removeEventListener('abort', onAbort);
      };
      entry.resolve = (outputs) => {
        if (entry.state === 'done') return;
        finish();
        resolve(outputs);
      };
      entry.reject = (error) => {
        if (entry.state === 'done') return;
        if (entry.state === 'queued') this.#drop(entry);
        finish();
        reject(error);
      };
      const onAbort = () => entry.reject(cancelled(signal));
      this.#live.add(entry);
      if (deadline < this.#deadlineAt) this.#armDeadline(deadline, now);
      else this.#deadlineTimer?.ref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
      this.#pump();
    });
  }

  /**
   * Admission before a request is even read: throws `overloaded` (Retry-After 1 s) when the queue is full, so a
   * transport can refuse without reading or parsing the body.
   */
  admit(): void {
    if (this.#queue.length >= this.config.maxQueueSize) throw this.#overloaded();
  }

  #overloaded(): ModelportError {
    this.#stats.rejected++;
    return ModelportError.withoutStack(
      'overloaded',
      `the queue of this model is full (${this.config.maxQueueSize} requests)`,
      { retryAfter: 1 },
    );
  }

  stats(): DynamicBatcherStats {
    return { queued: this.#queue.length, runningBatches: this.#running, ...this.#stats };
  }

  /** Stops accepting requests, sends what is queued without waiting for companions, resolves when all answered. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#pump();
    if (this.#queue.length > 0 || this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #entry(request: InferRequest, now: number, deadline: number, context: SubmitContext): Entry {
    // No requested outputs, or an empty list: every output.
    const outputs = request.outputs?.length ? request.outputs.map((o) => o.name) : undefined;
    const rows = this.batching ? (request.inputs[0]?.shape[0] ?? 0) : 1;
    let key = '';
    if (this.batching) {
      if (request.inputs.some((t) => t.shape.length === 0 || t.shape[0] !== rows)) {
        throw new ModelportError('invalid_input', 'every input must have the same first (batch) dimension', {
          field: 'inputs',
        });
      }
      const inputs =
        request.inputs.length === 1 ? request.inputs : [...request.inputs].sort((a, b) => (a.name < b.name ? -1 : 1));
      key = outputs === undefined ? '*' : outputs.join('\u0000');
      for (const t of inputs) {
        key += `|${t.name}:${t.datatype}:`;
        for (let d = 1; d < t.shape.length; d++) key += d === 1 ? `${t.shape[d]}` : `x${t.shape[d]}`;
      }
    }
    const noop = () => {};
    return {
      inputs: request.inputs,
      outputs,
      rows,
      key,
      enqueuedAt: now,
      deadline,
      span: context.span,
      timing: context.timing,
      state: 'queued',
      slot: -1,
      resolve: noop,
      reject: noop,
    };
  }

  #drop(entry: Entry): void {
    const index = this.#queue.indexOf(entry);
    if (index >= 0) {
      this.#queue.splice(index, 1);
      this.#stats.dropped++;
    }
  }

  #armDeadline(at: number, now: number): void {
    clearTimeout(this.#deadlineTimer);
    this.#deadlineAt = at;
    this.#deadlineTimer = setTimeout(() => this.#expire(), at - now);
  }

  /** Answers every request past its deadline with `timeout` (a queued one never runs), then re-arms. */
  #expire(): void {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    this.#deadlineTimer = undefined;
    this.#deadlineAt = next;
    for (const entry of this.#live.list()) {
      if (entry.deadline <= now) entry.reject(expired());
      else if (entry.deadline < next) next = entry.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#armDeadline(next, now);
  }

  /** Sends batches while there is capacity (waiting for companions only under `minBatchDelayMs`). */
  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    const workers = Math.max(1, this.#executor.capacity());
    if (!this.batching) {
      while (this.#queue.length > 0 && this.#running < workers * UNBATCHED_DEPTH) {
        this.#dispatch([this.#queue[0] as Entry]);
      }
    }
    while (this.batching && this.#queue.length > 0 && this.#running < workers * FULL_BATCH_DEPTH) {
      const head = this.#queue[0] as Entry;
      const picked = this.#gather(head);
      // Past one batch per worker, only a full one goes: it waits in the worker's pipe for the one running there.
      if (this.#running >= workers && !picked.full) break;
      const wait = this.config.minBatchDelayMs;
      if (picked.due || this.#closing || wait === 0 || now - head.enqueuedAt >= wait) {
        this.#dispatch(picked.entries);
        continue;
      }
      this.#timer = setTimeout(() => this.#pump(), head.enqueuedAt + wait - now);
      break;
    }
    if (this.#queue.length === 0 && this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /**
   * The batch the head request leads: compatible requests in FIFO order, whole, up to `maxBatchSize` rows. `due`
   * when it is full (or the next compatible request would overflow it) or reaches a preferred size (then it is cut
   * at the largest preferred size it reached).
   */
  #gather(head: Entry): { entries: Entry[]; due: boolean; full: boolean } {
    const max = this.config.maxBatchSize;
    const entries = [head];
    let rows = head.rows;
    let preferredCut = this.#preferred.has(rows) ? 1 : 0;
    let full = rows >= max;
    for (let i = 1; i < this.#queue.length && !full; i++) {
      const entry = this.#queue[i] as Entry;
      if (entry.key !== head.key) continue;
      if (rows + entry.rows > max) {
        full = true;
        break;
      }
      entries.push(entry);
      rows += entry.rows;
      if (rows === max) full = true;
      if (this.#preferred.has(rows)) preferredCut = entries.length;
    }
    if (full) return { entries, due: true, full: true };
    if (preferredCut > 0) return { entries: entries.slice(0, preferredCut), due: true, full: false };
    return { entries, due: false, full: false };
  }

  #dispatch(entries: Entry[]): void {
    // Usually the batch is the queue's head: take it off without scanning a long queue.
    let prefix = 0;
    while (prefix < entries.length && this.#queue[prefix] === entries[prefix]) prefix++;
    if (prefix === entries.length) this.#queue.splice(0, prefix);
    else {
      const taken = new Set(entries);
      this.#queue = this.#queue.filter((e) => !taken.has(e));
    }
    const started = Date.now();
    for (const entry of entries) {
      entry.state = 'running';
      if (entry.timing) entry.timing.queueMs = started - entry.enqueuedAt;
    }
    const rowCounts = entries.map((e) => e.rows);
    this.#running++;
    this.#stats.batches++;
    this.#stats.rows += rowCounts.reduce((a, b) => a + b, 0);
    if (this.#observe) {
      const now = Date.now();
      this.#observe(
        rowCounts.reduce((a, b) => a + b, 0),
        entries.map((e) => now - e.enqueuedAt),
      );
    }
    const first = entries[0] as Entry;
    let deadline = first.deadline;
    for (const entry of entries) if (entry.deadline > deadline) deadline = entry.deadline;
    const batchSpan = this.#tracing ? traceBatch(this.#tracing, entries, rowCounts) : undefined;
    const context = batchSpan
      ? { deadline, traceparent: (this.#tracing as Tracing).traceparent(batchSpan) }
      : { deadline };
    const run = async () => {
      if (entries.length === 1) return [await this.#executor.predict(first.inputs, first.outputs, context)];
      const inputs = concatBatch(
        entries.map((e) => e.inputs),
        rowCounts.reduce((a, b) => a + b, 0),
      );
      return splitBatch(await this.#executor.predict(inputs, first.outputs, context), rowCounts);
    };
    // The next batch goes to the worker before this one's callers are answered: writing their answers takes the
    // event loop a while, and the worker would idle through it.
    const settled = () => {
      this.#running--;
      this.#pump();
    };
    run().then(
      (parts) => {
        settled();
        batchSpan?.end(hrNow());
        for (const [i, entry] of entries.entries()) entry.resolve(parts[i] ?? []);
      },
      (error: unknown) => {
        settled();
        if (batchSpan) {
          batchSpan.setStatus({ code: SPAN_ERROR, message: (error as Error)?.message ?? String(error) });
          batchSpan.end(hrNow());
        }
        const failure =
          error instanceof ModelportError
            ? error
            : new ModelportError('internal', 'the batch failed', { cause: error });
        for (const entry of entries) entry.reject(failure);
      },
    );
  }
}

/**
 * Traced requests of a batch: each gets its queue wait as a span; the batch's span is a child of the first traced
 * request and links the others (a batch serves several traces).
 */
function traceBatch(tracing: Tracing, entries: readonly Entry[], rowCounts: readonly number[]): Span | undefined {
  const traced = entries.filter((e) => e.span !== undefined);
  const leader = traced[0];
  if (!leader) return undefined;
  const now = Date.now();
  for (const entry of traced) tracing.startChild('queue wait', entry.span, { startTime: entry.enqueuedAt }).end(now);
  return tracing.startChild('batch', leader.span, {
    attributes: {
      'modelport.batch.rows': rowCounts.reduce((a, b) => a + b, 0),
      'modelport.batch.requests': entries.length,
    },
    links: traced.slice(1).map((e) => ({ context: (e.span as Span).spanContext() })),
  });
}

function expired(): ModelportError {
  return new ModelportError(
    'timeout',
    'the request passed its deadline before it was answered; a queued request is never run late',
  );
}

function cancelled(signal: AbortSignal | undefined): ModelportError {
  const reason: unknown = signal?.reason;
  if (reason instanceof ModelportError) return reason;
  return new ModelportError('timeout', 'the request was cancelled before it was answered');
}
