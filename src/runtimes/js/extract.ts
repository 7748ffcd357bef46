/**
 * Unpacking js model archives (.tgz) into folders, safely and atomically.
 *
 * `extractArchive` writes into a folder it creates, through `readTarGz`, which refuses links, devices and any name
 * that could leave the folder; as a second wall every resolved path is checked to stay inside. `extractCached`
 * unpacks once per archive content: into `<cacheDir>/<sha256>/`, via a temp folder renamed into place, so a
 * reader never sees a half-extracted model and concurrent workers (replicas) share one copy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ModelportError } from '../../core/index.ts';
import { badArchive, readTarGz, type TarLimits } from './tar-reader.ts';

/**
 * Extracts the gzip tar at `archive` into `dest`, which must not exist yet (it is created, mode 0700). On any
 * refusal or error `dest` is removed, so nothing is left behind; the error is `invalid_model` for a bad archive.
 */
export async function extractArchive(archive: string, dest: string, limits: TarLimits = {}): Promise<void> {
  const root = resolve(dest);
  await mkdir(root, { mode: 0o700 });
  try {
    const head = Buffer.alloc(2);
    const handle = await open(archive, 'r');
    try {
      await handle.read(head, 0, 2, 0);
    } finally {
      await handle.close();
    }
    if (head[0] !== 0x1f || head[1] !== 0x8b) throw badArchive('it is not gzip-compressed (send a .tgz)');
    for await (const entry of readTarGz(createReadStream(archive), limits)) {
      const target = resolve(root, entry.path);
      if (!target.startsWith(root + sep)) throw badArchive('an entry leaves its folder');
      if (entry.type === 'directory') {
        await mkdir(target, { recursive: true, mode: 0o755 });
        continue;
      }
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      // 'wx': never follow or replace anything already there.
      const file = await open(target, 'wx', entry.mode & 0o111 ? 0o755 : 0o644);
      try {
        for await (const chunk of entry.body) await file.write(chunk);
      } finally {
        await file.close();
      }
    }
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw badArchive('an entry collides with another (a file and a folder of the same name)');
    }
    throw error;
  }
}

/** Lowercase hex sha256 of a file. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The folder holding the extracted archive, `<cacheDir>/<sha256 of the archive>`, extracting it first when absent.
 * Example: `const dir = await extractCached(blobPath, join(dirname(blobPath), '.extracted'));`
 */
export async function extractCached(archive: string, cacheDir: string, limits: TarLimits = {}): Promise<string> {
  const sha256 = await sha256File(archive);
  const target = join(cacheDir, sha256);
  if ((await stat(target).catch(() => undefined))?.isDirectory()) return target;
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const temp = join(cacheDir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
  await extractArchive(archive, temp, limits);
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    // Another worker won the race: its copy is complete (renames are atomic), use it.
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') {
      throw new ModelportError('internal', 'the model archive could not be unpacked into the cache', {
        cause: error,
      });
    }
  }
  return target;
}
