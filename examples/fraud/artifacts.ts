/**
 * The JSON files that accompany the fraud model, derived from a trained `FraudModel` so they can never drift:
 * `metrics.json`, `signature.json`, `sample-request.json` (a V2 infer request for one clearly legit and one
 * clearly fraudulent row), `expected-response.json` (what the model answers, probabilities to 4 decimals), and the
 * same two rows as a KServe V1 request by feature name (`v1-request.json`) and a Seldon request
 * (`seldon-request.json`), so the README's curl lines can be pasted as they are.
 */
import type { InferResponse, ModelSignature, Tensor } from '../../src/core/tensor.ts';
import { createRandom } from '../../src/onnx-builder/index.ts';
import { type FraudModel, fraudProbability, generateTransactions } from './train.ts';

/** The name the README and the sample response use for the deployed model. */
export const MODEL_NAME = 'fraud';

/** A V2 JSON tensor: like `Tensor`, with plain JSON numbers as data. */
type JsonTensor = Omit<Tensor, 'data'> & { data: number[] };

export interface FraudSignature extends ModelSignature {
  /** Column names of the input's second dimension, in order. */
  featureNames: readonly string[];
  /** Class names by index of `label` and of the `probabilities` columns. */
  labels: readonly string[];
}

export function fraudSignature(model: FraudModel): FraudSignature {
  const n = model.featureNames.length;
  return {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, n], dimNames: ['N', null] }],
    outputs: [
      { name: 'label', datatype: 'INT64', shape: [-1], dimNames: ['N'] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 2], dimNames: ['N', null] },
    ],
    featureNames: model.featureNames,
    labels: model.labels,
  };
}

export function sampleRequest(model: FraudModel): { inputs: JsonTensor[] } {
  const rows = [model.samples.legit, model.samples.fraud];
  return {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, model.featureNames.length], data: rows.flat() }],
  };
}

/** The sample rows as KServe V1 instances keyed by feature name (the friendly signature answers with labels). */
export function v1Request(model: FraudModel): { instances: Record<string, number>[] } {
  const rows = [model.samples.legit, model.samples.fraud];
  return { instances: rows.map((row) => Object.fromEntries(model.featureNames.map((name, j) => [name, row[j]!]))) };
}

/** The sample rows as a Seldon `data.ndarray` request. */
export function seldonRequest(model: FraudModel): { data: { ndarray: number[][] } } {
  return { data: { ndarray: [model.samples.legit, model.samples.fraud] } };
}

/** 200 transactions (an `id` column, then the features by name) for the README's `score` and `jobs` lines. */
export function transactionsCsv(model: FraudModel): string {
  const { data } = generateTransactions(createRandom(2026), 200);
  const lines = data.map((row, i) => [i + 1, ...row.map((v) => Math.round(v * 1e6) / 1e6)].join(','));
  return `${['id', ...model.featureNames].join(',')}\n${lines.join('\n')}\n`;
}

/** The V2 response to `sampleRequest`, computed in float64 from the float32 values the model will see. */
export function expectedResponse(model: FraudModel): Omit<InferResponse, 'outputs'> & { outputs: JsonTensor[] } {
  const rows = [model.samples.legit, model.samples.fraud];
  const p = rows.map((row) => fraudProbability(model, row.map(Math.fround)));
  const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    model_name: MODEL_NAME,
    outputs: [
      { name: 'label', datatype: 'INT64', shape: [rows.length], data: p.map((pi) => (pi > 0.5 ? 1 : 0)) },
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [rows.length, 2],
        data: p.flatMap((pi) => [round4(1 - pi), round4(pi)]),
      },
    ],
  };
}

const LINE_WIDTH = 120;

/**
 * JSON laid out as the repository's formatter (biome) lays it out, so the generated files pass `npm run lint`:
 * objects expanded, arrays of scalars on one line when they fit, long arrays of numbers filled line by line.
 */
function toJson(value: unknown): string {
  const layout = (v: unknown, indent: number, used: number, after: number): string => {
    const pad = ' '.repeat(indent + 2);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      const scalars = v.every((e) => e === null || typeof e !== 'object');
      if (scalars) {
        const items = v.map((e) => JSON.stringify(e));
        const flat = `[${items.join(', ')}]`;
        if (used + flat.length + after <= LINE_WIDTH) return flat;
        if (v.every((e) => typeof e === 'number')) {
          const lines: string[] = [];
          let line = '';
          items.forEach((item, k) => {
            const piece = k === items.length - 1 ? item : `${item},`;
            if (line !== '' && pad.length + line.length + 1 + piece.length > LINE_WIDTH) {
              lines.push(line);
              line = '';
            }
            line = line === '' ? piece : `${line} ${piece}`;
          });
          lines.push(line);
          return `[\n${lines.map((l) => pad + l).join('\n')}\n${' '.repeat(indent)}]`;
        }
      }
      const rows = v.map((e, k) => pad + layout(e, indent + 2, pad.length, k < v.length - 1 ? 1 : 0));
      return `[\n${rows.join(',\n')}\n${' '.repeat(indent)}]`;
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, e]) => e !== undefined);
      if (entries.length === 0) return '{}';
      const rows = entries.map(([key, e], k) => {
        const head = `${pad}${JSON.stringify(key)}: `;
        return head + layout(e, indent + 2, head.length, k < entries.length - 1 ? 1 : 0);
      });
      return `{\n${rows.join(',\n')}\n${' '.repeat(indent)}}`;
    }
    return JSON.stringify(v);
  };
  return `${layout(value, 0, 0, 0)}\n`;
}

/** Every JSON file of the example, by file name, as the exact text `build.ts` writes. */
export function fraudArtifacts(model: FraudModel): Record<string, string> {
  const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
  const { accuracy, auc, precision, recall } = model.metrics;
  return {
    'metrics.json': toJson({
      accuracy: round6(accuracy),
      auc: round6(auc),
      precision: round6(precision),
      recall: round6(recall),
    }),
    'signature.json': toJson(fraudSignature(model)),
    'sample-request.json': toJson(sampleRequest(model)),
    'expected-response.json': toJson(expectedResponse(model)),
    'v1-request.json': toJson(v1Request(model)),
    'seldon-request.json': toJson(seldonRequest(model)),
    'transactions.csv': transactionsCsv(model),
  };
}
