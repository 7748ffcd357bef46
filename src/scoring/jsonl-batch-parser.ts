/**
 * `JsonlBatchParser`: JSON lines, one row per line: an object (`{"time": 0, "v1": -1.3, ...}`, matched by name, or
 * by its keys' order when it has exactly as many keys as the model has features) or an array (by position).
 * The first row fixes the columns; numbers may also be given as numeric strings. Blank lines are skipped.
 */
import { ModelportError } from '../core/index.ts';
import type { ColumnPlan } from './columns.ts';
import type { PlanBuilder } from './csv-batch-parser.ts';
import { parseNumberText } from './number.ts';
import type { BadRowHandler, BatchParser, RowBatch } from './row-batch.ts';

const LF = 10;
const EMPTY = Buffer.alloc(0);
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class JsonlBatchParser implements BatchParser {
  #buf: Buffer = EMPTY;
  #pos = 0;
  #ended = false;
  #line = 0;
  #plan: ColumnPlan | undefined;
  /** Object rows: the key of each input column; undefined for array rows. */
  #keys: readonly string[] | undefined;
  readonly #buildPlan: PlanBuilder;
  readonly #onBadRow: BadRowHandler;

  constructor(buildPlan: PlanBuilder, onBadRow: BadRowHandler) {
    this.#buildPlan = buildPlan;
    this.#onBadRow = onBadRow;
  }

  get keepNames(): readonly string[] | undefined {
    return this.#plan?.keepNames;
  }

  push(chunk: Buffer): void {
    const rest = this.#buf.length - this.#pos;
    if (rest > MAX_LINE_BYTES) {
      throw new ModelportError('invalid_input', `line ${this.#line + 1}: a line is longer than 64 MiB`, {
        field: 'input',
      });
    }
    this.#buf = rest > 0 ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    this.#pos = 0;
  }

  end(): void {
    this.#ended = true;
  }

  fill(batch: RowBatch): boolean {
    while (batch.rows < batch.capacity) {
      const buf = this.#buf;
      if (this.#pos >= buf.length) return false;
      let eol = buf.indexOf(LF, this.#pos);
      if (eol < 0) {
        if (!this.#ended) return false;
        eol = buf.length;
      }
      const text = buf.toString('utf8', this.#pos, eol).trim();
      this.#pos = eol + 1;
      this.#line++;
      if (text !== '') this.#row(batch, text);
    }
    return true;
  }

  #row(batch: RowBatch, text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#onBadRow(this.#line, 'not valid JSON', text);
      return;
    }
    const isArray = Array.isArray(value);
    if (!isArray && (typeof value !== 'object' || value === null)) {
      this.#onBadRow(this.#line, 'not a JSON object or array', text);
      return;
    }
    if (!this.#plan) {
      this.#keys = isArray ? undefined : Object.keys(value as object);
      const count = isArray ? (value as unknown[]).length : (this.#keys as string[]).length;
      this.#plan = this.#buildPlan(this.#keys ?? null, count);
    }
    const plan = this.#plan;
    const keys = this.#keys;
    if ((keys === undefined) !== isArray) {
      this.#onBadRow(
        this.#line,
        keys ? 'an array where the first row was an object' : 'an object where the first row was an array',
        text,
      );
      return;
    }
    const cells = value as Record<string, unknown> & unknown[];
    if (isArray && cells.length !== plan.columnCount) {
      this.#onBadRow(this.#line, `has ${cells.length} values; the first row has ${plan.columnCount}`, text);
      return;
    }
    const row = batch.rows;
    const featureBase = row * plan.width;
    const keptBase = row * plan.keepNames.length;
    for (let col = 0; col < plan.columnCount; col++) {
      const cell = keys ? cells[keys[col] as string] : cells[col];
      const f = plan.feature[col] as number;
      if (f >= 0) {
        const number = typeof cell === 'number' ? cell : typeof cell === 'string' ? parseNumberText(cell) : Number.NaN;
        if (Number.isNaN(number)) {
          const name = plan.columnNames[col];
          const reason =
            cell === undefined || cell === null
              ? `${name} is missing`
              : `${name}: ${JSON.stringify(cell).slice(0, 40)} is not a number`;
          this.#onBadRow(this.#line, reason, text);
          return;
        }
        batch.features[featureBase + f] = number;
      }
      const k = plan.keep[col] as number;
      if (k >= 0) batch.kept[keptBase + k] = cell ?? null;
    }
    batch.rows = row + 1;
  }
}
