/** The public surface of serving/: other folders import from here, never a file inside. */
export { createServingMetrics } from './serving-metrics.ts';
export { WorkerPool } from './workers/worker-pool.ts';
