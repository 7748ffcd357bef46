/**
 * The whole control-plane route table, in one place: the server builds it with its services, and the generated
 * docs (the README's permissions table) read it, so a new route is documented the day it is added.
 */
import type { AnyRoute } from '../route.ts';
import { auditRoutes } from './audit.ts';
import { type AuthRoutesDeps, authRoutes } from './auth.ts';
import { dataRoutes } from './data.ts';
import { deploymentMetricsRoutes } from './deployment-metrics.ts';
import { type DeploymentRoutesOptions, deploymentRoutes } from './deployments.ts';
import { driftRoutes } from './drift.ts';
import { type JobRoutesDeps, jobRoutes } from './jobs.ts';
import { type LineageRoutesDeps, lineageRoutes } from './lineage.ts';
import { type ModelRoutesDeps, modelRoutes } from './models.ts';
import { type ModelTypeRoutesDeps, modelTypeRoutes } from './modeltypes.ts';
import { type PayloadRoutesDeps, payloadRoutes } from './payloads.ts';
import { type PipelineRoutesDeps, pipelineRoutes } from './pipelines.ts';
import { type ScanRoutesDeps, scanRoutes } from './scans.ts';
import { type SecretRoutesDeps, secretRoutes } from './secrets.ts';
import { systemRoutes } from './system.ts';

export interface ApiRoutesDeps {
  system: Parameters<typeof systemRoutes>[0];
  models: ModelRoutesDeps;
  deployments: DeploymentRoutesOptions;
  secrets: SecretRoutesDeps;
  modelTypes: ModelTypeRoutesDeps;
  jobs: JobRoutesDeps;
  deploymentMetrics: Parameters<typeof deploymentMetricsRoutes>[0];
  auth: AuthRoutesDeps;
  audit: Parameters<typeof auditRoutes>[0];
  data: Parameters<typeof dataRoutes>[0];
  pipelines: PipelineRoutesDeps;
  lineage: LineageRoutesDeps;
  payloads: PayloadRoutesDeps;
  scans: ScanRoutesDeps;
  drift: Parameters<typeof driftRoutes>[0];
}

export function apiRoutes(deps: ApiRoutesDeps): AnyRoute[] {
  return [
    ...systemRoutes(deps.system),
    ...modelRoutes(deps.models),
    ...deploymentRoutes(deps.deployments),
    ...secretRoutes(deps.secrets),
    ...modelTypeRoutes(deps.modelTypes),
    ...jobRoutes(deps.jobs),
    ...deploymentMetricsRoutes(deps.deploymentMetrics),
    ...authRoutes(deps.auth),
    ...auditRoutes(deps.audit),
    ...dataRoutes(deps.data),
    ...pipelineRoutes(deps.pipelines),
    ...lineageRoutes(deps.lineage),
    ...payloadRoutes(deps.payloads),
    ...scanRoutes(deps.scans),
    ...driftRoutes(deps.drift),
  ];
}

/** The route table with no services behind it: for documents generated from the declarations (never served). */
export function declaredRoutes(): AnyRoute[] {
  // Every dependency is a function that is never called: route factories only close over their dependencies.
  const stub = new Proxy({}, { get: () => () => undefined });
  const deps = new Proxy({}, { get: () => stub }) as unknown as ApiRoutesDeps;
  return apiRoutes(deps);
}
