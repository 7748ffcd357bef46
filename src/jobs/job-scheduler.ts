/**
 * Starts queued jobs, oldest first, while fewer than `concurrency` run. Claiming is serialised and conditional
 * (queued -> running), so two wake-ups never start the same job; each finished job frees its slot and wakes the
 * queue again.
 */
import type { Logger } from '../logging/index.ts';
import type { JobRow, JobStore } from './job-store.ts';

export interface JobSchedulerOptions {
  store: JobStore;
  concurrency: number;
  /** Runs a claimed job until it ends; aborting `signal` stops it. */
  run: (row: JobRow, signal: AbortSignal) => Promise<void>;
  log: Logger;
}

export class JobScheduler {
  readonly #o: JobSchedulerOptions;
  /** Running jobs by id: abort to cancel (or to stop at shutdown). */
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #pumping: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: JobSchedulerOptions) {
    this.#o = options;
  }

  /** Looks for queued jobs to start. */
  wake(): void {
    const { store, concurrency, run, log } = this.#o;
    this.#pumping = this.#pumping
      .then(async () => {
        while (!this.#closed && this.#running.size < concurrency) {
          const next = await store.nextQueued();
          if (!next) return;
          const claimed = await store.claim(next);
          if (!claimed) continue;
          const controller = new AbortController();
          const done = run(claimed, controller.signal).finally(() => {
            this.#running.delete(next.id);
            this.wake();
          });
          this.#running.set(next.id, { controller, done });
        }
      })
      .catch((error: unknown) => log.error('job queue failed', { err: error }));
  }

  /** Stops a running job with `reason` and waits until it stopped; nothing when it is not running here. */
  async stop(id: string, reason: unknown): Promise<void> {
    const running = this.#running.get(id);
    running?.controller.abort(reason);
    await running?.done;
  }

  /** Starts nothing more, stops every running job with `reason`, and waits for them. */
  async close(reason: unknown): Promise<void> {
    this.#closed = true;
    await this.#pumping;
    for (const { controller } of this.#running.values()) controller.abort(reason);
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }
}
