/**
 * One change at a time per deployment: work for a key runs after the work queued before it for the same key, and
 * keys run independently. A failing step is reported and does not stop the next one.
 */
export class ReconcileQueue {
  readonly #queues = new Map<string, Promise<void>>();
  readonly #onError: (key: string, error: unknown) => void;

  constructor(onError: (key: string, error: unknown) => void) {
    this.#onError = onError;
  }

  /** Queues `work` behind the key's earlier work; resolves when it has run (never rejects). */
  run(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => this.#onError(key, error));
    this.#queues.set(key, next);
    void next.then(() => {
      if (this.#queues.get(key) === next) this.#queues.delete(key);
    });
    return next;
  }

  /** Waits for everything queued now (tests and shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.#queues.values()]);
  }
}
