/**
 * The trust score, after Cortex Certifai's AI Trust Index (ATX): each scan yields a component score in [0, 1]
 * (1 best), and the trust score is their weighted mean over the components present, weights renormalised. The
 * component mappings (docs/metrics.md) and the weights are documented and configurable.
 */

export const TRUST_WEIGHTS = {
  performance: 0.3,
  fairness: 0.25,
  robustness: 0.2,
  explainability: 0.1,
  drift: 0.15,
} as const;

export type TrustComponent = keyof typeof TRUST_WEIGHTS;

export interface TrustInputs {
  /** Classification: ROC AUC (component 2 AUC - 1, the Gini coefficient, floored at 0). */
  rocAuc?: number;
  /** Used when no ROC AUC: accuracy as is. */
  accuracy?: number;
  /** Regression: R2 floored at 0. */
  r2?: number;
  /** Fairness: the lower of disparate impact and the burden ratio (both min/max ratios, 1 even). */
  disparateImpact?: number;
  burdenRatio?: number;
  /** Robustness: 1 - flip rate. */
  flipRate?: number;
  /**
   * Explainability: the mean share of mutable features a counterfactual leaves unchanged (sparse explanations are
   * easier to act on), or any [0, 1] score given directly.
   */
  explainability?: number;
  /** Drift: 1 - the share of drifted features. */
  driftShare?: number;
}

export interface TrustScore {
  /** Weighted mean of the components present; NaN when none is. */
  score: number;
  components: { name: TrustComponent; value: number; weight: number; contribution: number }[];
  missing: TrustComponent[];
}

const clip01 = (x: number) => Math.min(Math.max(x, 0), 1);
const defined = (x: number | undefined): x is number => x !== undefined && !Number.isNaN(x);

/** Each component's score from the scan results given. */
export function trustComponents(inputs: TrustInputs): Partial<Record<TrustComponent, number>> {
  const out: Partial<Record<TrustComponent, number>> = {};
  if (defined(inputs.rocAuc)) out.performance = clip01(2 * inputs.rocAuc - 1);
  else if (defined(inputs.r2)) out.performance = clip01(inputs.r2);
  else if (defined(inputs.accuracy)) out.performance = clip01(inputs.accuracy);
  const fair = [inputs.disparateImpact, inputs.burdenRatio].filter(defined);
  if (fair.length) out.fairness = clip01(Math.min(...fair));
  if (defined(inputs.flipRate)) out.robustness = clip01(1 - inputs.flipRate);
  if (defined(inputs.explainability)) out.explainability = clip01(inputs.explainability);
  if (defined(inputs.driftShare)) out.drift = clip01(1 - inputs.driftShare);
  return out;
}

/** The trust score of component scores (or of `trustComponents(inputs)`), with weights overriding the defaults. */
export function trustScore(
  components: Partial<Record<TrustComponent, number>>,
  weights: Partial<Record<TrustComponent, number>> = {},
): TrustScore {
  const w = { ...TRUST_WEIGHTS, ...weights };
  for (const [name, weight] of Object.entries(w)) {
    if (!(weight >= 0) || !Number.isFinite(weight))
      throw new RangeError(`trust weight ${name} must be >= 0, got ${weight}`);
  }
  const names = Object.keys(TRUST_WEIGHTS) as TrustComponent[];
  const present = names.filter((n) => defined(components[n]) && w[n] > 0);
  const total = present.reduce((a, n) => a + w[n], 0);
  const list = present.map((name) => {
    const value = clip01(components[name]!);
    const weight = w[name] / total;
    return { name, value, weight, contribution: weight * value };
  });
  return {
    score: list.length ? list.reduce((a, c) => a + c.contribution, 0) : Number.NaN,
    components: list,
    missing: names.filter((n) => !present.includes(n)),
  };
}

/** The explainability component from counterfactuals: mean of 1 - (changed - 1) / (mutable - 1) over those found. */
export function counterfactualSparsity(changedCounts: readonly number[], mutable: number): number {
  if (changedCounts.length === 0) return Number.NaN;
  if (mutable <= 1) return 1;
  return changedCounts.reduce((a, c) => a + (1 - (Math.max(c, 1) - 1) / (mutable - 1)), 0) / changedCounts.length;
}
