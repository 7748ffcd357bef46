import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { renderErrorsDoc } from './errors-doc.ts';

test('docs/errors.md is generated from the catalogue (run `npm run docs` after changing codes)', async () => {
  const onDisk = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderErrorsDoc());
});
