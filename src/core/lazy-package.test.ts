import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { lazyPackage } from './lazy-package.ts';

test('lazyPackage loads its package at the first call, not before, and once', () => {
  const require = createRequire(import.meta.url);
  const file = require.resolve('json-schema-traverse'); // ajv's dependency, which nothing here imports
  assert.equal(require.cache[file], undefined);
  const load = lazyPackage<(schema: object, cb: () => void) => void>('json-schema-traverse');
  assert.equal(require.cache[file], undefined, 'not loaded by lazyPackage itself');
  const first = load();
  assert.equal(typeof first, 'function');
  assert.ok(require.cache[file], 'loaded by the first call');
  assert.equal(load(), first);
});
