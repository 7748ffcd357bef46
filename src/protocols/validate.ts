/**
 * Checking a decoded request against the model's signature, once for every protocol, before it is queued.
 */

import type { InferRequest, ModelSignature, Tensor, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import { allocate, formatShape, quote } from './tensor-json.ts';

/**
 * Throws `invalid_input` unless every input of `signature` is given exactly once and nothing else is, each with
 * the signature's datatype, the same rank and equal dimensions (a signature dimension of -1 matches any size),
 * data of exactly the shape's element count, and every requested output exists. All problems are reported in one
 * message (`input 'x': expected FP32, got INT64; unknown input 'y'`); `field` names the first input at fault.
 *
 * @example validateRequest(decodeV2Json(body), resolved.signature)
 */
export function validateRequest(request: InferRequest, signature: ModelSignature): void {
  if (!isValid(request, signature)) reportProblems(request, signature);
}

/**
 * The check of every request, allocating nothing: a signature has a handful of inputs, so lookups are linear scans
 * (a Map and a Set per request cost 570 bytes of garbage on the gateway's hot path). Past `LINEAR_LIMIT` inputs,
 * or when anything is wrong, `reportProblems` decides and says what.
 */
function isValid(request: InferRequest, signature: ModelSignature): boolean {
  const { inputs } = request;
  const specs = signature.inputs;
  if (inputs.length !== specs.length || inputs.length > LINEAR_LIMIT) return false;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    for (let j = 0; j < i; j++) if (inputs[j]!.name === input.name) return false;
    let spec: TensorSpec | undefined;
    for (const candidate of specs) {
      if (candidate.name === input.name) {
        spec = candidate;
        break;
      }
    }
    if (spec === undefined || checkInput(input, spec) !== undefined) return false;
  }
  // As many distinct known names as the signature has: every input is given.
  for (const output of request.outputs ?? []) {
    if (!signature.outputs.some((spec) => spec.name === output.name)) return false;
  }
  return true;
}

const LINEAR_LIMIT = 32;

/** Throws `invalid_input` with every problem of the request (see `validateRequest`). */
function reportProblems(request: InferRequest, signature: ModelSignature): void {
  const problems: [field: string, message: string][] = [];
  const specs = new Map(signature.inputs.map((spec) => [spec.name, spec]));
  const given = new Set<string>();
  for (const input of request.inputs) {
    if (given.has(input.name)) {
      problems.push([input.name, `input ${quote(input.name)} is given twice`]);
      continue;
    }
    given.add(input.name);
    const spec = specs.get(input.name);
    if (spec === undefined) {
      problems.push([
        input.name,
        `unknown input ${quote(input.name)}; the model's inputs are ${names(signature.inputs)}`,
      ]);
      continue;
    }
    const problem = checkInput(input, spec);
    if (problem !== undefined) problems.push([input.name, `input ${quote(input.name)}: ${problem}`]);
  }
  for (const spec of signature.inputs) {
    if (!given.has(spec.name)) {
      problems.push([spec.name, `missing input ${quote(spec.name)} (${spec.datatype} ${formatShape(spec.shape)})`]);
    }
  }
  const outputs = new Set(signature.outputs.map((spec) => spec.name));
  for (const output of request.outputs ?? []) {
    if (!outputs.has(output.name)) {
      problems.push([
        output.name,
        `unknown output ${quote(output.name)}; the model's outputs are ${names(signature.outputs)}`,
      ]);
    }
  }
  const first = problems[0];
  if (first !== undefined) {
    const shown = problems.slice(0, 10).map(([, message]) => message);
    if (problems.length > 10) shown.push(`and ${problems.length - 10} more`);
    throw new ModelportError('invalid_input', shown.join('; '), { field: first[0] });
  }
}

function checkInput(input: Tensor, spec: TensorSpec): string | undefined {
  if (input.datatype !== spec.datatype) return `expected ${spec.datatype}, got ${input.datatype}`;
  if (input.shape.length !== spec.shape.length) {
    return `expected rank ${spec.shape.length} (shape ${formatShape(spec.shape)}), got shape ${formatShape(input.shape)}`;
  }
  let n = 1;
  for (let i = 0; i < spec.shape.length; i++) {
    const want = spec.shape[i]!;
    const got = input.shape[i]!;
    if (!Number.isSafeInteger(got) || got < 0) return `shape dimension ${i} is ${got}; dimensions are integers >= 0`;
    if (want >= 0 && got !== want) {
      return `dimension ${i} is ${got} but the model expects ${want} (shape ${formatShape(spec.shape)})`;
    }
    n *= got;
  }
  if (!Number.isSafeInteger(n)) return `shape ${formatShape(input.shape)} has too many elements`;
  if (input.data.length !== n)
    return `data has ${input.data.length} elements but shape ${formatShape(input.shape)} needs ${n}`;
  return undefined;
}

function names(specs: readonly TensorSpec[]): string {
  return specs.length === 0 ? 'none' : specs.map((spec) => quote(spec.name)).join(', ');
}

/**
 * A zero-filled request matching `signature`, for warm-up: dynamic dimensions (-1) become `batchSize` in the
 * first position and 1 elsewhere; BYTES elements are empty.
 *
 * @example zeroRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 30] }], outputs: [] }, 4)
 *   // -> { inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 30], data: Float32Array(120) }] }
 */
export function zeroRequest(signature: ModelSignature, batchSize = 1): InferRequest {
  return {
    inputs: signature.inputs.map((spec) => {
      const shape = spec.shape.map((d, i) => (d >= 0 ? d : i === 0 ? batchSize : 1));
      const n = shape.reduce((a, b) => a * b, 1);
      return { name: spec.name, datatype: spec.datatype, shape, data: allocate(spec.datatype, n) };
    }),
  };
}
