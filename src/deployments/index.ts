/** The public surface of deployments/: other folders import from here, never a file inside. */
export { Autoscaler } from './autoscaler.ts';
export type { Backend, BackendResult, RevisionPlan, RouteReader, SecretResolver, ServingRoute } from './backend.ts';
export { batchRevision, batchTarget } from './batch-target.ts';
export { DeploymentService, type RolloutEvent } from './deployment-service.ts';
export { outputsAgree } from './shadow.ts';
export {
  type CompiledScaling,
  checkSpec,
  type DeploymentSpec,
  type DeploymentSpecInput,
  DeploymentSpecSchema,
  type DriftMonitorSpec,
  type LoggingSpec,
  parseSpec,
} from './spec.ts';
export { selectTarget, splitTag, TAG_HEADER } from './traffic.ts';
export type { Condition, Deployment, ResolvedTarget, RevisionTargets, ShadowStatus, TargetStatus } from './types.ts';
