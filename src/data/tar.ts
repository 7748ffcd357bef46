/**
 * Reading the subset of tar (POSIX ustar with PAX `path` and `size` records, GNU long names) that carries a folder of
 * regular files in one request: the CLI writes it (client/tar-writer.ts), the server reads it as it streams, one entry at a time, never
 * holding more than one small file in memory. Links, devices and other special entries are refused.
 */
import { ModelportError } from '../core/index.ts';

const BLOCK = 512;
const MAX_META = 1024 * 1024;

export interface TarEntry {
  /** As written in the archive, a leading `./` removed. */
  path: string;
  size: number;
  /** The entry's bytes as they arrive; read it fully or not at all (the reader skips what is left). */
  body: AsyncIterable<Buffer>;
  /** The entry's bytes in one buffer (for small entries): use either this or `body`. */
  read(): Promise<Buffer>;
}

const bad = (message: string) => new ModelportError('invalid_request', `body: ${message}`, { field: 'body' });

class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Up to `n` buffered bytes (fewer only at the end of the input). */
  async peek(n: number): Promise<Buffer> {
    while (this.#buffer.length < n && !this.#ended) {
      const next = await this.#source.next();
      if (next.done) this.#ended = true;
      else
        this.#buffer = this.#buffer.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.#buffer, next.value]);
    }
    return this.#buffer.subarray(0, n);
  }

  async read(n: number): Promise<Buffer> {
    const bytes = await this.peek(n);
    if (bytes.length < n) throw bad('the tar archive ends in the middle of an entry; send the whole archive');
    this.#buffer = this.#buffer.subarray(n);
    return bytes;
  }

  /** Yields exactly `n` bytes as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buffer.length === 0) {
        const next = await this.#source.next();
        if (next.done) throw bad('the tar archive ends in the middle of an entry; send the whole archive');
        this.#buffer = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      }
      const take = Math.min(left, this.#buffer.length);
      const chunk = this.#buffer.subarray(0, take);
      this.#buffer = this.#buffer.subarray(take);
      left -= take;
      yield chunk;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function numeric(header: Buffer, offset: number, length: number): number {
  const first = header[offset]!;
  if (first & 0x80) {
    // Base-256 (GNU) for sizes over 8 GiB.
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + header[offset + i]!;
    return value;
  }
  const text = field(header, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw bad('a tar header holds a malformed number; send a tar archive (tar -c)');
  return Number.parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  const stored = field(header, 148, 8).trim();
  return /^[0-7]+$/.test(stored) && sum === Number.parseInt(stored, 8);
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (space < 0 || !Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

/** Reads the regular files of a tar stream in order. Throws `invalid_request` (field `body`) for a bad archive. */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  for (;;) {
    const header = await reader.peek(BLOCK);
    if (header.length === 0) return;
    await reader.read(BLOCK);
    if (header.every((b) => b === 0)) return;
    if (!checksumOk(header))
      throw bad('this is not a tar archive (a header checksum does not match); send the output of tar -c');
    const type = String.fromCharCode(header[156]!);
    let size = numeric(header, 124, 12);
    if (type === 'x' || type === 'g' || type === 'L') {
      if (size > MAX_META) throw bad('a tar metadata entry is larger than 1 MiB');
      const data = await reader.read(size);
      await reader.skip(padding(size));
      if (type === 'x') pax = paxRecords(data);
      if (type === 'L') longName = field(data, 0, data.length);
      continue;
    }
    const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
    const name = field(header, 0, 100);
    let path = pax['path'] ?? longName ?? (prefix === '' ? name : `${prefix}/${name}`);
    if (pax['size'] !== undefined) size = Number(pax['size']);
    pax = {};
    longName = undefined;
    while (path.startsWith('./')) path = path.slice(2);
    if (type === '5' || path === '' || path === '.') {
      await reader.skip(size + padding(size));
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      throw bad(
        `tar entry '${path.slice(0, 120)}' is a link or special file; only regular files are stored (tar -h follows links)`,
      );
    }
    let consumed = false;
    const body = (async function* () {
      consumed = true;
      yield* reader.stream(size);
    })();
    const read = async () => {
      consumed = true;
      // Copied: the reader's buffer is reused for what follows.
      return Buffer.from(await reader.read(size));
    };
    yield { path, size, body, read };
    if (!consumed) await reader.skip(size);
    else await body.return(undefined);
    await reader.skip(padding(size));
  }
}
