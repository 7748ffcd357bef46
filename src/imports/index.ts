/**
 * Importing models: from a local ONNX file, MLflow folder or js model folder (decided by the CLI), or from an
 * https:// or s3:// URL (downloaded by the server through the egress guard, then registered).
 */
export { sniffFormat } from './format.ts';
export { type LocalImport, localContainerImport, localImport } from './local-source.ts';
export {
  declaredFromMlflow,
  describeMlflowSpecs,
  type MlflowFlavors,
  type MlflowModel,
  type MlflowSpec,
  readMlflowFlavors,
  readMlflowModel,
} from './mlflow.ts';
export { type DownloadDeps, downloadModel, type S3Download, sourceLabel } from './url-source.ts';
