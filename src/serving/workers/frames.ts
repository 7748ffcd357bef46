/**
 * The wire format of a worker's data channel: length-prefixed binary frames on a pipe between the gateway and the
 * worker process. Only `predict` and its answer travel here; the rare control messages (load, unload, stats) keep
 * Node's IPC channel. Tensor bytes are copied once, into the frame; the receiver reads them as views of the frame.
 *
 * Frame (little-endian):  u32 length of the rest | u8 magic 0x4d | u8 kind | u32 id | body
 * - kind 1, predict:    u8 flags (1: outputs are named, 2: a trace follows), [u16 count, names], [traceparent as a
 *                       name], u16 tensor count, tensors
 * - kind 2, predicted:  u16 tensor count, tensors
 * - kind 3, error:      UTF-8 JSON `{ code, message, field?, detail? }`
 * - name: u16 byte length, UTF-8
 * - tensor: name, u8 datatype index (in `DATATYPES`), u8 rank, rank x f64 dims, f64 byte length, zero padding to
 *   a multiple of 8 from the frame's start, the bytes (BYTES: u32-length-prefixed elements, as the binary tensor
 *   extension carries them)
 *
 * Decoding checks everything against the frame's declared length: a wrong length, a tensor whose bytes do not match
 * its shape, a truncated field or trailing bytes throw `FrameError`; a malformed frame never yields a tensor.
 */
import { DATATYPE_SIZE, DATATYPES, type Datatype, type Tensor, type TensorData } from '../../core/index.ts';

const MAGIC = 0x4d;
const HEADER = 10; // u32 length + magic + kind + u32 id
const KIND = { predict: 1, predicted: 2, error: 3 } as const;
/** Default bound of one frame: larger than any request the gateway accepts (`maxRequestBytes`) with its outputs. */
export const MAX_FRAME_BYTES = 1 << 30;

export interface FrameFailure {
  code: string;
  message: string;
  field?: string;
  detail?: string;
}

export type Frame =
  | { kind: 'predict'; id: number; inputs: Tensor[]; outputs?: string[]; traceparent?: string }
  | { kind: 'predicted'; id: number; outputs: Tensor[] }
  | { kind: 'error'; id: number; error: FrameFailure };

/** A frame that does not follow the format: the channel is no longer trustworthy. */
export class FrameError extends Error {
  override name = 'FrameError';
}

const DATATYPE_INDEX = new Map<Datatype, number>(DATATYPES.map((d, i) => [d, i]));

function dataBytes(data: TensorData): number {
  if (!Array.isArray(data)) return data.byteLength;
  let total = 0;
  for (const item of data) total += 4 + item.byteLength;
  return total;
}

/** Byte offset just past a tensor that starts at `at` (padding included). */
function tensorEnd(tensor: Tensor, at: number): number {
  const fixed = at + 2 + Buffer.byteLength(tensor.name) + 2 + 8 * tensor.shape.length + 8;
  return fixed + ((8 - (fixed % 8)) % 8) + dataBytes(tensor.data);
}

function writeName(buffer: Buffer, name: string, at: number): number {
  const length = buffer.write(name, at + 2, 'utf8');
  buffer.writeUInt16LE(length, at);
  return at + 2 + length;
}

function writeTensor(buffer: Buffer, tensor: Tensor, start: number): number {
  let at = writeName(buffer, tensor.name, start);
  buffer[at++] = DATATYPE_INDEX.get(tensor.datatype) ?? 255;
  buffer[at++] = tensor.shape.length;
  for (const dim of tensor.shape) at = buffer.writeDoubleLE(dim, at);
  const data = tensor.data;
  at = buffer.writeDoubleLE(dataBytes(data), at);
  while (at % 8 !== 0) buffer[at++] = 0;
  if (!Array.isArray(data)) {
    buffer.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return at + data.byteLength;
  }
  for (const item of data) {
    at = buffer.writeUInt32LE(item.byteLength, at);
    buffer.set(item, at);
    at += item.byteLength;
  }
  return at;
}

function tensorsEnd(tensors: readonly Tensor[], at: number): number {
  let end = at + 2;
  for (const tensor of tensors) end = tensorEnd(tensor, end);
  return end;
}

function writeTensors(buffer: Buffer, tensors: readonly Tensor[], at: number): number {
  let end = buffer.writeUInt16LE(tensors.length, at);
  for (const tensor of tensors) end = writeTensor(buffer, tensor, end);
  return end;
}

function frame(kind: number, id: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  buffer.writeUInt32LE(size - 4, 0);
  buffer[4] = MAGIC;
  buffer[5] = kind;
  buffer.writeUInt32LE(id, 6);
  return buffer;
}

/**
 * A predict frame: the batch's inputs, when given the outputs to return (names), and when traced the batch span's
 * W3C `traceparent` (the worker's span is its child).
 */
export function encodePredict(
  id: number,
  inputs: readonly Tensor[],
  outputs?: readonly string[],
  traceparent?: string,
): Buffer {
  let size = HEADER + 1;
  if (outputs) for (const name of outputs) size += 2 + Buffer.byteLength(name);
  if (outputs) size += 2;
  if (traceparent !== undefined) size += 2 + Buffer.byteLength(traceparent);
  size = tensorsEnd(inputs, size);
  const buffer = frame(KIND.predict, id, size);
  let at = HEADER;
  buffer[at++] = (outputs ? 1 : 0) | (traceparent !== undefined ? 2 : 0);
  if (outputs) {
    at = buffer.writeUInt16LE(outputs.length, at);
    for (const name of outputs) at = writeName(buffer, name, at);
  }
  if (traceparent !== undefined) at = writeName(buffer, traceparent, at);
  writeTensors(buffer, inputs, at);
  return buffer;
}

/** The answer to predict frame `id`. */
export function encodePredicted(id: number, outputs: readonly Tensor[]): Buffer {
  const buffer = frame(KIND.predicted, id, tensorsEnd(outputs, HEADER));
  writeTensors(buffer, outputs, HEADER);
  return buffer;
}

/** The failure of predict frame `id`. */
export function encodeError(id: number, error: FrameFailure): Buffer {
  const json = Buffer.from(JSON.stringify(error));
  const buffer = frame(KIND.error, id, HEADER + json.length);
  json.copy(buffer, HEADER);
  return buffer;
}

/** Reads one frame's body (the bytes after its length prefix), every read bounds-checked. */
class FrameCursor {
  at = 0;
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) {
      throw new FrameError(
        `truncated frame: ${what} needs ${n} bytes at ${this.at}, the frame has ${this.bytes.length}`,
      );
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++] as number;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.bytes.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.bytes.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.bytes.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  name(what: string): string {
    const length = this.u16(what);
    this.need(length, what);
    const text = this.bytes.toString('utf8', this.at, this.at + length);
    this.at += length;
    return text;
  }
  tensor(): Tensor {
    const name = this.name('a tensor name');
    const datatype = DATATYPES[this.u8(`the datatype of '${name}'`)];
    if (datatype === undefined) throw new FrameError(`tensor '${name}' has an unknown datatype`);
    const rank = this.u8(`the rank of '${name}'`);
    const shape: number[] = new Array(rank);
    let n = 1;
    for (let i = 0; i < rank; i++) {
      const dim = this.f64(`a dimension of '${name}'`);
      if (!Number.isSafeInteger(dim) || dim < 0) throw new FrameError(`tensor '${name}' has dimension ${dim}`);
      shape[i] = dim;
      n *= dim;
    }
    const byteLength = this.f64(`the byte length of '${name}'`);
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new FrameError(`tensor '${name}' declares ${byteLength} bytes`);
    }
    // Padding counts from the frame's start, 4 bytes before this body.
    this.at += (8 - ((this.at + 4) % 8)) % 8;
    this.need(byteLength, `the data of '${name}'`);
    const start = this.at;
    this.at += byteLength;
    const data =
      datatype === 'BYTES'
        ? this.#elements(name, start, byteLength, n)
        : this.#fixed(name, datatype, start, byteLength, n);
    return { name, datatype, shape, data };
  }
  #fixed(name: string, datatype: Exclude<Datatype, 'BYTES'>, start: number, byteLength: number, n: number) {
    const size = DATATYPE_SIZE[datatype];
    if (byteLength !== n * size) {
      throw new FrameError(`tensor '${name}' has ${byteLength} bytes, its shape needs ${n * size}`);
    }
    const Ctor = TYPED[datatype];
    const offset = this.bytes.byteOffset + start;
    // A view when aligned for the element type (the usual case), else one copy.
    if (offset % size === 0) return new Ctor(this.bytes.buffer, offset, n);
    const copy = new Uint8Array(byteLength);
    copy.set(this.bytes.subarray(start, start + byteLength));
    return new Ctor(copy.buffer, 0, n);
  }
  #elements(name: string, start: number, byteLength: number, n: number): Uint8Array[] {
    const items: Uint8Array[] = new Array(n);
    let at = start;
    const end = start + byteLength;
    for (let i = 0; i < n; i++) {
      if (at + 4 > end) throw new FrameError(`tensor '${name}' has fewer than ${n} elements`);
      const length = this.bytes.readUInt32LE(at);
      at += 4;
      if (at + length > end) throw new FrameError(`tensor '${name}' element ${i} is truncated`);
      items[i] = this.bytes.subarray(at, at + length);
      at += length;
    }
    if (at !== end) throw new FrameError(`tensor '${name}' has bytes past its ${n} elements`);
    return items;
  }
  tensors(): Tensor[] {
    const count = this.u16('the tensor count');
    const tensors: Tensor[] = new Array(count);
    for (let i = 0; i < count; i++) tensors[i] = this.tensor();
    return tensors;
  }
}

type TypedCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Exclude<TensorData, Uint8Array[]>;
const TYPED: Record<Exclude<Datatype, 'BYTES'>, TypedCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** Decodes one frame's body (what follows its u32 length). Throws `FrameError` unless it is well formed. */
export function decodeFrame(body: Buffer): Frame {
  const cursor = new FrameCursor(body);
  if (cursor.u8('the magic byte') !== MAGIC)
    throw new FrameError('not a frame (bad magic byte): the channel is out of step');
  const kind = cursor.u8('the kind');
  const id = cursor.u32('the id');
  let result: Frame;
  if (kind === KIND.predict) {
    let outputs: string[] | undefined;
    const flags = cursor.u8('the flags');
    if (flags > 3) throw new FrameError(`a predict frame has unknown flags ${flags}`);
    if (flags & 1) {
      outputs = new Array(cursor.u16('the output count'));
      for (let i = 0; i < outputs.length; i++) outputs[i] = cursor.name('an output name');
    }
    const traceparent = flags & 2 ? cursor.name('the traceparent') : undefined;
    const inputs = cursor.tensors();
    result = { kind: 'predict', id, inputs };
    if (outputs) result.outputs = outputs;
    if (traceparent !== undefined) result.traceparent = traceparent;
  } else if (kind === KIND.predicted) {
    result = { kind: 'predicted', id, outputs: cursor.tensors() };
  } else if (kind === KIND.error) {
    let error: FrameFailure;
    try {
      error = JSON.parse(body.toString('utf8', cursor.at)) as FrameFailure;
    } catch {
      throw new FrameError('an error frame is not JSON');
    }
    if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
      throw new FrameError('an error frame has no code and message');
    }
    return { kind: 'error', id, error };
  } else {
    throw new FrameError(`unknown frame kind ${kind}`);
  }
  if (cursor.at !== body.length) {
    throw new FrameError(`the frame declares ${body.length} bytes but its contents end at ${cursor.at}`);
  }
  return result;
}

/**
 * Cuts a byte stream into frames and decodes them. `push` returns the frames a chunk completes (none, one or
 * several); it throws `FrameError` on a malformed frame or a declared length past `maxFrameBytes`, after which
 * the stream cannot be trusted.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.#buffered >= 4) {
      let first = this.#chunks[0] as Buffer;
      if (first.length < 4) first = this.#merge();
      const length = first.readUInt32LE(0);
      if (length < HEADER - 4 || length > this.#maxFrameBytes) {
        throw new FrameError(`a frame declares ${length} bytes (from ${HEADER - 4} to ${this.#maxFrameBytes})`);
      }
      if (this.#buffered < 4 + length) break;
      if (first.length < 4 + length) first = this.#merge();
      frames.push(decodeFrame(first.subarray(4, 4 + length)));
      const rest = first.subarray(4 + length);
      if (rest.length > 0) this.#chunks[0] = rest;
      else this.#chunks.shift();
      this.#buffered -= 4 + length;
    }
    return frames;
  }

  #merge(): Buffer {
    const merged = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [merged];
    return merged;
  }
}

/**
 * Writes frames to a stream, several per write under load: frames queued in the same tick go out together (one
 * `writev`), so a burst of batches costs one system call rather than one each.
 */
export class FrameWriter {
  readonly #stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
  #corked = false;

  constructor(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }) {
    this.#stream = stream;
  }

  write(frame: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#stream.uncork();
      });
    }
    this.#stream.write(frame);
  }
}
