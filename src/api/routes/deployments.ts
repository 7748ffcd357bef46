/** Routes of deployments: declarative specs in, revisions and observed status out. */
import { z } from 'zod';
import { EXPORT_FORMATS, type ExportFormat } from '../../backends/index.ts';
import type { DeploymentService } from '../../deployments/index.ts';
import { DeploymentSpecSchema } from '../../deployments/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

const DeploymentParams = z.strictObject({ project: Name, name: Name });

const ConditionSchema = z.object({
  type: z.enum(['Ready', 'RolledOut', 'Failed']),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string(),
});

/** The targets a revision pinned: each reference resolved to a version when the revision was made. */
const RevisionTargetsSchema = z.object({
  traffic: z.array(
    z.object({
      ref: z.string(),
      model: z.string(),
      version: z.number().int(),
      weight: z.number(),
      tag: z.string().optional(),
    }),
  ),
  shadow: z.object({ ref: z.string(), model: z.string(), version: z.number().int(), percent: z.number() }).optional(),
});

const RevisionSchema = z.object({
  revision: z.number().int(),
  spec: DeploymentSpecSchema.describe('The spec with its defaults applied'),
  targets: RevisionTargetsSchema,
  createdAt: z.string(),
});

export const DeploymentSchema = z.object({
  project: z.string(),
  name: z.string(),
  generation: z.number().int(),
  currentRevision: z.number().int(),
  latestRevision: z.number().int(),
  spec: DeploymentSpecSchema.describe('The spec of currentRevision, with its defaults applied'),
  status: z.object({
    observedGeneration: z.number().int(),
    servingRevision: z.number().int().nullable(),
    conditions: z.array(ConditionSchema),
    urls: z.object({ rest: z.string(), grpc: z.string().optional() }),
    targets: z.array(
      z.object({
        model: z.string(),
        version: z.number().int(),
        weight: z.number(),
        tag: z.string().optional(),
        replicas: z.object({ desired: z.number().int(), ready: z.number().int() }),
      }),
    ),
    shadow: z
      .object({
        model: z.string(),
        version: z.number().int(),
        percent: z.number(),
        requests: z.number().int(),
        agreements: z.number().int(),
        errors: z.number().int(),
        agreementRate: z.number().nullable(),
      })
      .optional(),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
  warnings: z
    .array(z.string())
    .optional()
    .describe('In the answer to a change only: what it allows but may not mean (targets whose signatures differ)'),
});

export interface DeploymentRoutesOptions {
  deployments: DeploymentService;
  /** Renders a deployment's latest revision as files (src/backends/export.ts); the export route exists with it. */
  export?: (
    project: string,
    name: string,
    format: ExportFormat,
  ) => Promise<{ files: { path: string; content: string; owner: 'base' | 'example' }[]; warnings: string[] }>;
  /** Deletes a deployment's payload log and labels (`?purgePayloads=true` on delete); returns the records removed. */
  purgePayloads?: (project: string, name: string) => Promise<number>;
}

/** A deployment's current spec for the audit log's before/after, or null when it does not exist yet. */
async function specOf(deployments: DeploymentService, project: string, name: string): Promise<unknown> {
  try {
    return (await deployments.get(project, name)).spec;
  } catch {
    return null;
  }
}

export function deploymentRoutes({ deployments, export: exporter, purgePayloads }: DeploymentRoutesOptions) {
  return [
    ...(exporter
      ? [
          route({
            id: 'exportDeployment',
            method: 'GET',
            path: '/projects/:project/deployments/:name/export',
            permission: 'read',
            tag: 'deployments',
            summary:
              'Render the latest revision as Kubernetes manifests or a compose bundle, without applying (never holds secret values)',
            params: DeploymentParams,
            query: z.strictObject({ format: z.enum(EXPORT_FORMATS) }),
            response: z.object({
              files: z.array(z.object({ path: z.string(), content: z.string(), owner: z.enum(['base', 'example']) })),
              warnings: z.array(z.string()).describe('What to change before applying, e.g. a STORAGE_URI placeholder'),
            }),
            handler: async ({ params, query }) => exporter(params.project, params.name, query.format),
          }),
        ]
      : []),
    route({
      id: 'listDeployments',
      method: 'GET',
      path: '/projects/:project/deployments',
      permission: 'read',
      tag: 'deployments',
      summary: 'List deployments with their status',
      params: ProjectParams,
      response: z.object({ deployments: z.array(DeploymentSchema) }),
      handler: async ({ params }) => ({ deployments: await deployments.list(params.project) }),
    }),
    route({
      id: 'createDeployment',
      method: 'POST',
      path: '/projects/:project/deployments',
      permission: 'write',
      tag: 'deployments',
      summary: 'Create a deployment (409 if the name is taken)',
      params: ProjectParams,
      body: z.strictObject({ name: Name, spec: DeploymentSpecSchema }),
      status: 201,
      response: DeploymentSchema,
      audit: {
        object: ({ body }) => body.name,
        before: ({ params, body }) => specOf(deployments, params.project, body.name),
        detail: (_ctx, before, after) => ({ before, after: (after as { spec?: unknown } | undefined)?.spec ?? null }),
      },
      handler: async ({ params, body }) => deployments.apply(params.project, body.name, body.spec, true),
    }),
    route({
      id: 'applyDeployment',
      method: 'PUT',
      path: '/projects/:project/deployments/:name',
      permission: 'write',
      tag: 'deployments',
      summary: 'Create or change a deployment (a changed spec makes a new revision; the same spec is a no-op)',
      params: DeploymentParams,
      body: z.strictObject({ spec: DeploymentSpecSchema }),
      response: DeploymentSchema,
      audit: {
        before: ({ params }) => specOf(deployments, params.project, params.name),
        detail: (_ctx, before, after) => ({ before, after: (after as { spec?: unknown } | undefined)?.spec ?? null }),
      },
      handler: async ({ params, body }) => deployments.apply(params.project, params.name, body.spec),
    }),
    route({
      id: 'getDeployment',
      method: 'GET',
      path: '/projects/:project/deployments/:name',
      permission: 'read',
      tag: 'deployments',
      summary: 'Show a deployment: spec and observed status',
      params: DeploymentParams,
      response: DeploymentSchema,
      handler: async ({ params }) => deployments.get(params.project, params.name),
    }),
    route({
      id: 'deleteDeployment',
      method: 'DELETE',
      path: '/projects/:project/deployments/:name',
      permission: 'admin',
      tag: 'deployments',
      summary:
        'Delete a deployment; every worker it ran is stopped. Its payload log is kept unless purgePayloads=true (then its logged calls and labels are deleted too)',
      params: DeploymentParams,
      query: z.strictObject({ purgePayloads: z.enum(['true', 'false']).default('false') }),
      status: 204,
      response: 'empty',
      audit: {
        before: ({ params }) => specOf(deployments, params.project, params.name),
        detail: (ctx, before) => ({ before, after: null, purgePayloads: ctx.query.purgePayloads === 'true' }),
      },
      handler: async ({ params, query }) => {
        await deployments.delete(params.project, params.name);
        if (query.purgePayloads === 'true') await purgePayloads?.(params.project, params.name);
      },
    }),
    route({
      id: 'deploymentRevisions',
      method: 'GET',
      path: '/projects/:project/deployments/:name/revisions',
      permission: 'read',
      tag: 'deployments',
      summary: 'List the immutable revisions of a deployment',
      params: DeploymentParams,
      response: z.object({ revisions: z.array(RevisionSchema) }),
      handler: async ({ params }) => ({ revisions: await deployments.revisions(params.project, params.name) }),
    }),
    route({
      id: 'promoteDeployment',
      method: 'POST',
      path: '/projects/:project/deployments/:name/promote',
      permission: 'write',
      tag: 'deployments',
      summary: 'Send 100% of traffic to the canary',
      params: DeploymentParams,
      response: DeploymentSchema,
      handler: async ({ params }) => deployments.promote(params.project, params.name),
    }),
    route({
      id: 'rollbackDeployment',
      method: 'POST',
      path: '/projects/:project/deployments/:name/rollback',
      permission: 'write',
      tag: 'deployments',
      summary: 'Serve an earlier revision (default: the one before the serving one)',
      params: DeploymentParams,
      body: z.strictObject({ revision: z.number().int().positive().optional() }),
      response: DeploymentSchema,
      handler: async ({ params, body }) => deployments.rollback(params.project, params.name, body.revision),
    }),
    route({
      id: 'waitDeployment',
      method: 'GET',
      path: '/projects/:project/deployments/:name/wait',
      permission: 'read',
      tag: 'deployments',
      summary: 'Wait until the deployment is Ready at its latest generation (or failed, or the timeout passed)',
      params: DeploymentParams,
      query: z.strictObject({ timeout: z.coerce.number().int().min(1).max(600).default(60) }),
      response: DeploymentSchema,
      handler: async ({ params, query, signal }) =>
        deployments.wait(params.project, params.name, query.timeout * 1000, signal),
    }),
  ];
}
