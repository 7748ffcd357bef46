/**
 * What a hosted call sends and how its answer becomes output tensors, per protocol. The answers are read with the
 * gateway's own codecs, with the signature's outputs standing in for inputs (a V1 `predictions` list is shaped like
 * `instances`, a Seldon answer like a Seldon request, V2 `outputs` like `inputs`).
 */

import type { ModelSignature, Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import {
  decodeSeldon,
  decodeV1,
  jsonOutput,
  naturalShape,
  nest,
  readInferRequest,
  readNested,
  toJsonValues,
} from '../../protocols/index.ts';
import type { HostedDescriptor } from './hosted-descriptor.ts';

/** The JSON body of one call for `batch`. */
export function encodeHostedRequest(
  descriptor: HostedDescriptor,
  batch: readonly Tensor[],
  outputs?: string[],
): unknown {
  const nested = (t: Tensor) => nest(toJsonValues(t.data, t.datatype), t.shape);
  switch (descriptor.protocol) {
    case 'v2':
      return {
        inputs: batch.map(jsonOutput),
        ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
      };
    case 'v1':
      return batch.length === 1
        ? { instances: nested(batch[0]!) }
        : { inputs: Object.fromEntries(batch.map((t) => [t.name, nested(t)])) };
    case 'seldon':
      return { data: { ndarray: nested(batch[0]!) } };
    case 'json': {
      const byName = new Map(batch.map((t) => [`$${t.name}`, t]));
      const fill = (value: unknown): unknown => {
        if (typeof value === 'string') {
          const tensor = byName.get(value);
          return tensor ? nested(tensor) : value;
        }
        if (Array.isArray(value)) return value.map(fill);
        if (typeof value === 'object' && value !== null) {
          return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
        }
        return value;
      };
      return fill(descriptor.template);
    }
  }
}

/**
 * The output tensors in an answer, in the order of `outputs` (default: the signature's outputs). Throws
 * `internal` (with the reason) when the answer does not match the signature: the client's request was fine.
 */
export function decodeHostedResponse(descriptor: HostedDescriptor, body: unknown, outputs?: string[]): Tensor[] {
  const signature = descriptor.signature;
  let tensors: Tensor[];
  try {
    tensors = decodeOutputs(descriptor, signature, body);
  } catch (error) {
    if (error instanceof ModelportError && error.code === 'internal') throw error;
    throw mismatch(error instanceof Error ? error.message : String(error));
  }
  const wanted = outputs ?? signature.outputs.map((s) => s.name);
  return wanted.map((name) => {
    const tensor = tensors.find((t) => t.name === name);
    if (!tensor) throw mismatch(`the answer has no output '${name}'`);
    return tensor;
  });
}

function decodeOutputs(descriptor: HostedDescriptor, signature: ModelSignature, body: unknown): Tensor[] {
  const asInputs: ModelSignature = { inputs: signature.outputs, outputs: [] };
  const json = body as Record<string, unknown> | null;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    if (descriptor.protocol !== 'json') throw mismatch('the answer is not a JSON object');
  }
  switch (descriptor.protocol) {
    case 'v2':
      return readInferRequest({ inputs: json?.['outputs'] }, undefined).inputs;
    case 'v1': {
      const rows = json?.['predictions'];
      const text = JSON.stringify(rows !== undefined ? { instances: rows } : { inputs: json?.['outputs'] });
      return decodeV1(text, asInputs).request.inputs;
    }
    case 'seldon':
      return decodeSeldon(JSON.stringify({ data: json?.['data'] }), 'application/json', asInputs).request.inputs;
    case 'json':
      return signature.outputs.map((spec) => {
        const value = pointer(body, descriptor.response[spec.name] ?? '');
        if (value === undefined)
          throw mismatch(`nothing at ${descriptor.response[spec.name]} for output '${spec.name}'`);
        const shape = naturalShape(value, spec.name);
        return {
          name: spec.name,
          datatype: spec.datatype,
          shape,
          data: readNested(value, shape, spec.datatype, spec.name),
        };
      });
  }
}

/** RFC 6901: `/a/0/b` walks keys and indexes; `~1` is `/` and `~0` is `~`; `''` is the whole document. */
export function pointer(document: unknown, path: string): unknown {
  if (path === '') return document;
  let value = document;
  for (const raw of path.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(key)) value = value[Number(key)];
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)) {
      value = (value as Record<string, unknown>)[key];
    } else return undefined;
  }
  return value;
}

function mismatch(reason: string): ModelportError {
  return new ModelportError('internal', `the hosted service's answer does not match the model's signature: ${reason}`);
}
