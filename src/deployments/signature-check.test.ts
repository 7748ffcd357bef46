import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelSignature, TensorSpec } from '../core/index.ts';
import { signatureWarnings } from './signature-check.ts';

const input: TensorSpec = { name: 'input', datatype: 'FP32', shape: [-1, 30] };
const label: TensorSpec = { name: 'label', datatype: 'INT64', shape: [-1] };
const probabilities: TensorSpec = { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] };
const both: ModelSignature = { inputs: [input], outputs: [label, probabilities] };
const onlyProbabilities: ModelSignature = { inputs: [input], outputs: [probabilities] };

test('targets with the same signature give no warning', () => {
  assert.deepEqual(
    signatureWarnings([
      { name: 'fraud@1', signature: both },
      { name: 'fraud@2', signature: both },
    ]),
    [],
  );
  assert.deepEqual(signatureWarnings([{ name: 'fraud@1', signature: both }]), []);
});

test('outputs that differ are named per target', () => {
  const [warning, ...more] = signatureWarnings([
    { name: 'fraud@1 (stable)', signature: both },
    { name: 'fraud@2 (canary)', signature: onlyProbabilities },
  ]);
  assert.deepEqual(more, []);
  assert.match(warning ?? '', /^spec\.traffic: the targets' outputs differ/);
  assert.match(
    warning ?? '',
    /fraud@1 \(stable\) outputs label INT64 \[-1\], probabilities FP32 \[-1, 2\]; fraud@2 \(canary\) outputs probabilities FP32 \[-1, 2\]$/,
  );
});
