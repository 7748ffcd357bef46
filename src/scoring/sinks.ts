/**
 * Output destinations with backpressure: a file written under a hidden temporary name and renamed into place only
 * when the run succeeds (so a partial file never looks complete), or a stream such as stdout.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { ByteWriter } from './byte-writer.ts';
import { csvField } from './row-formatter.ts';
import type { ByteSink } from './score-stream.ts';

export interface CommittableSink extends ByteSink {
  /** Flushes and moves the file into place. */
  commit(): Promise<void>;
  /** Removes the temporary file; idempotent. */
  abort(): Promise<void>;
}

/** `write` on a Node stream that resolves when the stream can take more, and rejects once the stream failed. */
export function streamSink(stream: Writable): ByteSink & { end(): Promise<void> } {
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure ??= error;
  });
  const wait = (event: string) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      const done = () => {
        stream.off('error', failed);
        resolve();
      };
      const failed = (error: Error) => {
        stream.off(event, done);
        reject(error);
      };
      stream.once(event, done);
      stream.once('error', failed);
    });
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!stream.write(chunk)) await wait('drain');
    },
    async end() {
      if (failure) throw failure;
      const finished = wait('finish');
      stream.end();
      await finished;
    },
  };
}

/** A sink that writes `<dir>/.<name>.<random>.partial` and renames it to `path` on `commit`. */
export function fileSink(path: string): CommittableSink {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
  const stream = createWriteStream(temp, { flags: 'wx' });
  const sink = streamSink(stream);
  let settled = false;
  return {
    write: sink.write,
    async commit() {
      await sink.end();
      await rename(temp, path);
      settled = true;
    },
    async abort() {
      if (settled) return;
      settled = true;
      stream.destroy();
      await rm(temp, { force: true });
    },
  };
}

/**
 * The rejects file: CSV `line,reason,record`. `add` is synchronous (the parser calls it mid-chunk); `flush` writes
 * what was added with backpressure and is awaited between chunks.
 */
export class RejectsWriter {
  count = 0;
  readonly #sink: ByteSink | undefined;
  readonly #pending = new ByteWriter(4096);

  /** Without a sink, rejects are only counted. */
  constructor(sink?: ByteSink) {
    this.#sink = sink;
    if (sink) this.#pending.text('line,reason,record\n');
  }

  add(line: number, reason: string, record: string): void {
    this.count++;
    if (this.#sink) this.#pending.text(`${line},${csvField(reason)},${csvField(record)}\n`);
  }

  async flush(): Promise<void> {
    if (this.#sink && this.#pending.length > 0) await this.#sink.write(this.#pending.take());
  }
}
