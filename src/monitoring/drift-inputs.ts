/**
 * The two sides of live drift: the reference, rebuilt from a stored data profile (src/data's column profiles:
 * quantiles, an equal-width histogram, the most frequent values), and the current sample, the logged inputs of a
 * deployment arm split into its features.
 */
import type { ColumnProfile } from '../data/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import type { CategoricalReference, NumericReference } from '../stats/index.ts';

/** A logged tensor as the payload log keeps it (`LoggedTensor` of src/sinks): JSON values, null when redacted. */
export interface LoggedInput {
  name: string;
  shape: number[];
  data: unknown[] | null;
}

/** What drift reads of a payload record. */
export interface LoggedCall {
  model: string;
  modelVersion: number;
  arm: string;
  status: string;
  inputs: LoggedInput[] | null;
}

const QUANTILE_POINTS: [string, number][] = [
  ['p01', 0.01],
  ['p05', 0.05],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p95', 0.95],
  ['p99', 0.99],
];
/** Points of the reference's quantile sketch (k / SKETCH for k = 0 .. SKETCH). */
const SKETCH = 100;

/**
 * The reference a column profile stands for: the drift reference profiles store (decile bins with exact counts and
 * a 101-point quantile sketch, or the most frequent categories) when the profile has one. Profiles written before
 * it are rebuilt from what they hold: numeric columns from their histogram (PSI bins and counts) and a quantile
 * sketch interpolated through every CDF point they know (min, max, the histogram's edges, the stored quantiles);
 * text and boolean columns from their most frequent values (the rest pooled as `other`). Undefined when the
 * profile holds none of these.
 */
export function referenceFromColumn(
  column: ColumnProfile,
  rows: number,
): NumericReference | CategoricalReference | undefined {
  if (column.drift) return column.drift;
  const n = Math.max(0, rows - column.nulls);
  if (column.histogram && column.histogram.length > 0 && typeof column.min === 'number') {
    const bins = column.histogram;
    const edges: number[] = [];
    const counts: number[] = [];
    for (const [k, bin] of bins.entries()) {
      if (k > 0 && bin.lo > (edges.at(-1) ?? Number.NEGATIVE_INFINITY)) edges.push(bin.lo);
      else if (k > 0) {
        counts[counts.length - 1] = (counts.at(-1) ?? 0) + bin.count;
        continue;
      }
      counts.push(bin.count);
    }
    return { kind: 'numeric', n, nulls: column.nulls, edges, counts, quantiles: sketch(column, n) };
  }
  if (column.top && column.top.length > 0) {
    const counts: Record<string, number> = {};
    for (const t of column.top) counts[t.value] = t.count;
    const listed = column.top.reduce((a, t) => a + t.count, 0);
    return { kind: 'categorical', n, nulls: column.nulls, counts, other: Math.max(0, n - listed) };
  }
  return undefined;
}

/** The CDF through (min, 0), the histogram's cumulative edges, the quantiles and (max, 1), inverted at k / SKETCH. */
function sketch(column: ColumnProfile, n: number): number[] {
  const points: [number, number][] = [];
  const min = column.min as number;
  const max = typeof column.max === 'number' ? column.max : min;
  points.push([min, 0], [max, 1]);
  let seen = 0;
  const bins = column.histogram ?? [];
  const total = bins.reduce((a, b) => a + b.count, 0) || n || 1;
  for (const bin of bins.slice(0, -1)) {
    seen += bin.count;
    points.push([bin.hi, seen / total]);
  }
  for (const [key, p] of QUANTILE_POINTS) {
    const q = column.quantiles?.[key];
    if (typeof q === 'number' && Number.isFinite(q)) points.push([q, p]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  // A CDF never falls: approximate quantiles may disagree a little with the histogram.
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1] as [number, number];
    const point = points[i] as [number, number];
    if (point[1] < prev[1]) point[1] = prev[1];
  }
  const out: number[] = [];
  let j = 0;
  for (let k = 0; k <= SKETCH; k++) {
    const p = k / SKETCH;
    while (j < points.length - 1 && (points[j + 1] as [number, number])[1] < p) j++;
    const [x0, p0] = points[j] as [number, number];
    const [x1, p1] = (points[j + 1] ?? points[j]) as [number, number];
    const x = p1 > p0 ? x0 + ((p - p0) / (p1 - p0)) * (x1 - x0) : x0;
    out.push(Math.min(max, Math.max(min, x)));
  }
  for (let k = 1; k < out.length; k++) if ((out[k] as number) < (out[k - 1] as number)) out[k] = out[k - 1] as number;
  return out;
}

/** One feature of a model version: where its values sit in the logged inputs, and how to read them. */
export interface FeatureSlot {
  name: string;
  tensor: string;
  /** The column in a `[N, width]` tensor; undefined for a `[N]` or `[N, 1]` tensor. */
  column: number | undefined;
  width: number;
  /** A friendly string feature is sent as its index into these values. */
  values?: (string | number)[];
  categorical: boolean;
  boolean?: boolean;
}

/**
 * The features of a version: its friendly signature's (the columns of its single input, in order), else each
 * input tensor that holds one value per row, named by the tensor.
 */
export function featureSlots(version: Pick<ModelVersion, 'signature' | 'friendlySignature'>): FeatureSlot[] {
  const features = version.friendlySignature?.features;
  const first = version.signature.inputs[0];
  if (features && features.length > 0 && first) {
    const width = features.length;
    return features.map((f, i) => ({
      name: f.name,
      tensor: first.name,
      column: i,
      width,
      ...(f.values ? { values: f.values } : {}),
      categorical: f.type === 'string' || f.type === 'boolean',
      boolean: f.type === 'boolean',
    }));
  }
  return version.signature.inputs
    .filter((t) => t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1))
    .map((t) => ({ name: t.name, tensor: t.name, column: undefined, width: 1, categorical: t.datatype === 'BYTES' }));
}

/** Values per feature from logged calls (redacted tensors and failed calls skipped). */
export function featureValues(
  slots: readonly FeatureSlot[],
  calls: readonly LoggedCall[],
): Map<string, (number | string)[]> {
  const out = new Map<string, (number | string)[]>(slots.map((s) => [s.name, []]));
  for (const call of calls) {
    if (call.status !== 'ok' || !call.inputs) continue;
    for (const slot of slots) {
      const tensor = call.inputs.find((t) => t.name === slot.tensor);
      if (!tensor?.data) continue;
      const flat = (tensor.data as unknown[]).flat(Number.POSITIVE_INFINITY) as unknown[];
      const values = out.get(slot.name) as (number | string)[];
      const step = slot.column === undefined ? 1 : slot.width;
      for (let i = slot.column ?? 0; i < flat.length; i += step) {
        const raw = flat[i];
        if (slot.values && typeof raw === 'number') {
          const named = slot.values[raw];
          if (named !== undefined) values.push(String(named));
        } else if (slot.categorical) {
          // Booleans travel as 0 and 1; profiles count them as true and false.
          if (slot.boolean && typeof raw === 'number') values.push(raw === 0 ? 'false' : 'true');
          else if (raw !== null && raw !== undefined) values.push(String(raw));
        } else if (typeof raw === 'number') values.push(raw);
        else if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) values.push(Number(raw));
      }
    }
  }
  return out;
}
