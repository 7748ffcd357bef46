/**
 * The payload sink contract: where logged inference records go. The payload log (src/payloads) samples, redacts
 * and buffers records and hands batches to each sink of a deployment; a sink only writes. Implementations:
 * `StoreSink` (Parquet files in the artifact store, queried with DuckDB) and `CloudEventsSink` (KServe's logger
 * format over HTTP). Every implementation runs `sink.conformance.ts`.
 */

/** One tensor as logged: plain JSON values; `data` is null when its name is in `spec.logging.redact`. */
export interface LoggedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[] | null;
  /** Set when the whole tensor was redacted, or names the friendly features (columns) blanked in it. */
  redacted?: true | string[];
}

/** The traffic arm that answered: `primary` (an untagged target), the target's tag (`canary`), or `shadow`. */
export type PayloadArm = string;

/** One inference call as every sink receives it (redaction already applied). */
export interface PayloadRecord {
  /** The V2 request `id`, else the client's `x-request-id`, else a generated UUID; sent back as `modelport-request-id`. */
  requestId: string;
  /** When the call arrived (ISO 8601, UTC, milliseconds). */
  time: string;
  project: string;
  deployment: string;
  revision: number;
  arm: PayloadArm;
  model: string;
  modelVersion: number;
  protocol: string;
  /** `ok`, or the error code of a failed call (`invalid_input`, `timeout`, ...). */
  status: string;
  error: string | null;
  /** The token's name when auth is on (`local` in the single-user mode, null for an anonymous call). */
  caller: string | null;
  /** Milliseconds: waiting in the batcher's queue, running in a worker, and the whole call. */
  queueMs: number;
  computeMs: number;
  totalMs: number;
  /** Null when `mode: response`. */
  inputs: LoggedTensor[] | null;
  /** Null when `mode: request`, or when the call failed. */
  outputs: LoggedTensor[] | null;
  /** The predicted label per row, comma separated (friendly labels when the version names them), or null. */
  prediction: string | null;
}

/** What a sink reports for one batch: how many records it durably took (the rest count as dropped). */
export interface SinkWriteResult {
  written: number;
}

export interface PayloadSink {
  /** The sink's kind as `/metrics` labels it: `store`, `cloudevents`. */
  readonly kind: string;
  /** Writes a batch. Resolves with what was written; rejects (or reports fewer) when the destination failed. */
  write(records: readonly PayloadRecord[]): Promise<SinkWriteResult>;
  /** Makes everything written so far durable (the store writes its pending files). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** `mode` of `spec.logging`: which half of a call is kept. */
export type PayloadMode = 'all' | 'request' | 'response';
