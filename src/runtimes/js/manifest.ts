/**
 * The manifest of a js model folder: `modelport.json` names the module (optional) and declares the signature,
 * since a JavaScript model has no graph to read it from.
 *
 * ```json
 * {
 *   "entry": "model.ts",
 *   "signature": {
 *     "inputs":  [{ "name": "a", "datatype": "FP32", "shape": [-1, 2] }],
 *     "outputs": [{ "name": "sum", "datatype": "FP32", "shape": [-1, 2] }]
 *   }
 * }
 * ```
 *
 * The entry is, in order: the manifest's `entry`, package.json's `main`, then the first of index.js, index.ts,
 * index.mjs. It must be a regular file inside the folder with a .js, .mjs, .cjs, .ts, .mts or .cts extension.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { isDatatype, ModelportError, type ModelSignature, type TensorSpec } from '../../core/index.ts';

export const MANIFEST_FILE = 'modelport.json';
const ENTRY_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts']);
const DEFAULT_ENTRIES = ['index.js', 'index.ts', 'index.mjs'];
const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface JsModelManifest {
  /** Absolute path of the module to import. */
  entry: string;
  signature: ModelSignature;
}

function refuse(field: string, message: string): ModelportError {
  return new ModelportError('invalid_model', `${MANIFEST_FILE}: ${field}: ${message}`, { field: 'file' });
}

function tensorSpecs(value: unknown, field: string): TensorSpec[] {
  if (!Array.isArray(value)) throw refuse(field, 'must be a list of { name, datatype, shape }');
  if (value.length > 1024) throw refuse(field, 'has more than 1024 tensors');
  const names = new Set<string>();
  return value.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw refuse(at, 'must be an object { name, datatype, shape }');
    }
    const { name, datatype, shape, ...rest } = item as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw refuse(`${at}.${unknown}`, 'is not a known field (name, datatype, shape)');
    if (typeof name !== 'string' || !/^[A-Za-z_][\w.:/-]{0,255}$/.test(name)) {
      throw refuse(`${at}.name`, 'must be a name of letters, digits, _ . : / - starting with a letter or _');
    }
    if (names.has(name)) throw refuse(`${at}.name`, `'${name}' is declared twice`);
    names.add(name);
    if (!isDatatype(datatype)) {
      throw refuse(`${at}.datatype`, 'must be one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES');
    }
    if (
      !Array.isArray(shape) ||
      shape.length > 16 ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= -1)
    ) {
      throw refuse(`${at}.shape`, 'must be a list of up to 16 integers, -1 for a dynamic dimension');
    }
    return { name, datatype, shape: shape as number[] };
  });
}

/** Validates a signature declared in a manifest; errors name the field (`signature.inputs[0].datatype`). */
export function parseSignature(value: unknown): ModelSignature {
  if (typeof value !== 'object' || value === null) throw refuse('signature', 'must be an object { inputs, outputs }');
  const { inputs, outputs } = value as Record<string, unknown>;
  const signature = {
    inputs: tensorSpecs(inputs ?? [], 'signature.inputs'),
    outputs: tensorSpecs(outputs, 'signature.outputs'),
  };
  if (signature.outputs.length === 0) throw refuse('signature.outputs', 'must declare at least one output');
  return signature;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown> | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isFile() || info.size > MAX_MANIFEST_BYTES) throw refuse('file', `${what} must be a file under 1 MiB`);
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new ModelportError('invalid_model', `${what} is not a JSON object`, { field: 'file' });
  }
}

/** The entry as a real file inside `root` (links resolved), or undefined when it does not exist. */
async function entryFile(root: string, name: string, field: string): Promise<string | undefined> {
  if (typeof name !== 'string' || name === '' || name.includes('\0') || name.includes('\\')) {
    throw refuse(field, 'must be a relative path to the module');
  }
  const path = resolve(root, name);
  if (!path.startsWith(root + sep)) throw refuse(field, `'${name}' is outside the model folder`);
  if (!ENTRY_EXTENSIONS.has(extname(path))) {
    throw refuse(field, `'${name}' must end in .js, .mjs, .cjs, .ts, .mts or .cts`);
  }
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return undefined;
  if (!real.startsWith(root + sep) || !(await stat(real)).isFile()) {
    throw refuse(field, `'${name}' is not a file inside the model folder`);
  }
  return real;
}

/** Reads and checks the manifest of the extracted folder `dir`; `invalid_model` (field `file`) when it is wrong. */
export async function readJsManifest(dir: string): Promise<JsModelManifest> {
  const root = await realpath(dir);
  const manifest = await readJson(resolve(root, MANIFEST_FILE), MANIFEST_FILE);
  if (!manifest) {
    throw new ModelportError(
      'invalid_model',
      `a js model folder needs a ${MANIFEST_FILE} at its top declaring the signature: { "signature": { "inputs": [...], "outputs": [...] } }`,
      { field: 'file' },
    );
  }
  const signature = parseSignature(manifest['signature']);
  let entry: string | undefined;
  if (manifest['entry'] !== undefined) {
    entry = await entryFile(root, manifest['entry'] as string, 'entry');
    if (!entry) throw refuse('entry', `'${String(manifest['entry'])}' does not exist in the model folder`);
  } else {
    const main = (await readJson(resolve(root, 'package.json'), 'package.json'))?.['main'];
    if (main !== undefined) {
      entry = await entryFile(root, main as string, 'package.json main');
      if (!entry) throw refuse('package.json main', `'${String(main)}' does not exist in the model folder`);
    }
    for (const name of DEFAULT_ENTRIES) entry ??= await entryFile(root, name, 'entry');
  }
  if (!entry) {
    throw refuse('entry', `no module found; add "entry" to ${MANIFEST_FILE} or an index.js, index.ts or index.mjs`);
  }
  return { entry, signature };
}
