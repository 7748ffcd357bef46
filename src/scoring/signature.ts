/**
 * What scoring needs to know about a model beyond its tensors: the names of the input's columns and the class
 * labels. They come from the version's friendly signature in the registry (or the endpoint's V2 metadata with
 * `--url`), and `--signature file.json` (the shape of examples/fraud/signature.json) overrides them.
 */
import { readFile } from 'node:fs/promises';
import type { ModelSignature, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';

/** A model signature with the optional friendly parts: `featureNames` name the columns of the single input. */
export interface ScoringSignature extends ModelSignature {
  featureNames?: readonly string[];
  /** Class names by class index (the `label` output's values and the probability columns). */
  labels?: readonly string[];
}

/** The one input scoring feeds: a [batch, width] matrix of FP32 or FP64 values. */
export interface ScoringInput {
  name: string;
  datatype: 'FP32' | 'FP64';
  width: number;
}

const bad = (message: string) => new ModelportError('invalid_model', message, { field: 'signature' });

/**
 * Reads a signature file (JSON: `inputs`, `outputs`, optional `featureNames` and `labels`). Only the friendly
 * parts are required; tensors, when present, must agree with the model's (checked by `mergeSignature`).
 */
export async function readSignatureFile(path: string): Promise<Partial<ScoringSignature>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelportError(
      'invalid_request',
      `--signature: cannot read '${path}' as JSON (${(error as Error).message})`,
      {
        field: 'signature',
      },
    );
  }
  const value = parsed as Partial<Record<keyof ScoringSignature, unknown>>;
  const strings = (key: 'featureNames' | 'labels'): string[] | undefined => {
    const list = value[key];
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
      throw new ModelportError('invalid_request', `--signature: ${key} must be an array of strings`, {
        field: `signature.${key}`,
      });
    }
    return list;
  };
  const featureNames = strings('featureNames');
  const labels = strings('labels');
  return {
    ...(featureNames ? { featureNames } : {}),
    ...(labels ? { labels } : {}),
  };
}

/** The model's signature with friendly parts from `extra` (a file) over those the model or registry gave. */
export function mergeSignature(model: ScoringSignature, extra: Partial<ScoringSignature> = {}): ScoringSignature {
  const featureNames = extra.featureNames ?? model.featureNames;
  const labels = extra.labels ?? model.labels;
  return {
    inputs: model.inputs,
    outputs: model.outputs,
    ...(featureNames ? { featureNames } : {}),
    ...(labels ? { labels } : {}),
  };
}

/**
 * The single [batch, width] input of `signature`; `invalid_model` when the model has several inputs, a fixed batch
 * size, an unknown width or a datatype other than FP32 / FP64, and when featureNames do not match the width.
 */
export function scoringInput(signature: ScoringSignature): ScoringInput {
  if (signature.inputs.length !== 1) {
    throw bad(`score feeds models with one input; this one has ${signature.inputs.length}`);
  }
  const spec = signature.inputs[0] as TensorSpec;
  const [batch, width] = spec.shape;
  if (spec.shape.length !== 2 || batch !== -1 || width === undefined || width < 1) {
    throw bad(
      `input '${spec.name}' has shape [${spec.shape.join(', ')}]; score needs [-1, width] (a dynamic batch dimension and a fixed width)`,
    );
  }
  if (spec.datatype !== 'FP32' && spec.datatype !== 'FP64') {
    throw bad(`input '${spec.name}' is ${spec.datatype}; score feeds FP32 or FP64 inputs`);
  }
  if (signature.featureNames && signature.featureNames.length !== width) {
    throw bad(`the signature names ${signature.featureNames.length} features but input '${spec.name}' takes ${width}`);
  }
  return { name: spec.name, datatype: spec.datatype, width };
}
