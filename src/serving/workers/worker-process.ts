/**
 * `WorkerProcess`: one child process running `worker-main.ts` with one model version.
 *
 * Lifecycle: `start()` (fork, load, warm up) -> `predict()`* -> `close()`. Replies are matched to requests by id.
 * Batches travel as binary frames (`frames.ts`) on a pipe of their own (fd 4 in the child); load, unload and stats
 * use Node's IPC channel. The moment the child exits, errors, drops either channel or sends a malformed frame, it
 * gets no more requests and every pending request fails with `worker_failed` (a malformed frame also kills it); a
 * request that outlives `requestTimeoutMs` fails with `timeout` and the child is killed (a hung model never
 * recovers on its own).
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ModelSignature, Tensor } from '../../core/index.ts';
import { childEnv, ModelportError } from '../../core/index.ts';
import type { RuntimeKind, RuntimeLoadOptions } from '../../runtimes/index.ts';
import type { TracingSettings } from '../../tracing/index.ts';
import { warmWorkerCompileCache } from './compile-cache.ts';
import { encodePredict, FrameReader, FrameWriter } from './frames.ts';
import type { WorkerReply, WorkerRequest, WorkerStats } from './messages.ts';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));
/**
 * V8 flags of a worker running our code only (onnx, hosted; the gateway's flags are never inherited): a young
 * generation capped at 1 MB per semi-space. Such a worker keeps only small objects on V8's heap (tensors are
 * ArrayBuffers outside it), and Node 24 lets the young generation grow far larger on a large machine: the fraud
 * worker held 5-7 MB more after 40,000 batches, for no measurable CPU per batch. `--single-threaded` keeps V8's
 * compilers and collector on the main thread: their background jobs left memory in each helper thread's malloc
 * arena, and the fraud worker held 102 MB after the load of bench/memory.ts against 98 MB with it (the same CPU per
 * request; its young generation is 1 MB and its code is compiled once). `--expose-gc` lets the worker run a full
 * collection between batches now and then (idle-collector.ts: ONNX Runtime's native memory waits for one). The flags
 * give the worker its own key in Node's compile cache, filled before the first worker starts (compile-cache.ts).
 */
export const WORKER_FLAGS = ['--max-semi-space-size=1', '--single-threaded', '--expose-gc'];

export interface WorkerProcessOptions {
  /** Runtime kind, e.g. 'onnx'. */
  kind: RuntimeKind;
  load: RuntimeLoadOptions;
  /** A batch that takes longer fails with `timeout` and the worker is killed. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Loading and warm-up must finish within this. Default 120000 ms. */
  loadTimeoutMs?: number;
  /** `close()` waits this long for in-flight batches and a clean exit, then kills. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Set when tracing is on: the worker loads the OpenTelemetry SDK and spans each batch it computes. */
  tracing?: TracingSettings;
  /** The child's whole environment (secrets for the model go here). Default: empty; the gateway's is never copied. */
  env?: Record<string, string>;
  /** Where the child's stdout and stderr go. Default 'inherit'. */
  stdio?: 'inherit' | 'ignore';
}

/** `failed`: it died or hung unasked (its `exited` resolves once the process is gone). */
export type WorkerState = 'new' | 'starting' | 'ready' | 'closing' | 'failed' | 'exited';

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the child died without being asked to (a crash, a kill -9, a hang we killed). */
  expected: boolean;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (error: ModelportError) => void;
  timer: NodeJS.Timeout | undefined;
}

/** `worker_failed` as seen by a request that was on a worker when it died. */
function workerFailed(detail: string): ModelportError {
  return new ModelportError('worker_failed', `the worker running the model ${detail}; it is being restarted`, {
    retryAfter: 1,
  });
}

export class WorkerProcess {
  readonly #options: WorkerProcessOptions;
  #child: ChildProcess | undefined;
  #frames: FrameWriter | undefined;
  #state: WorkerState = 'new';
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #drained: (() => void)[] = [];
  #expectedExit = false;
  #resolveExited!: (exit: WorkerExit) => void;
  #signature: ModelSignature | undefined;
  /** Resolves once the child is gone (never rejects). */
  readonly exited: Promise<WorkerExit>;
  /** Set when the warm-up batch failed (the worker still serves). */
  warmupError: string | undefined;

  constructor(options: WorkerProcessOptions) {
    this.#options = options;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  get signature(): ModelSignature | undefined {
    return this.#signature;
  }

  /** Forks the child and loads the model; resolves with its signature once warmed up. On failure the child is gone. */
  async start(signal?: AbortSignal): Promise<ModelSignature> {
    if (this.#state !== 'new') throw new ModelportError('conflict', 'a WorkerProcess starts once');
    signal?.throwIfAborted();
    this.#state = 'starting';
    // A js model's own code may allocate freely: its worker keeps V8's defaults.
    const execArgv = this.#options.kind === 'js' ? [] : WORKER_FLAGS;
    await warmWorkerCompileCache(WORKER_MAIN, execArgv, this.#options.kind);
    signal?.throwIfAborted();
    // Closed while the cache warmed: there is no child to start.
    if (this.#state !== 'starting')
      throw new ModelportError('worker_failed', 'the worker was closed before it started');
    const child = fork(WORKER_MAIN, [], {
      execPath: process.execPath,
      execArgv: [...execArgv],
      serialization: 'advanced',
      env: childEnv(this.#options.env),
      stdio:
        this.#options.stdio === 'ignore'
          ? ['ignore', 'ignore', 'ignore', 'ipc', 'pipe']
          : ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    this.#child = child;
    const data = child.stdio[4] as Socket;
    this.#frames = new FrameWriter(data);
    const reader = new FrameReader();
    data.on('data', (chunk: Buffer) => {
      let frames: ReturnType<FrameReader['push']>;
      try {
        frames = reader.push(chunk);
      } catch (error) {
        // Out of step: no later byte can be trusted, so nothing it sent is used; the worker is replaced.
        this.#fail(`sent a malformed frame (${(error as Error).message})`);
        this.kill();
        return;
      }
      for (const frame of frames) {
        if (frame.kind === 'predicted')
          this.#settle(frame.id, { type: 'predicted', id: frame.id, outputs: frame.outputs }, undefined);
        else if (frame.kind === 'error') this.#onReply({ type: 'error', id: frame.id, ...frame.error } as WorkerReply);
      }
    });
    data.on('error', (error) => this.#fail(`broke its data channel (${error.message})`));
    data.on('close', () => this.#fail('closed its data channel'));
    child.on('message', (reply: WorkerReply) => this.#onReply(reply));
    child.on('error', (error) => this.#fail(`failed (${error.message})`));
    child.on('disconnect', () => this.#fail('closed its channel'));
    child.on('exit', (code, exitSignal) => {
      this.#state = 'exited';
      this.#fail(`exited (${exitSignal ?? `code ${code}`})`);
      this.#resolveExited({ code, signal: exitSignal, expected: this.#expectedExit });
    });
    const onAbort = () => this.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const loaded = await this.#request(
        {
          type: 'load',
          id: 0,
          kind: this.#options.kind,
          options: this.#options.load,
          ...(this.#options.tracing ? { tracing: this.#options.tracing } : {}),
        },
        this.#options.loadTimeoutMs ?? 120_000,
        'load the model',
      );
      signal?.throwIfAborted();
      if (loaded.type !== 'loaded') throw new ModelportError('internal', `unexpected reply '${loaded.type}' to load`);
      if (this.#state !== 'starting') throw workerFailed('exited while loading');
      this.#signature = loaded.signature;
      this.warmupError = loaded.warmupError;
      this.#state = 'ready';
      return loaded.signature;
    } catch (error) {
      this.kill();
      await this.exited;
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one batch. `worker_failed` if the child dies meanwhile, `timeout` (and the child killed) if it hangs. */
  async predict(inputs: Tensor[], outputs?: string[], traceparent?: string): Promise<Tensor[]> {
    if (this.#state !== 'ready') throw new ModelportError('not_ready', 'the worker is not ready; retry shortly');
    const reply = await this.#pend(this.#options.requestTimeoutMs ?? 30_000, 'answer', (id) =>
      this.#frames?.write(encodePredict(id, inputs, outputs, traceparent)),
    );
    if (reply.type !== 'predicted') throw new ModelportError('internal', `unexpected reply '${reply.type}' to predict`);
    return reply.outputs;
  }

  /** The child's counters (batches, rows, batch sizes). */
  async stats(): Promise<WorkerStats> {
    const reply = await this.#request({ type: 'ping', id: 0 }, this.#options.requestTimeoutMs ?? 30_000, 'answer');
    if (reply.type !== 'pong') throw new ModelportError('internal', `unexpected reply '${reply.type}' to ping`);
    return reply.stats;
  }

  /**
   * Graceful stop: no new requests, in-flight batches finish (up to `closeTimeoutMs`), the model is unloaded and
   * the child exits; past the bound it is killed. Resolves once the process is gone.
   */
  async close(): Promise<WorkerExit> {
    if (this.#state === 'new' || this.#state === 'exited' || !this.#child) {
      this.#state = 'exited';
      this.#resolveExited({ code: null, signal: null, expected: true });
      return this.exited;
    }
    if (this.#state === 'closing' || this.#state === 'failed') return this.exited;
    this.#state = 'closing';
    this.#expectedExit = true;
    const bound = setTimeout(() => this.kill(), this.#options.closeTimeoutMs ?? 5000);
    try {
      if (this.#pending.size > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
      await this.#request({ type: 'unload', id: 0 }, this.#options.closeTimeoutMs ?? 5000, 'unload').catch(() => {});
      if (this.#child.connected) this.#child.disconnect();
      return await this.exited;
    } finally {
      clearTimeout(bound);
    }
  }

  /** Kills the child now (SIGKILL). Pending requests fail with `worker_failed`. */
  kill(): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  #request(message: WorkerRequest, timeoutMs: number, what: string): Promise<WorkerReply> {
    return this.#pend(timeoutMs, what, (id, child) =>
      child.send({ ...message, id }, (error) => {
        // A broken channel: no more requests go to this worker, and everything pending on it fails now.
        if (error) this.#fail(`could not be reached (${error.message})`);
      }),
    );
  }

  /** Registers a pending reply under a fresh id, with its timeout, then sends the request with `send`. */
  #pend(timeoutMs: number, what: string, send: (id: number, child: ChildProcess) => void): Promise<WorkerReply> {
    const child = this.#child;
    if (!child?.connected) return Promise.reject(workerFailed('is not running'));
    const id = this.#nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined };
      pending.timer = setTimeout(() => {
        this.#settle(id, undefined, new ModelportError('timeout', `the model did not ${what} within ${timeoutMs} ms`));
        // A worker that overran a deadline may be stuck inside the model: it is replaced, not trusted.
        this.kill();
      }, timeoutMs);
      this.#pending.set(id, pending);
      send(id, child);
    });
  }

  #onReply(reply: WorkerReply): void {
    if (reply.type === 'error') {
      const options = reply.field === undefined ? {} : { field: reply.field };
      const cause = reply.detail === undefined ? undefined : new Error(reply.detail);
      this.#settle(reply.id, undefined, new ModelportError(reply.code, reply.message, { ...options, cause }));
    } else {
      this.#settle(reply.id, reply, undefined);
    }
  }

  #settle(id: number, reply: WorkerReply | undefined, error: ModelportError | undefined): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(reply as WorkerReply);
    if (this.#pending.size === 0) for (const resolve of this.#drained.splice(0)) resolve();
  }

  #fail(detail: string): void {
    if (this.#state === 'starting' || this.#state === 'ready') this.#state = 'failed';
    for (const id of [...this.#pending.keys()]) this.#settle(id, undefined, workerFailed(detail));
    // A child that dropped its channel unasked is of no use; one we are closing exits by itself.
    if (!this.#expectedExit) this.kill();
  }
}
