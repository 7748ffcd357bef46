/**
 * Small models that exist to exercise the serving path: several inputs and outputs, and every datatype of the
 * Open Inference Protocol. Each builds in well under a millisecond.
 */
import { DATATYPES } from '../core/index.ts';
import { ONNX_TYPE_OF_DATATYPE } from './datatypes.ts';
import { GraphBuilder } from './graph-builder.ts';

/**
 * A model with inputs of four datatypes, one of them a scalar, and four outputs (N is a dynamic batch):
 *
 * | input      | type         | output       | type         | value                                |
 * | ---------- | ------------ | ------------ | ------------ | ------------------------------------ |
 * | `features` | FP32 [N, 4]  | `scaled`     | FP32 [N, 4]  | features * scale                     |
 * | `counts`   | INT64 [N, 3] | `masked`     | FP32 [N, 4]  | mask ? features : 0                  |
 * | `scale`    | FP32 []      | `total`      | INT64 [N]    | sum of counts along axis 1           |
 * | `mask`     | BOOL [N, 4]  | `next_ids`   | INT32 [N]    | ids + 1                              |
 * | `ids`      | INT32 [N]    |              |              |                                      |
 *
 * Inputs and outputs are declared in the order above.
 */
export function buildMultiInputModel(): Uint8Array {
  const g = new GraphBuilder('multi_input');
  const features = g.input('features', 'FLOAT', ['N', 4]);
  const counts = g.input('counts', 'INT64', ['N', 3]);
  const scale = g.input('scale', 'FLOAT', []);
  const mask = g.input('mask', 'BOOL', ['N', 4]);
  const ids = g.input('ids', 'INT32', ['N']);
  const zero = g.initializer('zero', new Float32Array([0]), []);
  const one = g.initializer('one', new Int32Array([1]), []);
  const axis1 = g.initializer('axis1', new BigInt64Array([1n]), [1]);
  g.output(g.node('Mul', [features, scale]), 'scaled', 'FLOAT', ['N', 4]);
  g.output(g.node('Where', [mask, features, zero]), 'masked', 'FLOAT', ['N', 4]);
  g.output(g.node('ReduceSum', [counts, axis1], { keepdims: 0 }), 'total', 'INT64', ['N']);
  g.output(g.node('Add', [ids, one]), 'next_ids', 'INT32', ['N']);
  return g.toModel({ docString: 'Multi-input test model: scaled, masked, total, next_ids.' });
}

/**
 * One Identity per Open Inference Protocol datatype: input `<datatype>` (lower case: `bool`, `uint8`, ... `fp16`,
 * `fp32`, `fp64`, `bytes`) of shape [N, 2] gives output `<datatype>_out` with the same type, shape and contents.
 * Declared in the order of `DATATYPES` from src/core/tensor.ts; BYTES is an ONNX string tensor.
 */
export function buildDatatypesModel(): Uint8Array {
  const g = new GraphBuilder('datatypes');
  for (const datatype of DATATYPES) {
    const name = datatype.toLowerCase();
    const type = ONNX_TYPE_OF_DATATYPE[datatype];
    // Declaring an input as an output under another name inserts the Identity.
    g.output(g.input(name, type, ['N', 2]), `${name}_out`, type, ['N', 2]);
  }
  return g.toModel({ docString: 'Identity for every V2 datatype: <datatype> -> <datatype>_out.' });
}

/** SumModel (the runtime conformance fake): inputs `a`, `b` FLOAT [N, 2] -> `sum` = a + b, FLOAT [N, 2]. */
export function buildSumModel(): Uint8Array {
  const g = new GraphBuilder('sum');
  const a = g.input('a', 'FLOAT', ['N', 2]);
  const b = g.input('b', 'FLOAT', ['N', 2]);
  g.output(g.node('Add', [a, b]), 'sum', 'FLOAT', ['N', 2]);
  return g.toModel({ docString: 'SumModel: sum = a + b.' });
}

/**
 * CrashModel (the runtime conformance fake): input `x` FLOAT [N, 3] reshaped to a constant [2, 2], which no
 * batch fits (3N is never 4), so every run fails, the warm-up included, while the file loads fine.
 */
export function buildCrashModel(): Uint8Array {
  const g = new GraphBuilder('crash');
  const x = g.input('x', 'FLOAT', ['N', 3]);
  const shape = g.initializer('shape', new BigInt64Array([2n, 2n]), [2]);
  g.output(g.node('Reshape', [x, shape]), 'y', 'FLOAT', [2, 2]);
  return g.toModel({ docString: 'CrashModel: every run fails.' });
}
