/**
 * Reading friendly signatures from the files people already have: a YAML or JSON friendly signature, the batch
 * scoring file (`featureNames` + `labels`, as examples/fraud/signature.json), and an MLflow MLmodel `signature`
 * block (column-based inputs become features).
 */
import { parse } from 'yaml';
import { ModelportError } from '../core/index.ts';
import { compileFriendlySignature, type FeatureSpec, type FriendlySignature } from './friendly-signature.ts';

/**
 * Parses YAML or JSON text into a checked friendly signature. A scoring signature file (`featureNames` and/or
 * `labels`, with or without tensor `inputs`/`outputs` lists) is accepted too: its names become number features
 * and its labels the output labels.
 *
 * @example parseFriendlySignature('features:\n  - { name: amount, type: number }\n')
 * @throws ModelportError `invalid_request` (field `signature...`) for bad text or a bad signature
 */
export function parseFriendlySignature(text: string, field = 'signature'): FriendlySignature {
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new ModelportError('invalid_request', `${field}: not valid YAML or JSON (${(error as Error).message})`, {
      field,
    });
  }
  return compileFriendlySignature(fromScoringShape(value), field);
}

/** `{featureNames, labels, inputs?, outputs: [tensors]}` -> `{features, outputs: {labels}}`; anything else as is. */
function fromScoringShape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  const scoring =
    'featureNames' in v || (('labels' in v || 'inputs' in v) && !('features' in v)) || Array.isArray(v['outputs']);
  if (!scoring) return value;
  const out: Record<string, unknown> = {};
  const names = v['featureNames'];
  if (names !== undefined) {
    out['features'] = Array.isArray(names) ? names.map((name) => ({ name, type: 'number' })) : names;
  }
  if (v['labels'] !== undefined) out['outputs'] = { labels: v['labels'] };
  return out;
}

const MLFLOW_TYPES: Record<string, FeatureSpec['type']> = {
  double: 'number',
  float: 'number',
  integer: 'integer',
  long: 'integer',
  boolean: 'boolean',
};

/**
 * Features from an MLflow MLmodel `signature` block: `inputs` is a JSON string (or the parsed list) of columns
 * `{name, type}`. Returns undefined when the inputs are tensors, unnamed, or of a type without a numeric form
 * (string, binary, datetime): those models keep their tensor signature only.
 *
 * @example friendlyFromMlflow({ inputs: '[{"name": "amount", "type": "double"}]' })
 *   // -> { features: [{ name: 'amount', type: 'number' }] }
 */
export function friendlyFromMlflow(signature: { inputs?: unknown } | null | undefined): FriendlySignature | undefined {
  let inputs = signature?.inputs;
  if (typeof inputs === 'string') {
    try {
      inputs = JSON.parse(inputs);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  const features: FeatureSpec[] = [];
  for (const column of inputs) {
    if (typeof column !== 'object' || column === null) return undefined;
    const { name, type } = column as { name?: unknown; type?: unknown };
    const mapped = typeof type === 'string' ? MLFLOW_TYPES[type] : undefined;
    if (typeof name !== 'string' || mapped === undefined) return undefined;
    features.push({ name, type: mapped });
  }
  try {
    return compileFriendlySignature({ features });
  } catch {
    return undefined;
  }
}
