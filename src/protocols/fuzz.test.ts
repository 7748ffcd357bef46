/**
 * Seeded fuzzing of every decoder: mutated bodies (random bytes, and hostile values planted at random places of a
 * valid request) must either decode or throw a ModelportError with a 4xx status, never anything else; whatever
 * decodes must also encode back without throwing anything else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferRequest, InferResponse, ModelSignature } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import { prng } from './assertions.fixture.ts';
import { decodeSeldon, encodeSeldon } from './seldon.ts';
import { decodeV1, encodeV1 } from './v1.ts';
import { decodeV2Request, encodeV2Response } from './v2-binary.ts';
import { decodeV2Json } from './v2-json.ts';
import { validateRequest } from './validate.ts';

const ROUNDS = 3000;
const SIGNATURE: ModelSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3] },
    { name: 's', datatype: 'BYTES', shape: [-1] },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
};
const ONE_INPUT: ModelSignature = { inputs: [SIGNATURE.inputs[0]!], outputs: SIGNATURE.outputs };

const HOSTILE: unknown[] = [
  -1,
  0,
  1.5,
  2 ** 53 + 2,
  1e308,
  -1e308,
  2 ** 31,
  65536,
  'NaN',
  '',
  'FP32',
  'BYTES',
  'INT64',
  null,
  true,
  [],
  {},
  [[[]]],
  [2 ** 40, 2 ** 40],
  [-1],
  [1e9],
  { b64: '@@' },
  { b64: 'aGk=' },
  'x'.repeat(300),
  JSON.parse(`${'['.repeat(150)}${']'.repeat(150)}`),
];
const BYTES = '[]{},:"-0123456789e.E+ ntfux\\\u00ff';

/** Calls `fn`; anything thrown must be a ModelportError with a 4xx status. Returns whether it succeeded. */
function survives<T>(fn: () => T, then?: (value: T) => unknown): boolean {
  try {
    const value = fn();
    then?.(value);
    return true;
  } catch (error) {
    if (!(error instanceof ModelportError) || error.httpStatus < 400 || error.httpStatus > 499) {
      assert.fail(`expected a 4xx ModelportError, got ${error instanceof Error ? error.stack : String(error)}`);
    }
    return false;
  }
}

/** Plants a hostile value at a random node of a JSON value (objects and arrays are walked at random). */
function plant(value: unknown, random: () => number): unknown {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  if (random() < 0.25 || value === null || typeof value !== 'object') return pick(HOSTILE);
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length === 0 || random() < 0.1) copy.push(pick(HOSTILE));
    else {
      const i = Math.floor(random() * copy.length);
      copy[i] = plant(copy[i], random);
    }
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const roll = random();
  if (keys.length === 0 || roll < 0.1)
    copy[pick(['name', 'shape', 'datatype', 'data', 'parameters', 'zz'])] = pick(HOSTILE);
  else if (roll < 0.2) delete copy[pick(keys)];
  else {
    const key = pick(keys);
    copy[key] = plant(copy[key], random);
  }
  return copy;
}

/** Random byte-level damage: replace, insert, delete, duplicate or truncate. */
function damage(text: string, random: () => number): string {
  const at = Math.floor(random() * (text.length + 1));
  const char = BYTES[Math.floor(random() * BYTES.length)]!;
  switch (Math.floor(random() * 5)) {
    case 0:
      return text.slice(0, at) + char + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + char + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 8));
    case 3:
      return text.slice(0, at) + text.slice(at, at + 16) + text.slice(at);
    default:
      return text.slice(0, at);
  }
}

function mutations(base: unknown, seed: number, each: (text: string) => boolean): void {
  const random = prng(seed);
  let decoded = 0;
  for (let i = 0; i < ROUNDS; i++) {
    let value = base;
    for (let k = 1 + Math.floor(random() * 3); k > 0; k--) value = plant(value, random);
    let text = JSON.stringify(value);
    if (random() < 0.4) text = damage(text, random);
    if (each(text)) decoded++;
  }
  // The fuzz reaches both sides: some mutations still decode, most are refused.
  assert.ok(decoded > 0 && decoded < ROUNDS, `decoded ${decoded} of ${ROUNDS}`);
}

const echo = (request: InferRequest): InferResponse => ({ model_name: 'm', outputs: request.inputs });
const V2_BASE = {
  id: 'r',
  parameters: { binary_data_output: false },
  inputs: [
    {
      name: 'x',
      shape: [2, 3],
      datatype: 'FP32',
      data: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    { name: 's', shape: [2], datatype: 'BYTES', data: ['a', 'b'], parameters: { p: 1 } },
  ],
  outputs: [{ name: 'y', parameters: { binary_data: true } }],
};

describe('fuzz: only 4xx ModelportErrors escape the decoders', () => {
  test('V2 JSON', () => {
    mutations(V2_BASE, 1, (text) =>
      survives(
        () => decodeV2Json(text),
        (request) => {
          survives(() => validateRequest(request, SIGNATURE));
          encodeV2Response(echo(request), request);
        },
      ),
    );
  });

  test('V2 binary', () => {
    const header = {
      inputs: [
        { name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
        { name: 's', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: 10 } },
      ],
      parameters: { binary_data_output: true },
    };
    const tensor = Buffer.from([0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 1, 0, 0, 0, 97, 1, 0, 0, 0, 98]);
    const random = prng(2);
    mutations(header, 3, (text) => {
      const json = Buffer.from(text);
      const data = Buffer.from(tensor);
      if (random() < 0.3) data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
      const body = Buffer.concat([json, random() < 0.2 ? data.subarray(Math.floor(random() * data.length)) : data]);
      const length = random() < 0.1 ? String(Math.floor(random() * (body.length + 8)) - 4) : String(json.length);
      return survives(
        () => decodeV2Request(body, { 'inference-header-content-length': length }),
        (request) => encodeV2Response(echo(request), request),
      );
    });
  });

  test('V1', () => {
    const rows = {
      instances: [
        { x: [1, 2, 3], s: 'a' },
        { x: [4, 5, 6], s: { b64: 'aGk=' } },
      ],
    };
    mutations(rows, 4, (text) =>
      survives(
        () => decodeV1(text, SIGNATURE),
        ({ request, format }) => survives(() => encodeV1(echo(request), format)),
      ),
    );
    mutations({ inputs: [[1, 2, 3]] }, 5, (text) =>
      survives(
        () => decodeV1(text, ONE_INPUT),
        ({ request, format }) => survives(() => encodeV1(echo(request), format)),
      ),
    );
  });

  test('Seldon, JSON and form-encoded', () => {
    const random = prng(6);
    const message = { meta: { puid: 'p' }, data: { names: ['x'], ndarray: [[1, 2, 3]] } };
    mutations(message, 7, (text) => {
      const form = random() < 0.5;
      const body = form ? `json=${encodeURIComponent(text)}` : text;
      return survives(
        () => decodeSeldon(body, form ? 'application/x-www-form-urlencoded' : 'application/json', ONE_INPUT),
        ({ request, format }) => encodeSeldon(echo(request), format),
      );
    });
    const columns = { data: { names: ['s', 'x'], tensor: { shape: [1, 2], values: [1, 2] } } };
    const twoColumns: ModelSignature = {
      inputs: [
        { name: 'x', datatype: 'INT32', shape: [-1] },
        { name: 's', datatype: 'FP64', shape: [-1, 1] },
      ],
      outputs: [],
    };
    mutations(columns, 8, (text) => survives(() => decodeSeldon(text, 'application/json', twoColumns)));
  });
});
