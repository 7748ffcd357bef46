/** The live metrics of a deployment, as the console's charts draw them. */
import { z } from 'zod';
import type { DeploymentService } from '../../deployments/index.ts';
import type { DeploymentMetricsSampler } from '../../observability/index.ts';
import { route } from '../route.ts';
import { Name } from '../schemas.ts';

const Nullable = z.number().nullable();

/** The console's time ranges. */
export const METRICS_RANGES = { '5m': 5 * 60_000, '1h': 60 * 60_000, '24h': 24 * 60 * 60_000 } as const;

export function deploymentMetricsRoutes({
  deployments,
  sampler,
}: {
  deployments: DeploymentService;
  sampler: DeploymentMetricsSampler;
}) {
  return [
    route({
      id: 'deploymentMetrics',
      method: 'GET',
      path: '/projects/:project/deployments/:name/metrics',
      permission: 'read',
      tag: 'deployments',
      summary:
        'Requests/s, errors, p50/p99 latency and replicas of a deployment, in total and per traffic arm, over the last 5 minutes, hour (every sample) or 24 hours (one point a minute)',
      params: z.strictObject({ project: Name, name: Name }),
      query: z.strictObject({
        range: z
          .enum(Object.keys(METRICS_RANGES) as [keyof typeof METRICS_RANGES, ...(keyof typeof METRICS_RANGES)[]])
          .default('1h'),
      }),
      response: z.object({
        intervalSeconds: z.number(),
        windowSeconds: z.number(),
        points: z.array(
          z.object({
            time: z.string(),
            requestsPerSecond: z.number(),
            errorsPerSecond: z.number(),
            errorRatio: Nullable,
            p50Ms: Nullable,
            p99Ms: Nullable,
            replicasReady: z.number().int(),
            replicasDesired: z.number().int(),
            arms: z.array(
              z.object({
                target: z.string(),
                tag: z.string().nullable(),
                requestsPerSecond: z.number(),
                errorRatio: Nullable,
                p50Ms: Nullable,
                p99Ms: Nullable,
              }),
            ),
          }),
        ),
      }),
      handler: async ({ params, query }) => {
        await deployments.get(params.project, params.name); // 404 for a deployment that does not exist
        return sampler.series(params.project, params.name, METRICS_RANGES[query.range]);
      },
    }),
  ];
}
