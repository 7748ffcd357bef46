/**
 * The public surface of api/: the API contract's types (what the client derives its types from). The server wires
 * the routes; the other exports join here as the composition root moves to this door.
 */

export { type Authorizer, checkGrant, LocalAuthorizer } from './authorizer.ts';
export type {
  ApiBody,
  ApiParams,
  ApiQuery,
  ApiResponse,
  ApiRoute,
  Operation,
  OperationId,
  OperationLine,
} from './contract.ts';
export { buildOpenApiDocument } from './openapi.ts';
export { renderPermissionsTable, replacePermissionsTable } from './permissions-doc.ts';
export { type ApiHandler, createRouter } from './router.ts';
export { auditRoutes } from './routes/audit.ts';
export { type AuthRoutesDeps, authRoutes } from './routes/auth.ts';
export { dataRoutes } from './routes/data.ts';
export { deploymentMetricsRoutes } from './routes/deployment-metrics.ts';
export { deploymentRoutes } from './routes/deployments.ts';
export { DriftCheckSchema, driftRoutes } from './routes/drift.ts';
export { type ApiRoutesDeps, apiRoutes, declaredRoutes } from './routes/index.ts';
export { jobRoutes } from './routes/jobs.ts';
export { modelRoutes } from './routes/models.ts';
export { modelTypeRoutes } from './routes/modeltypes.ts';
export { PipelineSchema, pipelineRoutes, RunSchema } from './routes/pipelines.ts';
export { secretRoutes } from './routes/secrets.ts';
export { systemRoutes } from './routes/system.ts';
