import assert from 'node:assert/strict';
import { test } from 'node:test';
import { details, table } from './output.ts';

test('tables and details never cut a long value (a URL, an image name)', () => {
  const url = `http://models.internal.example.com:8080/v2/models/${'a'.repeat(60)}/infer`;
  const image = 'docker.io/seldonio/mlserver:1.7.0-sklearn-with-a-very-long-suffix-for-this-test';
  assert.match(table(['name', 'url'], [['fraud', url]]), new RegExp(`fraud  ${url.replace(/[.:/]/g, '\\$&')}\n$`));
  assert.ok(details([['image', image]]).includes(image));
});
