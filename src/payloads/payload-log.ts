/**
 * The payload log: each deployment arm with `spec.logging` gets a `CallLog` (the gateway's hook) that samples a
 * call, turns it into a `PayloadRecord` (redaction applied here, so a redacted value never enters a buffer), and
 * pushes it to the channel of each of the deployment's sinks. The built-in store is one sink shared by every
 * deployment; each CloudEvents URL gets its own sink and channel. Records written and dropped are counted in
 * /metrics (`modelport_payload_records_total`, `modelport_payload_records_dropped_total`, by deployment and sink).
 */
import type { InferRequest, Tensor } from '../core/index.ts';
import { ModelportError, parseDuration, parseSize } from '../core/index.ts';
import type { GuardedFetch } from '../egress/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Counter, MetricsRegistry } from '../metrics/index.ts';
import { labelNames, toJsonValues } from '../protocols/index.ts';
import type { CallLog, LoggedCall } from '../serving/index.ts';
import type { FriendlySignature } from '../signatures/index.ts';
import {
  CloudEventsSink,
  type LoggedTensor,
  type PayloadQuery,
  type PayloadRecord,
  type RetentionPolicy,
  type StoreSink,
} from '../sinks/index.ts';
import { SinkChannel } from './sink-channel.ts';

/** `spec.logging` as the log reads it (the deployments room owns the schema). */
export interface LoggingConfig {
  sample: number;
  mode: 'all' | 'request' | 'response';
  sinks: (
    | { type: 'store'; retention?: { maxAge?: string | number; maxSize?: string | number } }
    | { type: 'cloudevents'; url: string }
  )[];
  redact: string[];
}

export interface PayloadLogOptions {
  store: StoreSink;
  /** The egress guard's fetch (CloudEvents POSTs) and its check (a sink URL, when a spec is applied). */
  fetch: GuardedFetch;
  checkUrl: (url: string) => Promise<void>;
  metrics: MetricsRegistry;
  /** The caller of a call from its headers: the token's name when auth is on. */
  caller?: (headers: LoggedCall['headers']) => string | null | Promise<string | null>;
  log: Logger;
  /** Records buffered per sink at most (default 50,000). */
  capacity?: number;
  /** How often retention runs (default 60 s; 0: never on a timer). */
  retentionEveryMs?: number;
}

/** Which deployment arm a log is for. */
export interface ArmRef {
  project: string;
  deployment: string;
  revision: number;
  /** `primary`, a target's tag, or `shadow`. */
  arm: string;
}

export class PayloadLog {
  readonly #o: PayloadLogOptions;
  readonly #store: SinkChannel;
  /** CloudEvents channels by `project/deployment url`. */
  readonly #cloudEvents = new Map<string, SinkChannel>();
  /** Retention of each deployment logging to the store, from its latest revision. */
  readonly #retention = new Map<string, { project: string; deployment: string; policy: RetentionPolicy }>();
  readonly #written: Counter;
  readonly #dropped: Counter;
  readonly #timer: NodeJS.Timeout | undefined;
  #failing = new Set<string>();

  constructor(options: PayloadLogOptions) {
    this.#o = options;
    this.#written = options.metrics.counter(
      'modelport_payload_records_total',
      'Payload records written to a sink, by deployment and sink.',
      ['deployment', 'sink'],
    );
    this.#dropped = options.metrics.counter(
      'modelport_payload_records_dropped_total',
      'Payload records dropped, by deployment, sink and reason (buffer_full: the sink is slower than the traffic; sink_failed: it refused or is down).',
      ['deployment', 'sink', 'reason'],
    );
    // The store commits per write: batches of up to 5,000 records, gathered for up to 50 ms.
    this.#store = this.#channel(options.store, 5000, 50);
    const every = options.retentionEveryMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.applyRetention().catch(() => {}), every);
      this.#timer.unref();
    }
  }

  get store(): StoreSink {
    return this.#o.store;
  }

  /** Refuses, naming the field, a sink URL the egress guard would refuse. */
  async check(logging: LoggingConfig | undefined, backend = 'local'): Promise<void> {
    if (logging && backend !== 'local') {
      throw new ModelportError(
        'invalid_request',
        `spec.logging: payload logging runs in this server's gateway, which serves backend: local only; on ${backend}, remove spec.logging (KServe's own logger sends the same CloudEvents)`,
        { field: 'spec.logging' },
      );
    }
    for (const [i, sink] of (logging?.sinks ?? []).entries()) {
      if (sink.type !== 'cloudevents') continue;
      try {
        await this.#o.checkUrl(sink.url);
      } catch (error) {
        const field = `spec.logging.sinks[${i}].url`;
        const reason = error instanceof Error ? error.message : String(error);
        throw new ModelportError(
          'invalid_request',
          `${field}: ${reason}; use a public http(s) URL, or allow the host with --egress-allow-hosts if it is yours`,
          { field, cause: error },
        );
      }
    }
  }

  /** The gateway's hook for one deployment arm, or undefined when the deployment logs nothing. */
  callLog(ref: ArmRef, logging: LoggingConfig | undefined): CallLog | undefined {
    if (!logging || logging.sample <= 0) {
      this.#retention.delete(`${ref.project}/${ref.deployment}`);
      return undefined;
    }
    const channels: SinkChannel[] = [];
    for (const sink of logging.sinks) {
      if (sink.type === 'store') {
        channels.push(this.#store);
        const policy: RetentionPolicy = {};
        const age = sink.retention?.maxAge === undefined ? undefined : parseDuration(sink.retention.maxAge);
        const size = sink.retention?.maxSize === undefined ? undefined : parseSize(sink.retention.maxSize);
        if (age !== undefined) policy.maxAgeMs = age;
        if (size !== undefined) policy.maxBytes = size;
        this.#retention.set(`${ref.project}/${ref.deployment}`, {
          project: ref.project,
          deployment: ref.deployment,
          policy,
        });
      } else {
        const key = `${ref.project}/${ref.deployment} ${sink.url}`;
        let channel = this.#cloudEvents.get(key);
        if (!channel) {
          channel = this.#channel(new CloudEventsSink({ url: sink.url, fetch: this.#o.fetch }), 64);
          this.#cloudEvents.set(key, channel);
        }
        channels.push(channel);
      }
    }
    const redact = new Set(logging.redact);
    const { sample, mode } = logging;
    const caller = this.#o.caller;
    return {
      take: () => sample >= 100 || Math.random() * 100 < sample,
      record: (call) => {
        try {
          const record = toRecord(ref, call, mode, redact);
          const push = () => {
            for (const channel of channels) channel.push(record);
          };
          const who = caller?.(call.headers) ?? null;
          if (who instanceof Promise) {
            who.then(
              (name) => {
                record.caller = name;
                push();
              },
              () => push(),
            );
          } else {
            record.caller = who;
            push();
          }
        } catch (error) {
          this.#o.log.warn('a payload record could not be made', { err: error, deployment: ref.deployment });
        }
      },
    };
  }

  async query(q: PayloadQuery): Promise<PayloadRecord[]> {
    return this.#o.store.query(q);
  }

  async get(project: string, requestId: string, deployment?: string): Promise<PayloadRecord[]> {
    return this.#o.store.get(project, requestId, deployment);
  }

  /** Per revision and arm, the calls a deployment answered (what a model version's lineage reached). */
  async armCounts(project: string, deployment: string) {
    return this.#o.store.armCounts(project, deployment);
  }

  /** Deletes a deployment's records (after what is buffered for it reached the store). */
  async purge(project: string, deployment: string): Promise<number> {
    await this.#store.flush().catch(() => {});
    this.#retention.delete(`${project}/${deployment}`);
    for (const [key, channel] of this.#cloudEvents) {
      if (key.startsWith(`${project}/${deployment} `)) {
        this.#cloudEvents.delete(key);
        await channel.close();
      }
    }
    return this.#o.store.purge(project, deployment);
  }

  async applyRetention(): Promise<number> {
    let removed = 0;
    for (const { project, deployment, policy } of this.#retention.values()) {
      if (policy.maxAgeMs === undefined && policy.maxBytes === undefined) continue;
      removed += await this.#o.store.applyRetention(project, deployment, policy);
    }
    return removed;
  }

  /** Waits until every record taken so far is in its sinks, and the store's files are written. */
  async flush(): Promise<void> {
    await Promise.all([this.#store.flush(), ...[...this.#cloudEvents.values()].map((c) => c.flush())]);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([...this.#cloudEvents.values()].map((c) => c.close()));
    await this.#store.close();
  }

  #channel(sink: StoreSink | CloudEventsSink, batch: number, lingerMs = 0): SinkChannel {
    return new SinkChannel(sink, {
      capacity: this.#o.capacity,
      batch,
      lingerMs,
      written: (deployment, n) => {
        this.#written.inc({ deployment, sink: sink.kind }, n);
        this.#failing.delete(sink.kind);
      },
      dropped: (deployment, n, reason) => this.#dropped.inc({ deployment, sink: sink.kind, reason }, n),
      failed: (err) => {
        if (this.#failing.has(sink.kind)) return;
        this.#failing.add(sink.kind);
        this.#o.log.warn('a payload sink failed; its records are dropped and counted', { err, sink: sink.kind });
      },
    });
  }
}

/** A settled call as a record: the mode's halves, redaction applied, the predicted labels. */
export function toRecord(
  ref: ArmRef,
  call: LoggedCall,
  mode: LoggingConfig['mode'],
  redact: ReadonlySet<string>,
): PayloadRecord {
  const friendly = call.version.friendlySignature ?? undefined;
  const outputs = call.outputs;
  return {
    requestId: call.requestId,
    time: new Date(call.startedAt).toISOString(),
    project: ref.project,
    deployment: ref.deployment,
    revision: ref.revision,
    arm: ref.arm,
    model: call.version.model,
    modelVersion: call.version.version,
    protocol: call.protocol,
    status: call.error ? call.error.code : 'ok',
    error: call.error ? call.error.message : null,
    caller: null,
    queueMs: round(call.queueMs),
    computeMs: round(call.computeMs),
    totalMs: round(call.totalMs),
    inputs: mode === 'response' ? null : loggedInputs(call.request, redact, friendly),
    outputs: mode === 'request' || !outputs ? null : outputs.map((t) => logged(t, redact)),
    prediction: outputs && !redactsPrediction(outputs, redact) ? prediction(outputs, friendly) : null,
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function logged(t: Tensor, redact: ReadonlySet<string>): LoggedTensor {
  if (redact.has(t.name))
    return { name: t.name, datatype: t.datatype, shape: [...t.shape], data: null, redacted: true };
  return { name: t.name, datatype: t.datatype, shape: [...t.shape], data: jsonValues(t) };
}

/** Inputs, with redacted tensors emptied and redacted friendly features (columns of the one input) blanked. */
function loggedInputs(
  request: InferRequest,
  redact: ReadonlySet<string>,
  friendly?: FriendlySignature,
): LoggedTensor[] {
  const features = friendly?.features ?? [];
  const columns = features.flatMap((f, i) => (redact.has(f.name) ? [i] : []));
  return request.inputs.map((t) => {
    const out = logged(t, redact);
    if (out.data === null || columns.length === 0 || request.inputs.length !== 1) return out;
    const width = features.length;
    if (width === 0 || out.data.length % width !== 0) {
      // A shape the features cannot be located in: nothing of it is kept.
      return { ...out, data: null, redacted: true };
    }
    for (let row = 0; row < out.data.length; row += width) for (const c of columns) out.data[row + c] = null;
    return { ...out, redacted: columns.map((c) => features[c]!.name) };
  });
}

/**
 * Plain JSON values of a tensor, cheaply (this runs per logged call on the serving path): floats as the exact double
 * of their value (no shortest-form search), 64-bit integers as numbers (as text beyond 2^53), BOOL as booleans,
 * BYTES as UTF-8 text.
 */
function jsonValues(t: Tensor): unknown[] {
  switch (t.datatype) {
    case 'FP32':
    case 'FP64':
    case 'INT8':
    case 'INT16':
    case 'INT32':
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return Array.from(t.data as Float32Array);
    case 'INT64':
    case 'UINT64':
      return Array.from(t.data as BigInt64Array, (v) =>
        v <= 9007199254740991n && v >= -9007199254740991n ? Number(v) : v.toString(),
      );
    default:
      return toJsonValues(t.data, t.datatype);
  }
}

/** An output named in `redact` must not leak through the prediction either. */
function redactsPrediction(outputs: readonly Tensor[], redact: ReadonlySet<string>): boolean {
  return redact.size > 0 && outputs.some((o) => redact.has(o.name));
}

/**
 * The predicted label per row, comma separated: the friendly signature's label names when it has them, else the
 * values of the first output holding one value per row (a class index or name).
 */
export function prediction(outputs: readonly Tensor[], friendly?: FriendlySignature): string | null {
  // The common case, cheaply (this runs per logged call): an output of class indexes and the labels' names.
  const mapping = friendly?.outputs;
  const labels = mapping?.labels;
  const index = mapping?.label === undefined ? undefined : outputs.find((o) => o.name === mapping.label);
  if (labels && index && index.datatype !== 'BYTES' && index.shape.length === 1) {
    const names: string[] = [];
    for (const v of index.data as Iterable<number | bigint>) names.push(labels[Number(v)] ?? String(v));
    return names.join(',');
  }
  const named = labelNames(outputs, friendly);
  if (named) return (toJsonValues(named.data, named.datatype) as unknown[]).map(String).join(',');
  const perRow = outputs.find((o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1));
  if (!perRow) return null;
  return jsonValues(perRow).map(String).join(',');
}
