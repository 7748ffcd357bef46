/**
 * The fairness scan of one model: per protected attribute, the stats room's `fairness` (fairlearn's definitions and
 * the four-fifths rule, Wilson intervals per group, bootstrap intervals of the summaries) over the model's decisions
 * (score > threshold is the favourable outcome) and the truth. Groups smaller than the minimum are shown and flagged.
 */
import { fairness as fairnessOf, predictLabels } from '../stats/index.ts';
import type { Attribute } from './gather.ts';
import { BOOTSTRAP_REPLICATES, BOOTSTRAP_ROWS, subsample } from './measure-performance.ts';
import type { AttributeReport, Estimate, FairnessReport } from './report-types.ts';

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The summaries reported per attribute, by their names in reports and policies. */
export const FAIRNESS_METRICS = {
  demographic_parity_difference: 'demographicParityDifference',
  demographic_parity_ratio: 'demographicParityRatio',
  disparate_impact: 'disparateImpact',
  equal_opportunity_difference: 'equalOpportunityDifference',
  equalized_odds_difference: 'equalizedOddsDifference',
  accuracy_ratio: 'accuracyRatio',
} as const;

export function measureFairness(
  scores: Float64Array,
  truth: Float64Array,
  attributes: readonly Attribute[],
  threshold: number,
  fairnessThreshold: number,
): FairnessReport {
  const predicted = predictLabels(scores, threshold);
  // Intervals of the summaries from a bounded subsample (the point values are over every row).
  const index = subsample(scores.length, BOOTSTRAP_ROWS, 13);
  const reports: AttributeReport[] = attributes.map((a) => {
    const groups = { labels: a.groups, index: a.index };
    const full = fairnessOf({ predicted, truth, groups });
    const sub = fairnessOf({
      predicted: Uint8Array.from(index, (i) => predicted[i]!),
      truth: Float64Array.from(index, (i) => truth[i]!),
      groups: { labels: a.groups, index: Int32Array.from(index, (i) => a.index[i]!) },
      bootstrap: { replicates: BOOTSTRAP_REPLICATES, seed: 17 },
    });
    const metrics: Record<string, Estimate> = {};
    for (const [name, key] of Object.entries(FAIRNESS_METRICS)) {
      const ci = sub.intervals?.[key];
      metrics[name] = { value: finite(full[key]), lo: ci ? finite(ci.lo) : null, hi: ci ? finite(ci.hi) : null };
    }
    const reference = [...full.groups].filter((g) => !g.tooSmall).sort((x, y) => y.selectionRate - x.selectionRate)[0];
    return {
      column: a.column,
      buckets: a.buckets,
      reference: reference?.group ?? '',
      groups: full.groups.map((g) => ({
        name: g.group,
        rows: g.n,
        small: g.tooSmall,
        selectionRate: {
          value: finite(g.selectionRate),
          lo: finite(g.intervals.selectionRate[0]),
          hi: finite(g.intervals.selectionRate[1]),
        },
        disparateImpact: finite(g.disparateImpact),
        truePositiveRate: finite(g.truePositiveRate),
        falsePositiveRate: finite(g.falsePositiveRate),
        accuracy: finite(g.accuracy),
        burden: null,
      })),
      metrics,
    };
  });
  return { threshold: fairnessThreshold, attributes: reports };
}
