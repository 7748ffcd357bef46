/**
 * Sends OpenLineage RunEvents to the configured HTTP endpoint (Marquez's `/api/v1/lineage`, or any consumer of the
 * HTTP transport), off the path of the work they describe: the runs and rollouts only enqueue. The queue is bounded;
 * events are built (the run is read then, not while the step runs), validated against the schema and posted one at
 * a time, in order; when the queue is full, the endpoint is slow or down, or an event is invalid, the event is
 * dropped and counted (`modelport_openlineage_events_total{outcome}`), never retried into the next ones' way and
 * never failing a run.
 */
import type { Counter } from '../metrics/index.ts';
import type { OpenLineageRunEvent, OpenLineageValidator } from './openlineage.ts';

export interface OpenLineageEmitterOptions {
  url: string;
  /** POST through the egress guard; resolves with the status, rejects when the endpoint cannot be reached. */
  post(url: string, body: string, signal: AbortSignal): Promise<{ status: number }>;
  validator: OpenLineageValidator;
  /** Events (or batches being built) waiting at most (default 1000); past it new ones are dropped. */
  maxQueue?: number;
  /** Per POST (default 10 s). */
  timeoutMs?: number;
  counter?: Counter;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export type EmitOutcome = 'sent' | 'dropped' | 'failed' | 'invalid';

export class OpenLineageEmitter {
  readonly #o: OpenLineageEmitterOptions;
  readonly #queue: (() => Promise<OpenLineageRunEvent[]>)[] = [];
  readonly #counts: Record<EmitOutcome, number> = { sent: 0, dropped: 0, failed: 0, invalid: 0 };
  readonly #abort = new AbortController();
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(options: OpenLineageEmitterOptions) {
    this.#o = options;
  }

  /** What happened to the events so far. */
  get counts(): Readonly<Record<EmitOutcome, number>> {
    return { ...this.#counts };
  }

  /** Queues events to be built later (reading the run when the queue reaches them). Never throws, never waits. */
  enqueue(build: () => Promise<OpenLineageRunEvent[]>): void {
    if (this.#closed || this.#queue.length >= (this.#o.maxQueue ?? 1000)) {
      this.#count('dropped');
      return;
    }
    this.#queue.push(build);
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /** Resolves when everything queued so far was sent or dropped (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Stops taking events, gives those queued a moment (`graceMs`) to go, then abandons the rest (counted). */
  async close(graceMs = 2000): Promise<void> {
    this.#closed = true;
    const timer = setTimeout(() => this.#abort.abort(), graceMs);
    await this.flush();
    clearTimeout(timer);
  }

  #count(outcome: EmitOutcome, by = 1): void {
    this.#counts[outcome] += by;
    this.#o.counter?.inc({ outcome }, by);
  }

  async #drain(): Promise<void> {
    for (let build = this.#queue.shift(); build; build = this.#queue.shift()) {
      if (this.#abort.signal.aborted) {
        this.#count('dropped');
        continue;
      }
      let events: OpenLineageRunEvent[];
      try {
        events = await build();
      } catch (error) {
        this.#count('failed');
        this.#o.log?.('could not build an OpenLineage event', { err: error });
        continue;
      }
      for (const event of events) await this.#send(event);
    }
  }

  async #send(event: OpenLineageRunEvent): Promise<void> {
    const problems = this.#o.validator.check(event);
    if (problems.length > 0) {
      this.#count('invalid');
      this.#o.log?.('an OpenLineage event failed the schema; dropped', { job: event.job.name, problems });
      return;
    }
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.timeoutMs ?? 10_000)]);
    try {
      const { status } = await this.#o.post(this.#o.url, JSON.stringify(event), signal);
      if (status >= 200 && status < 300) {
        this.#count('sent');
        return;
      }
      this.#count('failed');
      this.#o.log?.('the OpenLineage endpoint refused an event', { status, job: event.job.name });
    } catch (error) {
      this.#count('failed');
      this.#o.log?.('the OpenLineage endpoint could not be reached', { err: error, job: event.job.name });
    }
  }
}
