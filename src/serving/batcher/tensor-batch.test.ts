import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Tensor } from '../../core/index.ts';
import { concatBatch, splitBatch } from './tensor-batch.ts';

const enc = new TextEncoder();

describe('concatBatch and splitBatch', () => {
  test('concatenate along dim 0 by name, for numeric, INT64 and BYTES tensors', () => {
    const a: Tensor[] = [
      { name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) },
      { name: 'id', datatype: 'INT64', shape: [1], data: new BigInt64Array([7n]) },
      { name: 's', datatype: 'BYTES', shape: [1], data: [enc.encode('a')] },
    ];
    const b: Tensor[] = [
      { name: 's', datatype: 'BYTES', shape: [2], data: [enc.encode('b'), enc.encode('c')] },
      { name: 'id', datatype: 'INT64', shape: [2], data: new BigInt64Array([8n, 9n]) },
      { name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array([3, 4, 5, 6]) },
    ];
    const batch = concatBatch([a, b], 3);
    assert.deepEqual(batch, [
      { name: 'x', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'id', datatype: 'INT64', shape: [3], data: new BigInt64Array([7n, 8n, 9n]) },
      { name: 's', datatype: 'BYTES', shape: [3], data: [enc.encode('a'), enc.encode('b'), enc.encode('c')] },
    ]);
  });

  test('split by row counts into views of the batch arrays', () => {
    const y = new Float64Array([1, 2, 3, 4, 5, 6]);
    const parts = splitBatch(
      [
        { name: 'y', datatype: 'FP64', shape: [3, 2], data: y },
        { name: 's', datatype: 'BYTES', shape: [3], data: [enc.encode('a'), enc.encode('b'), enc.encode('c')] },
      ],
      [2, 1],
    );
    assert.deepEqual(parts[0]?.[0], {
      name: 'y',
      datatype: 'FP64',
      shape: [2, 2],
      data: new Float64Array([1, 2, 3, 4]),
    });
    assert.deepEqual(parts[1]?.[0], { name: 'y', datatype: 'FP64', shape: [1, 2], data: new Float64Array([5, 6]) });
    assert.equal((parts[1]![0]!.data as Float64Array).buffer, y.buffer, 'a view, not a copy');
    assert.deepEqual(parts[1]?.[1]?.data, [enc.encode('c')]);
    assert.throws(() => splitBatch([{ name: 'y', datatype: 'FP64', shape: [2], data: new Float64Array(2) }], [2, 1]), {
      code: 'internal',
    });
  });
});
