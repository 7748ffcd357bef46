/**
 * Validation of what the Kubernetes and compose backends generate, against the official schemas shipped in
 * `./schemas` (the InferenceService and Knative Service CRDs' openAPIV3Schema, and the compose specification).
 * Nothing is applied or written before it passes; a violation is `invalid_request` naming the field path.
 *
 * ```ts
 * const validator = new ManifestValidator();
 * validator.validateKubernetes(inferenceService); // throws: "InferenceService fraud: spec.predictor.minReplicas: must be integer"
 * validator.validateCompose(composeFile, 'base/docker-compose.yaml');
 * ```
 *
 * The API server applies a structural schema by pruning unknown fields silently; here an unknown field is an error
 * (a template typo would otherwise vanish on apply), except under `x-kubernetes-preserve-unknown-fields`. The
 * Kubernetes extensions are registered as keywords; `x-kubernetes-int-or-string` is enforced, the others (list
 * and map types) only matter to merges on the server. Schemas compile lazily, once per validator.
 */
import { readFileSync } from 'node:fs';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { lazyPackage, ModelportError } from '../core/index.ts';

/** Loaded by the first validation (an export or a Kubernetes apply), not by every server start. */
const loadAjv = lazyPackage<typeof import('ajv')>('ajv');

/** The folder of shipped schemas. */
export const SCHEMA_DIR = new URL('./schemas/', import.meta.url);

/** A Kubernetes object as the backends render it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Which CRD file holds the schema of each kind the backends render. */
const CRDS: Record<string, string> = {
  'serving.kserve.io/v1beta1 InferenceService': 'kserve.inferenceservices.crd.yaml',
  'serving.knative.dev/v1 Service': 'knative.service.crd.yaml',
};

/** Built-in kinds validated against the JSON schema generated from Kubernetes' OpenAPI (yannh/kubernetes-json-schema). */
const JSON_SCHEMAS: Record<string, string> = {
  'batch/v1 Job': 'job-batch-v1.json',
};

type Schema = Record<string, unknown>;

export class ManifestValidator {
  readonly #dir: URL;
  #ajvInstance: Ajv | undefined;
  readonly #compiled = new Map<string, ValidateFunction>();
  /** Large sub-schemas split off by `prepare`, compiled on first use (the KServe CRD takes seconds as a whole). */
  readonly #parts: Schema[] = [];
  readonly #partValidators = new Map<number, ValidateFunction>();

  constructor(dir: URL = SCHEMA_DIR) {
    this.#dir = dir;
  }

  get #ajv(): Ajv {
    this.#ajvInstance ??= this.#createAjv();
    return this.#ajvInstance;
  }

  #createAjv(): Ajv {
    // strict is off because the CRDs carry OpenAPI-only keywords; the Kubernetes ones are registered below.
    const ajv = new (loadAjv().Ajv)({ strict: false, allErrors: false, validateFormats: true });
    for (const keyword of [
      'x-kubernetes-list-type',
      'x-kubernetes-list-map-keys',
      'x-kubernetes-map-type',
      'x-kubernetes-preserve-unknown-fields',
      'x-kubernetes-embedded-resource',
      'x-kubernetes-validations',
    ]) {
      ajv.addKeyword({ keyword, schemaType: ['boolean', 'string', 'array'] });
    }
    ajv.addKeyword({
      keyword: 'x-kubernetes-int-or-string',
      schemaType: 'boolean',
      validate: (enabled: boolean, data: unknown) =>
        !enabled || typeof data === 'string' || (typeof data === 'number' && Number.isInteger(data)),
      errors: false,
    });
    const lazy = (index: number, data: unknown, _schema?: unknown, cxt?: { instancePath: string }): boolean => {
      let validate = this.#partValidators.get(index);
      if (!validate) {
        validate = ajv.compile(this.#parts[index]!);
        this.#partValidators.set(index, validate);
      }
      if (validate(data)) return true;
      lazy.errors = (validate.errors ?? []).map((e) => ({
        ...e,
        instancePath: `${cxt?.instancePath ?? ''}${e.instancePath}`,
      }));
      return false;
    };
    lazy.errors = [] as ErrorObject[];
    ajv.addKeyword({ keyword: LAZY, schemaType: 'number', validate: lazy, errors: true });
    const inRange = (bits: number) => (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1);
    ajv.addFormat('int32', { type: 'number', validate: inRange(32) });
    ajv.addFormat('int64', { type: 'number', validate: inRange(64) });
    ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
    return ajv;
  }

  /**
   * Validates an InferenceService or Knative Service against its CRD, a batch/v1 Job against the official Job
   * schema (job-batch-v1.json), and any object's name and labels.
   */
  validateKubernetes(object: KubeObject): void {
    const what = `${object.kind} ${object.metadata?.name ?? '?'}`;
    checkMetadata(object, what);
    const json = JSON_SCHEMAS[`${object.apiVersion} ${object.kind}`];
    if (json !== undefined) {
      const validate = this.#compile(json, () => JSON.parse(readFileSync(new URL(json, this.#dir), 'utf8')) as Schema);
      this.#check(validate, object, what);
      return;
    }
    const file = CRDS[`${object.apiVersion} ${object.kind}`];
    if (file === undefined) return; // core kinds (Secret, ServiceAccount) are built by code, not from templates
    const validate = this.#compile(file, () => {
      const crd = parse(readFileSync(new URL(file, this.#dir), 'utf8')) as {
        spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
      };
      const version = object.apiVersion.split('/')[1];
      const schema = crd.spec.versions.find((v) => v.name === version)?.schema.openAPIV3Schema;
      if (!schema) throw new Error(`${file} has no version ${version}`);
      return prepare(schema, this.#parts);
    });
    this.#check(validate, object, what);
  }

  /** Validates a compose file against compose-spec.schema.json; `what` names the file in errors. */
  validateCompose(document: unknown, what = 'docker-compose.yaml'): void {
    const file = 'compose-spec.schema.json';
    const validate = this.#compile(file, () => {
      // The file names its draft-07 meta-schema by an https URL that ajv does not know; the draft is ajv's default.
      const { $schema: _, ...schema } = JSON.parse(readFileSync(new URL(file, this.#dir), 'utf8')) as Schema;
      return schema;
    });
    this.#check(validate, document, what);
  }

  #compile(file: string, load: () => Schema): ValidateFunction {
    let validate = this.#compiled.get(file);
    if (!validate) {
      validate = this.#ajv.compile(load());
      this.#compiled.set(file, validate);
    }
    return validate;
  }

  #check(validate: ValidateFunction, value: unknown, what: string): void {
    if (validate(value)) return;
    const error = validate.errors?.[0];
    const field = error ? fieldOf(error) : '';
    const message = error ? messageOf(error) : 'does not match the schema';
    throw new ModelportError('invalid_request', `${what}: ${field || '(root)'}: ${message}`, { field });
  }
}

/** `/spec/predictor/containers/0/image` -> `spec.predictor.containers[0].image`, plus the offending property. */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = (error.params as { additionalProperty?: string; missingProperty?: string }).additionalProperty;
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  if (extra !== undefined) parts.push(extra);
  if (missing !== undefined) parts.push(missing);
  return parts.reduce((path, p) => (/^\d+$/.test(p) ? `${path}[${p}]` : path ? `${path}.${p}` : p), '');
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'unknown field; remove it or check its spelling';
  if (error.keyword === 'required') return 'is required';
  return error.message ?? 'does not match the schema';
}

const LAZY = 'x-modelport-lazy';
const LAZY_SIZE = 2048;

/**
 * A copy of a structural schema where every object with declared properties refuses others, unless it says
 * x-kubernetes-preserve-unknown-fields or declares additionalProperties itself. Property schemas larger than
 * LAZY_SIZE are moved to `parts` and replaced by a reference compiled when data first reaches them.
 */
function prepare(schema: unknown, parts: Schema[]): Schema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const out: Schema = {};
    for (const [key, value] of Object.entries(node)) {
      // Property names are data, not schema keywords: walk their schemas but keep the names as they are.
      out[key] =
        key === 'properties' && typeof value === 'object' && value !== null
          ? Object.fromEntries(Object.entries(value).map(([name, s]) => [name, split(walk(s) as Schema)]))
          : walk(value);
    }
    if (
      out['properties'] !== undefined &&
      out['additionalProperties'] === undefined &&
      out['x-kubernetes-preserve-unknown-fields'] !== true
    ) {
      out['additionalProperties'] = false;
    }
    return out;
  };
  const split = (part: Schema): Schema => {
    if (JSON.stringify(part).length < LAZY_SIZE) return part;
    parts.push(part);
    return { [LAZY]: parts.length - 1 };
  };
  return walk(schema) as Schema;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** What the CRDs leave to the API server: names are DNS labels, label values are short and plain. */
function checkMetadata(object: KubeObject, what: string): void {
  const invalid = (field: string, message: string) =>
    new ModelportError('invalid_request', `${what}: ${field}: ${message}`, { field });
  if (typeof object.metadata?.name !== 'string' || !DNS_LABEL.test(object.metadata.name)) {
    throw invalid('metadata.name', 'must be a DNS label: up to 63 lowercase letters, digits or -');
  }
  if (object.metadata.namespace !== undefined && !DNS_LABEL.test(object.metadata.namespace)) {
    throw invalid('metadata.namespace', 'must be a DNS label: up to 63 lowercase letters, digits or -');
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
      throw invalid(`metadata.labels.${key}`, 'a label value is up to 63 letters, digits, -, _ or .');
    }
  }
}
