/** The public surface of observability/: other folders import from here, never a file inside. */
export { type DeploymentMetrics, DeploymentMetricsSampler } from './deployment-metrics-sampler.ts';
export { registerQueueGauges } from './queue-gauges.ts';
