/** An MNIST-size convolutional network with seeded random weights, for serving benchmarks and tests. */
import { GraphBuilder } from './graph-builder.ts';
import { createRandom } from './random.ts';

/** The CNN's parameters, row-major in ONNX layouts (Conv weights [out, in, kh, kw], fc [784, 10]). */
export interface CnnWeights {
  conv1: Float32Array; // [8, 1, 5, 5]
  conv1Bias: Float32Array; // [8]
  conv2: Float32Array; // [16, 8, 5, 5]
  conv2Bias: Float32Array; // [16]
  fc: Float32Array; // [784, 10]
  fcBias: Float32Array; // [10]
}

/**
 * The weights `buildCnnModel({ seed })` uses: uniform in +-sqrt(6 / fanIn) (He scaling, so activations neither
 * vanish nor blow up through ReLU), biases in +-0.1. The same seed always gives the same weights.
 */
export function cnnWeights(seed: number): CnnWeights {
  const rng = createRandom(seed);
  const fill = (n: number, limit: number) => Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * limit);
  return {
    conv1: fill(8 * 25, Math.sqrt(6 / 25)),
    conv1Bias: fill(8, 0.1),
    conv2: fill(16 * 8 * 25, Math.sqrt(6 / 200)),
    conv2Bias: fill(16, 0.1),
    fc: fill(784 * 10, Math.sqrt(6 / 784)),
    fcBias: fill(10, 0.1),
  };
}

/**
 * Builds an MNIST-shaped CNN (IR 8, opset 17, about 45 kB) in milliseconds:
 *
 * - input `input`: FLOAT [N, 1, 28, 28] (N dynamic)
 * - Conv 8x5x5 (pad 2) -> Relu -> MaxPool 2x2 -> Conv 16x5x5 (pad 2) -> Relu -> MaxPool 2x2 -> Flatten -> Gemm
 * - output `logits`: FLOAT [N, 10]
 *
 * Weights are `cnnWeights(seed)` (default seed 0): untrained, but outputs are finite and differ between classes
 * and inputs, which is what a benchmark or a batching test needs.
 */
export function buildCnnModel(options: { seed?: number } = {}): Uint8Array {
  const w = cnnWeights(options.seed ?? 0);
  const g = new GraphBuilder('cnn');
  const x = g.input('input', 'FLOAT', ['N', 1, 28, 28]);
  const conv = { kernel_shape: [5, 5], pads: [2, 2, 2, 2] };
  const pool = { kernel_shape: [2, 2], strides: [2, 2] };
  const c1 = g.node(
    'Conv',
    [x, g.initializer('conv1_w', w.conv1, [8, 1, 5, 5]), g.initializer('conv1_b', w.conv1Bias, [8])],
    conv,
  );
  const p1 = g.node('MaxPool', [g.node('Relu', [c1])], pool);
  const c2 = g.node(
    'Conv',
    [p1, g.initializer('conv2_w', w.conv2, [16, 8, 5, 5]), g.initializer('conv2_b', w.conv2Bias, [16])],
    conv,
  );
  const p2 = g.node('MaxPool', [g.node('Relu', [c2])], pool);
  const flat = g.node('Flatten', [p2], { axis: 1 });
  const logits = g.node('Gemm', [flat, g.initializer('fc_w', w.fc, [784, 10]), g.initializer('fc_b', w.fcBias, [10])]);
  g.output(logits, 'logits', 'FLOAT', ['N', 10]);
  return g.toModel({ docString: `MNIST-size CNN with untrained weights from seed ${options.seed ?? 0}.` });
}
