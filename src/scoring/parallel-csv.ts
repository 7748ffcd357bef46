/**
 * Parsing a CSV on several cores: `RecordCutter` cuts the byte stream into slices that end on a record's end, and
 * `CsvParsePool` parses the slices in worker threads (csv-parse-worker.ts), the bytes and the parsed batches
 * transferred both ways without copying. `scoreStream` keeps the replies in input order.
 *
 * A cut is made after a newline preceded by an even number of quotes, which is a record's end in well-formed CSV.
 * A worker checks it (its slice's last record must be complete); when a stray quote fooled the count, the caller
 * parses the rest of the input itself, so the output is the single-threaded parser's in every case.
 */
import { Worker } from 'node:worker_threads';
import type { ParseReply, ParseRequest, ParseWorkerSetup } from './csv-parse-worker.ts';

const LF = 10;
const QUOTE = 34;
const EMPTY = new Uint8Array(0);

/** Whether `bytes` holds an odd number of quotes. */
function oddQuotes(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let odd = false;
  for (let at = buffer.indexOf(QUOTE); at >= 0; at = buffer.indexOf(QUOTE, at + 1)) odd = !odd;
  return odd;
}

export class RecordCutter {
  /** Bytes after the last cut: the start of a record. */
  #tail: Uint8Array;
  #tailOdd: boolean;
  /** Buffers of earlier slices, given back for reuse. */
  readonly #spare: ArrayBuffer[] = [];

  constructor(start: Uint8Array = EMPTY) {
    this.#tail = start;
    this.#tailOdd = oddQuotes(start);
  }

  /** Bytes held that no cut covers yet. */
  get pending(): number {
    return this.#tail.length;
  }

  /**
   * Appends `chunk`; returns a fresh (transferable) slice that ends on a record's end, or undefined when the bytes
   * held have no such cut yet.
   */
  push(chunk: Uint8Array): Uint8Array | undefined {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let cut = bytes.lastIndexOf(LF);
    let odd = cut >= 0 && this.#tailOdd !== oddQuotes(bytes.subarray(0, cut));
    while (odd && cut >= 0) {
      // That newline is inside a quoted field: try the one before it.
      const previous = cut > 0 ? bytes.lastIndexOf(LF, cut - 1) : -1;
      if (previous >= 0 && oddQuotes(bytes.subarray(previous, cut))) odd = !odd;
      cut = previous;
    }
    if (cut < 0) {
      const joined = new Uint8Array(this.#tail.length + bytes.length);
      joined.set(this.#tail);
      joined.set(bytes, this.#tail.length);
      this.#tail = joined;
      this.#tailOdd = this.#tailOdd !== oddQuotes(bytes);
      return undefined;
    }
    const length = this.#tail.length + cut + 1;
    const spare = this.#spare.pop();
    const slice =
      spare && spare.byteLength >= length
        ? new Uint8Array(spare, 0, length)
        : new Uint8Array(new ArrayBuffer(Math.ceil(length * 1.25)), 0, length);
    slice.set(this.#tail);
    slice.set(bytes.subarray(0, cut + 1), this.#tail.length);
    this.#tail = bytes.subarray(cut + 1);
    this.#tailOdd = oddQuotes(this.#tail);
    return slice;
  }

  /** Takes a slice's buffer back for a later slice. */
  recycle(buffer: ArrayBuffer): void {
    if (this.#spare.length < 8) this.#spare.push(buffer);
  }

  /** The bytes held (a copy), and forgets them. */
  takeRest(): Uint8Array {
    const rest = new Uint8Array(this.#tail.length); // a copy with its own buffer (Buffer#slice would share)
    rest.set(this.#tail);
    this.#tail = EMPTY;
    this.#tailOdd = false;
    return rest;
  }
}

interface Waiting {
  resolve: (reply: ParseReply) => void;
  reject: (error: Error) => void;
  worker: number;
}

/** Worker threads that parse CSV slices; replies come back per request, in any order across workers. */
export class CsvParsePool {
  readonly #workers: Worker[];
  readonly #outstanding: number[];
  readonly #waiting = new Map<number, Waiting>();
  #online = 0;
  readonly #allOnline = Promise.withResolvers<void>();
  #nextId = 0;
  #failure: Error | undefined;

  constructor(threads: number, setup: ParseWorkerSetup) {
    this.#workers = Array.from(
      { length: threads },
      () => new Worker(new URL('./csv-parse-worker.ts', import.meta.url), { workerData: setup }),
    );
    this.#outstanding = this.#workers.map(() => 0);
    this.#allOnline.promise.catch(() => {}); // a failure reaches the caller through parse()
    this.#workers.forEach((worker, index) => {
      worker.on('message', (message: ParseReply | { ready: true }) => {
        if ('ready' in message) {
          if (++this.#online === this.#workers.length) this.#allOnline.resolve();
          return;
        }
        const waiting = this.#waiting.get(message.id);
        if (!waiting) return;
        this.#waiting.delete(message.id);
        this.#outstanding[index] = (this.#outstanding[index] as number) - 1;
        if (message.error !== undefined) waiting.reject(new Error(`CSV parse worker: ${message.error}`));
        else waiting.resolve(message);
      });
      const fail = (error: Error) => {
        this.#failure ??= error;
        this.#allOnline.reject(error);
        for (const [id, waiting] of this.#waiting) {
          if (waiting.worker !== index) continue;
          this.#waiting.delete(id);
          waiting.reject(error);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`CSV parse worker exited with code ${code}`)));
    });
  }

  /** Every worker has started and can take slices. */
  get ready(): boolean {
    return this.#online === this.#workers.length;
  }

  /** Resolves once every worker has started (rejects if one fails first). */
  started(): Promise<void> {
    return this.#allOnline.promise;
  }

  get threads(): number {
    return this.#workers.length;
  }

  /** Parses `bytes` (transferred: unusable here afterwards, the reply gives them back) on the least busy worker. */
  parse(bytes: Uint8Array, last: boolean, spare: ArrayBuffer[] = []): Promise<ParseReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    let index = 0;
    for (let i = 1; i < this.#workers.length; i++) {
      if ((this.#outstanding[i] as number) < (this.#outstanding[index] as number)) index = i;
    }
    const id = this.#nextId++;
    this.#outstanding[index] = (this.#outstanding[index] as number) + 1;
    return new Promise<ParseReply>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, worker: index });
      const request: ParseRequest = { id, bytes, last, spare };
      (this.#workers[index] as Worker).postMessage(request, [bytes.buffer as ArrayBuffer, ...spare]);
    });
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('the CSV parse pool is closed');
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
