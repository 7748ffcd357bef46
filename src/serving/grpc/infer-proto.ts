/**
 * ModelInferRequest decode and ModelInferResponse encode for the messages almost every call sends, without
 * protobufjs: raw tensor contents, no parameters. protobufjs builds a message object, then converts it to a plain
 * one (int64 shapes through `long` to strings) and back on the way out; on the fraud model that was a tenth of the
 * gateway's own CPU per gRPC call (bench/quick.ts --profile).
 *
 * Both are shortcuts with a fallback, never a second protocol implementation: `fastDecodeInferRequest` returns the
 * same object proto-loader's `requestDeserialize` would (LOADER_OPTIONS: defaults, int64 as decimal strings), or
 * undefined for anything it does not handle or that is not well formed (then the full decode runs and reports it).
 * `fastEncodeInferResponse` returns undefined unless the message is raw and has no parameters.
 */
import type { ModelInferRequest__Output } from './generated/inference/ModelInferRequest.generated.ts';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.generated.ts';

type InputTensor = ModelInferRequest__Output['inputs'][number];
type RequestedOutput = ModelInferRequest__Output['outputs'][number];

/** Wire types of protobuf fields. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Reads one protobuf message's fields; every read returns -1 (or undefined) when the bytes run out or overflow. */
class Reader {
  at: number;
  readonly end: number;
  readonly bytes: Buffer;

  constructor(bytes: Buffer, at: number, end: number) {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
  }

  /** A varint up to 2^53 - 1 (tags, lengths, dimensions); -1 when truncated or larger (negative int64s too). */
  varint(): number {
    const { bytes, end } = this;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8 && this.at < end; i++) {
      const byte = bytes[this.at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value <= Number.MAX_SAFE_INTEGER ? value : -1;
      scale *= 128;
    }
    return -1;
  }

  /** The end of a length-delimited field's bytes (its start is `at`), or -1. */
  delimited(): number {
    const length = this.varint();
    return length < 0 || length > this.end - this.at ? -1 : this.at + length;
  }

  /** An embedded message, read by `read` from its own bytes; undefined when either cannot. */
  message<T>(read: (r: Reader) => T | undefined): T | undefined {
    const stop = this.delimited();
    if (stop < 0) return undefined;
    const value = read(new Reader(this.bytes, this.at, stop));
    this.at = stop;
    return value;
  }

  string(): string | undefined {
    const stop = this.delimited();
    if (stop < 0) return undefined;
    const text = this.bytes.toString('utf8', this.at, stop);
    this.at = stop;
    return text;
  }

  /** Skips a field of `type` (not a group); false when it cannot. */
  skip(type: number): boolean {
    if (type === VARINT) {
      for (let i = 0; i < 10; i++) {
        if (this.at >= this.end) return false;
        if ((this.bytes[this.at++] as number) < 0x80) return true;
      }
      return false;
    }
    if (type === I64) this.at += 8;
    else if (type === I32) this.at += 4;
    else if (type === LEN) {
      const stop = this.delimited();
      if (stop < 0) return false;
      this.at = stop;
    } else return false;
    return this.at <= this.end;
  }
}

/**
 * The decoded request, as proto-loader's deserializer would give it, when the message uses only model_name,
 * model_version, id, inputs (name, datatype, shape), outputs (name) and raw_input_contents; else undefined.
 */
export function fastDecodeInferRequest(bytes: Buffer): ModelInferRequest__Output | undefined {
  const message: ModelInferRequest__Output = {
    inputs: [],
    outputs: [],
    raw_input_contents: [],
    parameters: {},
    model_name: '',
    model_version: '',
    id: '',
  };
  const r = new Reader(bytes, 0, bytes.length);
  while (r.at < r.end) {
    const tag = r.varint();
    if (tag < 0) return undefined;
    const field = Math.floor(tag / 8);
    const type = tag % 8;
    if (field >= 1 && field <= 7 && type !== LEN) return undefined;
    switch (field) {
      case 1:
      case 2:
      case 3: {
        const text = r.string();
        if (text === undefined) return undefined;
        if (field === 1) message.model_name = text;
        else if (field === 2) message.model_version = text;
        else message.id = text;
        break;
      }
      case 5: {
        const input = r.message(readInput);
        if (input === undefined) return undefined;
        message.inputs.push(input);
        break;
      }
      case 6: {
        const output = r.message(readOutput);
        if (output === undefined) return undefined;
        message.outputs.push(output);
        break;
      }
      case 7: {
        const stop = r.delimited();
        if (stop < 0) return undefined;
        message.raw_input_contents.push(bytes.subarray(r.at, stop));
        r.at = stop;
        break;
      }
      case 4: // parameters
        return undefined;
      default:
        if (!r.skip(type)) return undefined;
    }
  }
  return message;
}

function readInput(r: Reader): InputTensor | undefined {
  const input: InputTensor = { shape: [], parameters: {}, name: '', datatype: '', contents: null };
  while (r.at < r.end) {
    const tag = r.varint();
    if (tag < 0) return undefined;
    const field = Math.floor(tag / 8);
    const type = tag % 8;
    if (field === 1 || field === 2) {
      const text = type === LEN ? r.string() : undefined;
      if (text === undefined) return undefined;
      if (field === 1) input.name = text;
      else input.datatype = text;
    } else if (field === 3) {
      // Packed (one length-delimited run) or not (one varint per dimension); both are valid encodings.
      if (type === VARINT) {
        const d = r.varint();
        if (d < 0) return undefined;
        input.shape.push(String(d));
      } else if (type === LEN) {
        const stop = r.delimited();
        if (stop < 0) return undefined;
        const dims = new Reader(r.bytes, r.at, stop);
        while (dims.at < stop) {
          const d = dims.varint();
          if (d < 0) return undefined;
          input.shape.push(String(d));
        }
        r.at = stop;
      } else return undefined;
    } else if (field === 4 || field === 5) {
      return undefined; // parameters, typed contents
    } else if (!r.skip(type)) return undefined;
  }
  return input;
}

function readOutput(r: Reader): RequestedOutput | undefined {
  const output: RequestedOutput = { parameters: {}, name: '' };
  while (r.at < r.end) {
    const tag = r.varint();
    if (tag < 0) return undefined;
    const field = Math.floor(tag / 8);
    const type = tag % 8;
    if (field === 1) {
      const text = type === LEN ? r.string() : undefined;
      if (text === undefined) return undefined;
      output.name = text;
    } else if (field === 2) {
      return undefined; // parameters
    } else if (!r.skip(type)) return undefined;
  }
  return output;
}

/** Bytes a varint of `value` (a non-negative safe integer) takes. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  while (value >= 128) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** UTF-8 length of `text`; names and ids are short and ASCII, which a loop measures faster than a native call. */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return text.length;
}

/** Bytes of a length-delimited field (tag, length, `length` bytes) of a field number below 16. */
const delimitedSize = (length: number) => 1 + varintSize(length) + length;

/**
 * The serialized ModelInferResponse after `offset` bytes left for the caller (the gRPC frame prefix), when it has
 * raw output contents and no parameters (the answer to a raw request); undefined otherwise, for protobufjs.
 */
export function fastEncodeInferResponse(message: ModelInferResponse, offset = 0): Buffer | undefined {
  const raw = message.raw_output_contents;
  const outputs = message.outputs ?? [];
  if (raw === undefined || message.parameters !== undefined) return undefined;
  const { model_name = '', model_version = '', id = '' } = message;
  let size = offset;
  if (model_name !== '') size += delimitedSize(utf8Length(model_name));
  if (model_version !== '') size += delimitedSize(utf8Length(model_version));
  if (id !== '') size += delimitedSize(utf8Length(id));
  // Each output's body size and its packed shape's size, kept for the writing pass.
  const sizes = new Array<number>(outputs.length * 2);
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs[i] as (typeof outputs)[number];
    if (output.parameters !== undefined || output.contents !== undefined) return undefined;
    let shape = 0;
    for (const d of output.shape ?? []) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
      shape += varintSize(d);
    }
    let body = shape > 0 ? delimitedSize(shape) : 0;
    if (output.name) body += delimitedSize(utf8Length(output.name));
    if (output.datatype) body += delimitedSize(utf8Length(output.datatype));
    sizes[2 * i] = body;
    sizes[2 * i + 1] = shape;
    size += delimitedSize(body);
  }
  for (const bytes of raw) {
    if (typeof bytes === 'string') return undefined; // base64 text: protobufjs's to decode
    size += delimitedSize(bytes.byteLength);
  }

  const out = Buffer.allocUnsafe(size);
  let at = offset;
  const text = (field: number, value: string) => {
    const length = utf8Length(value);
    out[at++] = (field << 3) | LEN;
    at = writeVarint(out, at, length);
    if (length === value.length) for (let i = 0; i < length; i++) out[at++] = value.charCodeAt(i);
    else at += out.write(value, at);
  };
  if (model_name !== '') text(1, model_name);
  if (model_version !== '') text(2, model_version);
  if (id !== '') text(3, id);
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs[i] as (typeof outputs)[number];
    out[at++] = (5 << 3) | LEN;
    at = writeVarint(out, at, sizes[2 * i] as number);
    if (output.name) text(1, output.name);
    if (output.datatype) text(2, output.datatype);
    const shape = sizes[2 * i + 1] as number;
    if (shape > 0) {
      out[at++] = (3 << 3) | LEN;
      at = writeVarint(out, at, shape);
      for (const d of output.shape as number[]) at = writeVarint(out, at, d);
    }
  }
  for (const bytes of raw as Uint8Array[]) {
    out[at++] = (6 << 3) | LEN;
    at = writeVarint(out, at, bytes.byteLength);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}
