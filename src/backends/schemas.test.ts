import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SCHEMA_DIR } from './schema-validation.ts';

const SHARED = new URL('../../../shared/schemas/', import.meta.url);

test('shipped schemas are byte-identical to ../shared/schemas', {
  skip: !existsSync(SHARED) && 'no ../shared/schemas in this checkout',
}, () => {
  const files = readdirSync(SCHEMA_DIR).filter((f) => f !== 'README.md');
  assert.ok(files.length >= 3);
  for (const file of files) {
    assert.ok(readFileSync(new URL(file, SCHEMA_DIR)).equals(readFileSync(new URL(file, SHARED))), `${file} differs`);
  }
});
