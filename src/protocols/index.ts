/**
 * REST inference protocol codecs: pure functions from request bodies to `InferRequest` and from `InferResponse`
 * to bodies, for the Open Inference Protocol (V2 JSON and the binary tensor extension), KServe V1 / TF Serving
 * predict, and Seldon Core v1. The gateway decodes, calls `validateRequest`, calls `InferenceService.infer`, and
 * encodes with the same protocol. Decoders throw only `ModelportError` with 4xx codes for bad input.
 *
 * A leaf: it imports only core, http and signatures, so both serving (the gateway) and runtimes (the hosted
 * runtime, which speaks these protocols to a service elsewhere) build on it without importing each other.
 */

export { decodeFriendlyRows, friendlyPredictions, isFriendlyRows, LABEL_NAMES_OUTPUT, labelNames } from './friendly.ts';
export {
  decodeSeldon,
  encodeSeldon,
  type SeldonDecoded,
  type SeldonEncodeOptions,
  type SeldonFormat,
  seldonErrorBody,
} from './seldon.ts';
export { naturalShape, nest, readNested, toJsonValues } from './tensor-json.ts';
export { decodeV1, encodeV1, encodeV1ModelList, encodeV1ModelStatus, type V1Decoded, type V1Format } from './v1.ts';
export {
  decodeV2Request,
  type EncodedV2Response,
  encodeV2Response,
  HEADER_LENGTH_HEADER,
} from './v2-binary.ts';
export { decodeV2Json, encodeV2Json, jsonOutput, readInferRequest } from './v2-json.ts';
export { validateRequest, zeroRequest } from './validate.ts';
