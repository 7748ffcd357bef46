/**
 * The deployment status the reconciler writes: the initial Unknown conditions, and what a backend's result turns
 * them into (Ready / RolledOut / Failed), keeping each condition's lastTransitionTime while its status holds.
 */
import type { BackendResult, ServingRoute } from './backend.ts';
import type { Condition, ConditionType, DeploymentStatus } from './types.ts';

export function initialStatus(now: string): DeploymentStatus {
  return {
    observedGeneration: 0,
    servingRevision: null,
    conditions: (['Ready', 'RolledOut', 'Failed'] as ConditionType[]).map((type) => ({
      type,
      status: 'Unknown',
      reason: 'Reconciling',
      lastTransitionTime: now,
    })),
    urls: { rest: '' },
    targets: [],
  };
}

export function condition(status: DeploymentStatus, type: ConditionType): Condition['status'] | undefined {
  return status.conditions.find((c) => c.type === type)?.status;
}

export interface ReconcileOutcome {
  /** The generation the reconciler acted on. */
  generation: number;
  revision: number;
  latestRevision: number;
  result: BackendResult;
  /** What this server still routes to after the result (a failed revision leaves the previous one serving). */
  serving: ServingRoute | undefined;
  now: string;
}

/** The status after reconciling one revision. */
export function reconciledStatus(status: DeploymentStatus, outcome: ReconcileOutcome): DeploymentStatus {
  const { result, revision, latestRevision, serving, now } = outcome;
  const next: DeploymentStatus = { ...status, observedGeneration: outcome.generation };
  if (result.ok) {
    next.servingRevision = revision;
    next.urls = { rest: result.url ?? '' };
    next.conditions = setConditions(status.conditions, now, [
      result.unobserved
        ? { type: 'Ready', status: 'Unknown', ...result.unobserved }
        : { type: 'Ready', status: 'True', reason: 'Serving' },
      {
        type: 'RolledOut',
        status: revision === latestRevision ? 'True' : 'False',
        reason: revision === latestRevision ? 'LatestRevisionServing' : 'RolledBack',
        message: result.unobserved
          ? `revision ${revision} is written; it serves once started`
          : `revision ${revision} serves all traffic`,
      },
      { type: 'Failed', status: 'False' },
    ]);
    return next;
  }
  next.conditions = setConditions(status.conditions, now, [
    {
      type: 'Ready',
      status: serving ? 'True' : 'False',
      reason: serving ? 'PreviousRevisionServing' : result.reason,
      ...(serving ? { message: `revision ${serving.revision} keeps serving` } : { message: result.message }),
    },
    { type: 'RolledOut', status: 'False', reason: result.reason, message: result.message },
    { type: 'Failed', status: 'True', reason: result.reason, message: result.message },
  ]);
  return next;
}

/** Updates conditions, keeping lastTransitionTime when a condition's status does not change. */
export function setConditions(
  existing: Condition[],
  now: string,
  updates: Omit<Condition, 'lastTransitionTime'>[],
): Condition[] {
  return updates.map((u) => {
    const old = existing.find((c) => c.type === u.type);
    return { ...u, lastTransitionTime: old && old.status === u.status ? old.lastTransitionTime : now };
  });
}
