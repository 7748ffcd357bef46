import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { DATATYPES } from '../core/index.ts';
import { buildDatatypesModel, buildMultiInputModel } from './test-models.ts';

describe('buildMultiInputModel', () => {
  test('computes scaled, masked, total and next_ids from five inputs of four datatypes', async () => {
    const session = await ort.InferenceSession.create(buildMultiInputModel());
    try {
      assert.deepEqual(session.inputNames, ['features', 'counts', 'scale', 'mask', 'ids']);
      assert.deepEqual(session.outputNames, ['scaled', 'masked', 'total', 'next_ids']);
      const out = await session.run({
        features: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, -1, -2, -3, -4]), [2, 4]),
        counts: new ort.Tensor('int64', new BigInt64Array([1n, 2n, 3n, 10n, 20n, 2n ** 40n]), [2, 3]),
        scale: new ort.Tensor('float32', new Float32Array([0.5]), []),
        mask: new ort.Tensor('bool', new Uint8Array([1, 0, 1, 0, 0, 1, 0, 1]), [2, 4]),
        ids: new ort.Tensor('int32', new Int32Array([41, -1]), [2]),
      });
      assert.deepEqual([...(out['scaled']!.data as Float32Array)], [0.5, 1, 1.5, 2, -0.5, -1, -1.5, -2]);
      assert.deepEqual([...(out['masked']!.data as Float32Array)], [1, 0, 3, 0, 0, -2, 0, -4]);
      assert.deepEqual([...(out['total']!.data as BigInt64Array)], [6n, 30n + 2n ** 40n]);
      assert.deepEqual(out['total']!.dims, [2]);
      assert.deepEqual([...(out['next_ids']!.data as Int32Array)], [42, 0]);
    } finally {
      await session.release();
    }
  });
});

describe('buildDatatypesModel', () => {
  test('echoes every V2 datatype through its own input and output', async () => {
    const session = await ort.InferenceSession.create(buildDatatypesModel());
    try {
      const names = DATATYPES.map((d) => d.toLowerCase());
      assert.deepEqual(session.inputNames, names);
      assert.deepEqual(
        session.outputNames,
        names.map((n) => `${n}_out`),
      );
      const feeds: Record<string, ort.Tensor> = {
        bool: new ort.Tensor('bool', new Uint8Array([1, 0]), [1, 2]),
        uint8: new ort.Tensor('uint8', new Uint8Array([0, 255]), [1, 2]),
        uint16: new ort.Tensor('uint16', new Uint16Array([1, 65535]), [1, 2]),
        uint32: new ort.Tensor('uint32', new Uint32Array([1, 2 ** 32 - 1]), [1, 2]),
        uint64: new ort.Tensor('uint64', new BigUint64Array([1n, 2n ** 64n - 1n]), [1, 2]),
        int8: new ort.Tensor('int8', new Int8Array([-128, 127]), [1, 2]),
        int16: new ort.Tensor('int16', new Int16Array([-32768, 32767]), [1, 2]),
        int32: new ort.Tensor('int32', new Int32Array([-(2 ** 31), 2 ** 31 - 1]), [1, 2]),
        int64: new ort.Tensor('int64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), [1, 2]),
        fp16: new ort.Tensor('float16', new Uint16Array([0x3c00, 0xc000]), [1, 2]),
        fp32: new ort.Tensor('float32', new Float32Array([1.5, -0.25]), [1, 2]),
        fp64: new ort.Tensor('float64', new Float64Array([Math.PI, -1e300]), [1, 2]),
        bytes: new ort.Tensor('string', ['héllo', ''], [1, 2]),
      };
      // onnxruntime-node 1.30 on Node >= 23 turns float16 data into a Float16Array whose byte length its binding
      // reads as 0 ("not enough space: expected 4, got 0"; microsoft/onnxruntime PR #32323). Handing the binding
      // the Uint16Array back works around it.
      Object.assign(feeds['fp16']!, { cpuData: new Uint16Array([0x3c00, 0xc000]) });
      const out = await session.run(feeds);
      const bits = (data: unknown) =>
        ArrayBuffer.isView(data) && data.constructor.name === 'Float16Array'
          ? [...new Uint16Array(data.buffer, data.byteOffset, 2)]
          : Array.from(data as ArrayLike<unknown>);
      for (const name of names) {
        const got = out[`${name}_out`]!;
        assert.equal(got.type, feeds[name]!.type, name);
        assert.deepEqual(got.dims, [1, 2], name);
        // float16 comes back as a Float16Array on Node >= 23: compare its bits.
        assert.deepEqual(
          bits(got.data),
          name === 'fp16' ? [0x3c00, 0xc000] : Array.from(feeds[name]!.data as ArrayLike<unknown>),
          name,
        );
      }
    } finally {
      await session.release();
    }
  });
});
