/**
 * A step's log while it runs: kept in memory up to a cap (the rest dropped and the cut marked at the end), read by
 * live followers, and stored in the artifact store when the step ends. A step that prints 1 GB costs the server
 * the cap, never more.
 *
 * Secrets a step references are redacted before anything is kept or streamed (`redact`): their values and base64
 * forms become `***`. A value split across two chunks is caught because the last bytes that could start one are
 * held back until more arrive, the step's command ends (`flush`) or the log ends.
 */

/** Shorter values are not redacted: masking every `1` or `ab` would make logs unreadable and reveal nothing. */
export const MIN_REDACTED_LENGTH = 4;
const MASK = '***';

export type LogListener = (chunk: Buffer) => void;

export class StepLog {
  readonly #cap: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #dropped = 0;
  #ended = false;
  readonly #listeners = new Set<LogListener>();
  readonly #endListeners = new Set<() => void>();
  /** Byte patterns to mask (latin1 strings: one character per byte), longest first. */
  #forms: string[] = [];
  #pending = '';

  constructor(capBytes: number) {
    this.#cap = capBytes;
  }

  get cut(): boolean {
    return this.#dropped > 0;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Masks these values (and their base64 forms) in everything appended from now on. */
  redact(values: Iterable<string>): void {
    const forms = new Set(this.#forms);
    for (const value of values) {
      if (value.length < MIN_REDACTED_LENGTH) continue;
      const bytes = Buffer.from(value);
      const base64 = bytes.toString('base64');
      for (const form of [value, base64, base64.replace(/=+$/, ''), bytes.toString('base64url')]) {
        forms.add(Buffer.from(form).toString('latin1'));
      }
    }
    this.#forms = [...forms].sort((a, b) => b.length - a.length);
  }

  append(chunk: Buffer | string): void {
    if (this.#ended) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#forms.length === 0) {
      this.#keep(buf);
      return;
    }
    let text = this.#pending + buf.toString('latin1');
    for (const form of this.#forms) if (text.includes(form)) text = text.split(form).join(MASK);
    // The tail that could be the start of a value stays back until the next chunk.
    const cut = Math.max(0, text.length - (this.#forms[0]!.length - 1));
    this.#pending = text.slice(cut);
    if (cut > 0) this.#keep(Buffer.from(text.slice(0, cut), 'latin1'));
  }

  /** Lets out what redaction held back (the command ended: no more of it is coming). */
  flush(): void {
    if (this.#pending === '') return;
    const rest = Buffer.from(this.#pending, 'latin1');
    this.#pending = '';
    this.#keep(rest);
  }

  #keep(chunk: Buffer): void {
    let buf = chunk;
    const room = this.#cap - this.#size;
    if (room <= 0) {
      this.#dropped += buf.length;
      return;
    }
    if (buf.length > room) {
      this.#dropped += buf.length - room;
      buf = buf.subarray(0, room);
    }
    // Copy: a child's stdout chunk may be a view of a pooled buffer.
    const kept = Buffer.from(buf);
    this.#chunks.push(kept);
    this.#size += kept.length;
    for (const listener of this.#listeners) listener(kept);
  }

  /** Appends the cut marker if anything was dropped, and tells followers the log is complete. */
  end(): Buffer {
    if (!this.#ended) {
      this.flush();
      if (this.#dropped > 0) {
        const marker = Buffer.from(
          `\n[modelport: log cut at ${this.#cap} bytes; ${this.#dropped} more bytes were dropped]\n`,
        );
        this.#chunks.push(marker);
        this.#size += marker.length;
        for (const listener of this.#listeners) listener(marker);
      }
      this.#ended = true;
      for (const listener of this.#endListeners) listener();
      this.#listeners.clear();
      this.#endListeners.clear();
    }
    return Buffer.concat(this.#chunks);
  }

  /** The last non-empty line kept (at most 300 characters), for a failed step's reason. */
  lastLine(): string | undefined {
    for (let i = this.#chunks.length - 1, tail = ''; i >= 0 && tail.length < 4096; i--) {
      tail = this.#chunks[i]!.toString('utf8') + tail;
      const lines = tail
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      if (lines.length > 1 || (i === 0 && lines.length === 1)) return lines.at(-1)!.slice(0, 300);
    }
    return undefined;
  }

  /** What was logged so far, then every new chunk until the end; returns the unsubscribe function. */
  follow(onChunk: LogListener, onEnd: () => void): () => void {
    for (const chunk of this.#chunks) onChunk(chunk);
    if (this.#ended) {
      onEnd();
      return () => {};
    }
    this.#listeners.add(onChunk);
    this.#endListeners.add(onEnd);
    return () => {
      this.#listeners.delete(onChunk);
      this.#endListeners.delete(onEnd);
    };
  }
}
