/**
 * A minimal protobuf wire-format encoder: enough to write ONNX models without a protobuf library.
 *
 * Messages are written field by field, in the order the caller chooses; a nested message is encoded on its own
 * writer and embedded as bytes. Example:
 *
 * ```ts
 * const opset = new ProtoWriter().string(1, '').int64(2, 17).finish();
 * const model = new ProtoWriter().int64(1, 8).message(8, opset).finish();
 * ```
 */

/** Wire types of the protobuf encoding (https://protobuf.dev/programming-guides/encoding/). */
export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;

const utf8 = new TextEncoder();

export class ProtoWriter {
  #buf = new Uint8Array(64);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  /** A varint field (int32, int64, uint64, enum). Negative values take ten bytes, as protobuf's int64 does. */
  int64(field: number, value: number | bigint): this {
    this.#tag(field, WireType.VARINT);
    this.#varint(value);
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.int64(field, value ? 1 : 0);
  }

  /** A `float` field (fixed32, IEEE 754 single, little-endian). */
  float(field: number, value: number): this {
    this.#tag(field, WireType.FIXED32);
    this.#reserve(4);
    this.#view.setFloat32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** A `fixed32` field (unsigned 32-bit, little-endian). */
  fixed32(field: number, value: number): this {
    this.#tag(field, WireType.FIXED32);
    this.#reserve(4);
    this.#view.setUint32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** A `double` field (fixed64, IEEE 754 double, little-endian). */
  double(field: number, value: number): this {
    this.#tag(field, WireType.FIXED64);
    this.#reserve(8);
    this.#view.setFloat64(this.#len, value, true);
    this.#len += 8;
    return this;
  }

  /** A length-delimited `bytes` field. */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WireType.LEN);
    this.#varint(value.length);
    this.#append(value);
    return this;
  }

  /** A length-delimited UTF-8 `string` field. */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message, already encoded (an empty message is still written: presence can matter). */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  /** A packed repeated varint field (`repeated int64 x = n [packed = true]`); nothing is written when empty. */
  packedInt64(field: number, values: readonly (number | bigint)[]): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) inner.#varint(v);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated `float` field; nothing is written when empty. */
  packedFloat(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, bytes);
  }

  /** The encoded message. The writer can keep writing afterwards; the returned bytes do not change. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  #tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`bad field number ${field}`);
    this.#varint(field * 8 + wireType);
  }

  #varint(value: number | bigint): void {
    this.#reserve(10);
    if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) {
      // Division, not bit shifts: shifts truncate to 32 bits.
      let v = value;
      while (v >= 0x80) {
        this.#buf[this.#len++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.#buf[this.#len++] = v;
      return;
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#buf[this.#len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#len++] = Number(v);
  }

  #append(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}
