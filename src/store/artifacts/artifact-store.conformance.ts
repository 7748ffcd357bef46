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
  /** Writes a file where the store stages puts, as a killed process would leave it; returns its path. */
  leaveTempFile(): Promise<string>;
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

    it('list reports every blob with its size and a recent modification time', async ({ store }) => {
      const before = Date.now() - 60_000;
      const a = await store.put(Readable.from([Buffer.from('first blob')]));
      const b = await store.put(Readable.from([randomBytes(70_000)]));
      const listed = [];
      for await (const blob of store.list()) listed.push(blob);
      listed.sort((x, y) => x.sha256.localeCompare(y.sha256));
      const expected = [a, b].sort((x, y) => x.sha256.localeCompare(y.sha256));
      assert.deepEqual(
        listed.map(({ sha256, size }) => ({ sha256, size })),
        expected,
      );
      for (const blob of listed) assert.ok(blob.modified.getTime() >= before, 'modified is the write time');
    });

    it('putMany stores small bodies in order, deduplicated, after onHashed saw every ref', async (t) => {
      const bodies = [Buffer.from('one'), Buffer.from(''), randomBytes(3000), Buffer.from('one')];
      let seen: string[] = [];
      const refs = await t.store.putMany(bodies, {
        onHashed: async (hashed) => {
          seen = hashed.map((r) => r.sha256);
          for (const ref of hashed) assert.equal(await t.store.has(ref.sha256), false, 'not visible before onHashed');
        },
      });
      assert.deepEqual(
        refs,
        bodies.map((b) => ({ sha256: sha256Of(b), size: b.length })),
      );
      assert.deepEqual(
        seen,
        refs.map((r) => r.sha256),
      );
      assert.deepEqual((await t.blobs()).sort(), [...new Set(seen)].sort());
      for (const [i, body] of bodies.entries())
        assert.deepEqual(await collect(await t.store.open(refs[i]!.sha256)), body);
      assert.deepEqual(await t.tempFiles(), []);
      // Again: the same refs, nothing new stored.
      assert.deepEqual(await t.store.putMany(bodies), refs);
      assert.equal((await t.blobs()).length, 3);
    });

    it('put calls onHashed with the ref before the blob is visible; a rejection stores nothing', async (t) => {
      const bytes = randomBytes(4000);
      let visibleDuringHook: boolean | undefined;
      const ref = await t.store.put(Readable.from([bytes]), {
        onHashed: async (hashed) => {
          assert.deepEqual(hashed, { sha256: sha256Of(bytes), size: bytes.length });
          visibleDuringHook = await t.store.has(hashed.sha256);
        },
      });
      assert.equal(visibleDuringHook, false);
      assert.equal(await t.store.has(ref.sha256), true);
      const other = randomBytes(100);
      await assert.rejects(
        t.store.put(Readable.from([other]), {
          onHashed: async () => {
            throw new ModelportError('conflict', 'refused by the hook');
          },
        }),
        hasCode('conflict'),
      );
      assert.equal(await t.store.has(sha256Of(other)), false);
      assert.deepEqual(await t.tempFiles(), []);
    });

    it('sweepTemporary removes what an interrupted put left in the temp folder', async (t) => {
      const controller = new AbortController();
      async function* stalled(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1000);
        controller.abort();
        yield randomBytes(1000);
      }
      await assert.rejects(t.store.put(stalled(), { signal: controller.signal }), isAbort);
      // A kill -9 leaves a .part file; simulate one where the store stages its puts.
      const ref = await t.store.put(Readable.from([Buffer.from('kept')]));
      const left = await t.leaveTempFile();
      assert.deepEqual(await t.tempFiles(), [left]);
      assert.equal(await t.store.sweepTemporary(), 1);
      assert.deepEqual(await t.tempFiles(), []);
      assert.equal(await t.store.has(ref.sha256), true, 'blobs survive the sweep');
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
