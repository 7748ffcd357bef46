/**
 * One pass over a scan's dataset: DuckDB streams the columns in chunks, every model scores each chunk (its features
 * picked from DuckDB's columns into its input matrix), and what the measures need is kept: the truth, the groups of
 * each protected attribute and every model's scores for all rows, plus a seeded uniform sample of rows (reservoir)
 * for the scans that call the models again (robustness, explainability). Memory: a few numbers per row per model,
 * and the sample; the features of all rows are never held.
 */
import { ModelportError } from '../core/index.ts';
import { createRng } from '../stats/index.ts';
import { bucketExpression, type Column, type Duck } from './dataset.ts';
import type { ScanModelHandle } from './models.ts';
import type { UseCaseSpec } from './spec.ts';

export interface Attribute {
  column: string;
  buckets: number[] | null;
  /** Group names by index; a missing value is the group `(missing)`. */
  groups: string[];
  /** Group index per row. */
  index: Int32Array;
}

export interface ModelScores {
  scores: Float64Array;
  classes: Int32Array | null;
}

export interface Gathered {
  rows: number;
  /** Union of the models' features, in first-seen order. */
  features: string[];
  /** Binary: 1 for the favourable class; multiclass: the class index; regression: the value. */
  truth: Float64Array;
  /** Multiclass: class names by index. */
  classes: string[] | null;
  attributes: Attribute[];
  scores: Map<string, ModelScores>;
  /** Every row's value of each feature (only when asked: drift compares whole columns). */
  columns: Float32Array[] | null;
  sample: {
    rows: number;
    /** Row-major [rows, features.length]. */
    values: Float32Array;
    truth: Float64Array;
    /** Row numbers in the dataset (1-based, after the header). */
    at: Int32Array;
    /** Group index per attribute per sampled row. */
    groups: Int32Array[];
  };
}

export interface GatherOptions {
  spec: UseCaseSpec;
  models: readonly ScanModelHandle[];
  sampleRows: number;
  /** Keep every feature column (drift). */
  keepColumns?: boolean;
  signal: AbortSignal;
  /** Called after each chunk with the rows read so far. */
  onRows(rows: number): void;
  seed?: number;
}

const MISSING = '(missing)';

/** Label text -> 1 when it is the favourable outcome (numbers compared as numbers, true/yes as 1). */
export function isFavorable(raw: string, favorable: string | number | undefined): boolean {
  const text = raw.trim();
  if (favorable === undefined) {
    if (/^(true|yes)$/i.test(text)) return true;
    const n = Number(text);
    return Number.isFinite(n) && n > 0;
  }
  const want = String(favorable).trim();
  if (text === want) return true;
  const a = Number(text);
  const b = Number(want);
  if (text !== '' && want !== '' && Number.isFinite(a) && Number.isFinite(b)) return a === b;
  return text.toLowerCase() === want.toLowerCase() && /^(true|false|yes|no)$/i.test(text);
}

/** A typed array of at least `n` elements holding `a`'s first `used`. */
function grown<T extends Float64Array | Float32Array | Int32Array>(a: T, n: number, used: number): T {
  const next = new (a.constructor as new (n: number) => T)(n);
  next.set(a.subarray(0, used));
  return next;
}

/**
 * `estimatedRows` sizes the arrays (they grow when the file has more rows): the pass reads the file once.
 */
export async function gather(duck: Duck, estimatedRows: number, o: GatherOptions): Promise<Gathered> {
  const { spec, models } = o;
  const features: string[] = [];
  for (const m of models) for (const f of m.features) if (!features.includes(f)) features.push(f);
  const columns: Column[] = [
    ...features.map((name) => ({ name, as: 'number' as const })),
    { name: spec.label, as: 'text' },
    ...spec.protected.map((p) => ({
      name: p.column,
      as: 'text' as const,
      ...(p.buckets ? { expression: bucketExpression(p.column, p.buckets) } : {}),
    })),
  ];
  let rows = Math.max(
    1024,
    Math.ceil((spec.maxRows === undefined ? estimatedRows : Math.min(estimatedRows, spec.maxRows)) * 1.05),
  );
  let truth = new Float64Array(rows);
  const classNames: string[] = [];
  const multiclass = spec.task === 'multiclass-classification';
  const modelClasses = models.find((m) => m.labels)?.labels ?? null;
  const attributes: Attribute[] = spec.protected.map((p) => ({
    column: p.column,
    buckets: p.buckets ?? null,
    groups: [],
    index: new Int32Array(rows),
  }));
  const scores = new Map<string, ModelScores>(
    models.map((m) => [
      m.target,
      { scores: new Float64Array(rows), classes: multiclass ? new Int32Array(rows) : null },
    ]),
  );
  const sampleCap = o.sampleRows;
  const width = features.length;
  const sample = {
    rows: 0,
    values: new Float32Array(sampleCap * width),
    truth: new Float64Array(sampleCap),
    at: new Int32Array(sampleCap),
    groups: attributes.map(() => new Int32Array(sampleCap)),
  };
  const rng = createRng(o.seed ?? 1);
  let kept = o.keepColumns ? features.map(() => new Float32Array(rows)) : null;
  /** Room for `needed` rows in every per-row array. */
  const ensure = (needed: number, used: number) => {
    if (needed <= rows) return;
    rows = Math.max(needed, Math.ceil(rows * 1.5));
    truth = grown(truth, rows, used);
    for (const a of attributes) a.index = grown(a.index, rows, used);
    for (const v of scores.values()) {
      v.scores = grown(v.scores, rows, used);
      if (v.classes) v.classes = grown(v.classes, rows, used);
    }
    if (kept) kept = kept.map((c) => grown(c, rows, used));
  };
  const matrices = new Map<ScanModelHandle, Float32Array>();
  const featureIndex = new Map(features.map((f, i) => [f, i]));
  let offset = 0;

  await duck.stream(
    columns,
    async (n, values) => {
      ensure(offset + n, offset);
      const featureColumns = values.slice(0, width) as Float32Array[];
      const labels = values[width] as (string | null)[];
      if (kept) for (const [j, column] of kept.entries()) column.set(featureColumns[j]!, offset);
      for (let i = 0; i < n; i++) {
        const row = offset + i;
        for (let j = 0; j < width; j++) {
          if (Number.isNaN(featureColumns[j]![i]!)) {
            throw new ModelportError(
              'invalid_request',
              `dataset: row ${row + 1} has no number in column '${features[j]}' (every feature a model reads must be numeric)`,
              { field: 'dataset' },
            );
          }
        }
        const raw = labels[i];
        if (raw === null || raw === undefined || raw.trim() === '') {
          throw new ModelportError('invalid_request', `label: row ${row + 1} has no value in column '${spec.label}'`, {
            field: 'label',
          });
        }
        if (spec.task === 'regression') {
          const v = Number(raw);
          if (!Number.isFinite(v)) {
            throw new ModelportError(
              'invalid_request',
              `label: '${raw.slice(0, 40)}' in row ${row + 1} is not a number; a regression label must be`,
              { field: 'label' },
            );
          }
          truth[row] = v;
        } else if (multiclass) {
          const text = raw.trim();
          let k = modelClasses ? modelClasses.indexOf(text) : Number.isInteger(Number(text)) ? Number(text) : -1;
          if (k < 0) {
            k = classNames.indexOf(text);
            if (k < 0) k = classNames.push(text) - 1;
          }
          truth[row] = k;
        } else {
          truth[row] = isFavorable(raw, spec.favorable) ? 1 : 0;
        }
        attributes.forEach((a, j) => {
          const g = (values[width + 1 + j] as (string | null)[])[i] ?? MISSING;
          let k = a.groups.indexOf(g);
          if (k < 0) k = a.groups.push(g) - 1;
          a.index[row] = k;
        });
        // Reservoir sampling (Algorithm R): every row ends up in the sample with the same probability.
        const slot = row < sampleCap ? row : rng.int(row + 1);
        if (slot < sampleCap) {
          for (let j = 0; j < width; j++) sample.values[slot * width + j] = featureColumns[j]![i]!;
          sample.truth[slot] = truth[row]!;
          sample.at[slot] = row + 1;
          attributes.forEach((a, j) => {
            sample.groups[j]![slot] = a.index[row]!;
          });
          if (row < sampleCap) sample.rows++;
        }
      }
      for (const m of models) {
        const cols = m.features.map((f) => featureColumns[featureIndex.get(f)!]!);
        const out = scores.get(m.target)!;
        for (let start = 0; start < n; start += m.batchRows) {
          const count = Math.min(m.batchRows, n - start);
          let matrix = matrices.get(m);
          if (!matrix || matrix.length < count * m.width) {
            matrix = new Float32Array(Math.max(count, 2048) * m.width);
            matrices.set(m, matrix);
          }
          for (let i = 0; i < count; i++) {
            for (let j = 0; j < m.width; j++) matrix[i * m.width + j] = cols[j]![start + i]!;
          }
          const p = await m.predict(count, matrix, o.signal);
          out.scores.set(p.scores, offset + start);
          if (out.classes && p.classes) out.classes.set(p.classes, offset + start);
        }
      }
      offset += n;
      o.onRows(offset);
    },
    { ...(spec.maxRows === undefined ? {} : { limit: spec.maxRows }), signal: o.signal },
  );
  if (offset === 0) throw new ModelportError('invalid_request', 'dataset: the file has no rows', { field: 'dataset' });
  return {
    rows: offset,
    features,
    truth: truth.slice(0, offset),
    classes: multiclass ? (modelClasses ? [...modelClasses] : classNames) : null,
    columns: kept ? kept.map((c) => c.slice(0, offset)) : null,
    attributes: attributes.map((a) => ({ ...a, index: a.index.slice(0, offset) })),
    scores: new Map(
      [...scores].map(([k, v]) => [
        k,
        { scores: v.scores.slice(0, offset), classes: v.classes ? v.classes.slice(0, offset) : null },
      ]),
    ),
    sample,
  };
}
