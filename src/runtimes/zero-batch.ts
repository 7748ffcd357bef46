/** A batch of zeros shaped like a signature's inputs, for warm-up runs (dynamic dimensions become 1). */
import { allocateTensorData, type ModelSignature, type Tensor } from '../core/index.ts';

/** Example: inputs `x` FP32 [-1, 30] -> `[{ name: 'x', datatype: 'FP32', shape: [1, 30], data: Float32Array(30) }]`. */
export function zeroBatch(signature: ModelSignature): Tensor[] {
  return signature.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
    const n = shape.reduce((a, b) => a * b, 1);
    return { name: spec.name, datatype: spec.datatype, shape, data: allocateTensorData(spec.datatype, n) };
  });
}
