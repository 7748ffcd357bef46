/**
 * Distributed traces with OpenTelemetry, off unless an OTLP endpoint is configured.
 *
 * Code on the request path holds a `Tracing` only when tracing is on (`undefined` otherwise), so tracing off costs
 * one `if` per request and nothing is loaded: the API, the SDK, the OTLP HTTP exporter and the W3C propagator are
 * imported by `startTracing`, lazily. A request's span starts under its `traceparent` header (W3C Trace Context), and the
 * trace travels on through the batcher to the worker process as a `traceparent` string in the predict frame.
 * Spans are parented explicitly, so no context manager (async hooks) is installed.
 */
import type { Attributes, Context, HrTime, Link, Span, SpanStatusCode, Tracer } from '@opentelemetry/api';

/**
 * `SpanStatusCode.ERROR`, for `span.setStatus`: the API package itself (about 50 modules) loads with the SDK in
 * `startTracing`, so a process that does not trace (a worker, most gateways) never loads it.
 */
export const SPAN_ERROR = 2 as SpanStatusCode.ERROR;

/**
 * Now on one clock for every span of this process (time origin + the monotonic clock, sub-millisecond). The SDK
 * anchors each span to Date.now() at its creation, in whole milliseconds, and ends a span given an explicit start at
 * Date.now(): a child could then seem to end after its parent. Every start and end here passes this time instead.
 */
export function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
}

export interface TracingSettings {
  /** The OTLP/HTTP traces endpoint (JSON), e.g. `http://collector:4318/v1/traces`. */
  endpoint: string;
  /** Fraction of root traces recorded, 0-1; a request with a `traceparent` follows its sampled flag. */
  sampleRatio: number;
  /** `service.name` of the spans (`modelport`; workers say `modelport-worker`). */
  serviceName: string;
  /** Export delay of the batch span processor in ms (default 2000). */
  exportDelayMs?: number;
}

export interface Tracing {
  readonly settings: TracingSettings;
  /** A request's span: SERVER kind, the child of the caller's `traceparent` when it sent one. */
  startRequest(
    name: string,
    headers: Readonly<Record<string, string | undefined>> | undefined,
    attributes: Attributes,
  ): Span;
  /** A child span of `parent` (a span, or a `traceparent` string from another process). */
  startChild(
    name: string,
    parent: Span | string | undefined,
    options?: { startTime?: number; attributes?: Attributes; links?: Link[] },
  ): Span;
  /** The W3C `traceparent` of a span, to hand the trace to another process. */
  traceparent(span: Span): string;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `00-<trace id>-<span id>-<flags>` of a span. */
export function formatTraceparent(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Loads the SDK and the OTLP HTTP exporter (only now) and returns the tracer the serving path uses. */
export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  const [
    { TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler },
    exporterModule,
    core,
    resources,
    { ROOT_CONTEXT, SpanKind, trace },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/api'),
  ]);
  const exporter = new exporterModule.OTLPTraceExporter({ url: settings.endpoint });
  const provider = new TracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': settings.serviceName, 'process.pid': process.pid }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: settings.exportDelayMs ?? 2000 })],
  });
  const tracer: Tracer = provider.getTracer('modelport');
  const propagator = new core.W3CTraceContextPropagator();
  const getter = {
    keys: (carrier: Readonly<Record<string, string | undefined>>) => Object.keys(carrier),
    get: (carrier: Readonly<Record<string, string | undefined>>, key: string) => carrier[key],
  };
  const remote = (traceparent: string | undefined): Context =>
    traceparent && TRACEPARENT.test(traceparent)
      ? propagator.extract(ROOT_CONTEXT, { traceparent }, getter)
      : ROOT_CONTEXT;

  return {
    settings,
    startRequest(name, headers, attributes) {
      const parent = remote(headers?.['traceparent']);
      return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, startTime: hrNow() }, parent);
    },
    startChild(name, parent, options = {}) {
      const ctx =
        typeof parent === 'string' ? remote(parent) : parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
      return tracer.startSpan(
        name,
        {
          startTime: options.startTime ?? hrNow(),
          ...(options.attributes ? { attributes: options.attributes } : {}),
          ...(options.links ? { links: options.links } : {}),
        },
        ctx,
      );
    },
    traceparent: formatTraceparent,
    shutdown: () => provider.shutdown(),
  };
}
