import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SCHEMA_DIR } from './schema-validation.ts';

const SHARED = new URL('../../../shared/schemas/', import.meta.url);

test('shipped schemas are byte-identical to ../shared/schemas', {
  skip: !existsSync(SHARED) && 'no ../shared/schemas in this checkout',
}, () => {
  const files = readdirSync(SCHEMA_DIR, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'README.md')
    .map((e) =>
      `${e.parentPath.slice(new URL(SCHEMA_DIR).pathname.replace(/\/$/, '').length + 1)}/${e.name}`.replace(/^\//, ''),
    );
  assert.ok(files.length >= 3);
  // Schemas not in ../shared/schemas (the Job schema) say where they come from in the folder's README.
  const readme = readFileSync(new URL('README.md', SCHEMA_DIR), 'utf8');
  for (const file of files) {
    if (!existsSync(new URL(file, SHARED))) {
      assert.match(
        readme,
        new RegExp(`\\| ${file.replace(/\./g, '\\.')} \\|`),
        `${file}: name its source in README.md`,
      );
      continue;
    }
    assert.ok(readFileSync(new URL(file, SCHEMA_DIR)).equals(readFileSync(new URL(file, SHARED))), `${file} differs`);
  }
});
