/**
 * The data plane's `InferenceService`: resolves a model name to the version that serves it, checks the request
 * against that version's signature, starts the version's workers if needed, and sends the request through the
 * version's batcher. Every transport (REST V2/V1/Seldon, gRPC) calls this one object.
 */

import type { Attributes, Span } from '@opentelemetry/api';
import type { InferRequest, InferResponse, Tensor } from '../core/index.ts';
import { ModelportError, toModelportError } from '../core/index.ts';
import { LABEL_NAMES_OUTPUT, labelNames, validateRequest } from '../protocols/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import { hrNow, SPAN_ERROR, type Tracing } from '../tracing/index.ts';
import type {
  InferContext,
  InferenceService,
  ModelMetadata,
  Protocol,
  ResolvedModel,
  ServerMetadata,
} from './inference-service.ts';
import { requestIdFor } from './inference-service.ts';
import type { ModelHost, ServeOptions } from './model-host.ts';
import type { ServingMetrics } from './serving-metrics.ts';

/** The version that answers a request for a name, and how to serve it. */
export interface InferenceTarget {
  /** The serving unit's key in the model host (one pool and batcher per key). */
  key: string;
  version: ModelVersion;
  options?: ServeOptions;
  /** The unit belongs to a backend that starts and stops it; the gateway never starts it on demand. */
  managed?: boolean;
  /** The deployment, revision and traffic arm that routed here (absent for a model served by name). */
  deployment?: { name: string; revision: number; tag?: string | undefined };
  /** Called once the primary answer is known (the deployments layer mirrors shadows and records agreement). */
  onAnswer?: (request: InferRequest, response: InferResponse, context: InferContext) => void;
  /** The payload log of the deployment arm this target is (absent when its deployment logs nothing). */
  log?: CallLog;
}

/** One call as the payload log receives it (src/payloads samples, redacts and turns it into a record). */
export interface LoggedCall {
  requestId: string;
  /** When the gateway took the call, ms since the epoch. */
  startedAt: number;
  protocol: Protocol;
  request: InferRequest;
  /** The model's outputs; undefined when the call failed. */
  outputs: Tensor[] | undefined;
  error: ModelportError | undefined;
  headers: InferContext['headers'];
  version: ModelVersion;
  queueMs: number;
  computeMs: number;
  totalMs: number;
}

/** A deployment arm's payload log: `take()` decides (samples) per call, `record` queues and never blocks or throws. */
export interface CallLog {
  take(): boolean;
  record(call: LoggedCall): void;
}

/** Maps a requested name (and optional version) to a target; traffic splits decide per request from `headers`. */
export interface TargetResolver {
  resolve(name: string, version: string | undefined, headers?: InferContext['headers']): Promise<InferenceTarget>;
  /** The arms a name splits over (a deployment's traffic targets), for metadata; undefined for a single model. */
  arms?(name: string): TrafficArm[] | undefined;
}

/** One target of a split as V2 metadata lists it (`parameters.targets`): which outputs a request may get back. */
export interface TrafficArm {
  target: string;
  tag: string | null;
  weight: number;
  outputs: string[];
}

export interface GatewayServiceOptions {
  resolver: TargetResolver;
  host: ModelHost;
  metrics: ServingMetrics;
  version: string;
  /** Longest a request waits for a cold start or in the queue when the client sets no deadline. Default 60 s. */
  defaultTimeoutMs?: number;
  /** Set only when tracing is on: each request gets a span (and its queue wait, batch and worker compute). */
  tracing?: Tracing;
}

const PLATFORMS: Record<string, string> = { onnx: 'onnxruntime_onnx' };

export class GatewayService implements InferenceService {
  readonly #options: GatewayServiceOptions;
  #accepting = true;

  constructor(options: GatewayServiceOptions) {
    this.#options = options;
  }

  /** Readiness flips to false at the start of a graceful shutdown, so load balancers stop sending. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  live(): boolean {
    return true;
  }

  ready(): boolean {
    return this.#accepting;
  }

  serverMetadata(): ServerMetadata {
    return { name: 'modelport', version: this.#options.version, extensions: ['binary_tensor_data'] };
  }

  async admit(name: string, version: string | undefined, context: Pick<InferContext, 'headers'>): Promise<void> {
    if (!this.#accepting) throw new ModelportError('not_ready', 'the server is shutting down', { retryAfter: 1 });
    const target = await this.#options.resolver.resolve(name, version, context.headers);
    // A unit not started yet admits: its cold start holds requests in the same bounded queue.
    this.#options.host.get(target.key)?.batcher.admit();
  }

  async resolve(name: string, version?: string): Promise<ResolvedModel> {
    const target = await this.#options.resolver.resolve(name, version);
    const friendly = target.version.friendlySignature;
    return {
      name,
      version: String(target.version.version),
      signature: target.version.signature,
      ...(friendly ? { friendly } : {}),
    };
  }

  /** Ready once a worker has loaded the version; asking starts the load, so a polling client gets there. */
  async modelReady(name: string, version?: string): Promise<boolean> {
    const target = await this.#options.resolver.resolve(name, version);
    const served = this.#options.host.get(target.key);
    if (served) return served.pool.ready || served.pool.stats().target === 0;
    this.#options.host.ensure(target.key, target.version, target.options).catch(() => {});
    return false;
  }

  async modelMetadata(name: string, version?: string): Promise<ModelMetadata> {
    const { version: v } = await this.#options.resolver.resolve(name, version);
    // A split's arms, when there are several: each may answer with other outputs than the version shown here.
    const split = version === undefined ? this.#options.resolver.arms?.(name) : undefined;
    const arms = split && split.length > 1 ? split : undefined;
    const friendly = v.friendlySignature ? { friendly_signature: v.friendlySignature } : {};
    const spec = (t: { name: string; datatype: string; shape: number[] }) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
    });
    return {
      name,
      versions: [String(v.version)],
      platform: PLATFORMS[v.format] ?? v.format,
      inputs: v.signature.inputs.map(spec),
      outputs: v.signature.outputs.map(spec),
      ...(v.friendlySignature || arms ? { parameters: { ...friendly, ...(arms ? { targets: arms } : {}) } } : {}),
    };
  }

  async infer(
    name: string,
    version: string | undefined,
    request: InferRequest,
    context: InferContext,
  ): Promise<InferResponse> {
    const started = performance.now();
    const { metrics, host, tracing } = this.#options;
    // Unresolved names are not labels: a client must not be able to grow the metrics without bound.
    let labels = { model: '', version: '' };
    let outcome = 'ok';
    if (!this.#accepting) throw new ModelportError('not_ready', 'the server is shutting down', { retryAfter: 1 });
    context.requestId ??= requestIdFor(request.id, context.headers);
    // The payload log (when the target's deployment logs and this call is sampled): one record when it settles.
    let logged:
      | { target: InferenceTarget; timing: { queueMs: number }; submitted: number; outputs?: Tensor[] }
      | undefined;
    const span = tracing ? startRequestSpan(tracing, name, request, context) : undefined;
    try {
      const { target, served } = await this.#acquire(name, version, context);
      labels = { model: target.version.model, version: String(target.version.version) };
      if (span) span.setAttributes(targetAttributes(target));
      if (target.log?.take()) logged = { target, timing: { queueMs: 0 }, submitted: 0 };
      const withLabels = request.parameters?.['labels'] === true;
      try {
        validateRequest(request, target.version.signature);
        if (withLabels && !target.version.friendlySignature?.outputs?.labels) {
          throw new ModelportError(
            'invalid_request',
            `parameters.labels: model '${name}' has no output labels; set its friendly signature (outputs.labels) first`,
            { field: 'parameters.labels' },
          );
        }
      } catch (error) {
        host.release(served);
        throw error;
      }
      metrics.inFlight.inc(labels);
      try {
        const deadline = context.deadline ?? Date.now() + (this.#options.defaultTimeoutMs ?? 60_000);
        host.wake(served);
        if (logged) logged.submitted = performance.now();
        const outputs = await served.batcher.submit(request, {
          deadline,
          ...(context.signal ? { signal: context.signal } : {}),
          ...(span ? { span } : {}),
          ...(logged ? { timing: logged.timing } : {}),
        });
        if (logged) logged.outputs = outputs;
        const response: InferResponse = {
          model_name: name,
          model_version: labels.version,
          outputs,
          ...(request.id !== undefined ? { id: request.id } : {}),
        };
        target.onAnswer?.(request, response, context);
        // Asked with parameters.labels = true: the predicted labels as one more output, after the model's own.
        const named = withLabels ? labelNames(outputs, target.version.friendlySignature ?? undefined) : undefined;
        if (named) return { ...response, outputs: [...outputs.filter((o) => o.name !== LABEL_NAMES_OUTPUT), named] };
        return response;
      } finally {
        host.release(served);
        metrics.inFlight.dec(labels);
      }
    } catch (error) {
      outcome = error instanceof ModelportError ? error.code : 'internal';
      if (logged) logCall(logged, request, context, started, error);
      logged = undefined;
      throw error;
    } finally {
      if (span) endRequestSpan(span, outcome);
      metrics.requests.inc({ ...labels, protocol: context.protocol, outcome });
      metrics.requestSeconds.observe({ ...labels, protocol: context.protocol }, (performance.now() - started) / 1000);
      if (logged) logCall(logged, request, context, started, undefined);
    }
  }

  /**
   * Resolves the name and takes its unit. A unit owned by a deployment that began draining meanwhile (a rollout
   * swapped routes) is never used or restarted: the name is resolved again and lands on the new revision.
   */
  async #acquire(name: string, version: string | undefined, context: InferContext) {
    const { host, resolver } = this.#options;
    for (let attempt = 0; attempt < 3; attempt++) {
      const target = await resolver.resolve(name, version, context.headers);
      const served = host.acquire(target.key);
      if (served) return { target, served };
      if (target.managed) continue;
      await host.ensure(target.key, target.version, target.options, context.signal);
      const started = host.acquire(target.key);
      if (started) return { target, served: started };
    }
    throw new ModelportError('not_ready', 'the model is being replaced; retry', { retryAfter: 1 });
  }
}

/** The request's span, under the caller's `traceparent`; the answer names its trace (`traceresponse`). */
function startRequestSpan(tracing: Tracing, name: string, request: InferRequest, context: InferContext): Span {
  const requestId = context.requestId ?? request.id ?? context.headers?.['x-request-id'];
  const span = tracing.startRequest(`infer ${name}`, context.headers, {
    'modelport.model_name': name,
    'modelport.protocol': context.protocol,
    ...(requestId !== undefined ? { 'modelport.request_id': requestId } : {}),
  });
  context.onTrace?.(tracing.traceparent(span));
  return span;
}

function targetAttributes(target: InferenceTarget): Attributes {
  const { deployment, version } = target;
  return {
    'modelport.model': version.model,
    'modelport.model_version': version.version,
    ...(deployment
      ? {
          'modelport.deployment': deployment.name,
          'modelport.revision': deployment.revision,
          ...(deployment.tag ? { 'modelport.arm': deployment.tag } : {}),
        }
      : {}),
  };
}

function endRequestSpan(span: Span, outcome: string): void {
  span.setAttribute('modelport.outcome', outcome);
  if (outcome !== 'ok') span.setStatus({ code: SPAN_ERROR, message: outcome });
  span.end(hrNow());
}

/** Hands a settled call to its target's payload log, with the latency split (queue, compute, total) in ms. */
function logCall(
  logged: { target: InferenceTarget; timing: { queueMs: number }; submitted: number; outputs?: Tensor[] },
  request: InferRequest,
  context: InferContext,
  started: number,
  error: unknown,
): void {
  const now = performance.now();
  const totalMs = now - started;
  const queueMs = logged.timing.queueMs;
  const computeMs = logged.submitted === 0 ? 0 : Math.max(0, now - logged.submitted - queueMs);
  logged.target.log?.record({
    requestId: context.requestId ?? '',
    startedAt: Date.now() - totalMs,
    protocol: context.protocol,
    request,
    outputs: error === undefined ? logged.outputs : undefined,
    error: error === undefined ? undefined : toModelportError(error),
    headers: context.headers,
    version: logged.target.version,
    queueMs,
    computeMs,
    totalMs,
  });
}
