/**
 * Friendly signatures (the idea of the compose bundle's bundle-signature.yaml): what a person calls a model with,
 * on top of the tensors it takes. Named features in order, each with a type and optional range or allowed values,
 * and an output mapping that turns output tensors into a class label and named probabilities.
 *
 * ```yaml
 * features:
 *   - { name: amount, type: number, min: 0 }
 *   - { name: is_online, type: boolean }
 *   - { name: channel, type: string, values: [web, shop, phone] }   # sent to the model as its index (0, 1, 2)
 * outputs:
 *   labels: [legit, fraud]        # class names by class index
 *   probabilities: probabilities  # output of per-class probabilities [N, 2], or one probability [N] of labels[1]
 *   label: label                  # output of class indexes [N] (or BYTES names)
 *   threshold: 0.5                # single-probability outputs only: labels[1] when p >= threshold
 * ```
 *
 * Features fill the columns of the model's single `[N, width]` (or `[width]`) numeric input in order, so their
 * count must equal the width. `compileFriendlySignature` checks the shape of the value alone;
 * `bindFriendlySignature` checks it against the model's tensor signature and fills in omitted output names.
 */

import type { ModelSignature, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';

export const FEATURE_TYPES = ['number', 'integer', 'boolean', 'string'] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];

/** One named feature. `values` lists the allowed values (required for `string`: a string is sent as its index). */
export interface FeatureSpec {
  name: string;
  type: FeatureType;
  min?: number;
  max?: number;
  values?: (string | number)[];
}

/** How output tensors read as a prediction. Every part is optional; `bindFriendlySignature` completes it. */
export interface OutputMapping {
  /** Class names by class index. */
  labels?: string[];
  /** The output holding per-class probabilities `[N, labels]`, or a single probability `[N]` / `[N, 1]`. */
  probabilities?: string;
  /** The output holding the predicted class index (integer) or name (BYTES). */
  label?: string;
  /** For a single-probability output: `labels[1]` when p >= threshold, else `labels[0]`. Default 0.5. */
  threshold?: number;
}

export interface FriendlySignature {
  features?: FeatureSpec[];
  outputs?: OutputMapping;
}

const MAX_FEATURES = 10_000;
const MAX_NAME = 256;

const bad = (field: string, message: string) =>
  new ModelportError('invalid_request', `${field}: ${message}`, { field });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(value: Record<string, unknown>, keys: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw bad(`${field}.${key}`, `unknown field; use ${keys.join(', ')}`);
  }
}

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_NAME) {
    throw bad(field, `must be a non-empty string of at most ${MAX_NAME} characters`);
  }
  return value;
}

function finite(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(field, 'must be a finite number');
  return value;
}

/**
 * Checks a friendly signature's own shape (types, unique names, ranges) and returns a clean copy; `field` prefixes
 * every error's field (default `signature`).
 *
 * @example compileFriendlySignature({ features: [{ name: 'amount', type: 'number', min: 0 }] })
 * @throws ModelportError `invalid_request` naming the field, e.g. `signature.features[2].type`
 */
export function compileFriendlySignature(raw: unknown, field = 'signature'): FriendlySignature {
  if (!isObject(raw)) throw bad(field, 'must be an object with `features` and/or `outputs`');
  only(raw, ['features', 'outputs'], field);
  const out: FriendlySignature = {};
  if (raw['features'] !== undefined) out.features = features(raw['features'], `${field}.features`);
  if (raw['outputs'] !== undefined) out.outputs = outputs(raw['outputs'], `${field}.outputs`);
  if (!out.features && !out.outputs) throw bad(field, 'give `features`, `outputs` or both');
  return out;
}

function features(raw: unknown, field: string): FeatureSpec[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_FEATURES) {
    throw bad(field, `must be a list of 1 to ${MAX_FEATURES} features`);
  }
  const seen = new Set<string>();
  return raw.map((item, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(item)) throw bad(at, 'must be an object { name, type, min?, max?, values? }');
    only(item, ['name', 'type', 'min', 'max', 'values'], at);
    const feature: FeatureSpec = { name: name(item['name'], `${at}.name`), type: 'number' };
    if (seen.has(feature.name)) throw bad(`${at}.name`, `'${feature.name}' is named twice`);
    seen.add(feature.name);
    const type = item['type'] ?? 'number';
    if (!(FEATURE_TYPES as readonly unknown[]).includes(type)) {
      throw bad(`${at}.type`, `must be one of ${FEATURE_TYPES.join(', ')}`);
    }
    feature.type = type as FeatureType;
    const numeric = feature.type === 'number' || feature.type === 'integer';
    for (const bound of ['min', 'max'] as const) {
      if (item[bound] === undefined) continue;
      if (!numeric) throw bad(`${at}.${bound}`, `applies to number and integer features only`);
      feature[bound] = finite(item[bound], `${at}.${bound}`);
    }
    if (feature.min !== undefined && feature.max !== undefined && feature.min > feature.max) {
      throw bad(`${at}.min`, `is greater than max (${feature.max})`);
    }
    if (item['values'] !== undefined) {
      const values = item['values'];
      const kind = feature.type === 'string' ? 'string' : 'number';
      if (feature.type === 'boolean') throw bad(`${at}.values`, 'does not apply to boolean features');
      if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === kind)) {
        throw bad(`${at}.values`, `must be a non-empty list of ${kind}s`);
      }
      if (new Set(values).size !== values.length) throw bad(`${at}.values`, 'lists a value twice');
      feature.values = values as (string | number)[];
    } else if (feature.type === 'string') {
      throw bad(`${at}.values`, 'a string feature needs its allowed values (it is sent to the model as their index)');
    }
    return feature;
  });
}

function outputs(raw: unknown, field: string): OutputMapping {
  if (!isObject(raw)) throw bad(field, 'must be an object { labels?, probabilities?, label?, threshold? }');
  only(raw, ['labels', 'probabilities', 'label', 'threshold'], field);
  const out: OutputMapping = {};
  if (raw['labels'] !== undefined) {
    const labels = raw['labels'];
    if (!Array.isArray(labels) || labels.length < 1 || !labels.every((l) => typeof l === 'string' && l !== '')) {
      throw bad(`${field}.labels`, 'must be a non-empty list of non-empty strings');
    }
    if (new Set(labels).size !== labels.length) throw bad(`${field}.labels`, 'lists a label twice');
    out.labels = labels as string[];
  }
  if (raw['probabilities'] !== undefined) out.probabilities = name(raw['probabilities'], `${field}.probabilities`);
  if (raw['label'] !== undefined) out.label = name(raw['label'], `${field}.label`);
  if (raw['threshold'] !== undefined) {
    const t = finite(raw['threshold'], `${field}.threshold`);
    if (t <= 0 || t >= 1) throw bad(`${field}.threshold`, 'must be between 0 and 1 (exclusive)');
    out.threshold = t;
  }
  return out;
}

const INTEGER_TYPES = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const FLOAT_TYPES = new Set(['FP16', 'FP32', 'FP64']);

/** The model input the features fill, with its width; undefined when the model has no such single input. */
export function featureInput(signature: ModelSignature): { spec: TensorSpec; width: number } | undefined {
  if (signature.inputs.length !== 1) return undefined;
  const spec = signature.inputs[0]!;
  const width = spec.shape.length === 2 ? spec.shape[1] : spec.shape.length === 1 ? spec.shape[0] : undefined;
  if (width === undefined || width < 1) return undefined;
  if (!FLOAT_TYPES.has(spec.datatype) && !INTEGER_TYPES.has(spec.datatype) && spec.datatype !== 'BOOL') {
    return undefined;
  }
  return { spec, width };
}

/**
 * Checks `friendly` against the model's tensor signature and returns it completed: the feature count equals the
 * width of the model's single numeric input; named outputs exist; omitted `probabilities` / `label` are taken
 * from the outputs called so (or the only float / integer output) when `labels` is given; the label count agrees
 * with the probability output's width.
 *
 * @example bindFriendlySignature({ outputs: { labels: ['legit', 'fraud'] } }, signature)
 *   // -> { outputs: { labels: [...], probabilities: 'probabilities', label: 'label' } }
 * @throws ModelportError `invalid_request` naming the field (`signature.features`, `signature.outputs.label`, ...)
 */
export function bindFriendlySignature(
  friendly: FriendlySignature,
  model: ModelSignature,
  field = 'signature',
): FriendlySignature {
  const out: FriendlySignature = {};
  if (friendly.features) {
    const input = featureInput(model);
    if (!input) {
      const inputs = model.inputs.map((s) => `'${s.name}' ${s.datatype} [${s.shape.join(', ')}]`).join(', ');
      throw bad(
        `${field}.features`,
        `features fill one numeric input of shape [N, width]; this model takes ${inputs || 'no inputs'}`,
      );
    }
    if (input.width !== friendly.features.length) {
      throw bad(
        `${field}.features`,
        `names ${friendly.features.length} features but input '${input.spec.name}' takes ${input.width}`,
      );
    }
    if (input.spec.datatype === 'BOOL' && friendly.features.some((f) => f.type !== 'boolean')) {
      throw bad(`${field}.features`, `input '${input.spec.name}' is BOOL; every feature must be boolean`);
    }
    out.features = friendly.features;
  }
  if (friendly.outputs) out.outputs = bindOutputs(friendly.outputs, model, `${field}.outputs`);
  return out;
}

function bindOutputs(mapping: OutputMapping, model: ModelSignature, field: string): OutputMapping {
  const byName = new Map(model.outputs.map((s) => [s.name, s]));
  const known = model.outputs.map((s) => `'${s.name}'`).join(', ') || 'none';
  const find = (name: string | undefined, at: string) => {
    if (name === undefined) return undefined;
    const spec = byName.get(name);
    if (!spec) throw bad(`${field}.${at}`, `the model has no output '${name}'; its outputs are ${known}`);
    return spec;
  };
  const out: OutputMapping = { ...mapping };
  let probabilities = find(mapping.probabilities, 'probabilities');
  let label = find(mapping.label, 'label');
  if (mapping.labels && !probabilities && !label) {
    // Omitted names: the conventional ones, else the only output of the kind.
    const floats = model.outputs.filter((s) => FLOAT_TYPES.has(s.datatype));
    const ints = model.outputs.filter((s) => INTEGER_TYPES.has(s.datatype) || s.datatype === 'BYTES');
    probabilities =
      byName.get('probabilities') ?? byName.get('probability') ?? (floats.length === 1 ? floats[0] : undefined);
    label = byName.get('label') ?? (ints.length === 1 ? ints[0] : undefined);
    if (probabilities && !FLOAT_TYPES.has(probabilities.datatype)) probabilities = undefined;
    if (label && !INTEGER_TYPES.has(label.datatype) && label.datatype !== 'BYTES') label = undefined;
    if (!probabilities && !label) {
      throw bad(
        `${field}.probabilities`,
        `name the output that holds the probabilities or the label; outputs are ${known}`,
      );
    }
    if (probabilities) out.probabilities = probabilities.name;
    if (label) out.label = label.name;
  }
  if (probabilities) {
    if (!FLOAT_TYPES.has(probabilities.datatype)) {
      throw bad(
        `${field}.probabilities`,
        `output '${probabilities.name}' is ${probabilities.datatype}; it must be a float`,
      );
    }
    const width = rowWidth(probabilities);
    if (width === undefined) {
      throw bad(`${field}.probabilities`, `output '${probabilities.name}' must have shape [N] or [N, classes]`);
    }
    if (mapping.labels) {
      const single = width === 1;
      if (single && mapping.labels.length !== 2) {
        throw bad(`${field}.labels`, `a single-probability output needs exactly 2 labels (negative, positive)`);
      }
      if (!single && width > 0 && width !== mapping.labels.length) {
        throw bad(
          `${field}.labels`,
          `names ${mapping.labels.length} labels but output '${probabilities.name}' has ${width} classes`,
        );
      }
    }
    if (mapping.threshold !== undefined && width !== 1) {
      throw bad(
        `${field}.threshold`,
        `applies to a single-probability output; '${probabilities.name}' has ${width} classes`,
      );
    }
  } else if (mapping.threshold !== undefined) {
    throw bad(`${field}.threshold`, 'needs a single-probability output named in `probabilities`');
  }
  if (label && !INTEGER_TYPES.has(label.datatype) && label.datatype !== 'BYTES') {
    throw bad(`${field}.label`, `output '${label.name}' is ${label.datatype}; it must hold integers or strings`);
  }
  if (label && INTEGER_TYPES.has(label.datatype) && !mapping.labels) {
    throw bad(`${field}.labels`, `output '${label.name}' holds class indexes; give the labels they stand for`);
  }
  return out;
}

/** Classes per row: 1 for `[N]` and `[N, 1]`, K for `[N, K]`, -1 when dynamic, undefined for other ranks. */
function rowWidth(spec: TensorSpec): number | undefined {
  if (spec.shape.length === 1) return 1;
  if (spec.shape.length === 2) return spec.shape[1];
  return undefined;
}

/**
 * The parts batch scoring reads (`featureNames`, `labels`; see src/scoring/signature.ts).
 *
 * @example scoringParts({ features: [{ name: 'a', type: 'number' }] }) // -> { featureNames: ['a'] }
 */
export function scoringParts(friendly: FriendlySignature | null | undefined): {
  featureNames?: string[];
  labels?: string[];
} {
  return {
    ...(friendly?.features ? { featureNames: friendly.features.map((f) => f.name) } : {}),
    ...(friendly?.outputs?.labels ? { labels: friendly.outputs.labels } : {}),
  };
}
