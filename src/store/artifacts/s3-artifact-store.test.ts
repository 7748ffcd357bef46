import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { parseS3Url, type S3Api, S3ArtifactStore } from './s3-artifact-store.ts';
import { type S3rverFixture, startS3rver } from './s3rver.fixture.ts';

const configError = (field: string) => (error: unknown) =>
  error instanceof ModelportError && error.code === 'invalid_config' && error.field === field;

describe('parseS3Url', () => {
  test('splits bucket and prefix, trimming slashes', () => {
    assert.deepEqual(parseS3Url('s3://models'), { bucket: 'models', prefix: '' });
    assert.deepEqual(parseS3Url('s3://models/'), { bucket: 'models', prefix: '' });
    assert.deepEqual(parseS3Url('s3://models/team/prod/'), { bucket: 'models', prefix: 'team/prod' });
  });

  test('refuses URLs without a valid bucket, with field artifacts, never echoing the URL', () => {
    for (const url of ['s3://', 's3:///prefix', 's3://Models', 's3://a', 's3://b_ucket/x', 's3:models', 'http://x']) {
      assert.throws(() => parseS3Url(url), configError('artifacts'), url);
    }
    assert.throws(
      () => parseS3Url('s3://AKIA:hunter2@models/p'),
      (error: unknown) => configError('artifacts')(error) && !(error as Error).message.includes('hunter2'),
    );
  });
});

describe('S3ArtifactStore', () => {
  let s3: S3rverFixture;
  let dir: string;

  before(async () => {
    s3 = await startS3rver();
    dir = await mkdtemp(join(tmpdir(), 'modelport-s3-'));
  });

  after(async () => {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const fresh = (options: { client?: S3Api } = {}) => {
    const prefix = `t/${randomUUID()}`;
    const store = new S3ArtifactStore(`s3://${s3.bucket}/${prefix}/`, {
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      cacheDir: join(dir, randomUUID()),
      ...options,
    });
    return { store, prefix };
  };

  test('location names bucket, prefix and endpoint, never credentials', () => {
    const store = new S3ArtifactStore('s3://models/prod', {
      endpoint: 'https://AKIA:hunter2@s3.example.com:9000/?X-Amz-Security-Token=t0ken',
      cacheDir: dir,
    });
    assert.equal(store.location, 's3://models/prod at https://s3.example.com:9000');
    assert.equal(new S3ArtifactStore('s3://models', { cacheDir: dir }).location, 's3://models');
    assert.throws(
      () => new S3ArtifactStore('s3://models', { endpoint: 'ftp://x', cacheDir: dir }),
      configError('s3Endpoint'),
    );
  });

  test('stores the object at <prefix>/sha256/<hex> with the digest in its metadata', async () => {
    const { store, prefix } = fresh();
    try {
      const bytes = Buffer.from('an onnx model, say');
      const ref = await store.put(Readable.from([bytes]));
      assert.equal(ref.sha256, createHash('sha256').update(bytes).digest('hex'));
      const head = await s3.raw.headObject({ Bucket: s3.bucket, Key: `${prefix}/sha256/${ref.sha256}` });
      assert.equal(head.ContentLength, bytes.length);
      assert.deepEqual(head.Metadata, { sha256: ref.sha256 });
    } finally {
      await store.close();
    }
  });

  test('skips the upload when the object already exists, and replaces one whose size is wrong', async () => {
    const uploads: string[] = [];
    const client = new Proxy(s3.raw, {
      get(target, name, receiver) {
        if (name === 'putObject') {
          return (input: { Key: string }, options?: object) => {
            uploads.push(input.Key);
            return target.putObject(input as Parameters<typeof target.putObject>[0], options ?? {});
          };
        }
        return Reflect.get(target, name, receiver);
      },
    });
    const { store, prefix } = fresh({ client });
    try {
      const bytes = Buffer.from('uploaded once');
      const ref = await store.put(Readable.from([bytes]));
      await store.put(Readable.from([bytes]));
      assert.equal(uploads.length, 1);
      await s3.raw.putObject({ Bucket: s3.bucket, Key: `${prefix}/sha256/${ref.sha256}`, Body: 'short' });
      await store.put(Readable.from([bytes]));
      assert.equal(uploads.length, 2);
      assert.deepEqual(await readFile(await store.localPath(ref.sha256)), bytes);
    } finally {
      await store.close();
    }
    // An injected client belongs to its owner: close() must not have destroyed it.
    assert.equal(
      (await s3.raw.listBuckets({})).Buckets?.some((b) => b.Name === s3.bucket),
      true,
    );
  });

  test('retries an upload that failed with a server error, from a fresh stream of the spooled file', async () => {
    let failures = 1;
    const client = new Proxy(s3.raw, {
      get(target, name, receiver) {
        if (name === 'putObject') {
          return async (input: { Body: Readable }, options?: object) => {
            if (failures-- > 0) {
              input.Body.resume(); // a failing server may have consumed part of the body
              throw Object.assign(new Error('slow down'), { $metadata: { httpStatusCode: 503 } });
            }
            return target.putObject(input as Parameters<typeof target.putObject>[0], options ?? {});
          };
        }
        return Reflect.get(target, name, receiver);
      },
    });
    const { store } = fresh({ client });
    try {
      const bytes = Buffer.from('survives one 503');
      const ref = await store.put(Readable.from([bytes]));
      assert.equal(failures, -1);
      assert.deepEqual(await readFile(await store.localPath(ref.sha256)), bytes);
    } finally {
      await store.close();
    }
  });

  test('localPath downloads once into the cache and fetches again when the cached copy is damaged', async () => {
    const { store, prefix } = fresh();
    try {
      const bytes = Buffer.from('cached model');
      const ref = await store.put(Readable.from([bytes]));
      const [a, b] = await Promise.all([store.localPath(ref.sha256), store.localPath(ref.sha256)]);
      assert.equal(a, b);
      // Once cached, the copy serves even when the bucket no longer holds the object.
      await s3.raw.deleteObject({ Bucket: s3.bucket, Key: `${prefix}/sha256/${ref.sha256}` });
      assert.equal(await store.localPath(ref.sha256), a);
      // A damaged cached copy is not served: it is fetched again (and here the bucket has nothing to give).
      await writeFile(a, 'XXXXXXXXXXXX');
      await assert.rejects(
        store.localPath(ref.sha256),
        (error: unknown) => error instanceof ModelportError && error.code === 'not_found',
      );
      await store.put(Readable.from([bytes]));
      assert.deepEqual(await readFile(await store.localPath(ref.sha256)), bytes);
    } finally {
      await store.close();
    }
  });

  test('a missing bucket surfaces as an error, not as a missing artifact', async () => {
    const store = new S3ArtifactStore('s3://no-such-bucket/p', {
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      cacheDir: join(dir, randomUUID()),
    });
    try {
      const noSuchBucket = (error: unknown) => (error as Error).name === 'NoSuchBucket';
      await assert.rejects(store.open('ab'.repeat(32)), noSuchBucket);
      await assert.rejects(store.put(Readable.from([Buffer.from('x')])), noSuchBucket);
    } finally {
      await store.close();
    }
  });
});
