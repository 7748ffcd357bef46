/**
 * A secret's plaintext in memory. Printing it in any way (template strings, `String()`, `JSON.stringify`,
 * `util.inspect`, `console.log`) gives `[secret]`; only `reveal()` returns the value, so a leak needs a deliberate
 * call that reviews can find.
 *
 * ```ts
 * const token = new SecretValue('s3cr3t');
 * `${token}`;        // '[secret]'
 * token.reveal();    // 's3cr3t' (for a runtime's environment, an Authorization header)
 * ```
 */
import { inspect } from 'node:util';

const MASK = '[secret]';

export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plaintext. Call it only where the value leaves for its one legitimate use. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [Symbol.toPrimitive](): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}
