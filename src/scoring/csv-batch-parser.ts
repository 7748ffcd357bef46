/**
 * `CsvBatchParser`: RFC 4180 CSV (quoted fields, `""` escapes, CRLF or LF, embedded commas, quotes and newlines)
 * straight from Buffers into a batch's feature matrix.
 *
 * The first record is the header unless every field of it is a number. Numbers are parsed from the bytes in the
 * same pass that finds the field's end (a plain decimal of up to 15 digits never becomes a string); only kept
 * columns, quoted numbers and unusual numbers (exponents, spaces) allocate. Blank lines are skipped. A record cut by
 * the end of a chunk is parsed again from its start when the next chunk arrives. Line numbers count physical
 * lines from 1 (the header), so a record with embedded newlines is reported by the line it starts on.
 */
import { ModelportError } from '../core/index.ts';
import type { ColumnPlan } from './columns.ts';
import { POW10, parseNumberText } from './number.ts';
import type { BadRowHandler, BatchParser, RowBatch } from './row-batch.ts';

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;
const DOT = 46;
const MINUS = 45;
const PLUS = 43;
const EMPTY = Buffer.alloc(0);
/** A record longer than this is refused rather than buffered without bound. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** Builds the plan from the header (null when the first record is data) and the field count. */
export type PlanBuilder = (header: readonly string[] | null, columnCount: number) => ColumnPlan;

const NEED_MORE = -1;
const SKIPPED = 0;
const PARSED = 1;

export class CsvBatchParser implements BatchParser {
  #buf: Buffer = EMPTY;
  #pos = 0;
  #ended = false;
  /** Line number where the next record starts. */
  #line = 1;
  #plan: ColumnPlan | undefined;
  readonly #buildPlan: PlanBuilder;
  readonly #onBadRow: BadRowHandler;

  /**
   * `resume` starts after the header, with its plan, at a known line: how a parse worker reads a slice of the input
   * and how the serial parser takes over from the workers.
   */
  constructor(buildPlan: PlanBuilder, onBadRow: BadRowHandler, resume?: { plan: ColumnPlan; line: number }) {
    this.#buildPlan = buildPlan;
    this.#onBadRow = onBadRow;
    if (resume) {
      this.#plan = resume.plan;
      this.#line = resume.line;
    }
  }

  /** The plan, once the header (or the first record) was read. */
  get plan(): ColumnPlan | undefined {
    return this.#plan;
  }

  /** The line the next record starts on. */
  get line(): number {
    return this.#line;
  }

  /** Bytes pushed but not parsed yet (the start of a record that a later chunk completes). */
  get pendingBytes(): number {
    return this.#buf.length - this.#pos;
  }

  /** Hands over the bytes not parsed yet (they start a record) and forgets them. */
  takeRest(): Buffer {
    const rest = this.#buf.subarray(this.#pos);
    this.#buf = EMPTY;
    this.#pos = 0;
    return rest;
  }

  get keepNames(): readonly string[] | undefined {
    return this.#plan?.keepNames;
  }

  push(chunk: Buffer): void {
    const rest = this.#buf.length - this.#pos;
    if (rest > MAX_RECORD_BYTES) {
      throw new ModelportError(
        'invalid_input',
        `line ${this.#line}: a record is longer than 64 MiB; is a quote left open?`,
        {
          field: 'input',
        },
      );
    }
    this.#buf = rest > 0 ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    this.#pos = 0;
  }

  end(): void {
    this.#ended = true;
  }

  fill(batch: RowBatch): boolean {
    if (!this.#plan && !this.#readHeader()) return false;
    while (batch.rows < batch.capacity) {
      if (this.#record(batch) === NEED_MORE) return false;
    }
    return true;
  }

  #readHeader(): boolean {
    for (;;) {
      if (this.#pos >= this.#buf.length) return false;
      const start = this.#pos;
      const startLine = this.#line;
      const fields = this.#fields();
      if (fields === undefined) return false;
      if (fields.length === 1 && fields[0] === '') continue; // a blank line
      const isData = fields.every((f) => !Number.isNaN(parseNumberText(f)));
      this.#plan = this.#buildPlan(isData ? null : fields, fields.length);
      if (isData) {
        this.#pos = start;
        this.#line = startLine;
      }
      return true;
    }
  }

  /** One record as strings (the header), or undefined when it is not complete yet. */
  #fields(): string[] | undefined {
    const buf = this.#buf;
    const len = buf.length;
    let p = this.#pos;
    let lines = 0;
    const fields: string[] = [];
    for (;;) {
      let text: string;
      if (p < len && buf[p] === QUOTE) {
        const start = ++p;
        for (;;) {
          if (p >= len) return undefined;
          const c = buf[p];
          if (c === QUOTE) {
            if (p + 1 < len && buf[p + 1] === QUOTE) p += 2;
            else if (p + 1 >= len && !this.#ended) return undefined;
            else break;
          } else {
            if (c === LF) lines++;
            p++;
          }
        }
        text = buf.toString('utf8', start, p).replaceAll('""', '"');
        p++;
        while (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) p++;
      } else {
        const start = p;
        while (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) p++;
        text = buf.toString('utf8', start, p);
      }
      if (p >= len && !this.#ended) return undefined;
      fields.push(text);
      if (p >= len) break;
      const c = buf[p++];
      if (c === COMMA) continue;
      if (c === CR && p < len && buf[p] === LF) p++;
      else if (c === CR && p >= len && !this.#ended) return undefined;
      lines++;
      break;
    }
    this.#pos = p;
    this.#line += lines;
    return fields;
  }

  /** Parses one record into the batch's next row; NEED_MORE leaves the state untouched. */
  #record(batch: RowBatch): number {
    const plan = this.#plan as ColumnPlan;
    const buf = this.#buf;
    const len = buf.length;
    const ended = this.#ended;
    const start = this.#pos;
    let p = start;
    if (p >= len) return NEED_MORE;
    const first = buf[p];
    if (first === LF || first === CR) {
      // A blank line (a CR at the very end of a chunk may be half of a CRLF).
      if (first === CR && p + 1 >= len && !ended) return NEED_MORE;
      p += first === CR && buf[p + 1] === LF ? 2 : 1;
      this.#pos = p;
      this.#line++;
      return SKIPPED;
    }
    const { feature, keep, columnCount, width } = plan;
    const features = batch.features;
    const kept = batch.kept;
    const row = batch.rows;
    const featureBase = row * width;
    const keptBase = row * plan.keepNames.length;
    let lines = 0;
    let col = 0;
    let error: string | undefined;
    for (;;) {
      const f = col < columnCount ? (feature[col] as number) : -1;
      const k = col < columnCount ? (keep[col] as number) : -1;
      if (p < len && buf[p] === QUOTE) {
        // Quoted field: find the closing quote, then treat its content as text.
        const contentStart = ++p;
        let escaped = false;
        for (;;) {
          if (p >= len) return NEED_MORE;
          const c = buf[p];
          if (c === QUOTE) {
            if (p + 1 < len && buf[p + 1] === QUOTE) {
              escaped = true;
              p += 2;
            } else if (p + 1 >= len && !ended) return NEED_MORE;
            else break;
          } else {
            if (c === LF) lines++;
            p++;
          }
        }
        const contentEnd = p++;
        if (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) {
          error ??= `${plan.columnNames[col] ?? `column ${col + 1}`}: characters after a closing quote`;
          while (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) p++;
        }
        if (f >= 0 || k >= 0) {
          let text = buf.toString('utf8', contentStart, contentEnd);
          if (escaped) text = text.replaceAll('""', '"');
          if (f >= 0) {
            const value = parseNumberText(text);
            if (Number.isNaN(value)) error ??= notANumber(plan, col, text);
            features[featureBase + f] = value;
          }
          if (k >= 0) kept[keptBase + k] = text;
        }
      } else if (f >= 0) {
        // Unquoted feature: a plain decimal is parsed while scanning; anything else goes the strict slow way.
        const fieldStart = p;
        let q = p;
        let negative = false;
        if (q < len && buf[q] === MINUS) {
          negative = true;
          q++;
        } else if (q < len && buf[q] === PLUS) q++;
        let mantissa = 0;
        let digits = 0;
        let fraction = 0;
        while (q < len) {
          const d = (buf[q] as number) - 48;
          if (d < 0 || d > 9) break;
          mantissa = mantissa * 10 + d;
          digits++;
          q++;
        }
        if (q < len && buf[q] === DOT) {
          q++;
          while (q < len) {
            const d = (buf[q] as number) - 48;
            if (d < 0 || d > 9) break;
            mantissa = mantissa * 10 + d;
            fraction++;
            q++;
          }
        }
        const next = q < len ? buf[q] : -1;
        if (
          digits + fraction > 0 &&
          digits + fraction <= 15 &&
          (next === COMMA || next === LF || next === CR || (next === -1 && ended))
        ) {
          const magnitude = fraction === 0 ? mantissa : mantissa / (POW10[fraction] as number);
          features[featureBase + f] = negative ? -magnitude : magnitude;
          p = q;
          if (k >= 0) kept[keptBase + k] = buf.toString('latin1', fieldStart, q);
        } else {
          p = q;
          while (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) p++;
          if (p >= len && !ended) return NEED_MORE;
          const text = buf.toString('utf8', fieldStart, p);
          const value = parseNumberText(text);
          if (Number.isNaN(value)) error ??= notANumber(plan, col, text);
          features[featureBase + f] = value;
          if (k >= 0) kept[keptBase + k] = text;
        }
      } else {
        const fieldStart = p;
        while (p < len && buf[p] !== COMMA && buf[p] !== LF && buf[p] !== CR) p++;
        if (k >= 0 && (p < len || ended)) kept[keptBase + k] = buf.toString('utf8', fieldStart, p);
      }
      col++;
      if (p >= len) {
        if (!ended) return NEED_MORE;
        break;
      }
      const c = buf[p++];
      if (c === COMMA) continue;
      if (c === CR) {
        if (p < len && buf[p] === LF) p++;
        else if (p >= len && !ended) return NEED_MORE;
      }
      lines++;
      break;
    }
    const line = this.#line;
    this.#pos = p;
    this.#line += lines;
    if (col !== columnCount) error = `has ${col} fields; the header has ${columnCount}`;
    if (error !== undefined) {
      this.#onBadRow(line, error, buf.toString('utf8', start, p).replace(/\r?\n$/, ''));
      return SKIPPED;
    }
    batch.rows = row + 1;
    return PARSED;
  }
}

function notANumber(plan: ColumnPlan, col: number, text: string): string {
  const name = plan.columnNames[col] ?? `column ${col + 1}`;
  if (text.trim() === '') return `${name} is empty`;
  return `${name}: '${text.length > 40 ? `${text.slice(0, 37)}...` : text}' is not a number`;
}
