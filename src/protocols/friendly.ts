/**
 * The friendly form of a request and an answer, from a model version's friendly signature (src/signatures):
 *
 * - rows keyed by feature name (`{"amount": 12.5, "v1": -1.2, ...}`) become the model's single `[N, width]` input,
 *   checked per feature (missing, unknown, mistyped, out of range or not among the allowed values: `invalid_input`
 *   naming `instances[i].feature`);
 * - output tensors become `{"label": "fraud", "probabilities": {"fraud": 0.93, "legit": 0.07}}` per row, or, with no
 *   output mapping, an object of the outputs' rows;
 * - `labelNames` gives the predicted labels as a BYTES tensor, the extra `label_names` output V2 adds on request.
 */
import { allocateTensorData, ModelportError, type ModelSignature, type Tensor } from '../core/index.ts';
import { type FriendlySignature, featureInput, type OutputMapping } from '../signatures/index.ts';
import { describe, nest, toJsonValues } from './tensor-json.ts';

/** Name of the extra BYTES output V2 adds when a request sets `parameters: {"labels": true}`. */
export const LABEL_NAMES_OUTPUT = 'label_names';

const MAX_LISTED = 8;

/**
 * True when `instances` are rows keyed by feature names rather than by the model's input names (so a client can
 * still send the raw form `{"input": [...]}` to a model that has a friendly signature).
 */
export function isFriendlyRows(instances: unknown, signature: ModelSignature, friendly?: FriendlySignature): boolean {
  if (!friendly?.features || !Array.isArray(instances)) return false;
  const first: unknown = instances[0];
  if (typeof first !== 'object' || first === null || Array.isArray(first)) return false;
  const inputs = new Set(signature.inputs.map((s) => s.name));
  const keys = Object.keys(first);
  return !(keys.length > 0 && keys.every((k) => inputs.has(k)));
}

/**
 * The model's input tensor from rows of named features, in the friendly signature's order.
 *
 * @example decodeFriendlyRows([{ amount: 12.5, online: true }], friendly, signature)
 *   // -> [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: Float32Array [12.5, 1] }]
 * @throws ModelportError `invalid_input` naming `instances[i].feature`
 */
export function decodeFriendlyRows(
  instances: unknown[],
  friendly: FriendlySignature,
  signature: ModelSignature,
): Tensor[] {
  const features = friendly.features ?? [];
  const input = featureInput(signature);
  if (!input) throw new ModelportError('invalid_input', 'the model takes no feature row', { field: 'instances' });
  const { spec, width } = input;
  if (spec.shape.length === 1 && instances.length !== 1) {
    throw fail('instances', `the model takes one row at a time, got ${instances.length}`);
  }
  const known = new Set(features.map((f) => f.name));
  const data = allocateTensorData(spec.datatype, instances.length * width);
  const integral = spec.datatype !== 'FP16' && spec.datatype !== 'FP32' && spec.datatype !== 'FP64';
  for (let i = 0; i < instances.length; i++) {
    const row = instances[i];
    const at = `instances[${i}]`;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw fail(at, `must be an object of named features, got ${describe(row)}`);
    }
    const values = row as Record<string, unknown>;
    for (const key of Object.keys(values)) {
      if (!known.has(key)) {
        throw fail(
          `${at}.${key}`,
          `unknown feature '${clip(key)}'; the features are ${listed(features.map((f) => f.name))}`,
        );
      }
    }
    for (let j = 0; j < features.length; j++) {
      const feature = features[j]!;
      const field = `${at}.${feature.name}`;
      const value = values[feature.name];
      if (value === undefined) throw fail(field, `missing feature '${feature.name}' (${feature.type})`);
      let n: number;
      switch (feature.type) {
        case 'boolean':
          if (typeof value !== 'boolean') throw fail(field, `expected true or false, got ${describe(value)}`);
          n = value ? 1 : 0;
          break;
        case 'string': {
          const index = typeof value === 'string' ? (feature.values ?? []).indexOf(value) : -1;
          if (typeof value !== 'string') throw fail(field, `expected a string, got ${describe(value)}`);
          if (index < 0)
            throw fail(field, `'${clip(value)}' is not one of ${listed((feature.values ?? []).map(String))}`);
          n = index;
          break;
        }
        default: {
          if (typeof value !== 'number' || !Number.isFinite(value)) {
            throw fail(
              field,
              `expected a${feature.type === 'integer' ? 'n integer' : ' number'}, got ${describe(value)}`,
            );
          }
          if ((feature.type === 'integer' || integral) && !Number.isInteger(value)) {
            throw fail(field, `expected an integer, got ${value}`);
          }
          if (feature.min !== undefined && value < feature.min)
            throw fail(field, `${value} is below the minimum ${feature.min}`);
          if (feature.max !== undefined && value > feature.max)
            throw fail(field, `${value} is above the maximum ${feature.max}`);
          if (feature.values && !feature.values.includes(value)) {
            throw fail(field, `${value} is not one of ${listed(feature.values.map(String))}`);
          }
          n = value;
        }
      }
      const k = i * width + j;
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[k] = BigInt(n);
      else (data as Float32Array)[k] = n;
    }
  }
  const shape = spec.shape.length === 1 ? [width] : [instances.length, width];
  return [{ name: spec.name, datatype: spec.datatype, shape, data }];
}

/**
 * One friendly prediction per row: `{label, probabilities}` from the output mapping, or an object of the outputs'
 * rows when there is none.
 *
 * @example friendlyPredictions(outputs, { outputs: { labels: ['legit', 'fraud'], probabilities: 'probabilities' } })
 *   // -> [{ label: 'fraud', probabilities: { legit: 0.07, fraud: 0.93 } }]
 */
export function friendlyPredictions(outputs: readonly Tensor[], friendly?: FriendlySignature): unknown[] {
  const mapping = friendly?.outputs;
  if (!mapping || (!mapping.probabilities && !mapping.label)) return rawRows(outputs);
  const probs = probabilityRows(outputs, mapping);
  const labels = labelRows(outputs, mapping, probs);
  const rows = Math.max(probs?.length ?? 0, labels?.length ?? 0);
  return Array.from({ length: rows }, (_, i) => {
    const row: Record<string, unknown> = {};
    if (labels) row['label'] = labels[i];
    const p = probs?.[i];
    if (p) row['probabilities'] = mapping.labels ? Object.fromEntries(mapping.labels.map((l, k) => [l, p[k]])) : p;
    return row;
  });
}

/** The predicted labels as a BYTES `[N]` tensor named `label_names`, or undefined when the mapping gives none. */
export function labelNames(outputs: readonly Tensor[], friendly?: FriendlySignature): Tensor | undefined {
  const mapping = friendly?.outputs;
  if (!mapping?.labels || (!mapping.probabilities && !mapping.label)) return undefined;
  const labels = labelRows(outputs, mapping, probabilityRows(outputs, mapping));
  if (!labels) return undefined;
  const encoder = new TextEncoder();
  return {
    name: LABEL_NAMES_OUTPUT,
    datatype: 'BYTES',
    shape: [labels.length],
    data: labels.map((l) => encoder.encode(l)),
  };
}

/** Per row, the probability of each class (a single probability p becomes [1 - p, p]). */
function probabilityRows(outputs: readonly Tensor[], mapping: OutputMapping): number[][] | undefined {
  const tensor = outputs.find((o) => o.name === mapping.probabilities);
  if (!tensor) return undefined;
  const flat = toJsonValues(tensor.data, tensor.datatype) as number[];
  const classes = tensor.shape.length >= 2 ? (tensor.shape[tensor.shape.length - 1] ?? 1) : 1;
  const rows = classes === 0 ? 0 : flat.length / classes;
  return Array.from({ length: rows }, (_, i) => {
    if (classes !== 1) return flat.slice(i * classes, (i + 1) * classes);
    const p = flat[i]!;
    return [round(1 - p), p];
  });
}

/** Per row, the label: by threshold for a single probability, from the label output, else the argmax. */
function labelRows(
  outputs: readonly Tensor[],
  mapping: OutputMapping,
  probs: number[][] | undefined,
): string[] | undefined {
  const names = mapping.labels;
  const probTensor = outputs.find((o) => o.name === mapping.probabilities);
  const single = probTensor !== undefined && (probTensor.shape.length < 2 || probTensor.shape[1] === 1);
  if (names && probs && single) {
    const threshold = mapping.threshold ?? 0.5;
    return probs.map((p) => names[(p[1] ?? 0) >= threshold ? 1 : 0] ?? '');
  }
  const tensor = outputs.find((o) => o.name === mapping.label);
  if (tensor) {
    if (tensor.datatype === 'BYTES') {
      const decoder = new TextDecoder();
      return (tensor.data as Uint8Array[]).map((b) => decoder.decode(b));
    }
    return (toJsonValues(tensor.data, tensor.datatype) as number[]).map((k) => names?.[k] ?? String(k));
  }
  if (names && probs) {
    return probs.map((p) => names[p.reduce((best, v, k) => (v > (p[best] ?? -Infinity) ? k : best), 0)] ?? '');
  }
  return undefined;
}

function rawRows(outputs: readonly Tensor[]): unknown[] {
  const columns = outputs.map((o) => {
    const value = nest(toJsonValues(o.data, o.datatype), o.shape);
    return o.shape.length === 0 ? [value] : (value as unknown[]);
  });
  const rows = Math.max(0, ...columns.map((c) => c.length));
  return Array.from({ length: rows }, (_, i) => Object.fromEntries(outputs.map((o, j) => [o.name, columns[j]![i]])));
}

/** 1 - p in float32 noise: the shortest decimal that reads back the same float64 at 7 digits. */
function round(v: number): number {
  return Number(v.toPrecision(7));
}

function fail(field: string, message: string): ModelportError {
  return new ModelportError('invalid_input', `${field}: ${message}`, { field });
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function listed(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).map((n) => `'${clip(n)}'`);
  if (names.length > MAX_LISTED) shown.push(`and ${names.length - MAX_LISTED} more`);
  return shown.join(', ');
}
