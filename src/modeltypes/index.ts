/** The model-type catalogue: runtimes, deployment templates per backend, and base images, kept as YAML. */

export {
  BACKENDS,
  type BaseImage,
  BaseImageSchema,
  KSERVE_FORMATS,
  type KserveFormat,
  type ModelRuntime,
  type ModelType,
  ModelTypeSchema,
  REQUIRED_TEMPLATES,
  RUNTIMES,
  type TemplateBackend,
  type TemplateSource,
  validateCatalogue,
  validateModelType,
} from './model-type.ts';
export { DEFAULT_MODEL_TYPES, ModelTypeCatalogue } from './model-type-catalogue.ts';
export { checkTemplate, renderTemplate, TEMPLATE_VARIABLES, type TemplateVariable } from './template.ts';
