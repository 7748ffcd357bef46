/**
 * A declared tensor signature: what a model served in its own container takes and gives, written by the user (a
 * `signature.yaml`) or read from MLflow's MLmodel, because Modelport never opens such a model to find out.
 *
 * ```yaml
 * inputs:
 *   - { name: input-0, datatype: FP64, shape: [-1, 4] }
 * outputs:
 *   - { name: predict, datatype: INT64, shape: [-1] }
 * ```
 */
import { isDatatype, ModelportError, type ModelSignature, type TensorSpec } from '../core/index.ts';

const MAX_TENSORS = 1024;
const MAX_RANK = 32;

/** Checks a declared signature in full; `invalid_request` naming `<field>.inputs[0].datatype` and the fix. */
export function checkDeclaredSignature(value: unknown, field: string): ModelSignature {
  const bad = (at: string, message: string) =>
    new ModelportError('invalid_request', `${at}: ${message}`, { field: at });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(field, 'must be a mapping with inputs and outputs, each a list of { name, datatype, shape }');
  }
  const record = value as Record<string, unknown>;
  const list = (key: 'inputs' | 'outputs'): TensorSpec[] => {
    const items = record[key];
    const at = `${field}.${key}`;
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_TENSORS) {
      throw bad(at, `must list 1 to ${MAX_TENSORS} tensors, each { name, datatype, shape }`);
    }
    const names = new Set<string>();
    return items.map((item: unknown, i) => {
      const here = `${at}[${i}]`;
      const t = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      if (typeof t['name'] !== 'string' || t['name'] === '' || t['name'].length > 256) {
        throw bad(`${here}.name`, 'must be a non-empty string of at most 256 characters');
      }
      if (names.has(t['name'])) throw bad(`${here}.name`, `'${t['name']}' is listed twice`);
      names.add(t['name']);
      if (!isDatatype(t['datatype'])) {
        throw bad(`${here}.datatype`, 'must be a V2 datatype such as FP32, FP64, INT64, BOOL or BYTES');
      }
      const shape = t['shape'];
      if (
        !Array.isArray(shape) ||
        shape.length > MAX_RANK ||
        !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= -1)
      ) {
        throw bad(`${here}.shape`, 'must be a list of dimensions, each a whole number, -1 for any size');
      }
      return { name: t['name'], datatype: t['datatype'], shape: shape as number[] };
    });
  };
  return { inputs: list('inputs'), outputs: list('outputs') };
}
