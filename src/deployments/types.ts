/** Deployments as the API returns them: the user's spec, immutable revisions, and the reconciler's status. */
import type { DeploymentSpec } from './spec.ts';

/** A traffic target with its reference pinned to a version when the revision was made. */
export interface ResolvedTarget {
  /** As written in the spec (`fraud@champion`). */
  ref: string;
  model: string;
  version: number;
  weight: number;
  tag?: string | undefined;
}

export interface ResolvedShadow {
  ref: string;
  model: string;
  version: number;
  percent: number;
}

export interface RevisionTargets {
  traffic: ResolvedTarget[];
  shadow?: ResolvedShadow | undefined;
}

export interface Revision {
  revision: number;
  spec: DeploymentSpec;
  targets: RevisionTargets;
  createdAt: string;
}

/** `DriftDetected` is observed, not reconciled: live drift monitoring (src/monitoring) reports it. */
export type ConditionType = 'Ready' | 'RolledOut' | 'Failed' | 'DriftDetected';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

export interface TargetStatus {
  model: string;
  version: number;
  weight: number;
  tag?: string | undefined;
  /** Workers asked for and workers ready now. */
  replicas: { desired: number; ready: number };
}

export interface ShadowStatus {
  model: string;
  version: number;
  percent: number;
  requests: number;
  agreements: number;
  errors: number;
  /** agreements / (requests - errors), or null before the first comparison. */
  agreementRate: number | null;
}

export interface DeploymentStatus {
  /** The generation the reconciler last acted on; behind `generation` while a change is rolling out. */
  observedGeneration: number;
  /** The revision receiving traffic now, or null before the first one is ready. */
  servingRevision: number | null;
  conditions: Condition[];
  urls: { rest: string; grpc?: string | undefined };
  targets: TargetStatus[];
  shadow?: ShadowStatus | undefined;
}

export interface Deployment {
  project: string;
  name: string;
  generation: number;
  /** The revision that should serve: the latest one, or an older one after a rollback. */
  currentRevision: number;
  latestRevision: number;
  /** The spec of `currentRevision` (after a rollback, the older revision's, not the latest one's). */
  spec: DeploymentSpec;
  status: DeploymentStatus;
  createdAt: string;
  updatedAt: string;
  /** In the answer to a change only: what the change allows but may not mean (targets whose signatures differ). */
  warnings?: string[];
}
