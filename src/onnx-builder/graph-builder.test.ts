import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { ModelportError } from '../core/index.ts';
import { float, GraphBuilder, tensor } from './graph-builder.ts';

const invalid = (field: string) => (error: unknown) =>
  error instanceof ModelportError && error.code === 'invalid_request' && error.field === field;

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return { outputs: await session.run(feeds), outputNames: session.outputNames };
  } finally {
    await session.release();
  }
}

describe('GraphBuilder', () => {
  test('builds the documented linear example and ONNX Runtime computes it', async () => {
    const g = new GraphBuilder('linear');
    const x = g.input('input', 'FLOAT', ['N', 3]);
    const w = g.initializer('w', new Float32Array([1, 2, 3]), [3, 1]);
    const b = g.initializer('b', new Float32Array([0.5]), [1]);
    const y = g.node('Gemm', [x, w, b], { alpha: float(2), transB: 0 });
    g.output(y, 'score', 'FLOAT', ['N', 1]);
    const { outputs } = await run(g.toModel(), {
      input: new ort.Tensor('float32', new Float32Array([1, 1, 1, 0, 1, 0]), [2, 3]),
    });
    // alpha scales A.B only: 2 * (1 + 2 + 3) + 0.5, 2 * 2 + 0.5.
    assert.deepEqual([...(outputs['score']!.data as Float32Array)], [12.5, 4.5]);
  });

  test('output() renames a node output in place, and later uses of the old name follow', async () => {
    const g = new GraphBuilder('rename');
    const x = g.input('x', 'FLOAT', ['N']);
    const doubled = g.node('Add', [x, x]);
    g.output(doubled, 'doubled', 'FLOAT', ['N']);
    g.output(g.node('Mul', [doubled, doubled]), 'squared', 'FLOAT', ['N']);
    const graph = g.toGraph();
    assert.deepEqual(
      graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]),
      [
        ['Add', ['x', 'x'], ['doubled']],
        ['Mul', ['doubled', 'doubled'], ['squared']],
      ],
    );
    const { outputs } = await run(g.toModel(), { x: new ort.Tensor('float32', new Float32Array([1, 3]), [2]) });
    assert.deepEqual([...(outputs['doubled']!.data as Float32Array)], [2, 6]);
    assert.deepEqual([...(outputs['squared']!.data as Float32Array)], [4, 36]);
  });

  test('an input, a constant or an already-declared output is passed through Identity', async () => {
    const g = new GraphBuilder('identity');
    const x = g.input('x', 'INT32', [2]);
    const c = g.initializer('c', new Int32Array([7, 8]), [2]);
    g.output(x, 'x_out', 'INT32', [2]);
    g.output(c, 'c_out', 'INT32', [2]);
    g.output('x_out', 'x_again', 'INT32', [2]);
    g.output(x, 'x', 'INT32', [2]);
    assert.deepEqual(
      g.toGraph().nodes.map((n) => n.opType),
      ['Identity', 'Identity', 'Identity'],
    );
    const { outputs, outputNames } = await run(g.toModel(), {
      x: new ort.Tensor('int32', new Int32Array([1, 2]), [2]),
    });
    assert.deepEqual(outputNames, ['x_out', 'c_out', 'x_again', 'x']);
    assert.deepEqual([...(outputs['c_out']!.data as Int32Array)], [7, 8]);
    assert.deepEqual([...(outputs['x_again']!.data as Int32Array)], [1, 2]);
    assert.deepEqual([...(outputs['x']!.data as Int32Array)], [1, 2]);
  });

  test('multi-output nodes and omitted optional inputs', async () => {
    const g = new GraphBuilder('topk');
    const x = g.input('x', 'FLOAT', [4]);
    const k = g.initializer('k', new BigInt64Array([2n]), [1]);
    const [values, indices] = g.nodeOutputs('TopK', [x, k], ['values', 'indices']);
    g.output(values!, 'values', 'FLOAT', [2]);
    g.output(indices!, 'indices', 'INT64', [2]);
    // Clip with its optional min omitted ('') and a max.
    const max = g.initializer('max', new Float32Array([2]), []);
    g.output(g.node('Clip', [x, '', max]), 'clipped', 'FLOAT', [4]);
    const { outputs } = await run(g.toModel(), { x: new ort.Tensor('float32', new Float32Array([3, -1, 5, 0]), [4]) });
    assert.deepEqual([...(outputs['values']!.data as Float32Array)], [5, 3]);
    assert.deepEqual([...(outputs['indices']!.data as BigInt64Array)], [2n, 0n]);
    assert.deepEqual([...(outputs['clipped']!.data as Float32Array)], [2, -1, 2, 0]);
  });

  test('tensor() picks the type from the array, or BOOL / FLOAT16 when told', () => {
    assert.equal(tensor('a', new Float64Array(2), [2]).dataType, 'DOUBLE');
    assert.equal(tensor('a', new BigUint64Array(1), []).dataType, 'UINT64');
    assert.equal(tensor('a', new Uint8Array([0, 1]), [2], 'BOOL').dataType, 'BOOL');
    const half = tensor('a', new Uint16Array([0x3c00]), [1], 'FLOAT16');
    assert.deepEqual([half.dataType, [...half.rawData]], ['FLOAT16', [0x00, 0x3c]]);
    // raw_data is a copy of only the view's bytes.
    const view = new Float32Array([1, 2, 3]).subarray(1);
    assert.deepEqual([...tensor('v', view, [2]).rawData], [...new Uint8Array(new Float32Array([2, 3]).buffer)]);
  });

  test('mistakes throw invalid_request naming the value at fault', () => {
    assert.throws(() => tensor('w', new Float32Array(5), [2, 3]), invalid('w'));
    assert.throws(() => tensor('w', new Float32Array(2), [2], 'INT64'), invalid('w'));
    const g = new GraphBuilder('bad');
    const x = g.input('x', 'FLOAT', [1]);
    assert.throws(() => g.input('x', 'FLOAT', [1]), invalid('x'));
    assert.throws(() => g.node('Relu', ['y']), invalid('y'));
    assert.throws(() => g.node('LeakyRelu', [x], { alpha: 0.1 }), invalid('alpha'));
    assert.throws(() => g.node('Transpose', [x], { perm: [0.5] }), invalid('perm'));
    assert.throws(() => g.output('nope', 'out', 'FLOAT'), invalid('nope'));
    assert.throws(() => g.toModel(), invalid('output'));
    assert.throws(() => g.node('Relu', [x], {}, { output: 'x' }), invalid('x'));
  });
});
