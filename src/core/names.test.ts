import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from './errors.ts';
import { formatModelRef, parseModelRef } from './names.ts';
import { parseDuration, parseSize } from './units.ts';

test('model references: name, name@version, name@alias', () => {
  assert.deepEqual(parseModelRef('fraud'), { name: 'fraud' });
  assert.deepEqual(parseModelRef('fraud@3'), { name: 'fraud', version: 3 });
  assert.deepEqual(parseModelRef('fraud@champion'), { name: 'fraud', alias: 'champion' });
  assert.equal(formatModelRef({ name: 'fraud', alias: 'champion' }), 'fraud@champion');
});

test('bad references are refused with invalid_request naming the field', () => {
  for (const bad of ['', 'Fraud', '../x', 'a@', 'a@0', 'a@-1', 'a@Champion', 'a@b@c', 'x'.repeat(64), 'a b']) {
    assert.throws(
      () => parseModelRef(bad, 'spec.model'),
      (e: unknown) => e instanceof ModelportError && e.code === 'invalid_request' && e.field === 'spec.model',
      bad,
    );
  }
});

test('units', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseSize('64MiB'), 64 * 1024 * 1024);
  assert.equal(parseSize('2GB'), 2e9);
  assert.equal(parseSize('512Mi'), 512 * 1024 * 1024);
  assert.equal(parseSize('10 parsecs'), undefined);
});
