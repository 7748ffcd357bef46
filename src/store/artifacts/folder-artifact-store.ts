/**
 * The artifact store over a local folder: the embedded default, and the local cache of the S3 store.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactRef, ArtifactStore, PutOptions, StoredBlob } from './artifact-store.ts';
import { artifactNotFound, assertSha256, corruptArtifact, hashFile, verifyStream } from './digest.ts';
import { type SpooledFile, spoolToFile } from './spool.ts';

/**
 * Blobs live at `<root>/sha256/<first two hex>/<hex>`; puts are staged in `<root>/tmp/` (hashed and counted while
 * streaming, fsynced, renamed into place, then the folder fsynced), so a blob path only ever holds a complete
 * file. Putting bytes that already exist replaces the file atomically, which also repairs a damaged blob.
 *
 * `open` always rehashes. `localPath` rehashes only when the file's identity (inode, size, mtime, ctime) changed
 * since this instance last verified it, so hot paths do not rehash large models while a file altered on disk is
 * still caught.
 *
 * @example
 *   const store = new FolderArtifactStore('/var/lib/modelport/artifacts');
 *   const ref = await store.put(createReadStream('model.onnx'), { maxBytes: 2 ** 31 });
 *   const file = await store.localPath(ref.sha256);
 */
export class FolderArtifactStore implements ArtifactStore {
  readonly location: string;
  readonly #root: string;
  readonly #tmp: string;
  /** sha256 -> the stat identity of the file when it last hashed correctly. */
  readonly #verified = new Map<string, string>();

  /** `root` is created on the first put; a relative path resolves against the working directory. */
  constructor(root: string) {
    this.#root = resolve(root);
    this.#tmp = join(this.#root, 'tmp');
    this.location = this.#root;
  }

  async put(body: Readable | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<ArtifactRef> {
    const spooled = await spoolToFile(body, { dir: this.#tmp, ...options });
    if (options.onHashed) {
      try {
        await options.onHashed({ sha256: spooled.sha256, size: spooled.size });
      } catch (error) {
        await rm(spooled.path, { force: true });
        throw error;
      }
    }
    return this.#commit(spooled);
  }

  async putMany(
    bodies: readonly Uint8Array[],
    options: { onHashed?: (refs: ArtifactRef[]) => Promise<void> } = {},
  ): Promise<ArtifactRef[]> {
    const refs = bodies.map((bytes) => ({ sha256: sha256Hex(bytes), size: bytes.length }));
    await options.onHashed?.(refs);
    await mkdir(this.#tmp, { recursive: true });
    const staged: { tmp: string; file: string; sha256: string }[] = [];
    const seen = new Set<string>();
    for (const { sha256 } of refs) {
      if (seen.has(sha256)) continue;
      seen.add(sha256);
      staged.push({ tmp: join(this.#tmp, `${randomUUID()}.part`), file: this.#blobPath(sha256), sha256 });
    }
    const bytesOf = new Map(bodies.map((bytes, i) => [refs[i]!.sha256, bytes]));
    // One durability barrier per batch instead of one per blob: write every file, flush the file system once
    // (syncfs), rename them into place, flush again for the renames. Without `sync -f`, every file is flushed.
    try {
      const barrier = await syncfsAvailable(this.#tmp);
      if (barrier) {
        // Small files, written with synchronous calls in slices that yield between them: a thread-pool round trip
        // per call costs more than the call, and a slice blocks the event loop for a few milliseconds at most.
        await inSlices(staged, 128, ({ tmp, sha256 }) =>
          writeFileSync(tmp, bytesOf.get(sha256)!, { mode: 0o600, flag: 'wx' }),
        );
        await syncfs(this.#tmp);
      } else {
        await forEachLimited(staged, 16, ({ tmp, sha256 }) =>
          writeFile(tmp, bytesOf.get(sha256)!, { mode: 0o600, flush: true }),
        );
      }
      const dirs = new Set<string>();
      await inSlices(staged, 256, ({ tmp, file }) => {
        const dir = dirname(file);
        if (!dirs.has(dir)) {
          mkdirSync(dir, { recursive: true });
          dirs.add(dir);
        }
        renameSync(tmp, file);
      });
      if (barrier) await syncfs(this.#root);
      else await forEachLimited([...dirs, join(this.#root, 'sha256'), this.#root], 16, fsyncDir);
    } catch (error) {
      await Promise.all(staged.map(({ tmp }) => rm(tmp, { force: true })));
      throw error;
    }
    return refs;
  }

  putFile(path: string, options: PutOptions = {}): Promise<ArtifactRef> {
    // Copied, not moved: the caller keeps its file, and the copy is hashed on the way in.
    return this.put(createReadStream(path), options);
  }

  async has(sha256: string): Promise<boolean> {
    return (await identity(this.#blobPath(sha256))) !== undefined;
  }

  async open(sha256: string): Promise<Readable> {
    const file = this.#blobPath(sha256);
    const handle = await open(file, 'r').catch((error: unknown) => {
      throw isMissing(error) ? artifactNotFound(sha256) : error;
    });
    return verifyStream(handle.createReadStream(), sha256);
  }

  async localPath(sha256: string): Promise<string> {
    const file = this.#blobPath(sha256);
    const before = await identity(file);
    if (before === undefined) throw artifactNotFound(sha256);
    if (this.#verified.get(sha256) === before) return file;
    if ((await hashFile(file)) !== sha256) {
      this.#verified.delete(sha256);
      throw corruptArtifact(sha256);
    }
    // The identity from before hashing: a change made while hashing forces the next call to hash again.
    this.#verified.set(sha256, before);
    return file;
  }

  async delete(sha256: string): Promise<void> {
    const file = this.#blobPath(sha256);
    this.#verified.delete(sha256);
    await rm(file, { force: true });
  }

  async *list(): AsyncIterable<StoredBlob> {
    const top = join(this.#root, 'sha256');
    for (const prefix of await readdirIfExists(top)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdirIfExists(join(top, prefix))) {
        if (!/^[0-9a-f]{64}$/.test(name) || name.slice(0, 2) !== prefix) continue;
        const s = await stat(join(top, prefix, name)).catch(() => undefined);
        if (s?.isFile()) yield { sha256: name, size: s.size, modified: s.mtime };
      }
    }
  }

  async sweepTemporary(): Promise<number> {
    let removed = 0;
    for (const name of await readdirIfExists(this.#tmp)) {
      await rm(join(this.#tmp, name), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#verified.clear();
  }

  /** Validates before building the path, so no argument can address a file outside the root. */
  #blobPath(sha256: string): string {
    assertSha256(sha256);
    return join(this.#root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async #commit(spooled: SpooledFile): Promise<ArtifactRef> {
    const file = this.#blobPath(spooled.sha256);
    const dir = dirname(file);
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true });
      await rename(spooled.path, file);
    } catch (error) {
      await rm(spooled.path, { force: true });
      throw error;
    }
    // Make the rename durable, and the new folders' entries too when this put created them.
    await fsyncDir(dir);
    if (created !== undefined) {
      await fsyncDir(dirname(dir));
      await fsyncDir(this.#root);
    }
    const after = await identity(file);
    if (after !== undefined) this.#verified.set(spooled.sha256, after);
    return { sha256: spooled.sha256, size: spooled.size };
  }
}

/** inode, size, mtime and ctime in nanoseconds; undefined when the file does not exist. */
async function identity(file: string): Promise<string | undefined> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Runs `fn` over `items` synchronously, `size` at a time, yielding to the event loop between slices. */
async function inSlices<T>(items: readonly T[], size: number, fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    for (const item of items.slice(i, i + size)) fn(item);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

let syncfsProbe: Promise<boolean> | undefined;

/** Whether coreutils' `sync -f` (syncfs(2): flush one file system) can be run here. */
function syncfsAvailable(path: string): Promise<boolean> {
  syncfsProbe ??= new Promise((resolve) => {
    execFile('sync', ['-f', path], (error) => resolve(error === null));
  });
  return syncfsProbe;
}

function syncfs(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', path], (error) => (error ? reject(error) : resolve()));
  });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; the first failure rejects once all settle. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
