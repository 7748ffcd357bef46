/**
 * Picking a traffic target per request: weighted random, or sticky when the spec names a header (the same header
 * value always lands on the same target while the weights stay the same). Pure, so it is tested exactly.
 */

export interface Weighted {
  weight: number;
}

/** FNV-1a of a string, mapped to [0, 100). */
export function bucketOf(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return ((hash >>> 0) % 10_000) / 100;
}

/** The target whose cumulative weight range holds `point` (0 <= point < 100). Zero-weight targets never win. */
export function pickByPoint<T extends Weighted>(targets: readonly T[], point: number): T {
  let cumulative = 0;
  for (const target of targets) {
    cumulative += target.weight;
    if (point < cumulative) return target;
  }
  // Weights add up to 100, so this is reached only through rounding at the very top: the last with weight.
  return [...targets].reverse().find((t) => t.weight > 0) ?? targets[targets.length - 1]!;
}

export function pickTarget<T extends Weighted>(targets: readonly T[], stickyValue?: string, random = Math.random): T {
  if (targets.length === 1) return targets[0]!;
  const point = stickyValue === undefined ? random() * 100 : bucketOf(stickyValue);
  return pickByPoint(targets, point);
}
