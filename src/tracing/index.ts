/** Distributed traces (OpenTelemetry): the API, the SDK and the exporter load only when tracing is configured. */
export {
  formatTraceparent,
  hrNow,
  SPAN_ERROR,
  startTracing,
  type Tracing,
  type TracingSettings,
} from './tracing.ts';
