/**
 * Which pinned version a whole batch is scored with when `modelport score <deployment>` runs in process (without
 * --url). A name is read as the gateway reads it (src/backends/local/deployment-resolver.ts, through `selectTarget`):
 * `name@tag` is the target with that tag. A bare name is the highest-weight target, the first of equals: the
 * gateway splits per request, but one batch run needs one model, and that is the one most traffic goes to.
 */

import { selectTarget } from './traffic.ts';
import type { Deployment, ResolvedTarget, Revision } from './types.ts';

export function batchTarget(deployment: string, targets: readonly ResolvedTarget[], tag?: string): ResolvedTarget {
  if (tag !== undefined && tag !== '') return selectTarget(deployment, targets, (t) => t.version, { tag });
  const heaviest = targets.reduce<ResolvedTarget | undefined>(
    (best, t) => (best === undefined || t.weight > best.weight ? t : best),
    undefined,
  );
  if (!heaviest) throw new Error(`deployment '${deployment}' has no traffic targets`);
  return heaviest;
}

/**
 * The revision whose targets a batch uses: the one the gateway routes to (`status.servingRevision`), else, before
 * any revision served, the current one.
 */
export function batchRevision(deployment: Deployment, revisions: readonly Revision[]): Revision | undefined {
  const wanted = deployment.status.servingRevision ?? deployment.currentRevision;
  return revisions.find((r) => r.revision === wanted);
}
