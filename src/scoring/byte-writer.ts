/**
 * `ByteWriter`: appends text and numbers to one growing scratch Buffer, so a whole batch of output rows becomes one
 * write without a string per row. `take()` returns a copy of what was written and starts over.
 */

const DIGITS = Buffer.from('0123456789');

export class ByteWriter {
  #buf: Buffer;
  #at = 0;

  constructor(initialBytes = 1 << 16) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + bytes));
    this.#buf.copy(next, 0, 0, this.#at);
    this.#buf = next;
  }

  byte(value: number): void {
    this.#room(1);
    this.#buf[this.#at++] = value;
  }

  bytes(value: Uint8Array): void {
    this.#room(value.length);
    this.#buf.set(value, this.#at);
    this.#at += value.length;
  }

  text(value: string): void {
    this.#room(value.length * 3);
    this.#at += this.#buf.write(value, this.#at);
  }

  /**
   * `value` with exactly 6 decimals ('0.001235', '-12.500000'), by integer arithmetic; values of 1e9 or more, and
   * non-finite ones, are written as JavaScript prints them.
   */
  fixed6(value: number): void {
    if (!(Math.abs(value) < 1e9)) {
      this.text(String(value));
      return;
    }
    this.#room(20);
    const buf = this.#buf;
    const scaled = Math.round(Math.abs(value) * 1e6);
    if (value < 0 && scaled !== 0) buf[this.#at++] = 45;
    let integer = Math.floor(scaled / 1e6);
    let fraction = scaled - integer * 1e6;
    // Integer part, most significant digit first.
    let digits = 1;
    for (let t = integer; t >= 10; t = Math.floor(t / 10)) digits++;
    let at = this.#at + digits;
    for (let i = 0; i < digits; i++) {
      buf[--at] = DIGITS[integer % 10] as number;
      integer = Math.floor(integer / 10);
    }
    at = this.#at + digits;
    buf[at] = 46;
    for (let i = 6; i >= 1; i--) {
      buf[at + i] = DIGITS[fraction % 10] as number;
      fraction = Math.floor(fraction / 10);
    }
    this.#at = at + 7;
  }

  /** The shortest text that reads back as the same float32 (up to 9 significant digits). */
  float32(value: number): void {
    if (!Number.isFinite(value) || Number.isInteger(value)) {
      this.text(String(value));
      return;
    }
    for (let precision = 6; precision < 9; precision++) {
      const text = value.toPrecision(precision);
      if (Math.fround(Number(text)) === value) {
        this.text(String(Number(text)));
        return;
      }
    }
    this.text(String(Number(value.toPrecision(9))));
  }

  get length(): number {
    return this.#at;
  }

  take(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#at));
    this.#at = 0;
    return out;
  }
}
