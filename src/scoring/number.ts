/** Number parsing from text fields, strict: what `Number()` would accept loosely ('', '0x1f', ' ') is refused. */

/** Exact powers of ten as doubles (10^0 ... 10^22 are exactly representable). */
export const POW10: Float64Array = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** The value of a decimal number's text (sign, digits, point, exponent, surrounding spaces), or NaN. */
export function parseNumberText(text: string): number {
  return DECIMAL.test(text) ? Number(text) : Number.NaN;
}
