/**
 * gRPC over HTTP/2, the parts a unary server needs (github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * the length-prefixed message frame, the `grpc-timeout` header, the `grpc-message` percent-encoding and the
 * per-message compression flag. No state and no sockets: grpc-server.ts drives node:http2 with these.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { GrpcStatus } from '../../core/index.ts';

/** Status codes the transport itself answers (the error catalogue holds the ones domain errors map to). */
export const WireStatus = { OK: 0, CANCELLED: 1, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;

/** Request encodings this server decodes; every answer is sent uncompressed, which any client accepts. */
export const ACCEPT_ENCODING = 'identity,gzip,deflate';

/** Thrown for a request body that is not one well-formed message; `status` is the gRPC code to answer. */
export class WireError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const { INVALID_ARGUMENT, RESOURCE_EXHAUSTED } = GrpcStatus;

/** One message in gRPC framing: a flag byte (0, uncompressed), its length as uint32 big-endian, the bytes. */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

/** Frames in place a message written after 5 bytes left free at the start of `buffer` (no copy); returns it. */
export function framePrefix(buffer: Buffer): Buffer {
  buffer[0] = 0;
  buffer.writeUInt32BE(buffer.length - 5, 1);
  return buffer;
}

/**
 * The declared length of the message a body starts with, once its 5-byte prefix has arrived (else undefined),
 * so an oversized request is refused before its bytes are buffered.
 */
export function declaredLength(head: Buffer): number | undefined {
  return head.length >= 5 ? head.readUInt32BE(1) : undefined;
}

/**
 * The single message of a unary request body, decompressed with `encoding` when its flag says so.
 * Throws WireError: INVALID_ARGUMENT for a truncated body or more than one message, RESOURCE_EXHAUSTED past
 * `maxBytes` (compressed or not), UNIMPLEMENTED for an encoding not in ACCEPT_ENCODING.
 */
export function unaryMessage(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer {
  const length = declaredLength(body);
  if (length === undefined) throw new WireError(INVALID_ARGUMENT, 'the request has no message');
  if (length > maxBytes) throw tooLarge(maxBytes);
  if (body.length < 5 + length) throw new WireError(INVALID_ARGUMENT, 'the request message is truncated');
  if (body.length > 5 + length) throw new WireError(INVALID_ARGUMENT, 'a unary call takes exactly one message');
  const message = body.subarray(5);
  if (body[0] === 0) return message;
  if (body[0] !== 1) throw new WireError(INVALID_ARGUMENT, `the message flag ${body[0]} is not 0 or 1`);
  const inflate = encoding === 'gzip' ? gunzipSync : encoding === 'deflate' ? inflateSync : undefined;
  if (!inflate) {
    throw new WireError(
      WireStatus.UNIMPLEMENTED,
      `grpc-encoding ${encoding ?? '(none)'} is not supported; use one of ${ACCEPT_ENCODING}`,
    );
  }
  try {
    return inflate(message, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
    throw new WireError(INVALID_ARGUMENT, `the message is not valid ${encoding}`);
  }
}

function tooLarge(maxBytes: number): WireError {
  return new WireError(RESOURCE_EXHAUSTED, `the request message is larger than the limit of ${maxBytes} bytes`);
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` ("100m", "5S": at most 8 digits and a unit) in milliseconds; undefined when absent or malformed. */
export function parseTimeout(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
}

/** `grpc-message` encoding: printable ASCII stays, everything else (and '%') becomes %XX of its UTF-8 bytes. */
export function encodeStatusMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The `model_name` (field 1) and `model_version` (field 2) of a serialized ModelInferRequest, read by skipping over
 * the other top-level fields without decoding them (the tensors are most of the message), so a call can be
 * authorized and admitted before the message is parsed. Last occurrence wins, as in a full decode. Undefined when
 * the bytes are not well-formed at the top level (the full decode then reports it).
 */
export function peekModelTarget(bytes: Uint8Array): { name: string; version: string } | undefined {
  let name = '';
  let version = '';
  let at = 0;
  const end = bytes.length;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= end) return -1;
      const byte = bytes[at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return -1;
  };
  while (at < end) {
    const tag = varint();
    if (tag < 0) return undefined;
    const field = Math.floor(tag / 8);
    const type = tag % 8;
    if (type === 0) {
      if (varint() < 0) return undefined;
    } else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else if (type === 2) {
      const length = varint();
      if (length < 0 || at + length > end) return undefined;
      if (field === 1 || field === 2) {
        const text = Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString('utf8');
        if (field === 1) name = text;
        else version = text;
      }
      at += length;
    } else return undefined; // groups (3, 4) and unknown types: leave it to the full decode
    if (at > end) return undefined;
  }
  return { name, version };
}
