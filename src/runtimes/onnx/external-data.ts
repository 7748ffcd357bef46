/**
 * Finding ONNX external data references without ONNX Runtime. A TensorProto may keep its values in another file
 * (`data_location: EXTERNAL`, `external_data: [{ key: 'location', value: 'weights.bin' }]`), which ORT then opens
 * relative to the model: a hostile `location` such as `../../etc/passwd` or another artifact's blob would be read
 * as weights. Modelport stores a model as one self-contained blob, so registration refuses any external data.
 *
 * The walk follows only the messages that can hold tensors (graphs, nodes, attributes, functions, training info,
 * sparse tensors), reads tags and lengths with positioned reads, and skips tensor payloads unread, so a large
 * model costs a few reads, not its size in memory.
 */
import { open } from 'node:fs/promises';
import { ModelportError } from '../../core/index.ts';

type Kind = 'model' | 'training' | 'function' | 'graph' | 'node' | 'attribute' | 'sparse' | 'tensor';

/** Which LEN fields of each message hold a message that can (transitively) hold a TensorProto. */
const CHILDREN: Record<Kind, Record<number, Kind>> = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: {},
};
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const MAX_DEPTH = 64;
const WINDOW = 64 * 1024;

/** Thrown as `invalid_model` (field `file`) naming the reason; never the server path. */
function refuse(reason: string): ModelportError {
  return new ModelportError('invalid_model', `the ONNX model is refused: ${reason}`, { field: 'file' });
}

class WindowReader {
  readonly #read: (buffer: Buffer, position: number) => Promise<number>;
  readonly size: number;
  #start = 0;
  #bytes = Buffer.alloc(0);

  constructor(size: number, read: (buffer: Buffer, position: number) => Promise<number>) {
    this.size = size;
    this.#read = read;
  }

  async at(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (position < this.#start || end > this.#start + this.#bytes.length) {
      const buffer = Buffer.alloc(Math.min(Math.max(WINDOW, length), this.size - position));
      const read = await this.#read(buffer, position);
      this.#start = position;
      this.#bytes = buffer.subarray(0, read);
    }
    return this.#bytes.subarray(position - this.#start, end - this.#start);
  }
}

function varint(bytes: Buffer, offset: number): [value: number, used: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[offset + i];
    if (byte === undefined) break;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) break;
      return [value, i + 1];
    }
    scale *= 128;
  }
  throw refuse('its protobuf structure is malformed');
}

/** The `location` of one StringStringEntryProto (key 1, value 2), if its key is `location`. */
function entryLocation(bytes: Buffer): string | undefined {
  let key: string | undefined;
  let value: string | undefined;
  let at = 0;
  while (at < bytes.length) {
    const [tag, used] = varint(bytes, at);
    at += used;
    if (tag % 8 !== 2) throw refuse('an external_data entry is malformed');
    const [length, lengthUsed] = varint(bytes, at);
    at += lengthUsed;
    const text = bytes.subarray(at, at + length).toString('utf8');
    if (tag >> 3 === 1) key = text;
    else if (tag >> 3 === 2) value = text;
    at += length;
  }
  return key === 'location' ? (value ?? '') : undefined;
}

async function walk(
  reader: WindowReader,
  kind: Kind,
  start: number,
  end: number,
  depth: number,
  found: string[],
): Promise<void> {
  if (depth > MAX_DEPTH) throw refuse('its graphs are nested too deeply');
  let position = start;
  let external = false;
  let locations = 0;
  while (position < end) {
    const head = await reader.at(position, 20);
    const [tag, tagUsed] = varint(head, 0);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    let next = position + tagUsed;
    if (wireType === 0) {
      const [value, used] = varint(head, tagUsed);
      if (kind === 'tensor' && field === TENSOR_DATA_LOCATION && value === 1) external = true;
      next += used;
    } else if (wireType === 2) {
      const [length, used] = varint(head, tagUsed);
      const body = next + used;
      next = body + length;
      if (next > end) throw refuse('it is truncated');
      const child = CHILDREN[kind][field];
      if (child) await walk(reader, child, body, next, depth + 1, found);
      else if (kind === 'tensor' && field === TENSOR_EXTERNAL_DATA) {
        if (length > 64 * 1024) throw refuse('an external_data entry is too large');
        const location = entryLocation(Buffer.from(await reader.at(body, length)));
        if (location !== undefined) {
          found.push(location);
          locations++;
        }
      }
    } else if (wireType === 1) next += 8;
    else if (wireType === 5) next += 4;
    else throw refuse('its protobuf structure is malformed');
    if (next > end) throw refuse('it is truncated');
    position = next;
  }
  if (external && locations === 0) found.push('');
}

/**
 * The external data locations an ONNX file names, in file order ('' for a tensor marked external without one).
 * Example: `await onnxExternalData('model.onnx')` -> `['weights.bin', '../../etc/passwd']`.
 */
export async function onnxExternalData(path: string): Promise<string[]> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const reader = new WindowReader(size, async (buffer, position) => {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      return bytesRead;
    });
    const found: string[] = [];
    await walk(reader, 'model', 0, size, 0, found);
    return found;
  } finally {
    await handle.close();
  }
}

/** True when an external data location stays inside the model's folder (relative, no `..`, no backslash). */
export function locationInsideFolder(location: string): boolean {
  if (location === '' || location.includes('\0') || location.includes('\\')) return false;
  if (location.startsWith('/') || /^[A-Za-z]:/.test(location)) return false;
  return !location.split('/').includes('..');
}

/**
 * Throws `invalid_model` when the ONNX file at `path` uses external data: naming the first location outside the
 * model's folder if there is one, else asking for a self-contained file (Modelport stores one blob per version).
 */
export async function refuseExternalData(path: string): Promise<void> {
  const locations = await onnxExternalData(path);
  if (locations.length === 0) return;
  const outside = locations.find((l) => !locationInsideFolder(l));
  if (outside !== undefined) {
    throw refuse(
      `a tensor points at external data outside the model's folder (${JSON.stringify(outside.slice(0, 200))})`,
    );
  }
  throw refuse(
    'it keeps tensors in external data files; save one self-contained file, e.g. onnx.save_model(model, path, save_as_external_data=False)',
  );
}
