/**
 * The `evaluate` step: scores a held-out CSV (a file of the triggering commit) with the candidate model through
 * the registry's in-process scorer (src/scoring), and measures it.
 *
 * Classification (binary): accuracy, precision, recall, f1, auc (ROC), log_loss, and the confusion matrix (tn, fp,
 * fn, tp), with a row positive when P(positive) > threshold. P(positive) is the second column of a [N, 2]
 * probability output, or a single [N] / [N, 1] float output. Regression: mae, rmse, r2 from a single float output.
 * The features are every column but the label, by name when the model lists feature names, else in file order.
 * The metrics themselves are src/stats's (docs/metrics.md).
 */
import { createReadStream } from 'node:fs';
import { ModelportError, type Tensor } from '../core/index.ts';
import {
  type BatchScorer,
  CsvBatchParser,
  createRowBatch,
  planColumns,
  type ScoringSignature,
  scoringInput,
} from '../scoring/index.ts';
import { classificationMetrics, regressionMetrics } from '../stats/index.ts';

export interface EvaluationOptions {
  file: string;
  label: string;
  task: 'classification' | 'regression';
  threshold: number;
  signal?: AbortSignal;
}

export interface Evaluation {
  rows: number;
  metrics: Record<string, number>;
  /** Classification: [[tn, fp], [fn, tp]]. */
  confusion?: [[number, number], [number, number]];
}

const BATCH = 4096;
const bad = (message: string) => new ModelportError('invalid_input', message, { field: 'evaluate' });

/** Scores `options.file` with `scorer` and measures the predictions against the label column. */
export async function evaluateModel(
  scorer: BatchScorer,
  signature: ScoringSignature,
  options: EvaluationOptions,
): Promise<Evaluation> {
  const input = scoringInput(signature);
  const parser = new CsvBatchParser(
    (header, columnCount) => {
      if (!header?.includes(options.label)) {
        throw bad(`evaluate.label: the file has no header column '${options.label}'`);
      }
      const features = signature.featureNames ?? header.filter((h) => h !== options.label);
      return planColumns({ header, columnCount, width: input.width, featureNames: features, keep: [options.label] });
    },
    (line, reason) => {
      throw bad(`evaluate.data: line ${line}: ${reason}`);
    },
  );
  const outputs = signature.outputs.filter((o) => o.datatype === 'FP32' || o.datatype === 'FP64');
  const output =
    outputs.find((o) => o.shape.length === 2 && o.shape[1] === 2) ??
    outputs.find((o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1));
  if (!output) throw bad('evaluate.model: the model has no float output of shape [N], [N, 1] or [N, 2] to measure');
  const twoColumns = output.shape.length === 2 && output.shape[1] === 2;
  const scores: number[] = [];
  const truth: number[] = [];
  const batch = createRowBatch(BATCH, input.width, 1, input.datatype);
  const score = async () => {
    const n = batch.rows;
    if (n === 0) return;
    const tensor: Tensor = {
      name: input.name,
      datatype: input.datatype,
      shape: [n, input.width],
      data: batch.features.subarray(0, n * input.width),
    };
    const [result] = await scorer.score(tensor, [output.name]);
    const data = result!.data as ArrayLike<number>;
    for (let i = 0; i < n; i++) {
      scores.push(twoColumns ? Number(data[2 * i + 1]) : Number(data[i]));
      const raw = String(batch.kept[i]).trim();
      const value = options.task === 'classification' && /^(true|yes)$/i.test(raw) ? 1 : Number(raw);
      if (raw === '' || !Number.isFinite(value))
        throw bad(`evaluate.label: '${raw}' in '${options.label}' is not a number`);
      truth.push(options.task === 'classification' ? (value > 0 ? 1 : 0) : value);
    }
    batch.rows = 0;
  };
  for await (const chunk of createReadStream(options.file)) {
    options.signal?.throwIfAborted();
    parser.push(chunk as Buffer);
    while (parser.fill(batch)) await score();
  }
  parser.end();
  while (parser.fill(batch)) await score();
  await score();
  if (scores.length === 0) throw bad('evaluate.data: the file has no rows');
  if (options.task === 'regression') return { rows: scores.length, metrics: { ...regressionMetrics(scores, truth) } };
  return { rows: scores.length, ...classificationMetrics(scores, truth, options.threshold) };
}
