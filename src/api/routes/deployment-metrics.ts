/** The live metrics of a deployment, as the console's charts draw them. */
import { z } from 'zod';
import type { DeploymentService } from '../../deployments/index.ts';
import type { DeploymentMetricsSampler } from '../../observability/index.ts';
import { route } from '../route.ts';
import { Name } from '../schemas.ts';

const Nullable = z.number().nullable();

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
      summary: 'Requests/s, errors, p50/p99 latency and replicas of a deployment over the last 15 minutes',
      params: z.strictObject({ project: Name, name: Name }),
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
          }),
        ),
      }),
      handler: async ({ params }) => {
        await deployments.get(params.project, params.name); // 404 for a deployment that does not exist
        return sampler.series(params.project, params.name);
      },
    }),
  ];
}
