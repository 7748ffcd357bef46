/**
 * A bounded buffer in front of one sink: `push` never waits and never throws; a drain loop hands batches to the
 * sink. When the buffer is full (the sink is slower than the traffic) or the sink fails, records are dropped and
 * counted, by deployment, so logging never delays or fails an answer.
 */
import type { PayloadRecord, PayloadSink } from '../sinks/index.ts';

export interface SinkChannelOptions {
  /** Records held at most (default 50,000). */
  capacity?: number;
  /** Records per `write` (default 2,000). */
  batch?: number;
  /**
   * How long the first record of a batch may wait for others (default 0: the next turn of the event loop). A sink
   * with a cost per write (the store's DuckDB append commits) takes fewer, larger batches.
   */
  lingerMs?: number;
  written: (deployment: string, count: number) => void;
  dropped: (deployment: string, count: number, reason: 'buffer_full' | 'sink_failed') => void;
  /** A write failed (logged once per failure streak by the caller). */
  failed?: (error: unknown) => void;
}

export class SinkChannel {
  readonly sink: PayloadSink;
  readonly #o: SinkChannelOptions;
  #buffer: PayloadRecord[] = [];
  #draining: Promise<void> | undefined;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(sink: PayloadSink, options: SinkChannelOptions) {
    this.sink = sink;
    this.#o = options;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  push(record: PayloadRecord): void {
    if (this.#buffer.length >= (this.#o.capacity ?? 50_000)) {
      this.#o.dropped(record.deployment, 1, 'buffer_full');
      return;
    }
    this.#buffer.push(record);
    if (this.#scheduled || this.#draining !== undefined) return;
    this.#scheduled = true;
    const linger = this.#o.lingerMs ?? 0;
    const go = () => {
      this.#scheduled = false;
      this.#timer = undefined;
      this.#drain();
    };
    // Batches form from what arrives within one turn of the event loop, or within the linger time.
    if (linger > 0) {
      this.#timer = setTimeout(go, linger);
      this.#timer.unref();
    } else setImmediate(go);
  }

  /** Resolves once everything pushed so far was handed to the sink, and the sink made it durable. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    while (this.#buffer.length > 0 || this.#draining !== undefined || this.#scheduled) {
      if (this.#draining === undefined && !this.#scheduled) this.#drain();
      await (this.#draining ?? new Promise((resolve) => setImmediate(resolve)));
    }
    await this.sink.flush();
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.sink.close();
  }

  #drain(): void {
    if (this.#draining !== undefined || this.#buffer.length === 0) return;
    this.#draining = (async () => {
      while (this.#buffer.length > 0) {
        const batch = this.#buffer.splice(0, this.#o.batch ?? 2000);
        let written = 0;
        try {
          written = (await this.sink.write(batch)).written;
        } catch (error) {
          this.#o.failed?.(error);
        }
        count(batch.slice(0, written), this.#o.written);
        count(batch.slice(written), (deployment, n) => this.#o.dropped(deployment, n, 'sink_failed'));
      }
    })().finally(() => {
      this.#draining = undefined;
    });
  }
}

function count(records: readonly PayloadRecord[], report: (deployment: string, n: number) => void): void {
  if (records.length === 0) return;
  const byDeployment = new Map<string, number>();
  for (const r of records) byDeployment.set(r.deployment, (byDeployment.get(r.deployment) ?? 0) + 1);
  for (const [deployment, n] of byDeployment) report(deployment, n);
}
