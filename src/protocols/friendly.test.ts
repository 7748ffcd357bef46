import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelSignature, Tensor } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import { bindFriendlySignature, compileFriendlySignature } from '../signatures/index.ts';
import { decodeFriendlyRows, friendlyPredictions, labelNames } from './friendly.ts';
import { decodeV1, encodeV1 } from './v1.ts';

const signature: ModelSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3] }],
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
  ],
};
const friendly = bindFriendlySignature(
  compileFriendlySignature({
    features: [
      { name: 'amount', type: 'number', min: 0, max: 1000 },
      { name: 'online', type: 'boolean' },
      { name: 'channel', type: 'string', values: ['web', 'shop', 'phone'] },
    ],
    outputs: { labels: ['legit', 'fraud'] },
  }),
  signature,
);

const outputs: Tensor[] = [
  { name: 'label', datatype: 'INT64', shape: [2], data: new BigInt64Array([1n, 0n]) },
  { name: 'probabilities', datatype: 'FP32', shape: [2, 2], data: new Float32Array([0.07, 0.93, 0.8, 0.2]) },
];

const rejects = (field: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ModelportError, String(e));
  assert.equal(e.code, 'invalid_input');
  assert.equal(e.field, field);
  assert.match(e.message, pattern);
  return true;
};

describe('friendly rows and predictions', () => {
  test('rows keyed by feature name become the input in the signature order (any key order)', () => {
    const [t] = decodeFriendlyRows(
      [
        { channel: 'shop', amount: 12.5, online: true },
        { online: false, amount: 0, channel: 'phone' },
      ],
      friendly,
      signature,
    );
    assert.deepEqual(t?.shape, [2, 3]);
    assert.deepEqual([...(t!.data as Float32Array)], [12.5, 1, 1, 0, 0, 2]);
  });

  test('missing, unknown, mistyped, out-of-range and disallowed values are refused naming the field', () => {
    const ok = { amount: 1, online: true, channel: 'web' };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ online: true, channel: 'web' }, 'instances[1].amount', /missing feature 'amount'/],
      [{ ...ok, amout: 3 }, 'instances[1].amout', /unknown feature 'amout'/],
      [{ ...ok, amount: '12' }, 'instances[1].amount', /expected a number, got/],
      [{ ...ok, online: 1 }, 'instances[1].online', /expected true or false/],
      [{ ...ok, amount: -1 }, 'instances[1].amount', /below the minimum 0/],
      [{ ...ok, amount: 1001 }, 'instances[1].amount', /above the maximum 1000/],
      [{ ...ok, channel: 'fax' }, 'instances[1].channel', /'fax' is not one of 'web', 'shop', 'phone'/],
    ];
    for (const [row, field, pattern] of cases) {
      assert.throws(() => decodeFriendlyRows([ok, row], friendly, signature), rejects(field, pattern));
    }
  });

  test('predictions carry the label and named probabilities; label_names is a BYTES output', () => {
    assert.deepEqual(friendlyPredictions(outputs, friendly), [
      { label: 'fraud', probabilities: { legit: 0.07, fraud: 0.93 } },
      { label: 'legit', probabilities: { legit: 0.8, fraud: 0.2 } },
    ]);
    const names = labelNames(outputs, friendly);
    assert.equal(names?.datatype, 'BYTES');
    assert.deepEqual(
      (names!.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)),
      ['fraud', 'legit'],
    );
    // No mapping: one object of output rows per row.
    assert.deepEqual(friendlyPredictions(outputs, { features: friendly.features ?? [] })[0], {
      label: 1,
      probabilities: [0.07, 0.93],
    });
  });

  test('a single-probability output is labelled by the threshold', () => {
    const single: ModelSignature = { ...signature, outputs: [{ name: 'p', datatype: 'FP32', shape: [-1] }] };
    const f = bindFriendlySignature({ outputs: { labels: ['no', 'yes'], threshold: 0.3 } }, single);
    const p: Tensor[] = [{ name: 'p', datatype: 'FP32', shape: [2], data: new Float32Array([0.25, 0.5]) }];
    assert.deepEqual(friendlyPredictions(p, f), [
      { label: 'no', probabilities: { no: 0.75, yes: 0.25 } },
      { label: 'yes', probabilities: { no: 0.5, yes: 0.5 } },
    ]);
  });

  test('V1: friendly rows in, friendly predictions out; raw rows still work', () => {
    const decoded = decodeV1('{"instances": [{"amount": 5, "online": false, "channel": "web"}]}', signature, friendly);
    assert.equal(decoded.format, 'friendly');
    assert.deepEqual([...(decoded.request.inputs[0]!.data as Float32Array)], [5, 0, 0]);
    assert.deepEqual(JSON.parse(encodeV1({ model_name: 'm', outputs }, 'friendly', friendly)).predictions[0], {
      label: 'fraud',
      probabilities: { legit: 0.07, fraud: 0.93 },
    });
    assert.equal(decodeV1('{"instances": [[1, 2, 3]]}', signature, friendly).format, 'instances');
    assert.equal(decodeV1('{"instances": [{"input": [1, 2, 3]}]}', signature, friendly).format, 'instances');
  });
});
