import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before } from 'node:test';
import { describeArtifactStore } from './artifact-store.conformance.ts';
import { FolderArtifactStore } from './folder-artifact-store.ts';
import { S3ArtifactStore } from './s3-artifact-store.ts';
import { type S3rverFixture, startS3rver } from './s3rver.fixture.ts';

let root: string;
let s3: S3rverFixture;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelport-artifacts-'));
  s3 = await startS3rver();
});

after(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});

/** Regular files under `dir` (recursively); none when it does not exist. */
async function filesIn(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function leaveTempFile(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${randomUUID()}.part`);
  await writeFile(file, randomBytes(100));
  return file;
}

describeArtifactStore({
  name: 'folder',
  async open() {
    const dir = join(root, randomUUID());
    return {
      store: new FolderArtifactStore(dir),
      blobs: async () => (await filesIn(join(dir, 'sha256'))).map((f) => basename(f)),
      tempFiles: () => filesIn(join(dir, 'tmp')),
      leaveTempFile: () => leaveTempFile(join(dir, 'tmp')),
      async tamper(sha256) {
        // Flip the first byte in place.
        const handle = await open(join(dir, 'sha256', sha256.slice(0, 2), sha256), 'r+');
        try {
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, 0);
          byte[0] = (byte[0] ?? 0) ^ 0xff;
          await handle.write(byte, 0, 1, 0);
        } finally {
          await handle.close();
        }
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

describeArtifactStore({
  name: 's3 (s3rver)',
  async open() {
    const prefix = `runs/${randomUUID()}`;
    const cacheDir = join(root, randomUUID());
    const store = new S3ArtifactStore(`s3://${s3.bucket}/${prefix}`, {
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      cacheDir,
    });
    const keyOf = (sha256: string) => `${prefix}/sha256/${sha256}`;
    return {
      store,
      async blobs() {
        const listed = await s3.raw.listObjectsV2({ Bucket: s3.bucket, Prefix: `${prefix}/` });
        return (listed.Contents ?? []).map((o) => (o.Key ?? '').slice(keyOf('').length));
      },
      tempFiles: () => filesIn(join(cacheDir, 'tmp')),
      leaveTempFile: () => leaveTempFile(join(cacheDir, 'tmp')),
      async tamper(sha256) {
        const head = await s3.raw.headObject({ Bucket: s3.bucket, Key: keyOf(sha256) });
        const size = head.ContentLength ?? 0;
        await s3.raw.putObject({
          Bucket: s3.bucket,
          Key: keyOf(sha256),
          Body: randomBytes(size),
          ContentLength: size,
          Metadata: head.Metadata ?? {},
        });
      },
      cleanup: () => rm(cacheDir, { recursive: true, force: true }),
    };
  },
});
