import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { ModelSignature } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import {
  bindFriendlySignature,
  compileFriendlySignature,
  friendlyFromMlflow,
  parseFriendlySignature,
  scoringParts,
} from './index.ts';

const fraud: ModelSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3] }],
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
  ],
};

const fieldIs = (field: string) => (e: unknown) => {
  assert.ok(e instanceof ModelportError, String(e));
  assert.equal(e.code, 'invalid_request');
  assert.equal(e.field, field, e.message);
  return true;
};

const features = [
  { name: 'amount', type: 'number', min: 0 },
  { name: 'online', type: 'boolean' },
  { name: 'channel', type: 'string', values: ['web', 'shop'] },
];

describe('friendly signatures', () => {
  test('compile checks the value and names the field at fault', () => {
    assert.deepEqual(compileFriendlySignature({ features }).features?.[0], { name: 'amount', type: 'number', min: 0 });
    assert.equal(compileFriendlySignature({ features: [{ name: 'x' }] }).features?.[0]?.type, 'number');
    assert.throws(() => compileFriendlySignature({}), fieldIs('signature'));
    assert.throws(() => compileFriendlySignature({ feature: [] }), fieldIs('signature.feature'));
    assert.throws(
      () => compileFriendlySignature({ features: [{ name: 'a', type: 'float' }] }),
      fieldIs('signature.features[0].type'),
    );
    assert.throws(
      () => compileFriendlySignature({ features: [{ name: 'a' }, { name: 'a' }] }),
      fieldIs('signature.features[1].name'),
    );
    assert.throws(
      () => compileFriendlySignature({ features: [{ name: 'c', type: 'string' }] }),
      fieldIs('signature.features[0].values'),
    );
    assert.throws(
      () => compileFriendlySignature({ features: [{ name: 'a', min: 2, max: 1 }] }),
      fieldIs('signature.features[0].min'),
    );
    assert.throws(
      () => compileFriendlySignature({ outputs: { threshold: 1.5 } }),
      fieldIs('signature.outputs.threshold'),
    );
    assert.throws(
      () => compileFriendlySignature({ outputs: { labels: ['a', 'a'] } }),
      fieldIs('signature.outputs.labels'),
    );
  });

  test('bind fills the output names and checks counts against the model', () => {
    const bound = bindFriendlySignature(
      compileFriendlySignature({ features, outputs: { labels: ['legit', 'fraud'] } }),
      fraud,
    );
    assert.deepEqual(bound.outputs, { labels: ['legit', 'fraud'], probabilities: 'probabilities', label: 'label' });
    assert.throws(
      () => bindFriendlySignature({ features: features.slice(0, 2) as never }, fraud),
      (e: unknown) => fieldIs('signature.features')(e) && /names 2 features but input 'input' takes 3/.test(String(e)),
    );
    assert.throws(
      () => bindFriendlySignature({ outputs: { labels: ['a', 'b', 'c'] } }, fraud),
      fieldIs('signature.outputs.labels'),
    );
    assert.throws(
      () => bindFriendlySignature({ outputs: { probabilities: 'scores' } }, fraud),
      fieldIs('signature.outputs.probabilities'),
    );
    assert.throws(
      () =>
        bindFriendlySignature(
          { outputs: { labels: ['a', 'b'], probabilities: 'probabilities', threshold: 0.3 } },
          fraud,
        ),
      fieldIs('signature.outputs.threshold'),
    );
    const single: ModelSignature = { ...fraud, outputs: [{ name: 'p', datatype: 'FP32', shape: [-1, 1] }] };
    assert.deepEqual(bindFriendlySignature({ outputs: { labels: ['no', 'yes'], threshold: 0.3 } }, single).outputs, {
      labels: ['no', 'yes'],
      probabilities: 'p',
      threshold: 0.3,
    });
    const twoInputs: ModelSignature = {
      ...fraud,
      inputs: [...fraud.inputs, { name: 'b', datatype: 'FP32', shape: [-1, 1] }],
    };
    assert.throws(
      () => bindFriendlySignature({ features: [{ name: 'a', type: 'number' }] }, twoInputs),
      fieldIs('signature.features'),
    );
  });

  test('files: YAML, JSON, and the scoring file of the example', async () => {
    const yaml = parseFriendlySignature(
      'features:\n  - { name: amount, type: number, max: 10 }\noutputs:\n  labels: [a, b]\n',
    );
    assert.deepEqual(yaml, {
      features: [{ name: 'amount', type: 'number', max: 10 }],
      outputs: { labels: ['a', 'b'] },
    });
    const example = parseFriendlySignature(
      await readFile(new URL('../../examples/fraud/signature.json', import.meta.url), 'utf8'),
    );
    assert.equal(example.features?.length, 30);
    assert.equal(example.features?.[29]?.name, 'amount');
    assert.deepEqual(example.outputs, { labels: ['legit', 'fraud'] });
    assert.deepEqual(scoringParts(example).labels, ['legit', 'fraud']);
    assert.throws(() => parseFriendlySignature('features: [', 'file'), fieldIs('file'));
  });

  test('an MLflow column signature maps to features; tensors and strings do not', () => {
    assert.deepEqual(
      friendlyFromMlflow({
        inputs:
          '[{"name": "amount", "type": "double"}, {"name": "n", "type": "long"}, {"name": "b", "type": "boolean"}]',
      }),
      {
        features: [
          { name: 'amount', type: 'number' },
          { name: 'n', type: 'integer' },
          { name: 'b', type: 'boolean' },
        ],
      },
    );
    assert.equal(
      friendlyFromMlflow({ inputs: [{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] } }] }),
      undefined,
    );
    assert.equal(friendlyFromMlflow({ inputs: [{ name: 's', type: 'string' }] }), undefined);
    assert.equal(friendlyFromMlflow(undefined), undefined);
  });
});
