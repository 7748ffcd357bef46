/**
 * Content sniffing of model files before ONNX Runtime sees them. Models are data: only an ONNX protobuf
 * (`ModelProto`) passes. Pickles, zip archives (PyTorch `.pt`, joblib, Keras) and YAML with tags are refused by
 * their bytes, whatever the file is called, and so is anything whose top-level protobuf structure does not walk
 * cleanly to the end of the file with an `ir_version` and a `graph`.
 */
import { open } from 'node:fs/promises';
import { ModelportError } from '../../core/index.ts';

const HEAD_BYTES = 4096;

/** ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited). */
const MODEL_PROTO_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], // ir_version
  [2, 2], // producer_name
  [3, 2], // producer_version
  [4, 2], // domain
  [5, 0], // model_version
  [6, 2], // doc_string
  [7, 2], // graph
  [8, 2], // opset_import
  [14, 2], // metadata_props
  [20, 2], // training_info
  [25, 2], // functions
  [26, 2], // configuration
]);

function refuse(reason: string): never {
  throw new ModelportError('invalid_model', `the file is not an ONNX model: ${reason}`, { field: 'file' });
}

/** Names the format of a file head we refuse on sight, or undefined. */
export function refusedFormat(head: Uint8Array): string | undefined {
  if (head.length === 0) return 'it is empty';
  if (head[0] === 0x80 && (head[1] ?? 0) >= 0x02 && (head[1] ?? 0) <= 0x05) {
    return 'it is a Python pickle, which runs code when loaded; export the model to ONNX';
  }
  if (
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    (head[2] === 0x03 || head[2] === 0x05) &&
    (head[3] === 0x04 || head[3] === 0x06)
  ) {
    return 'it is a zip archive (a PyTorch .pt, joblib or Keras file); export the model to ONNX';
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head);
  if (/(^|[\s:\-[{,])!!?[A-Za-z][\w./:-]*/m.test(text) && /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text)) {
    return 'it is YAML with tags, which can construct objects when loaded; export the model to ONNX';
  }
  return undefined;
}

interface Reader {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

/** Reads a varint at `bytes[offset]`: [value, bytes used], or undefined when malformed or truncated. */
function varint(bytes: Uint8Array, offset: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[offset + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return Number.isSafeInteger(value) ? [value, i + 1] : undefined;
    scale *= 128;
  }
  return undefined;
}

/** Walks the top-level fields of a ModelProto; reads only tags and lengths, never the payloads. */
async function walkModelProto(reader: Reader): Promise<void> {
  const seen = new Set<number>();
  let position = 0;
  while (position < reader.size) {
    const bytes = await reader.read(position, 20);
    const tag = varint(bytes, 0);
    if (!tag) return refuse('its protobuf structure is malformed or truncated');
    const field = Math.floor(tag[0] / 8);
    const wireType = tag[0] % 8;
    const expected = MODEL_PROTO_FIELDS.get(field);
    if (expected !== undefined && expected !== wireType)
      return refuse('its protobuf structure is not an ONNX ModelProto');
    let next = position + tag[1];
    if (wireType === 0) {
      const value = varint(bytes, tag[1]);
      if (!value) return refuse('its protobuf structure is malformed or truncated');
      next += value[1];
    } else if (wireType === 2) {
      const length = varint(bytes, tag[1]);
      if (!length) return refuse('its protobuf structure is malformed or truncated');
      next += length[1] + length[0];
    } else if (wireType === 1) {
      next += 8;
    } else if (wireType === 5) {
      next += 4;
    } else {
      return refuse('its protobuf structure is malformed');
    }
    if (next > reader.size) return refuse('it is truncated');
    seen.add(field);
    position = next;
  }
  if (!seen.has(1)) refuse('it has no ir_version');
  if (!seen.has(7)) refuse('it has no graph');
}

/** Throws `invalid_model` unless `path` holds what could be an ONNX model. Messages never include the path. */
export async function sniffModelFile(path: string): Promise<void> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new ModelportError('invalid_model', 'the model file cannot be read', { field: 'file', cause: error });
  }
  try {
    const { size } = await file.stat();
    const read = async (position: number, length: number): Promise<Uint8Array> => {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - position)));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      return buffer.subarray(0, bytesRead);
    };
    const reason = refusedFormat(await read(0, HEAD_BYTES));
    if (reason) refuse(reason);
    await walkModelProto({ size, read });
  } finally {
    await file.close();
  }
}
