/** The gateway's Prometheus series, on its own /metrics. */
import { LATENCY_BUCKETS, type MetricsRegistry } from '../../../metrics/index.ts';

export function createGatewayMetrics(registry: MetricsRegistry) {
  return {
    requests: registry.counter(
      'modelport_gateway_requests_total',
      'Requests routed by the gateway, by deployment, target (model@version) and status code.',
      ['deployment', 'target', 'code'],
    ),
    latency: registry.histogram(
      'modelport_gateway_upstream_seconds',
      'Time until the upstream started its answer.',
      ['deployment', 'target'],
      LATENCY_BUCKETS,
    ),
    shadows: registry.counter(
      'modelport_shadow_requests_total',
      'Requests mirrored to a deployment shadow, by outcome (agree, disagree, uncompared, error, dropped).',
      ['deployment', 'outcome'],
    ),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
