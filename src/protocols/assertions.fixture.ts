/** Assertions shared by this folder's tests (not part of the public surface). */
import assert from 'node:assert/strict';
import type { ModelSignature } from '../core/index.ts';
import { type ErrorCode, ModelportError } from '../core/index.ts';

/** Asserts `fn` throws a ModelportError with `code` whose message matches `message` (and `field`, when given). */
export function assertRejects(fn: () => unknown, code: ErrorCode, message: RegExp, field?: string): ModelportError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ModelportError, `expected a ModelportError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

/** A small deterministic PRNG (mulberry32) so fuzz runs are reproducible from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tabular model: one FP32 input `x` of [-1, 3], one output `y` of [-1, 2]. */
export const TABULAR: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
};
