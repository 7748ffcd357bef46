/**
 * A small seeded pseudo-random generator (mulberry32), so every generated model and dataset is reproducible.
 * Not for cryptography.
 *
 * ```ts
 * const rng = createRandom(42);
 * rng.uniform();   // [0, 1)
 * rng.normal();    // standard normal
 * ```
 */
export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal (mean 0, standard deviation 1). */
  normal(): number;
}

/** A generator for `seed` (any integer; the same seed always gives the same sequence). */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}
