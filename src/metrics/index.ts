/** The public surface of metrics/: other folders import from here, never a file inside. */
export {
  BATCH_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  LATENCY_BUCKETS,
  MetricsRegistry,
} from './prometheus.ts';
