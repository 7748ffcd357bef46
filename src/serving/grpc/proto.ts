/**
 * Loads the Open Inference Protocol service (`package inference`, grpc_predict_v2.proto beside this file).
 *
 * LOADER_OPTIONS fix how messages look in JavaScript; the generated types assume exactly these:
 * - `keepCase`: fields keep their proto names (`raw_input_contents`), as in the KServe and Triton docs;
 * - `longs: String`: int64/uint64 values (shapes, INT64 and UINT64 data, int64 parameters) arrive as decimal
 *   strings, so nothing loses precision; the codec parses them to numbers or bigints;
 * - `defaults` and `oneofs`: every field is present on decoded messages, and `parameter_choice` names the set
 *   member of an InferParameter.
 */
import { fileURLToPath } from 'node:url';
import type { Options, PackageDefinition } from '@grpc/proto-loader';
import { lazyPackage } from '../../core/index.ts';
import type { GRPCInferenceServiceDefinition } from './generated/inference/GRPCInferenceService.generated.ts';

// Loaded by the first call that needs the proto: a server whose clients never speak gRPC goes without protobufjs.
const loadProtoLoader = lazyPackage<typeof import('@grpc/proto-loader')>('@grpc/proto-loader');

/** The proto's file name, relative to this folder. */
export const PROTO_FILE = 'grpc_predict_v2.proto';

export const LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** Fully qualified service name, for raw calls and health checks. */
export const SERVICE_NAME = 'inference.GRPCInferenceService';

/** The parsed proto as a package definition (what grpc-js and reflection tools take). */
export function loadInferencePackageDefinition(): PackageDefinition {
  return loadProtoLoader().loadSync(fileURLToPath(new URL(PROTO_FILE, import.meta.url)), LOADER_OPTIONS);
}

/**
 * The service's methods: each one's path and protobuf (de)serialisers. Read from the package definition directly,
 * so the server needs @grpc/proto-loader only (@grpc/grpc-js is a dev dependency: tests and benchmarks' client).
 */
export function inferenceService(): GRPCInferenceServiceDefinition {
  return loadInferencePackageDefinition()[SERVICE_NAME] as unknown as GRPCInferenceServiceDefinition;
}
