/** Live drift of a deployment (src/monitoring): its checks over time, its condition, and a check run now. */
import { z } from 'zod';
import type { DeploymentService } from '../../deployments/index.ts';
import type { DriftMonitor } from '../../monitoring/index.ts';
import { route } from '../route.ts';
import { Name } from '../schemas.ts';

const FeatureSchema = z.object({
  name: z.string(),
  kind: z.enum(['numeric', 'categorical']),
  rows: z.number().int(),
  psi: z.number(),
  effect: z.number(),
  pValue: z.number(),
  drifted: z.boolean(),
});

export const DriftCheckSchema = z.object({
  id: z.string(),
  project: z.string(),
  deployment: z.string(),
  revision: z.number().int(),
  arm: z.string(),
  model: z.string(),
  modelVersion: z.number().int(),
  checkedAt: z.string(),
  windowStart: z.string(),
  rows: z.number().int(),
  state: z.enum(['drifted', 'ok', 'too_few_rows', 'no_reference']),
  message: z.string(),
  share: z.number().nullable(),
  threshold: z.number(),
  shareThreshold: z.number(),
  reference: z.string().nullable(),
  features: z.array(FeatureSchema),
  unmatched: z.array(z.string()),
});

const Params = z.strictObject({ project: Name, name: Name });

export function driftRoutes({ deployments, drift }: { deployments: DeploymentService; drift: DriftMonitor }) {
  return [
    route({
      id: 'deploymentDrift',
      method: 'GET',
      path: '/projects/:project/deployments/:name/drift',
      permission: 'read',
      tag: 'deployments',
      summary:
        "A deployment's live drift checks, newest first: per traffic arm, each feature's PSI and test against the training data's profile, and the DriftDetected condition",
      params: Params,
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      response: z.object({
        deployment: z.string(),
        monitoring: z.boolean(),
        nextCheck: z.string().nullable(),
        condition: z
          .object({
            status: z.enum(['True', 'False', 'Unknown']),
            reason: z.string().optional(),
            message: z.string().optional(),
            lastTransitionTime: z.string(),
          })
          .nullable(),
        checks: z.array(DriftCheckSchema),
      }),
      handler: async ({ params, query }) => {
        const d = await deployments.get(params.project, params.name);
        const condition = drift.condition(params.project, params.name);
        return {
          deployment: d.name,
          monitoring: d.spec.monitoring?.drift !== undefined,
          nextCheck: drift.nextRun(params.project, params.name),
          condition: condition
            ? {
                status: condition.status,
                lastTransitionTime: condition.lastTransitionTime,
                ...(condition.reason ? { reason: condition.reason } : {}),
                ...(condition.message ? { message: condition.message } : {}),
              }
            : null,
          checks: await drift.history(params.project, params.name, query.limit),
        };
      },
    }),
    route({
      id: 'checkDeploymentDrift',
      method: 'POST',
      path: '/projects/:project/deployments/:name/drift/check',
      permission: 'write',
      tag: 'deployments',
      summary: "Runs a deployment's drift check now (as its schedule would) and answers with one check per traffic arm",
      params: Params,
      response: z.object({ checks: z.array(DriftCheckSchema) }),
      handler: async ({ params }) => ({ checks: await drift.check(params.project, params.name) }),
    }),
  ];
}
