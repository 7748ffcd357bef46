/**
 * The backend contract. A backend applies deployment revisions somewhere: `local` (this server's workers),
 * `kubernetes`, `compose`; implementations live in src/backends/<name>/ and pass one conformance suite
 * (src/backends/backend.conformance.ts). DeploymentService picks one by `spec.backend` from the map it is given and
 * owns the status; a backend only reports what happened.
 *
 * - `apply` is idempotent and never throws for a revision that cannot run: it returns `ok: false` with a reason,
 *   and the revision serving before keeps serving.
 * - `remove` of a deployment the backend never made (or already removed) succeeds.
 * - Refusals (`check`, or a failed apply) name the spec field and the fix.
 */
import type { CompiledScaling, DeploymentSpec } from './spec.ts';
import type { RevisionTargets, ShadowStatus, TargetStatus } from './types.ts';

export type BackendName = DeploymentSpec['backend'];

/** One revision of one deployment, as a backend receives it. */
export interface RevisionPlan {
  project: string;
  name: string;
  revision: number;
  spec: DeploymentSpec;
  targets: RevisionTargets;
  scaling: CompiledScaling;
}

/** Supplies secret values for a deployment's environment (the secrets service implements it). */
export interface SecretResolver {
  resolve(project: string, names: string[]): Promise<Record<string, string>>;
}

export type BackendResult =
  | {
      ok: true;
      /** Where the revision is reachable, when the backend knows (a Knative or KServe URL). */
      url?: string;
      /**
       * Set when the backend wrote the revision but cannot see it run (a compose bundle: Modelport does not start
       * it): Ready stays Unknown with this reason (`BundleWritten`) and message, instead of True.
       */
      unobserved?: { reason: string; message: string };
    }
  | { ok: false; reason: string; message: string };

export interface Backend {
  /**
   * Refuses, before a revision is made, a spec this backend can never apply on this server (throws
   * `invalid_request` naming the field and the fix); optional.
   */
  check?(spec: DeploymentSpec): void;
  /**
   * Told the moment a revision is accepted, before it is reconciled; optional. The local backend holds requests
   * for a deployment it does not route yet until its first revision is routed (or fails), so a deployment that
   * `create`/`apply` accepted is never a 404.
   */
  accepted?(project: string, name: string): void;
  /**
   * Refuses, once references are pinned and before a revision is made, versions this backend cannot run (the local
   * backend and a container model type); throws `invalid_request` naming the target's field. Optional.
   */
  checkTargets?(project: string, targets: RevisionTargets, spec: DeploymentSpec): Promise<void>;
  apply(plan: RevisionPlan): Promise<BackendResult>;
  /** Removes everything the backend made for the deployment; nothing there is not an error. */
  remove(project: string, name: string): Promise<void>;
}

/** The backends a server applies to, by the name a spec's `backend` gives. */
export type Backends = Partial<Record<BackendName, Backend>>;

/** A deployment served by this server's own workers: its revision and live replicas. */
export interface ServingRoute {
  revision: number;
  targets: TargetStatus[];
  shadow?: ShadowStatus | undefined;
}

/** What the service reads of the local routes (the local backend implements it). */
export interface RouteReader {
  /** The revision this server routes the deployment's requests to now, or undefined. */
  serving(project: string, name: string): ServingRoute | undefined;
}
