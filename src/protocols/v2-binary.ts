/**
 * The binary tensor data extension of the V2 REST protocol (Triton docs/protocol/extension_binary_data.md):
 * a JSON header of `Inference-Header-Content-Length` bytes, then each binary input's raw bytes in input order.
 *
 * Raw bytes are little-endian, row-major, without padding; BOOL is one byte 0 or 1; BYTES elements are each a
 * 4-byte little-endian length then the bytes. Every size and offset is checked before a slice is taken. Decoded
 * tensors are views into the body when the offset is aligned for the datatype (zero copy) and copies when not;
 * views share the body's memory, so never transfer (detach) a decoded tensor's buffer. Little-endian hosts only
 * (x86-64, arm64).
 */
import {
  DATATYPE_SIZE,
  type Datatype,
  type InferRequest,
  type InferResponse,
  ModelportError,
  type TensorData,
  tensorBytes,
} from '../core/index.ts';
import { parseJsonBody } from './json-body.ts';
import { inputError } from './tensor-json.ts';
import { decodeV2Json, jsonOutput, outputHeader, readInferRequest, responseObject } from './v2-json.ts';

/** Request header giving the JSON header's length in bytes (HTTP header names are case-insensitive). */
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

/**
 * Decodes a V2 request body, JSON or binary: with the `Inference-Header-Content-Length` header in `headers`
 * (lower-cased names, as node:http gives them) the body is a JSON header plus binary tensor data; without it,
 * plain JSON.
 *
 * @example decodeV2Request(body, req.headers)
 * @throws ModelportError `invalid_request` for a bad header value or leftover bytes, `invalid_input` for a
 *   binary_data_size that does not fit the body or the input's shape, plus everything `decodeV2Json` throws
 */
export function decodeV2Request(
  body: Buffer,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): InferRequest {
  const raw = headers[HEADER_LENGTH_HEADER];
  if (raw === undefined) return decodeV2Json(body);
  const headerLength = parseHeaderLength(raw, body.length);
  let offset = headerLength;
  const take = (input: string, datatype: Datatype, shape: number[], n: number, size: number): TensorData => {
    const left = body.length - offset;
    if (size > left) {
      throw inputError(input, `binary_data_size ${size} runs past the end of the body (${left} bytes left)`);
    }
    const start = offset;
    offset += size;
    return datatype === 'BYTES'
      ? readBytes(body, start, size, n, input)
      : readFixed(body, start, size, datatype, n, shape, input);
  };
  const request = readInferRequest(parseJsonBody(body.subarray(0, headerLength), 'the JSON header'), take);
  if (offset !== body.length) {
    throw new ModelportError(
      'invalid_request',
      `the body has ${body.length - offset} bytes after the binary tensor data; the inputs' binary_data_size values must add up to the body length minus ${HEADER_LENGTH_HEADER}`,
      { field: HEADER_LENGTH_HEADER },
    );
  }
  return request;
}

function parseHeaderLength(raw: string | string[], bodyLength: number): number {
  const value = typeof raw === 'string' ? raw.trim() : undefined;
  if (value === undefined || !/^\d{1,15}$/.test(value)) {
    throw new ModelportError('invalid_request', `${HEADER_LENGTH_HEADER} must be one integer >= 0`, {
      field: HEADER_LENGTH_HEADER,
    });
  }
  const length = Number(value);
  if (length > bodyLength) {
    throw new ModelportError(
      'invalid_request',
      `${HEADER_LENGTH_HEADER} is ${length} but the body has only ${bodyLength} bytes`,
      { field: HEADER_LENGTH_HEADER },
    );
  }
  return length;
}

function readFixed(
  body: Buffer,
  start: number,
  size: number,
  datatype: Exclude<Datatype, 'BYTES'>,
  n: number,
  shape: number[],
  input: string,
): TensorData {
  const width = DATATYPE_SIZE[datatype];
  if (size !== n * width) {
    throw inputError(
      input,
      `binary_data_size is ${size} but ${n} ${datatype} elements of shape [${shape.join(',')}] take ${n * width} bytes`,
    );
  }
  const at = body.byteOffset + start;
  // Typed arrays need their offset aligned to the element size: view when it is, copy when not.
  const buffer = at % width === 0 ? body.buffer : new Uint8Array(body.subarray(start, start + size)).buffer;
  const offset = at % width === 0 ? at : 0;
  switch (datatype) {
    case 'BOOL': {
      const bools = new Uint8Array(buffer, offset, n);
      for (let i = 0; i < n; i++) {
        if (bools[i]! > 1) throw inputError(input, `BOOL element ${i} is the byte ${bools[i]}; BOOL bytes are 0 or 1`);
      }
      return bools;
    }
    case 'UINT8':
      return new Uint8Array(buffer, offset, n);
    case 'INT8':
      return new Int8Array(buffer, offset, n);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(buffer, offset, n);
    case 'INT16':
      return new Int16Array(buffer, offset, n);
    case 'UINT32':
      return new Uint32Array(buffer, offset, n);
    case 'INT32':
      return new Int32Array(buffer, offset, n);
    case 'UINT64':
      return new BigUint64Array(buffer, offset, n);
    case 'INT64':
      return new BigInt64Array(buffer, offset, n);
    case 'FP32':
      return new Float32Array(buffer, offset, n);
    case 'FP64':
      return new Float64Array(buffer, offset, n);
  }
}

/** BYTES: `n` elements of a 4-byte little-endian length then the bytes, filling exactly `size` bytes. */
function readBytes(body: Buffer, start: number, size: number, n: number, input: string): Uint8Array[] {
  // Each element takes at least its 4-byte length, which bounds `n` before anything is allocated.
  if (n > size / 4) throw inputError(input, `binary_data_size ${size} is too small for ${n} BYTES elements`);
  const end = start + size;
  const items: Uint8Array[] = new Array(n);
  let at = start;
  for (let i = 0; i < n; i++) {
    if (end - at < 4) throw inputError(input, `BYTES element ${i} has no 4-byte length prefix within binary_data_size`);
    const length = body.readUInt32LE(at);
    at += 4;
    if (length > end - at) {
      throw inputError(
        input,
        `BYTES element ${i} claims ${length} bytes but only ${end - at} remain in binary_data_size`,
      );
    }
    items[i] = new Uint8Array(body.buffer, body.byteOffset + at, length);
    at += length;
  }
  if (at !== end)
    throw inputError(input, `binary_data_size ${size} has ${end - at} bytes after the last BYTES element`);
  return items;
}

/** An encoded V2 response: write `body` (one buffer, or several for writev) with these headers. */
export interface EncodedV2Response {
  /**
   * Plain JSON is a string: node:http writes a string body and its header in one `write`, a Buffer body with a
   * second chunk (`writev`), which cost a bare server about a fifth more CPU per answer here.
   */
  body: string | Buffer[];
  /** Value for the `Inference-Header-Content-Length` response header; undefined when there is no binary data. */
  headerLength: number | undefined;
  /** `application/json`, or `application/octet-stream` when binary data follows the JSON header. */
  contentType: string;
}

/**
 * Encodes a response, as binary the outputs the request asked for that way (`binary_data` on a requested
 * output, else the request's `binary_data_output` parameter) and as JSON the others.
 *
 * @example
 *   const { body, headerLength, contentType } = encodeV2Response(response, request);
 *   // headerLength !== undefined -> set Inference-Header-Content-Length: headerLength
 */
export function encodeV2Response(response: InferResponse, request?: InferRequest): EncodedV2Response {
  const binary = binaryOutputs(response, request);
  if (binary.size === 0) {
    return {
      body: JSON.stringify(responseObject(response, jsonOutput)),
      headerLength: undefined,
      contentType: 'application/json',
    };
  }
  const chunks: Buffer[] = [];
  const header = responseObject(response, (output) => {
    if (!binary.has(output.name)) return jsonOutput(output);
    const bytes = tensorBytes(output);
    chunks.push(bytes);
    const described = outputHeader(output);
    described['parameters'] = { ...output.parameters, binary_data_size: bytes.length };
    return described;
  });
  const json = Buffer.from(JSON.stringify(header));
  return { body: [json, ...chunks], headerLength: json.length, contentType: 'application/octet-stream' };
}

function binaryOutputs(response: InferResponse, request: InferRequest | undefined): Set<string> {
  const all = request?.parameters?.['binary_data_output'] === true;
  const names = new Set<string>();
  for (const output of response.outputs) {
    const asked = request?.outputs?.find((o) => o.name === output.name)?.parameters?.['binary_data'];
    if (asked === true || (asked === undefined && all)) names.add(output.name);
  }
  return names;
}
