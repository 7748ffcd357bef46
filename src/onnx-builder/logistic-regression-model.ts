/** A binary logistic-regression classifier as an ONNX model (used by the fraud example and tabular tests). */
import { ModelportError } from '../core/index.ts';
import { GraphBuilder } from './graph-builder.ts';

export interface LogisticRegressionOptions {
  /** One weight per feature, applied to the raw input values. */
  weights: ArrayLike<number>;
  bias: number;
  /** Must equal `weights.length`; fixes the input's second dimension. */
  featureCount: number;
  /** Graph name; default 'logistic_regression'. */
  name?: string;
  /** Written to the model's metadata_props (e.g. feature names, class labels). */
  metadata?: Readonly<Record<string, string>>;
  docString?: string;
}

/**
 * Builds `p = sigmoid(input . weights + bias)` as an ONNX model (IR 8, opset 17), in milliseconds.
 *
 * - input `input`: FLOAT [N, featureCount] (N dynamic)
 * - output `label`: INT64 [N], 1 when p > 0.5 else 0
 * - output `probabilities`: FLOAT [N, 2], `[1 - p, p]`
 *
 * The graph is Gemm -> Softmax -> ArgMax: with the weights halved into two columns `[-w/2, w/2]`, the softmax of
 * `[-z/2, z/2]` is exactly `[1 - sigmoid(z), sigmoid(z)]`, so both columns stay accurate near 0 and 1.
 *
 * ```ts
 * const onnx = buildLogisticRegressionModel({ weights: [0.5, -1], bias: 0.1, featureCount: 2 });
 * ```
 */
export function buildLogisticRegressionModel(options: LogisticRegressionOptions): Uint8Array {
  const { weights, bias, featureCount } = options;
  if (!Number.isSafeInteger(featureCount) || featureCount < 1) {
    throw new ModelportError('invalid_request', 'featureCount must be a positive integer', { field: 'featureCount' });
  }
  if (weights.length !== featureCount) {
    throw new ModelportError(
      'invalid_request',
      `weights has ${weights.length} values; featureCount is ${featureCount}`,
      {
        field: 'weights',
      },
    );
  }
  const finite = Array.from(weights).every(Number.isFinite) && Number.isFinite(bias);
  if (!finite)
    throw new ModelportError('invalid_request', 'weights and bias must be finite numbers', { field: 'weights' });

  const halves = new Float32Array(featureCount * 2);
  for (let j = 0; j < featureCount; j++) {
    halves[2 * j] = -weights[j]! / 2;
    halves[2 * j + 1] = weights[j]! / 2;
  }
  const g = new GraphBuilder(options.name ?? 'logistic_regression');
  const x = g.input('input', 'FLOAT', ['N', featureCount]);
  const w = g.initializer('weights', halves, [featureCount, 2]);
  const b = g.initializer('bias', new Float32Array([-bias / 2, bias / 2]), [2]);
  const logits = g.node('Gemm', [x, w, b]);
  const probabilities = g.node('Softmax', [logits], { axis: 1 }, { output: 'probabilities' });
  const label = g.node('ArgMax', [probabilities], { axis: 1, keepdims: 0 }, { output: 'label' });
  g.output(label, 'label', 'INT64', ['N']);
  g.output(probabilities, 'probabilities', 'FLOAT', ['N', 2]);
  return g.toModel({
    docString: options.docString ?? 'Logistic regression: probabilities = [1 - p, p], p = sigmoid(input . w + b).',
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });
}
