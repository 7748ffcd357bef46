/**
 * Output rows as CSV or JSON lines: the kept columns, then the prediction columns (see `predictionLayout`), one
 * line per scored row, in input order. A whole batch is formatted into one Buffer.
 */
import type { Tensor } from '../core/index.ts';
import { ByteWriter } from './byte-writer.ts';
import type { PredictionLayout } from './predictions.ts';
import type { RowBatch } from './row-batch.ts';

export type RowFormat = 'csv' | 'jsonl';

export interface RowFormatter {
  /** The CSV header line; empty for JSON lines. */
  header(): Buffer;
  /** The batch's rows with their predictions; `outputs` are in the layout's `outputs` order. */
  format(batch: RowBatch, outputs: Tensor[]): Buffer;
}

const NEEDS_QUOTES = /[",\r\n]/;

/** A CSV field: quoted (with doubled quotes) only when it has to be. */
export function csvField(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value
      : value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

type Values = ArrayLike<number> | ArrayLike<bigint>;

export function createRowFormatter(
  format: RowFormat,
  keepNames: readonly string[],
  layout: PredictionLayout,
): RowFormatter {
  const out = new ByteWriter();
  const csv = format === 'csv';
  const columns = [...keepNames, ...layout.columns];
  // JSON lines: each column's `"name":` (with the separator before it) encoded once.
  const keys = columns.map((c, i) => Buffer.from(`${i === 0 ? '{' : ','}${JSON.stringify(c)}:`));
  const keepCount = keepNames.length;
  const labelText =
    layout.kind === 'classes' ? layout.labels.map((l) => Buffer.from(csv ? csvField(l) : JSON.stringify(l))) : [];

  const separator = (column: number) => {
    if (csv) {
      if (column > 0) out.byte(44);
    } else out.bytes(keys[column] as Buffer);
  };

  const number = (values: Values, index: number, datatype: string) => {
    const value = values[index] as number | bigint;
    if (typeof value === 'bigint') out.text(String(value));
    else if (datatype === 'FP32') out.float32(value);
    else out.text(String(value));
  };

  return {
    header: () => (csv ? Buffer.from(`${columns.map(csvField).join(',')}\n`) : Buffer.alloc(0)),
    format(batch, outputs) {
      const kept = batch.kept;
      for (let r = 0; r < batch.rows; r++) {
        let column = 0;
        for (let k = 0; k < keepCount; k++) {
          separator(column++);
          const value = kept[r * keepCount + k];
          out.text(csv ? csvField(value) : JSON.stringify(value ?? null));
        }
        if (layout.kind === 'classes') {
          const classes = layout.labels.length;
          const probabilities = (outputs[layout.probabilityOutput] as Tensor).data as ArrayLike<number>;
          let label: number;
          if (layout.labelOutput >= 0) {
            label = Number((outputs[layout.labelOutput] as Tensor).data[r] as number | bigint);
          } else {
            label = 0;
            for (let c = 1; c < classes; c++) {
              if ((probabilities[r * classes + c] as number) > (probabilities[r * classes + label] as number))
                label = c;
            }
          }
          separator(column++);
          const text = labelText[label];
          if (text) out.bytes(text);
          else out.text(String(label));
          for (let c = 0; c < classes; c++) {
            separator(column++);
            out.fixed6(probabilities[r * classes + c] as number);
          }
        } else {
          layout.widths.forEach((width, o) => {
            const tensor = outputs[o] as Tensor;
            for (let j = 0; j < width; j++) {
              separator(column++);
              number(tensor.data as Values, r * width + j, tensor.datatype);
            }
          });
        }
        out.byte(csv ? 10 : 125);
        if (!csv) out.byte(10);
      }
      return out.take();
    },
  };
}
