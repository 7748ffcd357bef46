/**
 * Writing a folder as a tar stream (POSIX ustar, with PAX records for long or non-ASCII paths and sizes over 8 GiB),
 * the body of `putFolder`: the server reads it as it streams (src/data/tar.ts), one entry at a time.
 */

const BLOCK = 512;
const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

export interface TarFile {
  /** Path inside the archive. */
  path: string;
  size: number;
  /** Permission bits (default 0o644); owners and mtimes are always 0, so the same files give the same bytes. */
  mode?: number;
  open(): AsyncIterable<Uint8Array>;
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(name: string, size: number, type: string, mode = 0o644): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function paxHeader(path: string, size: number): Buffer | undefined {
  const records: string[] = [];
  const record = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body);
    length += String(length).length;
    if (String(length).length !== String(length - String(length).length).length) length++;
    return `${length}${body}`;
  };
  if (Buffer.byteLength(path) > 100 || /[^\x20-\x7e]/.test(path)) records.push(record('path', path));
  if (size > 0o77777777777) records.push(record('size', String(size)));
  if (records.length === 0) return undefined;
  const data = Buffer.from(records.join(''));
  return Buffer.concat([header('PaxHeader', data.length, 'x'), data, Buffer.alloc(padding(data.length))]);
}

/** The archive's exact length, for Content-Length and progress. */
export function tarSize(files: readonly Pick<TarFile, 'path' | 'size'>[]): number {
  let total = 2 * BLOCK;
  for (const file of files)
    total += (paxHeader(file.path, file.size)?.length ?? 0) + BLOCK + file.size + padding(file.size);
  return total;
}

/** Writes `files` as a tar stream (each file's bytes must match its declared size), in chunks of about 256 KiB. */
export async function* writeTar(files: Iterable<TarFile>): AsyncGenerator<Uint8Array> {
  const CHUNK = 256 * 1024;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const push = (bytes: Uint8Array) => {
    pending.push(bytes);
    pendingBytes += bytes.length;
  };
  const take = () => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  for (const file of files) {
    const pax = paxHeader(file.path, file.size);
    if (pax) push(pax);
    push(
      header(
        Buffer.byteLength(file.path) > 100 ? file.path.slice(0, 90) : file.path,
        Math.min(file.size, 0o77777777777),
        '0',
        file.mode,
      ),
    );
    let written = 0;
    for await (const chunk of file.open()) {
      written += chunk.length;
      if (chunk.length >= CHUNK) {
        if (pendingBytes > 0) yield take();
        yield chunk;
      } else {
        push(chunk);
        if (pendingBytes >= CHUNK) yield take();
      }
    }
    if (written !== file.size)
      throw new Error(`${file.path} changed size while it was being sent (${file.size} -> ${written} bytes)`);
    const pad = padding(file.size);
    if (pad > 0) push(Buffer.alloc(pad));
    if (pendingBytes >= CHUNK) yield take();
  }
  push(Buffer.alloc(2 * BLOCK));
  yield take();
}
