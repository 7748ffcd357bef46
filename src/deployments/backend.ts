/**
 * A backend applies deployment revisions somewhere: `local` (this server's workers), `kubernetes`, `compose`.
 * DeploymentService picks one by `spec.backend` and owns the status; a backend only reports what happened.
 * `apply` is idempotent and never throws for a revision that cannot run: it returns `ok: false` with a reason.
 */
import type { RevisionPlan } from './local-backend.ts';
import type { DeploymentSpec } from './spec.ts';

export type BackendResult =
  | { ok: true /** Where the revision is reachable, when the backend knows (a Knative or KServe URL). */; url?: string }
  | { ok: false; reason: string; message: string };

export interface Backend {
  /**
   * Refuses, before a revision is made, a spec this backend can never apply on this server (throws
   * `invalid_request` naming the field and the fix); optional.
   */
  check?(spec: DeploymentSpec): void;
  apply(plan: RevisionPlan): Promise<BackendResult>;
  /** Removes everything the backend made for the deployment; nothing there is not an error. */
  remove(project: string, name: string): Promise<void>;
}
