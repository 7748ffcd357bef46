/** The public surface of registry/: other folders import from here, never a file inside. */

export { modelInspector } from './model-inspector.ts';
export { ModelRegistry } from './model-registry.ts';
export type { Model, ModelVersion, Project, RegisterVersionInput, VersionUsage } from './types.ts';
