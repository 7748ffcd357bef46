/**
 * `ByteWriter`: appends text and numbers to one growing scratch Buffer, so a whole batch of output rows becomes one
 * write without a string per row. `take()` returns a copy of what was written and starts over.
 */

/** '00' to '99': two digits per look-up. */
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

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
    let at = this.#at;
    const scaled = Math.round(Math.abs(value) * 1e6);
    if (value < 0 && scaled !== 0) buf[at++] = 45;
    // Both parts fit in 31 bits (the integer part is under 1e9), so `| 0` divisions are exact.
    let integer = Math.floor(scaled / 1e6);
    const fraction = scaled - integer * 1e6;
    if (integer < 10) buf[at++] = 48 + integer;
    else {
      let digits = 1;
      for (let t = integer; t >= 10; t = (t / 10) | 0) digits++;
      at += digits;
      for (let i = 1; i <= digits; i++) {
        const next = (integer / 10) | 0;
        buf[at - i] = 48 + integer - next * 10;
        integer = next;
      }
    }
    buf[at] = 46;
    const high = (fraction / 10000) | 0;
    const low = fraction - high * 10000;
    const middle = (low / 100) | 0;
    const last = low - middle * 100;
    buf[at + 1] = PAIRS[high * 2] as number;
    buf[at + 2] = PAIRS[high * 2 + 1] as number;
    buf[at + 3] = PAIRS[middle * 2] as number;
    buf[at + 4] = PAIRS[middle * 2 + 1] as number;
    buf[at + 5] = PAIRS[last * 2] as number;
    buf[at + 6] = PAIRS[last * 2 + 1] as number;
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
