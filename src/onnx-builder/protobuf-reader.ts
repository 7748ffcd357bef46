/**
 * A minimal protobuf wire-format decoder, the mirror of `ProtoWriter`: it splits a message into its fields without
 * a schema. Used to check what the writer produced and to read a few fields of an ONNX file without ONNX Runtime.
 *
 * ```ts
 * const model = readFields(bytes);            // [{ field: 1, wireType: 0, value: 8n }, ...]
 * const graph = readFields(fieldBytes(model, 7)!);
 * ```
 */
import { WireType } from './protobuf-writer.ts';

/** One field as it appears on the wire: a varint as an unsigned bigint; fixed32, fixed64 and LEN as raw bytes. */
export interface WireField {
  field: number;
  wireType: number;
  value: bigint | Uint8Array;
}

class Cursor {
  pos = 0;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.done) throw new RangeError('truncated varint');
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new RangeError('varint longer than ten bytes');
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new RangeError('truncated field');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Splits an encoded message into its fields, in wire order. Throws RangeError on truncated or malformed input. */
export function readFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  const c = new Cursor(bytes);
  while (!c.done) {
    const tag = c.varint();
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let value: bigint | Uint8Array;
    if (wireType === WireType.VARINT) value = c.varint();
    else if (wireType === WireType.FIXED64) value = c.take(8);
    else if (wireType === WireType.LEN) value = c.take(Number(c.varint()));
    else if (wireType === WireType.FIXED32) value = c.take(4);
    else throw new RangeError(`unsupported wire type ${wireType}`);
    fields.push({ field, wireType, value });
  }
  return fields;
}

/** Decodes a packed repeated varint payload (a run of bare varints) as signed 64-bit integers. */
export function readPackedVarints(payload: Uint8Array): bigint[] {
  const out: bigint[] = [];
  const c = new Cursor(payload);
  while (!c.done) out.push(BigInt.asIntN(64, c.varint()));
  return out;
}

/** Every value of a LEN field (strings, bytes, embedded messages, packed arrays), in wire order. */
export function fieldBytesAll(fields: readonly WireField[], field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields) if (f.field === field && f.wireType === WireType.LEN) out.push(f.value as Uint8Array);
  return out;
}

/** The last value of a LEN field (protobuf's rule when a singular field repeats), or undefined. */
export function fieldBytes(fields: readonly WireField[], field: number): Uint8Array | undefined {
  return fieldBytesAll(fields, field).at(-1);
}

/** Every varint value of a field (unpacked encoding), as signed 64-bit integers. */
export function fieldVarints(fields: readonly WireField[], field: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields)
    if (f.field === field && f.wireType === WireType.VARINT) out.push(BigInt.asIntN(64, f.value as bigint));
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The last value of a string field, or undefined. */
export function fieldString(fields: readonly WireField[], field: number): string | undefined {
  const bytes = fieldBytes(fields, field);
  return bytes === undefined ? undefined : utf8.decode(bytes);
}
