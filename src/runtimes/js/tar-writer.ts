/**
 * Writing ustar archives: `packFolder` turns a js model folder into the .tgz the registry takes (the CLI uses it
 * for `models register <name> <folder>`), and `tarHeader` / `packTar` build arbitrary entries, hostile ones
 * included, for tests.
 *
 * ```ts
 * await packFolder('./sum-model', '/tmp/sum-model.tgz');
 * const tgz = gzipSync(packTar([{ name: 'index.js', data: 'export function predict() {}' }]));
 * ```
 */
import { createWriteStream } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ModelportError } from '../../core/index.ts';

/** One entry to write. `type` is the tar type flag ('0' file, '5' folder, '1' hard link, '2' symlink, ...). */
export interface TarEntryInput {
  name: string;
  type?: string;
  data?: string | Uint8Array;
  /** Size written in the header; defaults to the data's length (tests lie with it). */
  size?: number;
  linkname?: string;
  mode?: number;
  /** Bytes for the 155-byte ustar prefix field. */
  prefix?: string;
}

const BLOCK = 512;

function put(header: Buffer, text: string | Buffer, offset: number, length: number): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (bytes.length > length) throw new RangeError(`tar field too long: ${bytes.length} > ${length}`);
  bytes.copy(header, offset);
}

const num = (value: number, length: number) => `${value.toString(8).padStart(length - 1, '0')}\0`;

/** A 512-byte ustar header with a correct checksum. */
export function tarHeader(entry: TarEntryInput): Buffer {
  const header = Buffer.alloc(BLOCK);
  const type = entry.type ?? '0';
  const size = entry.size ?? (entry.data === undefined ? 0 : Buffer.byteLength(entry.data));
  put(header, entry.name, 0, 100);
  put(header, num(entry.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 8);
  put(header, num(0, 8), 108, 8);
  put(header, num(0, 8), 116, 8);
  put(header, num(size, 12), 124, 12);
  put(header, num(0, 12), 136, 12);
  put(header, type, 156, 1);
  put(header, entry.linkname ?? '', 157, 100);
  put(header, 'ustar\0', 257, 6);
  put(header, '00', 263, 2);
  put(header, entry.prefix ?? '', 345, 155);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(header, `${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return header;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** An uncompressed tar of `entries` with the end-of-archive marker; gzip it with `gzipSync`. */
export function packTar(entries: readonly TarEntryInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry));
    if (entry.data !== undefined) {
      const data = Buffer.from(entry.data);
      parts.push(data, padding(data.length));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** A name in the ustar fields: up to 100 bytes, or split at a '/' into a prefix of up to 155 and a name. */
function nameFields(name: string): { name: string; prefix?: string } {
  if (Buffer.byteLength(name) <= 100) return { name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { name: rest, prefix };
  }
  throw new ModelportError('invalid_request', `the path '${name}' is too long for a model archive`, {
    field: 'file',
  });
}

async function* folderEntries(root: string, dir: string): AsyncGenerator<Buffer> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const rel = relative(root, path).split(sep).join('/');
    const info = await lstat(path);
    if (info.isDirectory()) {
      if (name === 'node_modules' || name === '.git') continue;
      yield tarHeader({ ...nameFields(`${rel}/`), type: '5' });
      yield* folderEntries(root, path);
    } else if (info.isFile()) {
      yield tarHeader({ ...nameFields(rel), size: info.size, mode: info.mode & 0o755 });
      const handle = await open(path);
      try {
        let written = 0;
        for await (const chunk of handle.createReadStream({ autoClose: false })) {
          written += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (written !== info.size) {
          throw new ModelportError('conflict', `'${rel}' changed while it was being packed; pack again`);
        }
      } finally {
        await handle.close();
      }
      yield padding(info.size);
    } else {
      throw new ModelportError(
        'invalid_request',
        `'${rel}' is a link or special file; a model folder holds only files and folders (copy the target in)`,
        { field: 'file' },
      );
    }
  }
}

/**
 * Packs `dir` (files and folders; `node_modules` and `.git` are left out) into a gzip tar at `out`, entries sorted
 * by name so the same folder gives the same archive. Links and special files are refused with `invalid_request`.
 */
export async function packFolder(dir: string, out: string): Promise<void> {
  async function* archive() {
    yield* folderEntries(dir, dir);
    yield Buffer.alloc(2 * BLOCK);
  }
  await pipeline(Readable.from(archive()), createGzip({ level: 6 }), createWriteStream(out, { mode: 0o600 }));
}
