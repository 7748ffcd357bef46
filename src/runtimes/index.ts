/**
 * Model runtimes: the contract and the factory by kind. The ONNX implementation is loaded lazily by
 * `createRuntime('onnx')` inside worker processes; `inspectOnnxModel` runs ONNX Runtime in a child process, so
 * importing this module never loads onnxruntime-node. The hosted runtime (YAML, the protocol codecs) loads on first
 * use too (`createRuntime('hosted')`, `readHostedDescriptor`): a model worker imports this module.
 */

export { inspectJsModel, isGzip, MANIFEST_FILE, packFolder } from './js/index.ts';
export { locationInsideFolder, onnxExternalData, refuseExternalData } from './onnx/external-data.ts';
export { type InspectOptions, inspectOnnxModel } from './onnx/inspect.ts';
export { refusedFormat, sniffModelFile } from './onnx/sniff.ts';
export {
  compileRuntimeSettings,
  createRuntime,
  isRuntimeKind,
  type ModelRuntime,
  RUNTIME_KINDS,
  type RuntimeEnvironment,
  type RuntimeKind,
  type RuntimeLoadOptions,
  type RuntimeSettings,
  readHostedDescriptor,
} from './runtime.ts';
export { zeroBatch } from './zero-batch.ts';
