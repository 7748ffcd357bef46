/** An MNIST-size convolutional network with seeded random weights, for serving benchmarks and tests. */
import { GraphBuilder } from './graph-builder.ts';
import { createRandom } from './random.ts';

/** The CNN's parameters, row-major in ONNX layouts (Conv weights [out, in, kh, kw], fc [49 * out2, 10]). */
export interface CnnWeights {
  conv1: Float32Array; // [c1, 1, 5, 5]
  conv1Bias: Float32Array; // [c1]
  conv2: Float32Array; // [c2, c1, 5, 5]
  conv2Bias: Float32Array; // [c2]
  fc: Float32Array; // [49 * c2, 10]
  fcBias: Float32Array; // [10]
}

/** Output channels of the two convolutions: [8, 16] by default (the ONNX model zoo's MNIST network). */
export type CnnChannels = readonly [number, number];
const DEFAULT_CHANNELS: CnnChannels = [8, 16];

/**
 * The weights `buildCnnModel({ seed })` uses: uniform in +-sqrt(6 / fanIn) (He scaling, so activations neither
 * vanish nor blow up through ReLU), biases in +-0.1. The same seed always gives the same weights.
 */
export function cnnWeights(seed: number, channels: CnnChannels = DEFAULT_CHANNELS): CnnWeights {
  const [c1, c2] = channels;
  const rng = createRandom(seed);
  const fill = (n: number, limit: number) => Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * limit);
  return {
    conv1: fill(c1 * 25, Math.sqrt(6 / 25)),
    conv1Bias: fill(c1, 0.1),
    conv2: fill(c2 * c1 * 25, Math.sqrt(6 / (c1 * 25))),
    conv2Bias: fill(c2, 0.1),
    fc: fill(49 * c2 * 10, Math.sqrt(6 / (49 * c2))),
    fcBias: fill(10, 0.1),
  };
}

/**
 * Builds an MNIST-shaped CNN (IR 8, opset 17, about 45 kB) in milliseconds:
 *
 * - input `input`: FLOAT [N, 1, 28, 28] (N dynamic)
 * - Conv c1x5x5 (pad 2) -> Relu -> MaxPool 2x2 -> Conv c2x5x5 (pad 2) -> Relu -> MaxPool 2x2 -> Flatten -> Gemm,
 *   with `channels` [c1, c2] (default [8, 16]: about 0.6 M multiply-adds per image; [64, 128]: about 41 M, a
 *   model whose compute, not its transport, sets a server's rate)
 * - output `logits`: FLOAT [N, 10]
 *
 * Weights are `cnnWeights(seed, channels)` (default seed 0): untrained, but outputs are finite and differ between classes
 * and inputs, which is what a benchmark or a batching test needs.
 */
export function buildCnnModel(options: { seed?: number; channels?: CnnChannels } = {}): Uint8Array {
  const [out1, out2] = options.channels ?? DEFAULT_CHANNELS;
  const w = cnnWeights(options.seed ?? 0, [out1, out2]);
  const g = new GraphBuilder('cnn');
  const x = g.input('input', 'FLOAT', ['N', 1, 28, 28]);
  const conv = { kernel_shape: [5, 5], pads: [2, 2, 2, 2] };
  const pool = { kernel_shape: [2, 2], strides: [2, 2] };
  const c1 = g.node(
    'Conv',
    [x, g.initializer('conv1_w', w.conv1, [out1, 1, 5, 5]), g.initializer('conv1_b', w.conv1Bias, [out1])],
    conv,
  );
  const p1 = g.node('MaxPool', [g.node('Relu', [c1])], pool);
  const c2 = g.node(
    'Conv',
    [p1, g.initializer('conv2_w', w.conv2, [out2, out1, 5, 5]), g.initializer('conv2_b', w.conv2Bias, [out2])],
    conv,
  );
  const p2 = g.node('MaxPool', [g.node('Relu', [c2])], pool);
  const flat = g.node('Flatten', [p2], { axis: 1 });
  const logits = g.node('Gemm', [
    flat,
    g.initializer('fc_w', w.fc, [49 * out2, 10]),
    g.initializer('fc_b', w.fcBias, [10]),
  ]);
  g.output(logits, 'logits', 'FLOAT', ['N', 10]);
  return g.toModel({
    docString: `MNIST-size CNN (${out1}/${out2} channels) with untrained weights from seed ${options.seed ?? 0}.`,
  });
}
