import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { FolderArtifactStore } from './folder-artifact-store.ts';
import { openArtifactStore } from './open-artifact-store.ts';
import { S3ArtifactStore } from './s3-artifact-store.ts';

describe('openArtifactStore', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-open-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a path opens a folder store and creates the folder', async () => {
    const root = join(dir, 'artifacts');
    const store = await openArtifactStore(root, { cacheDir: join(dir, 'unused') });
    assert.ok(store instanceof FolderArtifactStore);
    assert.equal(store.location, root);
    assert.ok((await stat(root)).isDirectory());
    await store.close();
  });

  test('s3://bucket/prefix opens an S3 store with the settings given', async () => {
    const store = await openArtifactStore('s3://models/prod', {
      cacheDir: join(dir, 'cache'),
      s3: { endpoint: 'http://127.0.0.1:9000', region: undefined, accessKeyId: 'AKIA', secretAccessKey: 'hunter2' },
    });
    assert.ok(store instanceof S3ArtifactStore);
    assert.equal(store.location, 's3://models/prod at http://127.0.0.1:9000');
    assert.ok((await stat(join(dir, 'cache'))).isDirectory());
    await store.close();
  });

  test('anything else is invalid_config on field artifacts', async () => {
    for (const spec of ['', 'http://example.com/models', 'file:///models', 's3://', 's3://UPPER/x', 's3:models']) {
      await assert.rejects(
        openArtifactStore(spec, { cacheDir: join(dir, 'cache') }),
        (error: unknown) =>
          error instanceof ModelportError && error.code === 'invalid_config' && error.field === 'artifacts',
        spec,
      );
    }
  });

  test('half a key pair is invalid_config and names neither value', async () => {
    await assert.rejects(
      openArtifactStore('s3://models', { cacheDir: join(dir, 'cache'), s3: { accessKeyId: 'AKIAEXAMPLE' } }),
      (error: unknown) =>
        error instanceof ModelportError && error.code === 'invalid_config' && !error.message.includes('AKIAEXAMPLE'),
    );
  });
});
