/**
 * `ModelHost`: the serving units of this gateway. A unit is one model version run by a supervised `WorkerPool`
 * behind its own `DynamicBatcher`, under a key chosen by its owner (a deployment revision's target, or the
 * registry's `model:project/name/version` for models served by name).
 *
 * - `ensure` starts a unit once (concurrent callers share the start; a failed start is not cached).
 * - `acquire`/`release` count the requests using a unit; `stop` first hides the unit from new requests, then
 *   waits for the ones that hold it, then lets the batcher and workers drain. So a rollout that swaps routes and
 *   stops the old unit never fails a request that had already picked it.
 */
import type { Tensor } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import type { RuntimeSettings } from '../runtimes/index.ts';
import type { ArtifactStore } from '../store/index.ts';
import type { Tracing } from '../tracing/index.ts';
import { DynamicBatcher, type DynamicBatcherOptions } from './batcher/index.ts';
import type { ServingMetrics } from './serving-metrics.ts';
import { WorkerPool } from './workers/index.ts';

export interface ServeOptions {
  replicas?: number;
  settings?: RuntimeSettings;
  batching?: DynamicBatcherOptions;
  /** The workers' whole environment (deployment variables and secrets). */
  env?: Record<string, string>;
}

export interface ServedModel {
  readonly key: string;
  /** Requests holding the unit (between `acquire` and `release`). */
  active: number;
  /** Set by `stop`: new requests must pick another unit. */
  draining: boolean;
  /** Last time a request acquired it (ms since the epoch), for scale to zero. */
  lastUsed: number;
  /** Most requests holding it at once since the autoscaler last looked (`takePeak`). */
  peak: number;
  readonly version: ModelVersion;
  readonly pool: WorkerPool;
  readonly batcher: DynamicBatcher;
  /** Labels for metrics: the model name and the version number. */
  readonly labels: { model: string; version: string };
}

export interface ModelHostOptions {
  artifacts: ArtifactStore;
  metrics: ServingMetrics;
  defaultReplicas?: number;
  defaultBatching?: DynamicBatcherOptions;
  /** The server's egress allow list, handed to runtimes that call out (`hosted`). Default none. */
  egressAllowHosts?: readonly string[];
  /** Where loads and unexpected worker exits are logged. Default: nowhere. */
  log?: Logger;
  /** Set only when tracing is on: batches and worker compute get spans. */
  tracing?: Tracing;
}

/** The key of a version served by name straight from the registry. */
export const registryKey = (v: Pick<ModelVersion, 'project' | 'model' | 'version'>) =>
  `model:${v.project}/${v.model}/${v.version}`;

export class ModelHost {
  readonly #options: ModelHostOptions;
  readonly #served = new Map<string, ServedModel>();
  readonly #starting = new Map<string, Promise<ServedModel>>();
  readonly #released = new Map<string, () => void>();
  #closed = false;

  constructor(options: ModelHostOptions) {
    this.#options = options;
  }

  /** The unit under `key` if it is started, without starting it. */
  get(key: string): ServedModel | undefined {
    return this.#served.get(key);
  }

  /** Takes the unit for one request (undefined when absent or draining); pair with `release`. */
  acquire(key: string): ServedModel | undefined {
    const served = this.#served.get(key);
    if (!served || served.draining) return undefined;
    served.active++;
    if (served.active > served.peak) served.peak = served.active;
    served.lastUsed = Date.now();
    return served;
  }

  /** The peak concurrency since the last call, then restarts the count from what is in flight now. */
  takePeak(served: ServedModel): number {
    const peak = served.peak;
    served.peak = served.active;
    return peak;
  }

  /**
   * Scale from zero: a unit with no workers starts one for the request that needs it. Exactly one start per
   * wake-up, however many requests arrive meanwhile; they wait in the batcher's bounded queue.
   */
  wake(served: ServedModel): void {
    if (served.pool.stats().target > 0) return;
    const { metrics } = this.#options;
    const started = Date.now();
    served.pool.scaleTo(1);
    metrics.coldStarts.inc(served.labels);
    served.pool.whenReady().then(
      () => {
        metrics.coldStartSeconds.observe(served.labels, (Date.now() - started) / 1000);
        metrics.workers.set(served.labels, served.pool.stats().ready);
      },
      () => {},
    );
  }

  release(served: ServedModel): void {
    served.active--;
    if (served.active === 0) this.#released.get(served.key)?.();
  }

  list(): ServedModel[] {
    return [...this.#served.values()];
  }

  /** Starts the version (loaded and warmed in at least one worker) unless it runs already. */
  ensure(key: string, version: ModelVersion, options: ServeOptions = {}, signal?: AbortSignal): Promise<ServedModel> {
    const served = this.#served.get(key);
    if (served) return Promise.resolve(served);
    let starting = this.#starting.get(key);
    if (!starting) {
      starting = this.#start(key, version, options).finally(() => this.#starting.delete(key));
      this.#starting.set(key, starting);
    }
    if (!signal) return starting;
    return Promise.race([
      starting,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    ]);
  }

  /** Stops a unit: no new request gets it, the ones holding it finish, queued work is answered, workers exit. */
  async stop(key: string): Promise<void> {
    const served = this.#served.get(key);
    if (!served) return;
    served.draining = true;
    this.#served.delete(key);
    if (served.active > 0) {
      await new Promise<void>((resolve) => this.#released.set(key, resolve));
      this.#released.delete(key);
    }
    await served.batcher.close();
    await served.pool.close();
    if (
      ![...this.#served.values()].some(
        (s) => s.labels.model === served.labels.model && s.labels.version === served.labels.version,
      )
    ) {
      this.#options.metrics.workers.remove(served.labels);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#starting.values()]);
    await Promise.all(this.list().map((s) => this.stop(s.key)));
  }

  async #start(key: string, version: ModelVersion, options: ServeOptions): Promise<ServedModel> {
    if (this.#closed) throw new Error('the model host is closed');
    const { metrics, artifacts, log } = this.#options;
    const labels = { model: version.model, version: String(version.version) };
    const started = Date.now();
    const path = await artifacts.localPath(version.sha256);
    const pool = new WorkerPool({
      kind: version.format === 'onnx' ? 'onnx' : (version.format as 'onnx'),
      load: {
        path,
        ...(options.settings ? { settings: options.settings } : {}),
        ...(this.#options.egressAllowHosts ? { egressAllowHosts: [...this.#options.egressAllowHosts] } : {}),
      },
      replicas: options.replicas ?? this.#options.defaultReplicas ?? 1,
      env: options.env ?? {},
      ...(this.#options.tracing ? { tracing: this.#options.tracing.settings } : {}),
      onEvent: (event) => {
        if (event.type === 'exit' && !event.exit.expected) {
          metrics.workerRestarts.inc(labels);
          log?.warn('worker exited unexpectedly; restarting', { ...labels, pid: event.pid, signal: event.exit.signal });
        }
        metrics.workers.set(labels, pool.stats().ready);
      },
    });
    try {
      await pool.start();
    } catch (error) {
      await pool.close();
      throw error;
    }
    if (pool.stats().target > 0) {
      metrics.coldStarts.inc(labels);
      metrics.coldStartSeconds.observe(labels, (Date.now() - started) / 1000);
    }
    metrics.workers.set(labels, pool.stats().ready);
    const timed = {
      capacity: () => pool.capacity(),
      predict: async (inputs: Tensor[], outputs?: string[], context?: { deadline: number; traceparent?: string }) => {
        const t0 = performance.now();
        try {
          return await pool.predict(inputs, outputs, context);
        } finally {
          metrics.inferenceSeconds.observe(labels, (performance.now() - t0) / 1000);
        }
      },
    };
    const batcher = new DynamicBatcher(
      version.signature,
      timed,
      options.batching ?? this.#options.defaultBatching,
      (rows, waits) => {
        metrics.batchSize.observe(labels, rows);
        for (const wait of waits) metrics.queueSeconds.observe(labels, wait / 1000);
      },
      this.#options.tracing,
    );
    const served: ServedModel = {
      key,
      version,
      pool,
      batcher,
      labels,
      active: 0,
      peak: 0,
      draining: false,
      lastUsed: Date.now(),
    };
    this.#served.set(served.key, served);
    log?.info('model loaded', { ...labels, ms: Date.now() - started });
    return served;
  }
}
