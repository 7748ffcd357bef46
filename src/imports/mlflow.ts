/**
 * Reading an MLflow model folder (`MLmodel` YAML) with an `onnx` flavor: where the .onnx file is and what the
 * `signature` block declares. MLflow stores each side of the signature as a JSON string of column or tensor specs:
 *
 * ```yaml
 * flavors:
 *   onnx: { data: model.onnx, onnx_version: 1.16.0 }
 * signature:
 *   inputs: '[{"name": "amount", "type": "double"}, {"name": "v1", "type": "double"}]'
 *   outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]'
 * ```
 *
 * Example: `const { onnxPath, signature } = await readMlflowModel('./mlruns/0/abc/artifacts/model');`
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import { type Datatype, ModelportError, type ModelSignature, type TensorSpec } from '../core/index.ts';

/** One MLflow column spec (`{ name, type }`) or tensor spec (`{ name?, type: 'tensor', 'tensor-spec': ... }`). */
export type MlflowSpec = Record<string, unknown>;

export interface MlflowModel {
  /** The flavor's .onnx file, inside the folder (links resolved). */
  onnxPath: string;
  /** The `signature` block, each side parsed from its JSON string; absent when the MLmodel has none. */
  signature?: { inputs: MlflowSpec[]; outputs: MlflowSpec[] };
}

const MAX_MLMODEL_BYTES = 1024 * 1024;

function refuse(message: string): ModelportError {
  return new ModelportError('invalid_model', `MLmodel: ${message}`, { field: 'file' });
}

function specs(value: unknown, side: string): MlflowSpec[] {
  if (value === undefined || value === null) return [];
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw refuse(`signature.${side} is not a JSON list of specs`);
    }
  }
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'object' && s !== null && !Array.isArray(s))) {
    throw refuse(`signature.${side} must be a list of column or tensor specs`);
  }
  return parsed as MlflowSpec[];
}

/**
 * Reads `<dir>/MLmodel`. `invalid_model` (field `file`) when it is missing, not YAML, has no onnx flavor, or its
 * `flavors.onnx.data` is not a file inside the folder. YAML is parsed as data only (no custom tags run).
 */
export async function readMlflowModel(dir: string): Promise<MlflowModel> {
  const { root, flavors, signature } = await readMlmodel(dir);
  const onnx = (flavors as Record<string, unknown> | undefined)?.['onnx'] as Record<string, unknown> | undefined;
  if (typeof onnx !== 'object' || onnx === null) {
    const names = typeof flavors === 'object' && flavors !== null ? Object.keys(flavors).join(', ') : 'none';
    throw refuse(`the model has no onnx flavor (it has ${names || 'none'}); log it with mlflow.onnx.log_model`);
  }
  const data = onnx['data'];
  if (typeof data !== 'string' || data === '' || data.includes('\0') || data.includes('\\')) {
    throw refuse('flavors.onnx.data must name the .onnx file in the folder');
  }
  const path = resolve(root, data);
  const real = await realpath(path).catch(() => undefined);
  if (!path.startsWith(root + sep) || (real !== undefined && !real.startsWith(root + sep))) {
    throw refuse('flavors.onnx.data points outside the model folder');
  }
  if (real === undefined || !(await stat(real)).isFile()) {
    throw refuse(`flavors.onnx.data names '${data}', which is not a file in the folder`);
  }
  if (typeof signature !== 'object' || signature === null) return { onnxPath: real };
  const { inputs, outputs } = signature as Record<string, unknown>;
  return { onnxPath: real, signature: { inputs: specs(inputs, 'inputs'), outputs: specs(outputs, 'outputs') } };
}

/** The MLmodel file of `dir`, parsed as data only; `invalid_model` naming the problem. */
async function readMlmodel(dir: string): Promise<{ root: string; flavors: unknown; signature: unknown }> {
  const root = await realpath(dir).catch(() => {
    throw new ModelportError('invalid_request', 'the MLflow model folder does not exist', { field: 'path' });
  });
  const file = join(root, 'MLmodel');
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw refuse('the folder has no MLmodel file; it is not an MLflow model');
  if (info.size > MAX_MLMODEL_BYTES) throw refuse('the file is larger than 1 MiB');
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'), { schema: 'core', maxAliasCount: 100, uniqueKeys: true });
  } catch {
    throw refuse('the file is not valid YAML');
  }
  if (typeof doc !== 'object' || doc === null) throw refuse('the file is not a YAML mapping');
  const { flavors, signature } = doc as Record<string, unknown>;
  return { root, flavors, signature };
}

/** An MLflow model of any flavor, as `modelport models import` registers it under a container model type. */
export interface MlflowFlavors {
  /** Flavor names, specific ones first (`sklearn`, `xgboost`, `pytorch`), then `pyfunc` for `python_function`. */
  flavors: string[];
  signature?: { inputs: MlflowSpec[]; outputs: MlflowSpec[] };
}

/** Reads the flavors and signature of `<dir>/MLmodel`; nothing in the folder is loaded or run. */
export async function readMlflowFlavors(dir: string): Promise<MlflowFlavors> {
  const { flavors, signature } = await readMlmodel(dir);
  const names = typeof flavors === 'object' && flavors !== null ? Object.keys(flavors) : [];
  const specific = names.filter((n) => n !== 'python_function');
  const ordered = [...specific, ...(names.includes('python_function') ? ['pyfunc'] : [])];
  if (typeof signature !== 'object' || signature === null) return { flavors: ordered };
  const { inputs, outputs } = signature as Record<string, unknown>;
  return { flavors: ordered, signature: { inputs: specs(inputs, 'inputs'), outputs: specs(outputs, 'outputs') } };
}

const MLFLOW_TYPES: Record<string, Datatype> = {
  double: 'FP64',
  float: 'FP32',
  long: 'INT64',
  integer: 'INT32',
  boolean: 'BOOL',
  string: 'BYTES',
  binary: 'BYTES',
  datetime: 'BYTES',
  float64: 'FP64',
  float32: 'FP32',
  float16: 'FP16',
  int64: 'INT64',
  int32: 'INT32',
  int16: 'INT16',
  int8: 'INT8',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  object: 'BYTES',
  str: 'BYTES',
};

/**
 * The tensor signature an MLflow signature declares, for a model Modelport never opens: a tensor spec keeps its
 * dtype and shape; a column becomes a `[-1]` tensor of its type. Undefined when a type has no V2 datatype.
 */
export function declaredFromMlflow(signature: {
  inputs: MlflowSpec[];
  outputs: MlflowSpec[];
}): ModelSignature | undefined {
  const side = (list: MlflowSpec[], prefix: string): TensorSpec[] | undefined => {
    const out: TensorSpec[] = [];
    for (const [i, s] of list.entries()) {
      const tensor = s['tensor-spec'] as { dtype?: unknown; shape?: unknown } | undefined;
      const type = String(tensor ? tensor.dtype : s['type']);
      const datatype = MLFLOW_TYPES[type];
      if (!datatype) return undefined;
      const shape = tensor && Array.isArray(tensor.shape) ? (tensor.shape as number[]) : [-1];
      out.push({ name: typeof s['name'] === 'string' ? s['name'] : `${prefix}-${i}`, datatype, shape });
    }
    return out.length > 0 ? out : undefined;
  };
  const inputs = side(signature.inputs, 'input');
  const outputs = side(signature.outputs, 'output');
  return inputs && outputs ? { inputs, outputs } : undefined;
}

/** A one-line summary of a signature side for a version's description: `amount: double, v1: double`. */
export function describeMlflowSpecs(list: readonly MlflowSpec[]): string {
  return list
    .map((s) => {
      const tensor = s['tensor-spec'] as { dtype?: unknown; shape?: unknown } | undefined;
      const type = tensor ? `${String(tensor.dtype)}${JSON.stringify(tensor.shape ?? [])}` : String(s['type']);
      return s['name'] === undefined ? type : `${String(s['name'])}: ${type}`;
    })
    .join(', ');
}
