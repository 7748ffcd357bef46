/**
 * Tensor contents between JSON values and typed arrays, shared by the V2, V1 and Seldon codecs.
 *
 * Reading is strict about element types (a JSON number for numeric types, integral and in range for integer
 * types, `true`/`false` for BOOL, a string for BYTES) and never allocates before the element count is known to
 * match the shape, so a hostile shape cannot make the server allocate memory the body does not pay for.
 */
import { allocateTensorData, type Datatype, ModelportError, type TensorData } from '../core/index.ts';
import { MAX_JSON_DEPTH } from './json-body.ts';

/** `invalid_input` naming the input: `input 'x': <message>`. */
export function inputError(input: string, message: string): ModelportError {
  return new ModelportError('invalid_input', `input ${quote(input)}: ${message}`, { field: clip(input, 100) });
}

/** A name for messages: quoted and clipped, so a hostile name cannot blow up a log line. */
export function quote(name: string): string {
  return `'${clip(name, 100)}'`;
}

/** A shape for messages: `[2,-1,3]`, clipped after 8 dimensions. */
export function formatShape(shape: readonly number[]): string {
  return shape.length <= 8 ? `[${shape.join(',')}]` : `[${shape.slice(0, 8).join(',')},...] (rank ${shape.length})`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

/** A JSON value for messages: numbers and short strings verbatim, anything else by kind. */
export function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(clip(value, 20));
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** Re-exported for the codecs' readers; it lives in core so runtimes share it. */
export const allocate = allocateTensorData;

// Doubles at or beyond 2^128 - 2^103 round to Infinity in FP32; beyond 65520 in FP16.
const FP32_OVERFLOW = 3.4028235677973366e38;
const UTF8 = new TextEncoder();
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Writes JSON leaves one by one into a typed container, checking each against the datatype. */
class ElementWriter {
  readonly out: TensorData;
  readonly input: string;
  readonly datatype: Datatype;
  /** TF Serving's `{"b64": "..."}` objects are accepted for BYTES (V1 only). */
  readonly b64: boolean;
  private readonly half: Float16Array | undefined;
  k = 0;

  constructor(input: string, datatype: Datatype, n: number, b64: boolean) {
    this.input = input;
    this.datatype = datatype;
    this.b64 = b64;
    this.out = allocate(datatype, n);
    this.half = datatype === 'FP16' ? new Float16Array((this.out as Uint16Array).buffer) : undefined;
  }

  put(v: unknown): void {
    const k = this.k;
    const out = this.out;
    switch (this.datatype) {
      case 'FP32':
        if (typeof v !== 'number' || v >= FP32_OVERFLOW || v <= -FP32_OVERFLOW) throw this.bad(v, 'an FP32 number');
        (out as Float32Array)[k] = v;
        break;
      case 'FP64':
        if (typeof v !== 'number') throw this.bad(v, 'a number');
        (out as Float64Array)[k] = v;
        break;
      case 'FP16': {
        const half = this.half!;
        if (typeof v !== 'number') throw this.bad(v, 'a number');
        half[k] = v;
        if (!Number.isFinite(half[k])) throw this.bad(v, 'an FP16 number (at most 65504 in magnitude)');
        break;
      }
      case 'INT32':
        if (typeof v !== 'number' || (v | 0) !== v) throw this.bad(v, 'an INT32 integer');
        (out as Int32Array)[k] = v;
        break;
      case 'UINT32':
        if (typeof v !== 'number' || v >>> 0 !== v) throw this.bad(v, 'a UINT32 integer');
        (out as Uint32Array)[k] = v;
        break;
      case 'INT16':
        if (typeof v !== 'number' || (v << 16) >> 16 !== v) throw this.bad(v, 'an INT16 integer');
        (out as Int16Array)[k] = v;
        break;
      case 'UINT16':
        if (typeof v !== 'number' || (v & 0xffff) !== v) throw this.bad(v, 'a UINT16 integer');
        (out as Uint16Array)[k] = v;
        break;
      case 'INT8':
        if (typeof v !== 'number' || (v << 24) >> 24 !== v) throw this.bad(v, 'an INT8 integer');
        (out as Int8Array)[k] = v;
        break;
      case 'UINT8':
        if (typeof v !== 'number' || (v & 0xff) !== v) throw this.bad(v, 'a UINT8 integer');
        (out as Uint8Array)[k] = v;
        break;
      case 'INT64':
        // JSON numbers are doubles: beyond 2^53 the value the client meant is already lost.
        if (!Number.isSafeInteger(v)) throw this.bad(v, 'an integer within ±(2^53-1) (send larger INT64 as binary)');
        (out as BigInt64Array)[k] = BigInt(v as number);
        break;
      case 'UINT64':
        if (!Number.isSafeInteger(v) || (v as number) < 0) {
          throw this.bad(v, 'an integer from 0 to 2^53-1 (send larger UINT64 as binary)');
        }
        (out as BigUint64Array)[k] = BigInt(v as number);
        break;
      case 'BOOL':
        if (v !== true && v !== false) throw this.bad(v, 'true or false');
        (out as Uint8Array)[k] = v ? 1 : 0;
        break;
      case 'BYTES':
        (out as Uint8Array[])[k] = this.bytes(v);
        break;
    }
    this.k = k + 1;
  }

  private bytes(v: unknown): Uint8Array {
    if (typeof v === 'string') return UTF8.encode(v);
    if (this.b64 && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const { b64 } = v as { b64?: unknown };
      if (typeof b64 === 'string' && Object.keys(v).length === 1 && BASE64.test(b64)) {
        const bytes = Buffer.from(b64, 'base64');
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      }
    }
    return this.throwBad(v, this.b64 ? 'a string or {"b64": "<base64>"}' : 'a string');
  }

  private throwBad(v: unknown, expected: string): never {
    throw this.bad(v, expected);
  }

  private bad(v: unknown, expected: string): ModelportError {
    return inputError(this.input, `element ${this.k} is ${describe(v)}, expected ${expected} for ${this.datatype}`);
  }
}

/** Number of non-array leaves in nested arrays; throws when nested deeper than the JSON depth limit. */
export function countLeaves(value: unknown, input: string, depth = 1): number {
  if (!Array.isArray(value)) return 1;
  if (depth > MAX_JSON_DEPTH) throw inputError(input, `data nests deeper than ${MAX_JSON_DEPTH} levels`);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    n += Array.isArray(v) ? countLeaves(v, input, depth + 1) : 1;
  }
  return n;
}

/**
 * Reads V2 `data`: a flat array or any nesting of arrays, flattened in row-major order (as Triton, KServe and
 * MLServer accept), into `n` elements of `datatype`. Throws `invalid_input` naming `input` when the count differs
 * or an element does not fit.
 */
export function readFlattened(data: unknown, datatype: Datatype, n: number, input: string): TensorData {
  if (!Array.isArray(data)) throw inputError(input, `data must be an array, got ${describe(data)}`);
  if (data.length === n && (datatype === 'FP32' || datatype === 'FP64')) {
    const flat = readFlatFloats(data, datatype, n);
    if (flat !== undefined) return flat;
  }
  const count = countLeaves(data, input);
  if (count !== n) throw countMismatch(input, count, n);
  const writer = new ElementWriter(input, datatype, n, false);
  writeLeaves(data, writer);
  return writer.out;
}

/** The hot path: one pass from a flat array of numbers; undefined when an element is not a number. */
function readFlatFloats(data: unknown[], datatype: 'FP32' | 'FP64', n: number): TensorData | undefined {
  const out = datatype === 'FP32' ? new Float32Array(n) : new Float64Array(n);
  const limit = datatype === 'FP32' ? FP32_OVERFLOW : Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (typeof v !== 'number' || v >= limit || v <= -limit) return undefined;
    out[i] = v;
  }
  return out;
}

function writeLeaves(values: unknown[], writer: ElementWriter): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Array.isArray(v)) writeLeaves(v, writer);
    else writer.put(v);
  }
}

function countMismatch(input: string, count: number, n: number): ModelportError {
  return inputError(input, `data has ${count} elements but the shape needs ${n}`);
}

/**
 * The shape of a nested JSON array, read along its first elements (`[[1,2],[3,4]]` -> `[2,2]`, `5` -> `[]`).
 * `readNested` then checks that every row agrees.
 */
export function naturalShape(value: unknown, input: string): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    if (shape.length >= MAX_JSON_DEPTH) throw inputError(input, `data nests deeper than ${MAX_JSON_DEPTH} levels`);
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Reads a value in its natural nested form (V1, Seldon ndarray) whose every level must match `shape`
 * (rectangular, like numpy). `b64` accepts TF Serving's `{"b64": ...}` for BYTES.
 */
export function readNested(value: unknown, shape: readonly number[], datatype: Datatype, input: string, b64 = false) {
  const n = elementCountOf(shape, input);
  const count = countLeaves(value, input);
  if (count !== n) throw countMismatch(input, count, n);
  const writer = new ElementWriter(input, datatype, n, b64);
  if (shape.length === 0) writer.put(value);
  else writeRectangular(value as unknown[], shape, 0, writer);
  return writer.out;
}

function writeRectangular(values: unknown, shape: readonly number[], depth: number, writer: ElementWriter): void {
  if (!Array.isArray(values) || values.length !== shape[depth]) {
    throw inputError(writer.input, `data is not rectangular: expected ${shape[depth]} items at depth ${depth}`);
  }
  const last = depth === shape.length - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (last) {
      if (Array.isArray(v)) throw inputError(writer.input, `data is not rectangular at depth ${depth + 1}`);
      writer.put(v);
    } else writeRectangular(v, shape, depth + 1, writer);
  }
}

/** Reads a flat JS array of exactly `n` leaves (Seldon tensor values, one column of rows). */
export function readFlat(values: readonly unknown[], datatype: Datatype, input: string, b64 = false): TensorData {
  const writer = new ElementWriter(input, datatype, values.length, b64);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Array.isArray(v)) throw inputError(input, `element ${i} is an array, expected a scalar`);
    writer.put(v);
  }
  return writer.out;
}

/** Element count of a client-sent shape, or `invalid_input` for negative, fractional or overflowing dims. */
export function elementCountOf(shape: readonly number[], input: string): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isSafeInteger(d) || d < 0) {
      throw inputError(input, `shape dimension ${i} is ${describe(d)}; dimensions are integers >= 0`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw inputError(input, `shape ${formatShape(shape)} has too many elements`);
  return n;
}

// ---- encoding ----

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * The double with the fewest significant digits (trying `from`..`to`) that `roundsBack` to `v`, so FP32 0.1
 * prints as 0.1 rather than 0.10000000149011612; returns `v` itself when none is shorter.
 */
function shortest(v: number, from: number, to: number, roundsBack: (x: number) => number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const e = Math.floor(Math.log10(Math.abs(v)));
  for (let p = from; p <= to; p++) {
    const m = p - 1 - e;
    // k / 10^m with both exact is the correctly rounded decimal; outside the exact powers use toPrecision.
    const r =
      m >= 0 && m <= 22
        ? Math.round(v * POW10[m]!) / POW10[m]!
        : m < 0 && m >= -22
          ? Math.round(v / POW10[-m]!) * POW10[-m]!
          : Number(v.toPrecision(p));
    if (roundsBack(r) === v) return r;
  }
  return v;
}

/** FP32 value as the shortest JSON number that reads back to the same float. */
export const shortestFloat32 = (v: number): number => shortest(v, 6, 9, Math.fround);
/** FP16 value as the shortest JSON number that reads back to the same half. */
export const shortestFloat16 = (v: number): number => shortest(v, 3, 5, Math.f16round);

interface RawJson {
  rawJSON(text: string): unknown;
}
const rawJSON = (JSON as unknown as RawJson).rawJSON;

/** A 64-bit integer as a JSON number: exact, as raw JSON text when beyond 2^53. */
function int64Json(v: bigint): unknown {
  return v <= 9007199254740991n && v >= -9007199254740991n ? Number(v) : rawJSON(v.toString());
}

const UTF8_DECODER = new TextDecoder();

/**
 * Flat JSON values of tensor data: FP16 and FP32 as shortest numbers, INT64/UINT64 as exact numbers, BOOL as
 * booleans, BYTES as UTF-8 strings (invalid UTF-8 becomes U+FFFD). Non-finite floats become null (JSON has no
 * NaN). The binary extension carries both exactly.
 */
export function toJsonValues(data: TensorData, datatype: Datatype): unknown[] {
  const n = data.length;
  const out = new Array<unknown>(n);
  switch (datatype) {
    case 'FP32': {
      const f = data as Float32Array;
      for (let i = 0; i < n; i++) out[i] = shortestFloat32(f[i]!);
      return out;
    }
    case 'FP16': {
      const u = data as Uint16Array;
      const f = new Float16Array(u.buffer, u.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = shortestFloat16(f[i]!);
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const b = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) out[i] = int64Json(b[i]!);
      return out;
    }
    case 'BOOL': {
      const u = data as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = u[i] !== 0;
      return out;
    }
    case 'BYTES': {
      const items = data as Uint8Array[];
      for (let i = 0; i < n; i++) out[i] = UTF8_DECODER.decode(items[i]);
      return out;
    }
    default: {
      const a = data as Float64Array;
      for (let i = 0; i < n; i++) out[i] = a[i];
      return out;
    }
  }
}

/** Nests flat values by `shape` (rank 0 -> the single value, rank 1 -> the array itself). */
export function nest(flat: unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return flat[0] ?? null;
  return nestFrom(flat, shape, 0, 0);
}

function nestFrom(flat: unknown[], shape: readonly number[], depth: number, start: number): unknown[] {
  const size = shape[depth]!;
  if (depth === shape.length - 1) return depth === 0 ? flat : flat.slice(start, start + size);
  let stride = 1;
  for (let i = depth + 1; i < shape.length; i++) stride *= shape[i]!;
  const rows = new Array<unknown>(size);
  for (let i = 0; i < size; i++) rows[i] = nestFrom(flat, shape, depth + 1, start + i * stride);
  return rows;
}
