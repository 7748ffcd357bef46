import { ModelportError } from './errors.ts';

export interface SemaphoreOptions {
  /** Tasks waiting at most; one more is refused with `overloaded` (default 64). Like every queue here, bounded. */
  maxWaiting?: number;
  /** What the tasks are, for the refusal's message (default 'tasks'). */
  what?: string;
}

/**
 * At most `limit` tasks at once; up to `maxWaiting` more wait in arrival order, and the next is refused at once
 * with `overloaded` (HTTP 429, Retry-After 1). For bounding expensive work such as child processes.
 */
export class Semaphore {
  readonly #limit: number;
  readonly #maxWaiting: number;
  readonly #what: string;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number, options: SemaphoreOptions = {}) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const maxWaiting = options.maxWaiting ?? 64;
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0)
      throw new RangeError(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    this.#limit = limit;
    this.#maxWaiting = maxWaiting;
    this.#what = options.what ?? 'tasks';
  }

  /** Tasks running and waiting now. */
  stats(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      if (this.#waiting.length >= this.#maxWaiting) {
        throw new ModelportError(
          'overloaded',
          `too many ${this.#what} at once (${this.#limit} running, ${this.#maxWaiting} waiting); retry shortly`,
          { retryAfter: 1 },
        );
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
