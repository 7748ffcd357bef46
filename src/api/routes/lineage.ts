/**
 * Routes of lineage: the graph around a request id, a deployment revision, a model version, a run or a data commit,
 * and the same as OpenLineage RunEvents. Per project, so a caller sees only what the projects it may read hold.
 */
import { z } from 'zod';
import { type LineageService, NODE_KINDS, type OpenLineageEvents } from '../../lineage/index.ts';
import { route } from '../route.ts';
import { ProjectParams } from '../schemas.ts';

export interface LineageRoutesDeps {
  lineage: LineageService;
  events: OpenLineageEvents;
}

const LineageQuery = z.strictObject({
  of: z
    .string()
    .min(1)
    .max(300)
    .describe(
      'What to trace: a request id, <deployment>[@<revision>], <model>@<version>, a run (id, prefix or pipeline#number), <repo>@<commit>; prefix with request:, deployment:, model:, run: or data: to say which',
    ),
  direction: z.enum(['up', 'down', 'both']).default('both').describe('up: what made it; down: what it reached'),
});

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const LineageGraphSchema = z.object({
  project: z.string(),
  subject: z.object({ query: z.string(), kind: z.enum(NODE_KINDS), node: z.string() }),
  direction: z.enum(['up', 'down', 'both']),
  nodes: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(NODE_KINDS),
      label: z.string(),
      state: z.string().nullable(),
      time: z.string().nullable(),
      link: z.string().nullable().describe("The console page that shows it (a path under the console's root)"),
      detail: z.record(z.string(), Scalar),
    }),
  ),
  edges: z.array(z.object({ from: z.string(), to: z.string(), relation: z.string() })),
  truncated: z.boolean(),
});

const Facets = z.record(z.string(), z.record(z.string(), z.unknown()));
const Dataset = z.object({ namespace: z.string(), name: z.string(), facets: Facets.optional() });

export const OpenLineageEventSchema = z.object({
  eventType: z.enum(['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER']),
  eventTime: z.string(),
  producer: z.string(),
  schemaURL: z.string(),
  run: z.object({ runId: z.string(), facets: Facets.optional() }),
  job: z.object({ namespace: z.string(), name: z.string(), facets: Facets.optional() }),
  inputs: z.array(Dataset),
  outputs: z.array(Dataset),
});

export function lineageRoutes({ lineage, events }: LineageRoutesDeps) {
  return [
    route({
      id: 'getLineage',
      method: 'GET',
      path: '/projects/:project/lineage',
      permission: 'read',
      tag: 'lineage',
      summary:
        'The lineage graph: upstream, what made it (prediction -> revision -> arm -> version -> run and steps -> data commit and profiles, gates); downstream, what it reached',
      params: ProjectParams,
      query: LineageQuery,
      response: LineageGraphSchema,
      handler: async ({ params, query }) => lineage.query(params.project, query.of, query.direction),
    }),
    route({
      id: 'exportOpenLineage',
      method: 'GET',
      path: '/projects/:project/lineage/openlineage',
      permission: 'read',
      tag: 'lineage',
      summary:
        'The OpenLineage RunEvents (spec 2-0-2) of the runs, steps and deployment rollouts in the lineage graph, in time order',
      params: ProjectParams,
      query: LineageQuery,
      response: z.object({ events: z.array(OpenLineageEventSchema) }),
      handler: async ({ params, query }) => ({
        events: await lineage.openLineage(params.project, query.of, query.direction, events),
      }),
    }),
  ];
}
