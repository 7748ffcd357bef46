/**
 * The one behaviour suite every `ArtifactStore` runs (see artifact-store.test.ts). A target supplies a fresh,
 * empty store per test and a few ways to look at its backing storage without going through the store.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import type { ArtifactStore } from './artifact-store.ts';

export interface StoreUnderTest {
  store: ArtifactStore;
  /** Digests of every blob in the backing storage (folder files, bucket objects), read behind the store's back. */
  blobs(): Promise<string[]>;
  /** Files left in the store's local temp folders. */
  tempFiles(): Promise<string[]>;
  /** Replaces a stored blob's bytes with different bytes of the same length, behind the store's back. */
  tamper(sha256: string): Promise<void>;
  /** Removes whatever the target created for this store (called after `store.close()`). */
  cleanup(): Promise<void>;
}

export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store. */
  open(): Promise<StoreUnderTest>;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function* chunked(bytes: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const hasCode = (code: string) => (error: unknown) => {
  assert.ok(error instanceof ModelportError, `expected a ModelportError, got ${String(error)}`);
  assert.equal(error.code, code);
  return true;
};

const isAbort = (error: unknown) => {
  assert.equal((error as Error).name, 'AbortError');
  return true;
};

async function withStore(target: ConformanceTarget, fn: (t: StoreUnderTest) => Promise<void>): Promise<void> {
  const t = await target.open();
  try {
    await fn(t);
  } finally {
    await t.store.close();
    await t.cleanup();
  }
}

/** Registers the suite under `describe(target.name)`. */
export function describeArtifactStore(target: ConformanceTarget): void {
  const it = (name: string, fn: (t: StoreUnderTest) => Promise<void>) => test(name, () => withStore(target, fn));

  describe(`ArtifactStore conformance: ${target.name}`, () => {
    it('put then open, has and localPath return the same bytes', async ({ store }) => {
      const bytes = Buffer.from('a small model');
      const ref = await store.put(Readable.from([bytes]));
      assert.deepEqual(ref, { sha256: sha256Of(bytes), size: bytes.length });
      assert.equal(await store.has(ref.sha256), true);
      assert.deepEqual(await collect(await store.open(ref.sha256)), bytes);
      assert.deepEqual(await readFile(await store.localPath(ref.sha256)), bytes);
    });

    it('putFile stores a local file', async ({ store }) => {
      const dir = await mkdtemp(join(tmpdir(), 'modelport-putfile-'));
      try {
        const bytes = randomBytes(10_000);
        await writeFile(join(dir, 'model.onnx'), bytes);
        const ref = await store.putFile(join(dir, 'model.onnx'));
        assert.deepEqual(ref, { sha256: sha256Of(bytes), size: bytes.length });
        assert.deepEqual(await collect(await store.open(ref.sha256)), bytes);
        await assert.rejects(store.putFile(join(dir, 'model.onnx'), { maxBytes: 9_999 }), hasCode('payload_too_large'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the same bytes give the same ref and one stored blob', async ({ store, blobs, tempFiles }) => {
      const bytes = randomBytes(5_000);
      const first = await store.put(chunked(bytes, 1000));
      const second = await store.put(Readable.from([bytes]));
      assert.deepEqual(second, first);
      assert.deepEqual(await blobs(), [first.sha256]);
      assert.deepEqual(await tempFiles(), []);
    });

    it('stores an empty body', async ({ store }) => {
      const ref = await store.put(Readable.from([]));
      assert.deepEqual(ref, { sha256: EMPTY_SHA256, size: 0 });
      assert.equal((await collect(await store.open(EMPTY_SHA256))).length, 0);
      assert.equal((await readFile(await store.localPath(EMPTY_SHA256))).length, 0);
    });

    it('round-trips a random body over 1 MB', async ({ store }) => {
      const bytes = randomBytes(1_500_000);
      const ref = await store.put(chunked(bytes));
      assert.deepEqual(ref, { sha256: sha256Of(bytes), size: bytes.length });
      assert.ok((await collect(await store.open(ref.sha256))).equals(bytes));
      assert.ok((await readFile(await store.localPath(ref.sha256))).equals(bytes));
    });

    it('refuses a body over maxBytes and leaves nothing behind', async ({ store, blobs, tempFiles }) => {
      const bytes = randomBytes(1000);
      await assert.rejects(store.put(chunked(bytes, 100), { maxBytes: 999 }), hasCode('payload_too_large'));
      assert.deepEqual(await blobs(), []);
      assert.deepEqual(await tempFiles(), []);
      assert.equal(await store.has(sha256Of(bytes)), false);
      // Exactly at the limit is allowed.
      assert.equal((await store.put(chunked(bytes, 100), { maxBytes: 1000 })).size, 1000);
    });

    it('detects corruption: open errors with artifact_corrupt and localPath rejects', async (t) => {
      const bytes = randomBytes(20_000);
      const ref = await t.store.put(Readable.from([bytes]));
      await t.tamper(ref.sha256);
      await assert.rejects(collect(await t.store.open(ref.sha256)), hasCode('artifact_corrupt'));
      await assert.rejects(t.store.localPath(ref.sha256), hasCode('artifact_corrupt'));
      // Still refused on a second try: nothing was cached as good.
      await assert.rejects(t.store.localPath(ref.sha256), hasCode('artifact_corrupt'));
    });

    it('has and delete; delete is idempotent and clears localPath', async ({ store, blobs }) => {
      const bytes = Buffer.from('to be deleted');
      const sha256 = sha256Of(bytes);
      assert.equal(await store.has(sha256), false);
      await assert.rejects(store.open(sha256), hasCode('not_found'));
      await assert.rejects(store.localPath(sha256), hasCode('not_found'));
      await store.put(Readable.from([bytes]));
      await store.localPath(sha256);
      assert.equal(await store.has(sha256), true);
      await store.delete(sha256);
      assert.equal(await store.has(sha256), false);
      assert.deepEqual(await blobs(), []);
      await assert.rejects(store.open(sha256), hasCode('not_found'));
      await assert.rejects(store.localPath(sha256), hasCode('not_found'));
      await store.delete(sha256);
    });

    it('rejects invalid sha256 strings with invalid_request and never echoes them', async ({ store }) => {
      const hex = 'ab'.repeat(32);
      const bad = ['../../etc/passwd', hex.toUpperCase(), 'abc', '', `${hex}\n`, `${hex.slice(0, 62)}/.`, `../${hex}`];
      const calls = [
        (v: string) => store.has(v),
        (v: string) => store.open(v),
        (v: string) => store.localPath(v),
        (v: string) => store.delete(v),
      ];
      for (const value of bad) {
        for (const call of calls) {
          await assert.rejects(call(value), (error: unknown) => {
            hasCode('invalid_request')(error);
            assert.equal((error as ModelportError).field, 'sha256');
            if (value !== '') assert.ok(!(error as Error).message.includes(value), 'the message echoes the value');
            return true;
          });
        }
      }
    });

    it('concurrent puts of the same bytes are safe', async ({ store, blobs, tempFiles }) => {
      const bytes = randomBytes(300_000);
      const refs = await Promise.all(Array.from({ length: 6 }, () => store.put(chunked(bytes, 16 * 1024))));
      for (const ref of refs) assert.deepEqual(ref, { sha256: sha256Of(bytes), size: bytes.length });
      assert.deepEqual(await blobs(), [sha256Of(bytes)]);
      assert.deepEqual(await tempFiles(), []);
      assert.ok((await collect(await store.open(sha256Of(bytes)))).equals(bytes));
    });

    it('an aborted put rejects with AbortError and leaves nothing behind', async ({ store, blobs, tempFiles }) => {
      const controller = new AbortController();
      const aborted = new Promise((resolve) => controller.signal.addEventListener('abort', resolve));
      let reading!: () => void;
      const started = new Promise<void>((resolve) => {
        reading = resolve;
      });
      async function* slowBody(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1000);
        reading();
        await aborted;
        yield randomBytes(1000);
      }
      const put = store.put(slowBody(), { signal: controller.signal });
      await started;
      controller.abort();
      await assert.rejects(put, isAbort);
      await assert.rejects(store.put(Readable.from([Buffer.from('x')]), { signal: AbortSignal.abort() }), isAbort);
      assert.deepEqual(await blobs(), []);
      assert.deepEqual(await tempFiles(), []);
    });
  });
}
