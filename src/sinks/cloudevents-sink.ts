/**
 * Payload records as CloudEvents over HTTP, in the form KServe's inference logger sends them (pkg/logger/worker.go),
 * so a consumer of KServe's logger works unchanged: binary mode, one POST per event, `ce-specversion: 1.0`,
 * `ce-id` (the request id, shared by the request and its response), `ce-type`
 * `org.kubeflow.serving.inference.request` / `.response`, `ce-source`, `ce-time`, and the extensions
 * `ce-inferenceservicename` (the deployment), `ce-namespace` (the project), `ce-component` (`predictor`),
 * `ce-endpoint` (`default` for the primary arm, else the arm: a canary's tag or `shadow`) and `ce-metadata` (JSON of
 * string lists; Modelport puts the revision, model, protocol, status, caller, latency, prediction and error there).
 * The data is the V2 JSON
 * request (`{ id, inputs }`) or response (`{ model_name, model_version, id, outputs }`), redaction applied; like
 * KServe, a failed call sends no response event.
 *
 * Every POST goes through the egress guard; a status other than 2xx, a refusal or a timeout counts the record as
 * not written (the payload log counts it as dropped). The `cloudevents` package (with its ajv, uuid and json-bigint,
 * about 5 MB of a gateway's memory) loads with the first record sent, so a server without this sink never loads it.
 */
import type { CloudEvent } from 'cloudevents';
import type { GuardedFetch } from '../egress/index.ts';
import type { PayloadRecord, PayloadSink, SinkWriteResult } from './sink.ts';

export const CE_REQUEST_TYPE = 'org.kubeflow.serving.inference.request';
export const CE_RESPONSE_TYPE = 'org.kubeflow.serving.inference.response';

export interface CloudEventsSinkOptions {
  url: string;
  /** The egress guard's fetch. */
  fetch: GuardedFetch;
  /** POSTs in flight at once (default 8). */
  concurrency?: number;
  /** Per POST (default 5 s). */
  timeoutMs?: number;
}

export class CloudEventsSink implements PayloadSink {
  readonly kind = 'cloudevents';
  readonly #o: CloudEventsSinkOptions;
  #closed = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: CloudEventsSinkOptions) {
    this.#o = options;
  }

  async write(records: readonly PayloadRecord[]): Promise<SinkWriteResult> {
    if (this.#closed) throw new Error('the CloudEvents sink is closed');
    let written = 0;
    let next = 0;
    const worker = async () => {
      while (next < records.length) {
        const record = records[next++]!;
        if (await this.#send(record)) written++;
      }
    };
    const workers = Array.from({ length: Math.min(this.#o.concurrency ?? 8, records.length) }, worker);
    const all = Promise.all(workers);
    this.#inFlight.add(all);
    try {
      await all;
    } finally {
      this.#inFlight.delete(all);
    }
    return { written };
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  /** Sends a record's events; true when every one was taken (2xx). */
  async #send(record: PayloadRecord): Promise<boolean> {
    const { HTTP } = await import('cloudevents');
    for (const event of await toCloudEvents(record)) {
      const message = HTTP.binary(event);
      try {
        const response = await this.#o.fetch(this.#o.url, {
          method: 'POST',
          headers: message.headers as Record<string, string>,
          body: typeof message.body === 'string' ? message.body : JSON.stringify(message.body),
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 5000),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.status < 200 || response.status > 299) return false;
      } catch {
        return false;
      }
    }
    return true;
  }
}

/** The events KServe's logger would send for this record: the request's, then (for an answered call) the response's. */
export async function toCloudEvents(record: PayloadRecord): Promise<CloudEvent<string>[]> {
  const { CloudEvent } = await import('cloudevents');
  const common = {
    id: record.requestId,
    source: `/projects/${record.project}/deployments/${record.deployment}`,
    specversion: '1.0',
    time: record.time,
    datacontenttype: 'application/json',
    inferenceservicename: record.deployment,
    namespace: record.project,
    component: 'predictor',
    endpoint: record.arm === 'primary' ? 'default' : record.arm,
    metadata: JSON.stringify({
      'modelport-revision': [String(record.revision)],
      'modelport-model': [`${record.model}@${record.modelVersion}`],
      'modelport-protocol': [record.protocol],
      'modelport-status': [record.status],
      ...(record.caller ? { 'modelport-caller': [record.caller] } : {}),
      'modelport-latency-ms': [String(record.queueMs), String(record.computeMs), String(record.totalMs)],
      ...(record.prediction !== null ? { 'modelport-prediction': [record.prediction] } : {}),
      ...(record.error !== null ? { 'modelport-error': [record.error] } : {}),
    }),
  };
  const events: CloudEvent<string>[] = [];
  if (record.inputs !== null) {
    const data = JSON.stringify({ id: record.requestId, inputs: record.inputs.map(tensorJson) });
    events.push(new CloudEvent({ ...common, type: CE_REQUEST_TYPE, data }, false));
  }
  if (record.outputs !== null && record.status === 'ok') {
    const data = JSON.stringify({
      model_name: record.deployment,
      model_version: String(record.modelVersion),
      id: record.requestId,
      outputs: record.outputs.map(tensorJson),
    });
    events.push(new CloudEvent({ ...common, type: CE_RESPONSE_TYPE, data }, false));
  }
  return events;
}

/** A logged tensor as V2 JSON: a redacted one keeps its name, type and shape, with `data: null`. */
function tensorJson(t: PayloadRecord['outputs'] extends (infer T)[] | null ? T : never) {
  return {
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    data: t.data,
    ...(t.redacted ? { parameters: { redacted: t.redacted } } : {}),
  };
}
