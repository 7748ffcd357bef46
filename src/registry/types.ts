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
  /** The OCI reference of a version that is an image (a container type's model image); null otherwise. */
  image?: string | null;
  createdAt: string;
}

export interface RegisterVersionInput {
  /**
   * A local file holding the uploaded model (spooled by the caller); the registry copies it into the store. Absent
   * only for a version that is an image (`image`).
   */
  file?: string;
  /**
   * How the file is served: an ONNX model, a `js` model folder as a .tgz (src/runtimes/js), or a `hosted`
   * descriptor (src/runtimes/hosted). Default: the model type's runtime, else 'onnx'.
   */
  format?: 'onnx' | 'js' | 'hosted';
  /**
   * The model type of the catalogue (`sklearn-1.5`, an added type); default the format. A `container` type's file is
   * stored and checksummed but never opened: it needs `declaredSignature`.
   */
  modelType?: string;
  /** The tensor signature of a container type's model, declared since Modelport never opens the file. */
  declaredSignature?: ModelSignature;
  /** Called with the runtime the version resolves to, before anything is checked or stored (permission checks). */
  onRuntime?: (runtime: string) => void;
  /** An OCI image reference (digest included when known): a version that IS an image, with no file. */
  image?: string;
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

/** The slice of the model-type catalogue the registry reads: a type's runtime. */
export interface ModelTypeLookup {
  get(name: string): Promise<{ name: string; runtime: string }>;
}
