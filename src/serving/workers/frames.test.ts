import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Tensor } from '../../core/index.ts';
import { encodeError, encodePredict, encodePredicted, type Frame, FrameError, FrameReader } from './frames.ts';

const EVERY_DATATYPE: Tensor[] = [
  { name: 'bool', datatype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
  { name: 'u8', datatype: 'UINT8', shape: [1, 2], data: new Uint8Array([7, 255]) },
  { name: 'i8', datatype: 'INT8', shape: [2], data: new Int8Array([-128, 5]) },
  { name: 'u16', datatype: 'UINT16', shape: [1], data: new Uint16Array([65_535]) },
  { name: 'i16', datatype: 'INT16', shape: [1], data: new Int16Array([-3]) },
  { name: 'u32', datatype: 'UINT32', shape: [1], data: new Uint32Array([4_000_000_000]) },
  { name: 'i32', datatype: 'INT32', shape: [2], data: new Int32Array([-1, 2]) },
  { name: 'u64', datatype: 'UINT64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
  { name: 'i64', datatype: 'INT64', shape: [1], data: new BigInt64Array([-(2n ** 63n)]) },
  { name: 'f16', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
  { name: 'f32', datatype: 'FP32', shape: [2, 3], data: new Float32Array([0.1, 2, 3, 4, 5, Number.NaN]) },
  { name: 'f64', datatype: 'FP64', shape: [1], data: new Float64Array([Math.PI]) },
  { name: 'bytes', datatype: 'BYTES', shape: [2], data: [new Uint8Array([104, 105]), new Uint8Array(0)] },
  { name: 'empty', datatype: 'FP32', shape: [0, 30], data: new Float32Array(0) },
  { name: 'naïve ✓', datatype: 'FP32', shape: [], data: new Float32Array([1]) },
];

const plain = (tensors: Tensor[]) =>
  tensors.map((t) => ({ ...t, data: Array.isArray(t.data) ? t.data.map((b) => [...b]) : [...t.data] }));

/** One predicted frame of a 1x2 FP32 tensor named 'y': where its fields sit, to corrupt them. */
function predictedFrame(): Buffer {
  return encodePredicted(9, [{ name: 'y', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) }]);
}
// length 4 | magic 1 | kind 1 | id 4 | count 2 | name 2+1 | datatype 1 | rank 1 | dims 16 | byte length 8 | pad | data
const BYTE_LENGTH_AT = 4 + 1 + 1 + 4 + 2 + 3 + 1 + 1 + 16;

describe('worker frames', () => {
  test('a traced batch carries its traceparent, with or without named outputs; unknown flags are refused', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const x: Tensor = { name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) };
    const reader = new FrameReader();
    const [named, bare, untraced] = reader.push(
      Buffer.concat([
        encodePredict(1, [x], ['y'], traceparent),
        encodePredict(2, [x], undefined, traceparent),
        encodePredict(3, [x]),
      ]),
    ) as Extract<Frame, { kind: 'predict' }>[];
    assert.equal(named?.traceparent, traceparent);
    assert.deepEqual(named?.outputs, ['y']);
    assert.deepEqual(plain(named?.inputs ?? []), plain([x]));
    assert.equal(bare?.traceparent, traceparent);
    assert.equal(bare?.outputs, undefined);
    assert.deepEqual(plain(bare?.inputs ?? []), plain([x]));
    assert.equal(untraced?.traceparent, undefined);
    const bad = encodePredict(4, [x]);
    bad[10] = 4;
    assert.throws(() => new FrameReader().push(bad), FrameError);
  });

  test('every datatype, odd names and empty tensors round-trip exactly, with the requested outputs', () => {
    const reader = new FrameReader();
    const [predict] = reader.push(encodePredict(1, EVERY_DATATYPE, ['f32', 'bytes']));
    assert.equal(predict?.kind, 'predict');
    const p = predict as Extract<Frame, { kind: 'predict' }>;
    assert.equal(p.id, 1);
    assert.deepEqual(p.outputs, ['f32', 'bytes']);
    assert.deepEqual(plain(p.inputs), plain(EVERY_DATATYPE));
    for (const [i, t] of p.inputs.entries()) assert.equal(t.data.constructor, EVERY_DATATYPE[i]?.data.constructor);

    const [all] = reader.push(encodePredict(2, EVERY_DATATYPE.slice(0, 2)));
    assert.equal((all as Extract<Frame, { kind: 'predict' }>).outputs, undefined);
    const [answer] = reader.push(encodePredicted(3, EVERY_DATATYPE));
    assert.deepEqual(plain((answer as Extract<Frame, { kind: 'predicted' }>).outputs), plain(EVERY_DATATYPE));
    const [failed] = reader.push(encodeError(4, { code: 'invalid_input', message: 'no', field: 'x' }));
    assert.deepEqual(failed, { kind: 'error', id: 4, error: { code: 'invalid_input', message: 'no', field: 'x' } });
  });

  test('several frames in one chunk, and one frame split byte by byte, decode the same', () => {
    const frames = [encodePredicted(1, EVERY_DATATYPE), encodePredicted(2, EVERY_DATATYPE.slice(3, 5))];
    const together = new FrameReader().push(Buffer.concat(frames));
    assert.deepEqual(
      together.map((f) => f.id),
      [1, 2],
    );
    const reader = new FrameReader();
    const split: Frame[] = [];
    for (const byte of Buffer.concat(frames)) split.push(...reader.push(Buffer.from([byte])));
    assert.deepEqual(
      split.map((f) => f.id),
      [1, 2],
    );
    assert.deepEqual(
      plain((split[0] as Extract<Frame, { kind: 'predicted' }>).outputs),
      plain((together[0] as Extract<Frame, { kind: 'predicted' }>).outputs),
    );
  });

  test('a frame whose declared length is too short or too long is an error, never an answer', () => {
    const short = predictedFrame();
    short.writeUInt32LE(short.readUInt32LE(0) - 4, 0);
    assert.throws(() => new FrameReader().push(short), FrameError);

    // Too long: it swallows the start of the next frame, and its contents no longer end where it says.
    const long = predictedFrame();
    long.writeUInt32LE(long.readUInt32LE(0) + 4, 0);
    assert.throws(() => new FrameReader().push(Buffer.concat([long, predictedFrame()])), FrameError);

    // Too long at the end of the stream: nothing is decoded while the rest is missing.
    assert.deepEqual(new FrameReader().push(long), []);

    const huge = predictedFrame();
    huge.writeUInt32LE(2 ** 31, 0);
    assert.throws(() => new FrameReader(1 << 20).push(huge), /declares 2147483648 bytes/);
  });

  test("a truncated tensor, or bytes that do not match the tensor's shape, is an error", () => {
    const truncated = predictedFrame();
    truncated.writeDoubleLE(8 + 4, BYTE_LENGTH_AT);
    assert.throws(() => new FrameReader().push(truncated), /truncated frame: the data of 'y'/);

    const mismatched = predictedFrame();
    mismatched.writeDoubleLE(4, BYTE_LENGTH_AT);
    assert.throws(() => new FrameReader().push(mismatched), FrameError);

    const cut = predictedFrame().subarray(0, 30);
    cut.writeUInt32LE(cut.length - 4, 0);
    assert.throws(() => new FrameReader().push(cut), /truncated frame/);

    const badDim = predictedFrame();
    badDim.writeDoubleLE(-1, BYTE_LENGTH_AT - 16);
    assert.throws(() => new FrameReader().push(badDim), /dimension -1/);

    const strings = encodePredicted(1, [{ name: 's', datatype: 'BYTES', shape: [2], data: [new Uint8Array(3)] }]);
    assert.throws(() => new FrameReader().push(strings), /fewer than 2 elements/);
  });

  test('a bad magic byte or an unknown kind means the stream is out of step', () => {
    const magic = predictedFrame();
    magic[4] = 0;
    assert.throws(() => new FrameReader().push(magic), /bad magic byte/);
    const kind = predictedFrame();
    kind[5] = 9;
    assert.throws(() => new FrameReader().push(kind), /unknown frame kind 9/);
  });
});
