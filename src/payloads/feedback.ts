/**
 * Delayed labels: `{ requestId, label }` pairs (JSON or CSV) joined to the payload log when they arrive. The log's
 * prediction, arm, revision and time are copied into `payload_feedback`, so live accuracy, precision and recall per
 * arm and time window are one grouped query on the metadata store. A label for a request id the log does not hold
 * (never logged, sampled out, purged, or not from this deployment) is counted and reported, never fatal; a second
 * label for the same request replaces the first.
 */
import { type Kysely, sql } from 'kysely';
import { ModelportError } from '../core/index.ts';
import type { StoreSink } from '../sinks/index.ts';
import type { Database } from '../store/index.ts';

export interface FeedbackLabel {
  requestId: string;
  label: string;
}

export interface FeedbackResult {
  received: number;
  /** Labels joined to a logged request (stored). */
  accepted: number;
  /** Labels whose request id the log does not hold. */
  unknown: number;
  /** The first unknown ids (at most 100), to look into. */
  unknownIds: string[];
}

export interface ClassMetrics {
  /** Labelled predictions. */
  n: number;
  correct: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
}

export interface AccuracyReport {
  windowSeconds: number;
  since: string;
  /** The class precision and recall are about; null: macro-averaged over the classes seen. */
  positive: string | null;
  arms: { arm: string; total: ClassMetrics; points: ({ time: string } & ClassMetrics)[] }[];
}

const MAX_LABELS = 100_000;
const MAX_TEXT = 256;

export class FeedbackService {
  readonly #db: Kysely<Database>;
  readonly #store: StoreSink;
  readonly #now: () => number;

  constructor(options: { db: Kysely<Database>; store: StoreSink; now?: () => number }) {
    this.#db = options.db;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  async add(project: string, deployment: string, labels: readonly FeedbackLabel[]): Promise<FeedbackResult> {
    if (labels.length === 0)
      throw new ModelportError('invalid_request', 'body: send at least one label', { field: 'body' });
    if (labels.length > MAX_LABELS) {
      throw new ModelportError('invalid_request', `body: at most ${MAX_LABELS} labels per call; split the file`, {
        field: 'body',
      });
    }
    for (const [i, l] of labels.entries()) {
      if (typeof l.requestId !== 'string' || l.requestId === '' || l.requestId.length > MAX_TEXT) {
        throw new ModelportError(
          'invalid_request',
          `labels[${i}].requestId: a request id of 1 to ${MAX_TEXT} characters`,
          {
            field: `labels[${i}].requestId`,
          },
        );
      }
      if (typeof l.label !== 'string' || l.label.length > MAX_TEXT) {
        throw new ModelportError('invalid_request', `labels[${i}].label: a label of at most ${MAX_TEXT} characters`, {
          field: `labels[${i}].label`,
        });
      }
    }
    const logged = await this.#store.lookup(project, deployment, [...new Set(labels.map((l) => l.requestId))]);
    const receivedAt = new Date(this.#now()).toISOString();
    const rows = new Map<string, Database['payload_feedback']>();
    const unknownIds: string[] = [];
    let unknown = 0;
    for (const l of labels) {
      const found = logged.get(l.requestId);
      if (!found) {
        unknown++;
        if (unknownIds.length < 100) unknownIds.push(l.requestId);
        continue;
      }
      rows.set(l.requestId, {
        project,
        deployment,
        request_id: l.requestId,
        label: l.label,
        prediction: found.prediction,
        arm: found.arm,
        revision: found.revision,
        predicted_at: found.timeMs,
        received_at: receivedAt,
      });
    }
    const values = [...rows.values()];
    for (let i = 0; i < values.length; i += 500) {
      await this.#db
        .insertInto('payload_feedback')
        .values(values.slice(i, i + 500))
        .onConflict((oc) =>
          oc.columns(['project', 'deployment', 'request_id']).doUpdateSet((eb) => ({
            label: eb.ref('excluded.label'),
            received_at: eb.ref('excluded.received_at'),
          })),
        )
        .execute();
    }
    return { received: labels.length, accepted: labels.length - unknown, unknown, unknownIds };
  }

  /** Accuracy, precision and recall per arm, in total and per window, of the predictions made since `sinceMs`. */
  async accuracy(
    project: string,
    deployment: string,
    options: { windowMs: number; sinceMs: number; positive?: string | undefined },
  ): Promise<AccuracyReport> {
    const { sinceMs } = options;
    // Inlined as an integer literal: a bound parameter is a REAL on SQLite, which would make the division fractional.
    const windowMs = Math.max(1, Math.floor(options.windowMs));
    const bucket = sql<number>`(predicted_at / ${sql.lit(windowMs)})`;
    const rows = await this.#db
      .selectFrom('payload_feedback')
      .select(['arm', 'prediction', 'label', bucket.as('bucket'), sql<number>`count(*)`.as('n')])
      .where('project', '=', project)
      .where('deployment', '=', deployment)
      .where('predicted_at', '>=', sinceMs)
      .groupBy(['arm', 'prediction', 'label', bucket])
      .execute();
    const byArm = new Map<string, Map<number, Cell[]>>();
    for (const r of rows) {
      const buckets = byArm.get(r.arm) ?? new Map<number, Cell[]>();
      byArm.set(r.arm, buckets);
      const bucket = Number(r.bucket);
      const cells = buckets.get(bucket) ?? [];
      buckets.set(bucket, cells);
      cells.push({ prediction: r.prediction, label: r.label, n: Number(r.n) });
    }
    const positive = options.positive ?? null;
    const arms = [...byArm.entries()]
      .sort(([a], [b]) => armOrder(a) - armOrder(b) || a.localeCompare(b))
      .map(([arm, buckets]) => ({
        arm,
        total: metrics([...buckets.values()].flat(), positive),
        points: [...buckets.entries()]
          .sort(([a], [b]) => a - b)
          .map(([bucket, cells]) => ({ time: new Date(bucket * windowMs).toISOString(), ...metrics(cells, positive) })),
      }));
    return { windowSeconds: windowMs / 1000, since: new Date(sinceMs).toISOString(), positive, arms };
  }

  async purge(project: string, deployment: string): Promise<number> {
    const result = await this.#db
      .deleteFrom('payload_feedback')
      .where('project', '=', project)
      .where('deployment', '=', deployment)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

interface Cell {
  prediction: string | null;
  label: string;
  n: number;
}

const armOrder = (arm: string) => (arm === 'primary' ? 0 : arm === 'shadow' ? 2 : 1);
const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);

/** Accuracy over all cells; precision and recall of `positive`, or macro-averaged over every class seen. */
export function metrics(cells: readonly Cell[], positive: string | null): ClassMetrics {
  let n = 0;
  let correct = 0;
  for (const c of cells) {
    n += c.n;
    if (c.prediction === c.label) correct += c.n;
  }
  const classScores = (cls: string) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const c of cells) {
      if (c.prediction === cls && c.label === cls) tp += c.n;
      else if (c.prediction === cls) fp += c.n;
      else if (c.label === cls) fn += c.n;
    }
    return { precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn) };
  };
  let precision: number | null;
  let recall: number | null;
  if (positive !== null) ({ precision, recall } = classScores(positive));
  else {
    const classes = new Set<string>();
    for (const c of cells) {
      classes.add(c.label);
      if (c.prediction !== null) classes.add(c.prediction);
    }
    const scores = [...classes].map(classScores);
    const mean = (values: (number | null)[]) => {
      const defined = values.filter((v): v is number => v !== null);
      return defined.length === 0
        ? null
        : Math.round((defined.reduce((a, b) => a + b, 0) / defined.length) * 10_000) / 10_000;
    };
    precision = mean(scores.map((s) => s.precision));
    recall = mean(scores.map((s) => s.recall));
  }
  return { n, correct, accuracy: ratio(correct, n), precision, recall };
}

/**
 * Labels from CSV text: a header naming a request id column (`request_id`, `requestId` or `id`) and a `label`
 * column, then one row per label (RFC 4180 quoting). Errors name the line.
 */
export function parseFeedbackCsv(text: string): FeedbackLabel[] {
  const rows = parseCsv(text);
  const header = rows.shift()?.map((h) => h.trim().toLowerCase());
  const idColumn = header?.findIndex((h) => h === 'request_id' || h === 'requestid' || h === 'id') ?? -1;
  const labelColumn = header?.indexOf('label') ?? -1;
  if (idColumn < 0 || labelColumn < 0) {
    throw new ModelportError(
      'invalid_request',
      'body: the CSV needs a header with a request_id (or requestId, id) column and a label column',
      { field: 'body' },
    );
  }
  return rows
    .filter((r) => r.some((cell) => cell !== ''))
    .map((r, i) => {
      const requestId = r[idColumn]?.trim();
      const label = r[labelColumn]?.trim();
      if (!requestId || label === undefined) {
        throw new ModelportError('invalid_request', `body: line ${i + 2} has no request id or no label`, {
          field: 'body',
        });
      }
      return { requestId, label };
    });
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (quoted) throw new ModelportError('invalid_request', 'body: a quoted CSV field is not closed', { field: 'body' });
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
