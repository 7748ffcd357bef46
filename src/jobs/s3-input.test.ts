/** `S3InputSource` against a real S3-compatible server (s3rver): a job input is copied whole; a missing one is named. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { S3 } from '@aws-sdk/client-s3';
import { ModelportError } from '../core/index.ts';
import { type S3rverFixture, startS3rver } from '../store/artifacts/s3rver.fixture.ts';
import { S3InputSource, s3Connection } from './s3-input.ts';

let s3: S3rverFixture;
let dir: string;
let source: S3InputSource;

before(async () => {
  s3 = await startS3rver();
  dir = await mkdtemp(join(tmpdir(), 'modelport-s3-input-'));
  const connection = s3Connection({ endpoint: s3.endpoint, ...s3.credentials });
  source = new S3InputSource(connection);
  const client = new S3({ ...connection, region: 'us-east-1', forcePathStyle: true });
  await client.putObject({ Bucket: s3.bucket, Key: 'data/rows.csv', Body: 'a,b\n1,2\n' });
  client.destroy();
});

after(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('copies an s3:// object to a local file and returns its size', async () => {
  const path = join(dir, 'rows.csv');
  assert.equal(await source.download(`s3://${s3.bucket}/data/rows.csv`, path), 8);
  assert.equal(await readFile(path, 'utf8'), 'a,b\n1,2\n');
});

test('a missing object is not_found naming input.url', async () => {
  await assert.rejects(source.download(`s3://${s3.bucket}/data/none.csv`, join(dir, 'none.csv')), (error) => {
    assert.ok(error instanceof ModelportError);
    assert.equal(error.code, 'not_found');
    assert.equal(error.field, 'input.url');
    return true;
  });
});
