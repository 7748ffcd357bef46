/**
 * `IdleCollector`: a full garbage collection the worker asks for itself, in a gap between batches, after traffic.
 *
 * A batch leaves native memory (ONNX Runtime's and its binding's, held by small JavaScript wrappers) that is freed
 * only when a full collection finds the wrappers dead. V8 does not count that memory, and a worker's old generation
 * is too small to start a full collection of its own, so under steady load the fraud worker grew from 94 to 123 MB
 * over 3 minutes of bench traffic (glibc's heap 17.6 -> 38.7 MB), and held 99 MB with this. Collecting when it has
 * grown does not work: glibc keeps the freed pages, so the resident size never falls back and each trigger sits
 * higher. A collection stops the worker for 10-15 ms, so it runs only when no batch is running (the moment one
 * finishes with none behind it), after `minBatches` batches and at most once per `minIntervalMs`: an idle worker
 * never collects, a busy one pauses about once every 10 s (under 0.2% of its time).
 */

export interface IdleCollectorOptions {
  /** Runs a full collection (V8's `gc`, exposed to the worker by `--expose-gc`). */
  collect: () => void;
  /** Batches since the last collection before the next may run. Default 2,000. */
  minBatches?: number;
  /** Milliseconds between two collections at least. Default 10,000. */
  minIntervalMs?: number;
  /** The clock, in milliseconds (tests pass their own). */
  now?: () => number;
}

export class IdleCollector {
  readonly #collect: () => void;
  readonly #minBatches: number;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  #batches = 0;
  #last: number;
  #collections = 0;

  constructor(options: IdleCollectorOptions) {
    this.#collect = options.collect;
    this.#minBatches = options.minBatches ?? 2_000;
    this.#minIntervalMs = options.minIntervalMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
    this.#last = this.#now();
  }

  /** How many collections it ran. */
  get collections(): number {
    return this.#collections;
  }

  /** Call when a batch finishes, with the number of batches still running; collects if the time has come. */
  batchDone(stillRunning: number): void {
    this.#batches++;
    if (stillRunning > 0 || this.#batches < this.#minBatches) return;
    if (this.#now() - this.#last < this.#minIntervalMs) return;
    this.#collect();
    this.#collections++;
    this.#batches = 0;
    this.#last = this.#now();
  }
}
