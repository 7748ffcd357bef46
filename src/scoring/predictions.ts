/**
 * Which prediction columns the output gets, from the model's outputs and the signature's labels.
 *
 * With labels and an output of shape [N, labels.length] (the class probabilities): `prediction` (the label; from an
 * integer [N] output when the model has one, else the most probable class) and `probability_<label>` per class,
 * written with 6 decimals. Otherwise the raw outputs: `<output>` for one value per row, `<output>_<j>` for several.
 */

import type { Tensor, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import type { ScoringSignature } from './signature.ts';

export type PredictionLayout =
  | {
      kind: 'classes';
      labels: readonly string[];
      /** Index (among `outputs`) of the integer class output, or -1 to take the most probable class. */
      labelOutput: number;
      probabilityOutput: number;
      outputs: readonly string[];
      columns: readonly string[];
    }
  | {
      kind: 'raw';
      /** Values per row of each output. */
      widths: readonly number[];
      outputs: readonly string[];
      columns: readonly string[];
    };

const INTEGER = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

/** Values per row of an output ([N] -> 1, [N, k] -> k); undefined when not fixed. */
function rowWidth(spec: TensorSpec): number | undefined {
  const rest = spec.shape.slice(1);
  let n = 1;
  for (const d of rest) {
    if (d < 0) return undefined;
    n *= d;
  }
  return n;
}

export function predictionLayout(signature: ScoringSignature): PredictionLayout {
  const labels = signature.labels;
  if (labels && labels.length > 0) {
    const probabilities = signature.outputs.find(
      (o) => (o.datatype === 'FP32' || o.datatype === 'FP64') && o.shape.length === 2 && o.shape[1] === labels.length,
    );
    if (probabilities) {
      const label = signature.outputs.find((o) => INTEGER.has(o.datatype) && o.shape.length === 1);
      const outputs = label ? [probabilities.name, label.name] : [probabilities.name];
      return {
        kind: 'classes',
        labels,
        probabilityOutput: 0,
        labelOutput: label ? 1 : -1,
        outputs,
        columns: ['prediction', ...labels.map((l) => `probability_${l}`)],
      };
    }
  }
  const widths = signature.outputs.map((o) => rowWidth(o) ?? 1);
  return {
    kind: 'raw',
    widths,
    outputs: signature.outputs.map((o) => o.name),
    columns: signature.outputs.flatMap((o, i) =>
      widths[i] === 1 ? [o.name] : Array.from({ length: widths[i] as number }, (_, j) => `${o.name}_${j}`),
    ),
  };
}

/** Checks that each output has `rows` rows of the expected width; the model's real shape may differ from its declared. */
export function checkOutputs(layout: PredictionLayout, outputs: Tensor[], rows: number): void {
  outputs.forEach((tensor, i) => {
    const expected =
      layout.kind === 'raw' ? (layout.widths[i] as number) : i === layout.probabilityOutput ? layout.labels.length : 1;
    if (tensor.shape[0] !== rows || tensor.data.length !== rows * expected) {
      throw new ModelportError(
        'invalid_model',
        `output '${tensor.name}' has shape [${tensor.shape.join(', ')}] for ${rows} rows; expected ${rows} x ${expected} values`,
      );
    }
  });
}
