/** Concatenation of requests along the batch dimension (dim 0) and the exact split of a batch's outputs. */

import type { Tensor, TensorData } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';

type NumericData = Exclude<TensorData, Uint8Array[]>;

function concatData(parts: TensorData[]): TensorData {
  const first = parts[0];
  if (first === undefined) throw new ModelportError('internal', 'nothing to concatenate');
  if (Array.isArray(first)) return (parts as Uint8Array[][]).flat();
  let total = 0;
  for (const part of parts) total += part.length;
  const Ctor = first.constructor as new (length: number) => NumericData;
  const out = new Ctor(total);
  let offset = 0;
  for (const part of parts as NumericData[]) {
    (out as Float32Array).set(part as Float32Array, offset);
    offset += part.length;
  }
  return out;
}

/**
 * One batch from several requests' inputs (each list in the same names, datatypes and non-batch dims), in the
 * order of the first request's inputs. Example: [2, 30] + [1, 30] -> [3, 30].
 */
export function concatBatch(requests: readonly (readonly Tensor[])[], rows: number): Tensor[] {
  const first = requests[0] ?? [];
  return first.map((tensor) => {
    const parts = requests.map((inputs) => {
      const match = inputs.find((t) => t.name === tensor.name);
      if (!match) throw new ModelportError('internal', `input '${tensor.name}' missing from a merged request`);
      return match.data;
    });
    return {
      name: tensor.name,
      datatype: tensor.datatype,
      shape: [rows, ...tensor.shape.slice(1)],
      data: concatData(parts),
    };
  });
}

/**
 * Splits each output of a batch back into per-request tensors by row counts, without copying numeric data (the
 * parts are views of the batch's arrays). Fails with `internal` when an output is not batched along dim 0.
 */
export function splitBatch(outputs: readonly Tensor[], rowCounts: readonly number[]): Tensor[][] {
  const total = rowCounts.reduce((a, b) => a + b, 0);
  const result: Tensor[][] = rowCounts.map(() => []);
  for (const output of outputs) {
    if (output.shape[0] !== total || output.data.length % Math.max(total, 1) !== 0) {
      throw new ModelportError(
        'internal',
        `output '${output.name}' is not batched along its first dimension; disable batching for this model`,
      );
    }
    const perRow = total === 0 ? 0 : output.data.length / total;
    let row = 0;
    rowCounts.forEach((rows, i) => {
      const from = row * perRow;
      const to = (row + rows) * perRow;
      const data = Array.isArray(output.data) ? output.data.slice(from, to) : output.data.subarray(from, to);
      result[i]?.push({ name: output.name, datatype: output.datatype, shape: [rows, ...output.shape.slice(1)], data });
      row += rows;
    });
  }
  return result;
}
