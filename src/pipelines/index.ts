/** Pipelines: declarative DAGs of steps triggered by data commits, model versions, schedules or people. */
export {
  type BuiltinStepDeps,
  BuiltinSteps,
  describeTrigger,
  type StepContext,
  type StepOutcome,
} from './builtin-steps.ts';
export { type EvaluateJob, evaluateInChild } from './evaluate-process.ts';
export { evaluateModel } from './evaluation.ts';
export type { StepExecution, StepExecutor, StepExit, StepLaunch } from './executor.ts';
export {
  CONTAINER_FOLDERS,
  KubernetesExecutor,
  type KubernetesExecutorOptions,
  renderStepJob,
} from './executors/kubernetes-executor.ts';
export { LocalExecutor, type LocalExecutorOptions } from './executors/local-executor.ts';
export { S3StepStaging, type S3StepStagingOptions, type StepStaging } from './executors/s3-staging.ts';
export { type ApplyInput, PipelineService, type PipelineServiceDeps } from './pipeline-service.ts';
export { CONSUMER, RunEngine, type RunEngineOptions } from './run-engine.ts';
export {
  type CompiledPipeline,
  type CompiledStep,
  compilePipelineSpec,
  GATE_VARIABLES,
  type PipelineSpec,
  type PipelineSpecInput,
  PipelineSpecSchema,
  PROMOTE_VARIABLES,
  STEP_KINDS,
  type StepKind,
} from './spec.ts';
export { StepLog } from './step-log.ts';
export {
  FINISHED,
  type Pipeline,
  type PipelineRevision,
  RUN_STATES,
  type Run,
  type RunLifecycleEvent,
  type RunState,
  type RunStep,
  type RunSummary,
  type RunTrigger,
  STEP_STATES,
  type StepResult,
} from './types.ts';
export {
  signGithubDelivery,
  signModelportDelivery,
  verifyDelivery,
  WEBHOOK_MAX_BYTES,
  WEBHOOK_TOLERANCE_SECONDS,
} from './webhook.ts';
