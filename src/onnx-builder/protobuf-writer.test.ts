import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fieldBytes,
  fieldBytesAll,
  fieldString,
  fieldVarints,
  readFields,
  readPackedVarints,
} from './protobuf-reader.ts';
import { ProtoWriter, WireType } from './protobuf-writer.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('ProtoWriter', () => {
  test('matches the byte examples of the protobuf encoding guide', () => {
    assert.equal(hex(new ProtoWriter().int64(1, 150).finish()), '089601');
    assert.equal(hex(new ProtoWriter().string(2, 'testing').finish()), '120774657374696e67');
    // An embedded message: field 3 holding { 1: 150 }.
    assert.equal(hex(new ProtoWriter().message(3, new ProtoWriter().int64(1, 150).finish()).finish()), '1a03089601');
  });

  test('writes negative int64 as ten-byte two’s complement, and large values exactly', () => {
    assert.equal(hex(new ProtoWriter().int64(1, -1).finish()), '08ffffffffffffffffff01');
    const values = [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, -2, -(2 ** 40)];
    const w = new ProtoWriter();
    for (const v of values) w.int64(4, v);
    w.int64(4, 2n ** 63n - 1n).int64(4, -(2n ** 63n));
    assert.deepEqual(fieldVarints(readFields(w.finish()), 4), [...values.map(BigInt), 2n ** 63n - 1n, -(2n ** 63n)]);
  });

  test('rejects non-integer varints and bad field numbers', () => {
    assert.throws(() => new ProtoWriter().int64(1, 1.5), RangeError);
    assert.throws(() => new ProtoWriter().int64(0, 1), RangeError);
    assert.throws(() => new ProtoWriter().int64(2 ** 29, 1), RangeError);
  });

  test('round-trips every wire type through the reader', () => {
    const inner = new ProtoWriter().string(1, 'ünïcode ✓').finish();
    const bytes = new ProtoWriter()
      .int64(1, 300)
      .bool(2, true)
      .float(3, 1.5)
      .double(4, -2.25)
      .fixed32(5, 0xdeadbeef)
      .bytes(6, new Uint8Array([0, 255, 7]))
      .message(7, inner)
      .message(8, new Uint8Array(0))
      .packedInt64(9, [1, -1, 300n])
      .packedFloat(10, new Float32Array([0.5, -3]))
      .finish();
    const fields = readFields(bytes);
    assert.deepEqual(
      fields.map((f) => [f.field, f.wireType]),
      [
        [1, WireType.VARINT],
        [2, WireType.VARINT],
        [3, WireType.FIXED32],
        [4, WireType.FIXED64],
        [5, WireType.FIXED32],
        [6, WireType.LEN],
        [7, WireType.LEN],
        [8, WireType.LEN],
        [9, WireType.LEN],
        [10, WireType.LEN],
      ],
    );
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    assert.deepEqual(fieldVarints(fields, 1), [300n]);
    assert.deepEqual(fieldVarints(fields, 2), [1n]);
    assert.equal(view(fields[2]!.value as Uint8Array).getFloat32(0, true), 1.5);
    assert.equal(view(fields[3]!.value as Uint8Array).getFloat64(0, true), -2.25);
    assert.equal(view(fields[4]!.value as Uint8Array).getUint32(0, true), 0xdeadbeef);
    assert.deepEqual([...fieldBytes(fields, 6)!], [0, 255, 7]);
    assert.equal(fieldString(readFields(fieldBytes(fields, 7)!), 1), 'ünïcode ✓');
    assert.equal(fieldBytes(fields, 8)!.length, 0, 'an empty message is still present');
    assert.deepEqual(readPackedVarints(fieldBytes(fields, 9)!), [1n, -1n, 300n]);
    const packedFloats = fieldBytes(fields, 10)!;
    assert.deepEqual([view(packedFloats).getFloat32(0, true), view(packedFloats).getFloat32(4, true)], [0.5, -3]);
  });

  test('repeated fields keep their order; empty packed fields are omitted', () => {
    const bytes = new ProtoWriter().string(1, 'a').string(1, 'b').packedInt64(2, []).packedFloat(3, []).finish();
    const fields = readFields(bytes);
    assert.deepEqual(
      fieldBytesAll(fields, 1).map((b) => Buffer.from(b).toString()),
      ['a', 'b'],
    );
    assert.equal(fields.length, 2);
  });

  test('grows past its initial buffer and finish() returns a stable copy', () => {
    const w = new ProtoWriter();
    const big = new Uint8Array(10_000).map((_, i) => i % 251);
    w.bytes(1, big);
    const first = w.finish();
    w.int64(2, 1);
    assert.equal(first.length, 10_000 + 3);
    assert.deepEqual(fieldBytes(readFields(first), 1), big);
    assert.equal(readFields(w.finish()).length, 2);
  });

  test('the reader rejects truncated input', () => {
    const bytes = new ProtoWriter().string(1, 'hello').finish();
    assert.throws(() => readFields(bytes.subarray(0, bytes.length - 1)), /truncated/);
    assert.throws(() => readFields(new Uint8Array([0x08, 0x80])), /truncated varint/);
  });
});
