/** Distributed traces (OpenTelemetry): the SDK and exporter load only when tracing is configured. */
export { formatTraceparent, hrNow, startTracing, type Tracing, type TracingSettings } from './tracing.ts';
