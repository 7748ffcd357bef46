/**
 * What the Kubernetes and compose renderers need besides the revision: each target's model version bound to its
 * model type, its image and its template text for the backend. The template is the source of the model's
 * container or service; a new model type with its own template and base image works without code changes.
 *
 * ```ts
 * const input = await bindModels(plan, { registry, catalogue }, 'kubernetes', { modelportImage });
 * input.bindings.get('fraud@3')?.template; // the onnx type's kubernetes template
 * ```
 */
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { ModelportError, parseSize, SETTINGS } from '../core/index.ts';
import type { DeploymentSpec, RevisionTargets } from '../deployments/index.ts';
import type { ModelRuntime, ModelType, TemplateBackend } from '../modeltypes/index.ts';
import { renderTemplate, type TemplateVariable } from '../modeltypes/index.ts';
import type { ModelVersion } from '../registry/index.ts';

/** Modelport's own image, running the gateway in single-model mode (V2) for onnx, js and hosted models. */
export const DEFAULT_MODELPORT_IMAGE: string = SETTINGS.modelportImage.default;

/** The port every model container listens on. */
export const MODEL_PORT = 8080;

/** One revision of one deployment, as a backend receives it. */
export interface RevisionInput {
  project: string;
  name: string;
  revision: number;
  spec: DeploymentSpec;
  targets: RevisionTargets;
}

/** A model version bound to how it is served. */
export interface ModelBinding {
  model: string;
  version: number;
  format: string;
  sha256: string;
  runtime: ModelRuntime;
  image: string;
  /**
   * False for a version that IS an image (a SAS Container Runtime model): there is nothing to download, so no
   * STORAGE_URI and no model-download entry.
   */
  hasArtifact: boolean;
  /** The version's tensor signature and friendly signature, carried into bundles (signatures/<service>.json). */
  signature: ModelVersion['signature'];
  friendlySignature: ModelVersion['friendlySignature'];
  /** KServe's `modelFormat.name` when KServe has a ServingRuntime for the type (sklearn, xgboost, ...). */
  kserveFormat?: string | undefined;
  /** The backend's template text of the model's type (built in for Modelport's own runtimes when absent). */
  template: string;
}

export interface RenderInput extends RevisionInput {
  /** By `model@version`, for every traffic target and the shadow. */
  bindings: Map<string, ModelBinding>;
}

/** The subset of the registry and the model-type catalogue that binding calls. */
export interface BindingSources {
  registry: { getVersion(project: string, ref: { name: string; version: number }): Promise<ModelVersion> };
  catalogue: {
    get(name: string): Promise<ModelType>;
    template(name: string, backend: TemplateBackend): Promise<string | undefined>;
  };
}

export interface BindingOptions {
  /** Image for onnx, js and hosted models; default DEFAULT_MODELPORT_IMAGE. */
  modelportImage?: string | undefined;
}

export interface BindVersionOptions extends BindingOptions {
  /** The name of one of the type's `available_base_images` to serve on instead of its default (spec.baseImage). */
  baseImage?: string | undefined;
  /** The field that named `baseImage`, for the error when the type has no such image. */
  baseImageField?: string;
}

/**
 * The image a version runs on: the version itself when it IS an image; the type's image named `baseImage` when
 * given (refused, naming the field, when the type has none of that name); else Modelport's image for its own
 * runtimes and the type's default base image for a container type.
 */
export function chooseImage(version: ModelVersion, type: ModelType, options: BindVersionOptions = {}): string {
  if (version.image) return version.image;
  const field = options.baseImageField ?? 'baseImage';
  if (options.baseImage !== undefined) {
    const chosen = type.available_base_images.find((i) => i.name === options.baseImage);
    if (!chosen) {
      throw new ModelportError(
        'invalid_request',
        `${field}: '${options.baseImage}' is not one of the images of the model type '${type.name}' (${type.available_base_images.map((i) => i.name).join(', ')}); name one of them, or add it with 'modelport modeltypes add-image ${type.name} ${options.baseImage} <image>'`,
        { field },
      );
    }
    return chosen.value;
  }
  return type.runtime === 'container'
    ? type.default_base_image.value
    : (options.modelportImage ?? DEFAULT_MODELPORT_IMAGE);
}

/** One version bound to its type, image and template text for a backend. */
export function bindVersion(
  version: ModelVersion,
  type: ModelType,
  template: string,
  options: BindVersionOptions = {},
): ModelBinding {
  return {
    model: version.model,
    version: version.version,
    format: version.format,
    sha256: version.sha256,
    runtime: type.runtime,
    // A model image is the version itself; a container type's file runs on the type's (chosen) base image.
    image: chooseImage(version, type, options),
    hasArtifact: !version.image,
    signature: version.signature,
    friendlySignature: version.friendlySignature ?? null,
    ...(type.kserve_format !== undefined ? { kserveFormat: type.kserve_format } : {}),
    template,
  };
}

/** Used when a type of Modelport's own runtimes has no template for the backend. */
export const BUILT_IN_TEMPLATES: Record<TemplateBackend, string> = {
  kubernetes: [
    'name: "{{ name }}"',
    'image: "{{ image }}"',
    'args: ["serve-model", "--model-uri", "{{ model.uri }}", "--model-name", "{{ model.name }}", "--port", "{{ port }}"]',
    'ports: [{ name: http1, containerPort: {{ port }}, protocol: TCP }]',
    'readinessProbe: { httpGet: { path: /v2/health/ready, port: {{ port }} } }',
  ].join('\n'),
  compose: [
    'image: "{{ image }}"',
    'command: ["serve-model", "--model-uri", "{{ model.path }}", "--model-name", "{{ model.name }}", "--port", "{{ port }}"]',
    'expose: ["{{ port }}"]',
  ].join('\n'),
};

export const bindingKey = (model: string, version: number) => `${model}@${version}`;

/** Binds every target of the revision; errors name the spec field of the target. */
export async function bindModels(
  revision: RevisionInput,
  sources: BindingSources,
  backend: TemplateBackend,
  options: BindingOptions = {},
): Promise<RenderInput> {
  const bindings = new Map<string, ModelBinding>();
  const targets = [
    ...revision.targets.traffic.map((t, i) => ({ ...t, field: `spec.traffic[${i}].model` })),
    ...(revision.targets.shadow ? [{ ...revision.targets.shadow, field: 'spec.shadow.model' }] : []),
  ];
  for (const target of targets) {
    const key = bindingKey(target.model, target.version);
    if (bindings.has(key)) continue;
    const version = await sources.registry.getVersion(revision.project, {
      name: target.model,
      version: target.version,
    });
    const type = await sources.catalogue.get(version.modelType).catch((error: unknown) => {
      throw new ModelportError(
        'invalid_request',
        `${target.field}: ${key} has the model type '${version.modelType}', which is not in the catalogue; add it with 'modelport modeltypes add'`,
        { field: target.field, cause: error },
      );
    });
    const own = type.runtime !== 'container';
    const template = (await sources.catalogue.template(type.name, backend)) ?? (own ? BUILT_IN_TEMPLATES[backend] : '');
    if (template === '') {
      throw new ModelportError(
        'invalid_request',
        `${target.field}: the model type '${type.name}' has no ${backend} template; add one to the type`,
        { field: target.field },
      );
    }
    bindings.set(
      key,
      bindVersion(version, type, template, {
        ...options,
        baseImage: revision.spec.baseImage,
        baseImageField: 'spec.baseImage',
      }),
    );
  }
  return { ...revision, bindings };
}

/** Renders a binding's template into a mapping; values with quotes or line breaks are refused. */
export function renderBinding(
  binding: ModelBinding,
  values: Partial<Record<TemplateVariable, string>>,
  field: string,
): Record<string, unknown> {
  for (const [variable, value] of Object.entries(values)) {
    if (/["'\n\r\\]/.test(value ?? '')) {
      throw new ModelportError(
        'invalid_request',
        `${field}: the value of {{ ${variable} }} may not hold quotes or line breaks`,
        {
          field,
        },
      );
    }
  }
  const text = renderTemplate(binding.template, {
    image: binding.image,
    port: String(MODEL_PORT),
    'model.name': binding.model,
    'model.version': String(binding.version),
    'model.format': binding.format,
    ...values,
  });
  const rendered = parse(text) as unknown;
  if (typeof rendered !== 'object' || rendered === null || Array.isArray(rendered)) {
    throw new ModelportError('invalid_request', `${field}: the model type's template must render to a mapping`, {
      field,
    });
  }
  return rendered as Record<string, unknown>;
}

/**
 * A DNS label (Kubernetes names, compose service names) from parts: lowercase, `.` and `_` become `-`, and a name
 * longer than `max` is cut and suffixed with a hash of the whole so that it stays unique.
 */
export function dnsName(parts: readonly (string | number)[], max = 63): string {
  const full = parts
    .map((p) =>
      String(p)
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-'),
    )
    .join('-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (full.length <= max) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, max - 9).replace(/-$/, '')}-${hash}`;
}

/** A short stable hash of a JSON value (revision names that change when the pod spec changes). */
export function shortHash(value: unknown, length = 8): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, length);
}

/** CPU as a Kubernetes quantity string (`1`, `500m`). */
export function cpuQuantity(cpu: string | number): string {
  return String(cpu);
}

/** Memory as a Kubernetes quantity: kept when it already is one (`512Mi`), else bytes. */
export function memoryQuantity(memory: string | number, field = 'spec.resources.memory'): string {
  const text = typeof memory === 'string' ? memory.trim() : '';
  if (/^\d+(\.\d+)?([KMGTPE]i|[kMGTPE])?$/.test(text)) return text;
  const binary = /^(\d+)([KMGTPE])iB$/i.exec(text); // 512MiB, as the spec writes sizes, is 512Mi
  if (binary) return `${binary[1]}${binary[2]!.toUpperCase()}i`;
  const bytes = parseSize(memory);
  if (bytes === undefined) {
    throw new ModelportError('invalid_request', `${field}: '${memory}' is not a size; use 512Mi or 2Gi`, { field });
  }
  return String(bytes);
}

/**
 * Refuses a deployment variable (`spec.env`, `spec.secrets[].env`) that would replace one the model type's template
 * or Modelport sets for the container (its model URI, its storage settings): the spec check refuses the names every
 * runtime reads, this one the names a particular template reads.
 */
export function refuseEnvOverride(spec: DeploymentSpec, taken: Iterable<string>): void {
  const names = new Set([...taken].map((n) => n.toUpperCase()));
  const clash = (name: string, field: string) => {
    if (!names.has(name.toUpperCase())) return;
    throw new ModelportError(
      'invalid_request',
      `${field}: the model type's template sets ${name} for the container; a deployment may not replace it`,
      { field },
    );
  };
  for (const name of Object.keys(spec.env)) clash(name, `spec.env.${name}`);
  for (const [i, ref] of spec.secrets.entries()) clash(ref.env, `spec.secrets[${i}].env`);
}
