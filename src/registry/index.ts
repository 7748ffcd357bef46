/** The public surface of registry/: other folders import from here, never a file inside. */
export type { ModelRegistry } from './model-registry.ts';
export type { ModelVersion } from './types.ts';
