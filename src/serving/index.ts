/** The public surface of serving/: other folders import from here, never a file inside. */

export {
  type CallLog,
  GatewayService,
  type InferenceTarget,
  type LoggedCall,
  type TargetResolver,
  type TrafficArm,
} from './gateway-service.ts';
export { createGrpcServer, startGrpcServer, stopGrpcServer } from './grpc/index.ts';
export { type InferContext, type Protocol, REQUEST_ID_HEADER, requestIdFor } from './inference-service.ts';
export { ModelHost, type ServeOptions } from './model-host.ts';
export { RegistryResolver } from './registry-resolver.ts';
export { createRestHandler } from './rest-handler.ts';
export { createServingMetrics } from './serving-metrics.ts';
export { WorkerPool } from './workers/worker-pool.ts';
