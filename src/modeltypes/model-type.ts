/**
 * A model type: how one kind of model is served. The shape mirrors `modeltypes.yaml` (snake_case keys), in the
 * API as in the file, so a file given to `modelport modeltypes add -f` is exactly one entry of the catalogue.
 *
 * ```yaml
 * name: sklearn-1.5
 * runtime: container                 # onnx | js | hosted | container
 * default_base_image: { name: mlserver-1.6, value: docker.io/seldonio/mlserver:1.6.1-sklearn }
 * available_base_images:
 *   - { name: mlserver-1.6, value: docker.io/seldonio/mlserver:1.6.1-sklearn }
 * templates:
 *   kubernetes: |                    # the container; see template.ts for the variables
 *     image: "{{ image }}"
 *   compose: { ref: onnx }           # or reuse another type's template for this backend
 * ```
 */
import { z } from 'zod';
import { checkName, ModelportError } from '../core/index.ts';
import { checkTemplate } from './template.ts';

export const RUNTIMES = ['onnx', 'js', 'hosted', 'container'] as const;
export type ModelRuntime = (typeof RUNTIMES)[number];

export const BACKENDS = ['kubernetes', 'compose'] as const;
export type TemplateBackend = (typeof BACKENDS)[number];

/** Backends each runtime must have a template for; the others serve in Modelport's own image when given one. */
export const REQUIRED_TEMPLATES: Record<ModelRuntime, readonly TemplateBackend[]> = {
  onnx: [],
  js: [],
  hosted: [],
  container: ['kubernetes', 'compose'],
};

const ImageName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'use 1-63 lowercase letters, digits, ".", "_" or "-"');
const ImageValue = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[a-z0-9][a-zA-Z0-9._:@/-]*$/, 'use an image reference such as registry.example.com/team/image:1.0');

/** The model formats KServe ships a ServingRuntime for (its `modelFormat.name` values). */
export const KSERVE_FORMATS = ['sklearn', 'xgboost', 'pytorch', 'tensorflow', 'onnx', 'mlflow', 'huggingface'] as const;
export type KserveFormat = (typeof KSERVE_FORMATS)[number];

export const BaseImageSchema = z.strictObject({ name: ImageName, value: ImageValue });
export const TemplateSourceSchema = z.union([z.string().min(1).max(65536), z.strictObject({ ref: z.string() })]);

export const ModelTypeSchema = z.strictObject({
  name: z.string(),
  runtime: z.string(),
  description: z.string().max(1024).optional(),
  default_base_image: BaseImageSchema,
  available_base_images: z.array(BaseImageSchema).min(1),
  templates: z
    .strictObject({ kubernetes: TemplateSourceSchema.optional(), compose: TemplateSourceSchema.optional() })
    .default({}),
  /** MLflow flavors (`sklearn`, `xgboost`, `pytorch`, `pyfunc`) whose models `modelport models import` registers here. */
  flavors: z
    .array(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'use an MLflow flavor name such as sklearn or pyfunc'))
    .max(32)
    .optional(),
  /** KServe's `modelFormat.name` for this type where a ServingRuntime exists (sklearn, xgboost, pytorch, ...). */
  kserve_format: z
    .enum(KSERVE_FORMATS)
    .optional()
    .describe(`one of KServe's model formats: ${KSERVE_FORMATS.join(', ')}`),
});

export type BaseImage = z.output<typeof BaseImageSchema>;
/** Template text, or `{ ref: <type> }` to use that type's template for the same backend. */
export type TemplateSource = z.output<typeof TemplateSourceSchema>;
export interface ModelType {
  name: string;
  runtime: ModelRuntime;
  description?: string;
  default_base_image: BaseImage;
  available_base_images: BaseImage[];
  templates: Partial<Record<TemplateBackend, TemplateSource>>;
  flavors?: string[];
  kserve_format?: KserveFormat;
}

/**
 * Validates one type on its own (everything but references to other types); errors name the field under
 * `prefix` (`body`, or `model_types[2]` in the file).
 */
export function validateModelType(raw: unknown, prefix: string): ModelType {
  const result = ModelTypeSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const extra = issue.code === 'unrecognized_keys' ? `.${issue.keys[0]}` : '';
    const field = `${prefix}${path}${extra}`;
    const message =
      issue.code === 'unrecognized_keys' ? `unknown field; remove it or check its spelling` : issue.message;
    throw new ModelportError('invalid_request', `${field}: ${message}`, { field });
  }
  const type = result.data;
  checkName(type.name, `${prefix}.name`);
  if (!(RUNTIMES as readonly string[]).includes(type.runtime)) {
    throw invalid(`${prefix}.runtime`, `unknown runtime '${type.runtime}'; use one of ${RUNTIMES.join(', ')}`);
  }
  const seen = new Set<string>();
  type.available_base_images.forEach((image, i) => {
    if (seen.has(image.name)) {
      throw invalid(`${prefix}.available_base_images[${i}].name`, `the image name '${image.name}' is listed twice`);
    }
    seen.add(image.name);
  });
  const listed = type.available_base_images.find((i) => i.name === type.default_base_image.name);
  if (listed === undefined || listed.value !== type.default_base_image.value) {
    throw invalid(
      `${prefix}.default_base_image`,
      `the default image '${type.default_base_image.name}' (${type.default_base_image.value}) is not among available_base_images; add it there first`,
    );
  }
  for (const backend of BACKENDS) {
    const source = type.templates[backend];
    if (typeof source === 'string') checkTemplate(source, `${prefix}.templates.${backend}`);
  }
  for (const backend of REQUIRED_TEMPLATES[type.runtime as ModelRuntime]) {
    if (type.templates[backend] === undefined) {
      throw invalid(
        `${prefix}.templates.${backend}`,
        `a ${type.runtime} model type needs a ${backend} template; give its text or { ref: <another type> }`,
      );
    }
  }
  return type as ModelType;
}

/** Checks the catalogue as a whole: unique names and references that lead to template text. */
export function validateCatalogue(types: readonly ModelType[], fieldOf: (index: number) => string): void {
  const byName = new Map<string, ModelType>();
  types.forEach((type, i) => {
    if (byName.has(type.name)) {
      throw new ModelportError('already_exists', `${fieldOf(i)}.name: the model type '${type.name}' is defined twice`, {
        field: `${fieldOf(i)}.name`,
      });
    }
    byName.set(type.name, type);
  });
  // A flavor names one type, so that an MLflow import never has to guess.
  const flavorOwner = new Map<string, string>();
  types.forEach((type, i) => {
    (type.flavors ?? []).forEach((flavor, j) => {
      const owner = flavorOwner.get(flavor);
      if (owner !== undefined && owner !== type.name) {
        throw invalid(
          `${fieldOf(i)}.flavors[${j}]`,
          `the MLflow flavor '${flavor}' already maps to the model type '${owner}'; remove it from one of them`,
        );
      }
      flavorOwner.set(flavor, type.name);
    });
  });
  types.forEach((type, i) => {
    for (const backend of BACKENDS) {
      const source = type.templates[backend];
      if (source === undefined || typeof source === 'string') continue;
      const field = `${fieldOf(i)}.templates.${backend}.ref`;
      const target = byName.get(source.ref);
      if (target === undefined) throw invalid(field, `refers to the model type '${source.ref}', which does not exist`);
      if (typeof target.templates[backend] !== 'string') {
        throw invalid(field, `'${source.ref}' has no ${backend} template text of its own to reuse`);
      }
    }
  });
}

function invalid(field: string, message: string): ModelportError {
  return new ModelportError('invalid_request', `${field}: ${message}`, { field });
}
