import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { GENERATED_DIR, generateTypes, listFiles } from './generate-types.ts';

test('generated/ matches a fresh run of proto-loader-gen-types (run generate-types.ts on drift)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-grpc-types-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await generateTypes(dir);
  const fresh = await listFiles(dir);
  const committed = await listFiles(GENERATED_DIR);
  assert.deepEqual(
    committed.map((f) => relative(GENERATED_DIR, f)),
    fresh.map((f) => relative(dir, f)),
  );
  assert.ok(fresh.length > 10, 'one file per message and service is expected');
  for (const file of fresh) {
    const name = relative(dir, file);
    assert.equal(await readFile(join(GENERATED_DIR, name), 'utf8'), await readFile(file, 'utf8'), `${name} drifted`);
  }
});
