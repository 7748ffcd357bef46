import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { FolderArtifactStore } from './folder-artifact-store.ts';

const corrupt = (error: unknown) => error instanceof ModelportError && error.code === 'artifact_corrupt';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Overwrites byte 0 without changing the size, then restores the timestamps to the nanosecond (`touch -r`, since
 * utimes from JavaScript rounds them): only the content and the ctime change.
 */
async function flipFirstByteKeepingMtime(file: string): Promise<void> {
  const reference = `${file}.times`;
  const before = await stat(file, { bigint: true });
  execFileSync('touch', ['-r', file, reference]);
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 0);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    await handle.write(byte, 0, 1, 0);
  } finally {
    await handle.close();
  }
  execFileSync('touch', ['-r', reference, file]);
  await rm(reference);
  const after = await stat(file, { bigint: true });
  assert.equal(after.mtimeNs, before.mtimeNs);
  assert.equal(after.size, before.size);
}

describe('FolderArtifactStore', () => {
  let root: string;
  let store: FolderArtifactStore;
  const bytes = Buffer.from('model bytes for the folder store');
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'modelport-folder-'));
    store = new FolderArtifactStore(root);
  });

  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  test('stores blobs at <root>/sha256/<first two hex>/<hex> and reports the root as location', async () => {
    await store.put(Readable.from([bytes]));
    const expected = join(root, 'sha256', sha256.slice(0, 2), sha256);
    assert.equal(await store.localPath(sha256), expected);
    assert.deepEqual(await readFile(expected), bytes);
    assert.equal(store.location, root);
  });

  test('localPath catches a blob altered after it was verified, even with its size and mtime restored', async () => {
    await store.put(Readable.from([bytes]));
    const file = await store.localPath(sha256);
    assert.equal(await store.localPath(sha256), file);
    await flipFirstByteKeepingMtime(file);
    await assert.rejects(store.localPath(sha256), corrupt);
    await assert.rejects(collect(await store.open(sha256)), corrupt);
  });

  test('open hands over no clean end for a blob altered after localPath verified it', async () => {
    await store.put(Readable.from([bytes]));
    await flipFirstByteKeepingMtime(await store.localPath(sha256));
    await assert.rejects(collect(await store.open(sha256)), corrupt);
  });

  test('putting the same bytes again repairs a damaged blob', async () => {
    await store.put(Readable.from([bytes]));
    await flipFirstByteKeepingMtime(await store.localPath(sha256));
    await store.put(Readable.from([bytes]));
    assert.deepEqual(await collect(await store.open(sha256)), bytes);
    assert.deepEqual(await readFile(await store.localPath(sha256)), bytes);
  });
});
