/**
 * The data plane's Prometheus metrics. Names and labels are part of the public surface (listed in the README).
 */
import { BATCH_BUCKETS, LATENCY_BUCKETS, type MetricsRegistry } from '../metrics/index.ts';

export function createServingMetrics(registry: MetricsRegistry) {
  return {
    requests: registry.counter(
      'modelport_inference_requests_total',
      'Inference requests by model, version, protocol and outcome (ok, or the error code).',
      ['model', 'version', 'protocol', 'outcome'],
    ),
    requestSeconds: registry.histogram(
      'modelport_inference_request_seconds',
      'Total time from decoded request to encoded answer.',
      ['model', 'version', 'protocol'],
      LATENCY_BUCKETS,
    ),
    queueSeconds: registry.histogram(
      'modelport_inference_queue_seconds',
      'Time a request waited in the batcher queue before its batch was sent to a worker.',
      ['model', 'version'],
      LATENCY_BUCKETS,
    ),
    inferenceSeconds: registry.histogram(
      'modelport_inference_compute_seconds',
      'Time a batch spent in a worker, IPC included.',
      ['model', 'version'],
      LATENCY_BUCKETS,
    ),
    batchSize: registry.histogram(
      'modelport_inference_batch_size',
      'Rows per batch sent to a worker.',
      ['model', 'version'],
      BATCH_BUCKETS,
    ),
    inFlight: registry.gauge('modelport_inference_in_flight', 'Requests being served now.', ['model', 'version']),
    workers: registry.gauge('modelport_workers', 'Ready worker processes per model version.', ['model', 'version']),
    workerRestarts: registry.counter(
      'modelport_worker_restarts_total',
      'Worker processes restarted after a crash or hang.',
      ['model', 'version'],
    ),
    connectionsRefused: registry.counter(
      'modelport_http_connections_refused_total',
      'Connections answered 503 and closed unread because the server had --max-connections open.',
      [],
    ),
    coldStarts: registry.counter(
      'modelport_cold_starts_total',
      'Workers started for a model version that had none (scale from zero or first request).',
      ['model', 'version'],
    ),
    coldStartSeconds: registry.histogram(
      'modelport_cold_start_seconds',
      'Time from the first waiting request to a ready worker.',
      ['model', 'version'],
      LATENCY_BUCKETS,
    ),
  };
}

export type ServingMetrics = ReturnType<typeof createServingMetrics>;
