/** The registry's objects as the API returns them. */
import type { ModelSignature } from '../core/index.ts';
import type { FriendlySignature } from '../signatures/index.ts';

export interface Project {
  name: string;
  createdAt: string;
}

export interface Model {
  project: string;
  name: string;
  description: string;
  /** Highest existing version, or null when every version was deleted. */
  latestVersion: number | null;
  versionCount: number;
  aliases: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}

export interface Lineage {
  source: string | null;
  dataCommit: string | null;
  pipelineRun: string | null;
}

export interface ModelVersion {
  project: string;
  model: string;
  version: number;
  format: string;
  modelType: string;
  sha256: string;
  size: number;
  signature: ModelSignature;
  /** Named features and an output mapping (src/signatures), checked against `signature`; null when unset. */
  friendlySignature?: FriendlySignature | null;
  description: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  lineage: Lineage;
  aliases: string[];
  createdAt: string;
}

export interface RegisterVersionInput {
  /** A local file holding the uploaded model (spooled by the caller); the registry copies it into the store. */
  file: string;
  /**
   * How the file is served: an ONNX model, a `js` model folder as a .tgz (src/runtimes/js), or a `hosted`
   * descriptor (src/runtimes/hosted). Default 'onnx'.
   */
  format?: 'onnx' | 'js' | 'hosted';
  description?: string;
  tags?: Record<string, string>;
  metrics?: Record<string, number>;
  aliases?: string[];
  lineage?: Partial<Lineage>;
  /** Checked against the model's signature before anything is stored. */
  friendlySignature?: FriendlySignature;
}

/** Reads a model file and returns its signature; throws `invalid_model` when it is not a loadable model. */
export interface ModelInspector {
  inspect(path: string, format: string): Promise<ModelSignature>;
}

/** Who uses a model version (deployments); the registry refuses to delete a version in use. */
export interface VersionUsage {
  usersOf(project: string, model: string, version: number): Promise<string[]>;
}
