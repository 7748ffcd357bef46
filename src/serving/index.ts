/** The public surface of serving/: other folders import from here, never a file inside. */

export { GatewayService, type InferenceTarget, type TargetResolver, type TrafficArm } from './gateway-service.ts';
export { createGrpcServer, startGrpcServer, stopGrpcServer } from './grpc/index.ts';
export type { InferContext } from './inference-service.ts';
export { ModelHost, type ServeOptions } from './model-host.ts';
export { RegistryResolver } from './registry-resolver.ts';
export { createRestHandler } from './rest-handler.ts';
export { createServingMetrics } from './serving-metrics.ts';
export { WorkerPool } from './workers/worker-pool.ts';
