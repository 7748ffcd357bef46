/**
 * A small, strict reader of gzip-compressed tar archives (ustar, with pax and GNU long names), for js model
 * folders. It yields only regular files and directories with safe relative names; everything else is refused
 * before a byte of it is written anywhere:
 *
 * - links (symbolic and hard), devices, FIFOs, sparse and volume entries;
 * - names that are absolute (`/etc/x`, `C:x`), contain a `..` segment, a backslash, a NUL or another control
 *   character, are not UTF-8, or are too long or too deep;
 * - an entry that repeats an earlier name, a bad header checksum, a base-256 (huge) size, a truncated archive;
 * - more than `maxEntries` entries, or more than `maxBytes` of decompressed data (gzip bombs stop early).
 *
 * ```ts
 * for await (const entry of readTarGz(createReadStream(file), { maxBytes: 2 ** 30 })) {
 *   if (entry.type === 'file') for await (const chunk of entry.body) write(entry.path, chunk);
 * }
 * ```
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ModelportError } from '../../core/index.ts';

export interface TarLimits {
  /** Most decompressed bytes read from the archive (headers included). Default 1 GiB. */
  maxBytes?: number;
  /** Most entries (files and directories). Default 10000. */
  maxEntries?: number;
}

/**
 * One entry. `path` is normalised and relative (`dir/file.txt`, no `./`, no trailing slash). A file's `body` must
 * be consumed (or the iteration ended) before the next entry is read.
 */
export type TarEntry =
  | { type: 'directory'; path: string }
  | { type: 'file'; path: string; size: number; mode: number; body: AsyncIterable<Uint8Array> };

const BLOCK = 512;
const MAX_NAME_BYTES = 4096;
const MAX_DEPTH = 64;
const MAX_META_BYTES = 64 * 1024;

/** The refusal every bad archive gets; `field` is `file`, as for other model uploads. */
export function badArchive(reason: string): ModelportError {
  return new ModelportError('invalid_model', `the model archive is refused: ${reason}`, { field: 'file' });
}

/** Pulls exact byte counts from a chunk stream, counting every decompressed byte against the limit. */
class ByteSource {
  readonly #chunks: AsyncIterator<Buffer>;
  readonly #maxBytes: number;
  #buffer: Buffer = Buffer.alloc(0);
  #total = 0;

  constructor(chunks: AsyncIterable<Buffer>, maxBytes: number) {
    this.#chunks = chunks[Symbol.asyncIterator]();
    this.#maxBytes = maxBytes;
  }

  /** Resolves false at the end of the stream with nothing buffered. */
  async #fill(): Promise<boolean> {
    const next = await this.#chunks.next();
    if (next.done) return false;
    this.#total += next.value.length;
    if (this.#total > this.#maxBytes) {
      throw badArchive(`it holds more than ${this.#maxBytes} bytes once decompressed`);
    }
    this.#buffer = this.#buffer.length === 0 ? next.value : Buffer.concat([this.#buffer, next.value]);
    return true;
  }

  /** Exactly `n` bytes, or undefined when the stream ends cleanly before any of them. */
  async take(n: number): Promise<Buffer | undefined> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) {
        if (this.#buffer.length === 0) return undefined;
        throw badArchive('it is truncated');
      }
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** `n` bytes as a series of chunks (no copy of the whole). */
  async *stream(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill())) throw badArchive('it is truncated');
      const piece = this.#buffer.subarray(0, Math.min(left, this.#buffer.length));
      this.#buffer = this.#buffer.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }

  async close(): Promise<void> {
    await this.#chunks.return?.();
  }
}

function octal(header: Buffer, offset: number, length: number, what: string): number {
  const field = header.subarray(offset, offset + length);
  // Base-256 (high bit set) encodes sizes beyond 8 GiB and negative numbers: never needed for a model folder.
  if (((field[0] ?? 0) & 0x80) !== 0) throw badArchive(`an entry's ${what} uses the base-256 form (too large)`);
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw badArchive(`an entry's ${what} is not an octal number`);
  const value = Number.parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw badArchive(`an entry's ${what} is too large`);
  return value;
}

/** A NUL-terminated field; bytes after the terminator must be NULs too (a hidden suffix is a smuggling trick). */
function cString(header: Buffer, offset: number, length: number): Buffer {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  if (end === -1) return field;
  if (field.subarray(end).some((b) => b !== 0)) throw badArchive('an entry name has bytes after a NUL');
  return field.subarray(0, end);
}

function checksumOk(header: Buffer): boolean {
  const stored = octal(header, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
  return sum === stored;
}

/** Checks and normalises an entry name; refuses anything that could leave the extraction folder. */
export function safeEntryPath(raw: Buffer | string): string {
  let name: string;
  try {
    name = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw badArchive('an entry name is not UTF-8');
  }
  const shown = JSON.stringify(name.slice(0, 200));
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw badArchive('an entry name is too long');
  if (/[\u0000-\u001f\u007f]/.test(name)) throw badArchive(`the entry name ${shown} has a control character`);
  if (name.includes('\\')) throw badArchive(`the entry name ${shown} has a backslash`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw badArchive(`the entry name ${shown} is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw badArchive(`the entry name ${shown} leaves its folder`);
  if (parts.length === 0) throw badArchive(`the entry name ${shown} is empty`);
  if (parts.length > MAX_DEPTH) throw badArchive(`the entry name ${shown} is nested too deeply`);
  return parts.join('/');
}

/** `.`, `./`, `././`: the archive's own folder. */
function isArchiveRoot(raw: Buffer | string): boolean {
  const name = typeof raw === 'string' ? raw : raw.toString('latin1');
  return /^\.(\/\.?)*\/?$/.test(name);
}

/** pax extended header records: `<len> <key>=<value>\n`. Only `path` and `size` matter here. */
function parsePax(bytes: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < bytes.length) {
    const space = bytes.indexOf(0x20, at);
    const length = Number(bytes.subarray(at, space).toString('latin1'));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || at + length > bytes.length) {
      throw badArchive('a pax header is malformed');
    }
    const record = bytes.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw badArchive('a pax header is malformed');
    const key = record.subarray(0, eq).toString('utf8');
    const value = record.subarray(eq + 1);
    if (key === 'path' && value.includes(0)) throw badArchive('a pax path has a NUL');
    try {
      records.set(key, new TextDecoder('utf-8', { fatal: true }).decode(value));
    } catch {
      throw badArchive('a pax header is not UTF-8');
    }
    at += length;
  }
  return records;
}

const REFUSED_TYPES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  K: 'a GNU long link name',
  S: 'a sparse file',
  V: 'a volume header',
  M: 'a multi-volume continuation',
};

/**
 * Reads a gzip-compressed tar stream and yields its entries in order; throws `invalid_model` (field `file`) at the
 * first entry that breaks a rule above, or when the stream is not gzip.
 */
export async function* readTarGz(compressed: Readable, limits: TarLimits = {}): AsyncGenerator<TarEntry> {
  const maxBytes = limits.maxBytes ?? 2 ** 30;
  const maxEntries = limits.maxEntries ?? 10_000;
  const gunzip = createGunzip();
  compressed.on('error', (error) => gunzip.destroy(error));
  compressed.pipe(gunzip);
  const source = new ByteSource(
    (async function* () {
      try {
        for await (const chunk of gunzip) yield chunk as Buffer;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw badArchive('it is not valid gzip data');
        throw error;
      }
    })(),
    maxBytes,
  );
  const seen = new Set<string>();
  let longName: Buffer | undefined;
  let pax: Map<string, string> | undefined;
  let entries = 0;
  try {
    for (;;) {
      const header = await source.take(BLOCK);
      if (header === undefined) throw badArchive('it ends without the end-of-archive marker');
      if (header.every((b) => b === 0)) return; // End of archive; trailing bytes are ignored, as tar does.
      if (!checksumOk(header)) throw badArchive('an entry header has a bad checksum (is this a .tgz?)');
      const type = String.fromCharCode(header[156] as number);
      const size = pax?.has('size') ? Number(pax.get('size')) : octal(header, 124, 12, 'size');
      if (!Number.isSafeInteger(size) || size < 0) throw badArchive('an entry has an invalid size');
      if (size > maxBytes) throw badArchive(`an entry is larger than the limit of ${maxBytes} bytes`);
      const padded = Math.ceil(size / BLOCK) * BLOCK;

      if (type === 'x' || type === 'g' || type === 'L') {
        if (size > MAX_META_BYTES) throw badArchive('an extended header is too large');
        const body = (await source.take(padded)) ?? Buffer.alloc(0);
        if (type === 'x') pax = parsePax(body.subarray(0, size));
        else if (type === 'L') longName = cString(body, 0, size);
        continue; // 'g' (global pax) carries nothing a model folder needs.
      }
      const refused = REFUSED_TYPES[type];
      if (refused !== undefined) throw badArchive(`it holds ${refused}; only files and folders are allowed`);
      if (type !== '0' && type !== '\0' && type !== '7' && type !== '5') {
        throw badArchive(`it holds an entry of unknown type '${type.replace(/[^\x20-\x7e]/g, '?')}'`);
      }

      const magic = header.subarray(257, 263).toString('latin1');
      let rawName: Buffer | string = cString(header, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cString(header, 345, 155);
        if (prefix.length > 0) rawName = Buffer.concat([prefix, Buffer.from('/'), rawName]);
      }
      if (longName !== undefined) rawName = longName;
      if (pax?.has('path')) rawName = pax.get('path') as string;
      longName = undefined;
      pax = undefined;

      // `tar czf m.tgz -C dir .` starts with the folder itself, `./`: nothing to make, so it is skipped (a file
      // of that name is still refused by safeEntryPath).
      if (type === '5' && isArchiveRoot(rawName)) {
        await source.skip(padded);
        continue;
      }
      const path = safeEntryPath(rawName);
      if (seen.has(path)) throw badArchive(`the entry ${JSON.stringify(path)} appears twice`);
      seen.add(path);
      if (++entries > maxEntries) throw badArchive(`it holds more than ${maxEntries} entries`);

      if (type === '5') {
        await source.skip(padded);
        yield { type: 'directory', path };
        continue;
      }
      const mode = octal(header, 100, 8, 'mode');
      let remaining = size;
      const body = (async function* () {
        for await (const piece of source.stream(remaining)) {
          remaining -= piece.length;
          yield piece;
        }
      })();
      yield { type: 'file', path, size, mode, body };
      await source.skip(remaining + padded - size);
    }
  } finally {
    await source.close();
    compressed.unpipe(gunzip);
    gunzip.destroy();
  }
}
