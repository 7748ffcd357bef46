/** The Open Inference Protocol gRPC transport: see grpc-server.ts for wiring and README.md for the files. */
export { type DecodedInferRequest, decodeInferRequest, encodeInferResponse } from './grpc-codec.ts';
export {
  createGrpcServer,
  DEFAULT_MAX_MESSAGE_BYTES,
  type GrpcServerOptions,
  startGrpcServer,
  stopGrpcServer,
} from './grpc-server.ts';
export { inferenceService, LOADER_OPTIONS, loadInferencePackageDefinition, SERVICE_NAME } from './proto.ts';
