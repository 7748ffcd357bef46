import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from './index.ts';
import { sortFloat64 } from './sort.ts';

test('the radix sort orders as TypedArray sort does: negatives, -0 before +0, tiny and huge values, float32 data', () => {
  const rng = createRng(8);
  for (const n of [10, 5000, 100_000]) {
    const values = Float64Array.from({ length: n }, (_, i) => {
      if (i % 17 === 0) return -0;
      if (i % 19 === 0) return 0;
      if (i % 23 === 0) return Math.fround(rng.normal());
      if (i % 29 === 0) return rng.normal() * 1e-310;
      if (i % 31 === 0) return -Infinity;
      return rng.normal() * 10 ** rng.int(40);
    });
    const expected = values.slice().sort();
    const actual = sortFloat64(values.slice());
    assert.ok(
      expected.every((v, i) => Object.is(v, actual[i])),
      `n = ${n}`,
    );
  }
});
