/** The public surface of backends/: other folders import from here, never a file inside. */

export {
  artifactPath,
  buildContextFiles,
  HEALTHCHECK_SCRIPT,
  modelPath,
  VERIFY_SCRIPT,
} from './build/build-context.ts';
export { createSbom, type Lockfile, npmPurl } from './build/sbom.ts';
export {
  contextFiles,
  listContext,
  type RenderedContext,
  readServingLockfile,
  renderContext,
  renderContextOf,
  writeBuildContext,
} from './build/write-context.ts';
export { ComposeBackend } from './compose/compose-backend.ts';
export { EXPORT_FORMATS, type ExportFormat, exportDeployment } from './export.ts';
export { type KubeApi, openKubeApi } from './kubernetes/kube-api.ts';
export { KubernetesBackend } from './kubernetes/kubernetes-backend.ts';
export { DeploymentResolver, LocalBackend } from './local/index.ts';
export { type KubeObject, ManifestValidator } from './schema-validation.ts';
