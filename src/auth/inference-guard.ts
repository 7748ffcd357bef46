/**
 * The data plane's check, shared by REST (V2, V1, Seldon) and gRPC: a call naming a model needs `infer` on the
 * deployment of that name (the part before `@`), unless the deployment is open (`spec.auth: open`); a server-level
 * call (V2 server metadata) needs any signed-in principal. Health probes never come here.
 *
 * Returns undefined when the call may go and the token was cached (the hot path allocates nothing); a promise
 * otherwise. Throws (or rejects) `unauthenticated`, `forbidden` or `rate_limited`.
 */
import type { Authorizer, Credentials } from './authorizer.ts';
import type { Principal } from './principal.ts';

export interface InferenceGuardOptions {
  /** The project inference names resolve in (the gateway serves `default`). */
  project: string;
  /** True when the deployment of this name takes calls without a token. */
  isOpen: (deployment: string) => boolean;
}

export type InferenceGuard = (request: Credentials, model: string | undefined) => undefined | Promise<void>;

export function inferenceGuard(authorizer: Authorizer, options: InferenceGuardOptions): InferenceGuard {
  if (!authorizer.required) return () => undefined;
  const { project } = options;
  return (request, model) => {
    const deployment = model === undefined ? undefined : deploymentOf(model);
    if (deployment !== undefined && options.isOpen(deployment)) return undefined;
    const check = (principal: Principal) => {
      if (deployment === undefined) authorizer.authorize(principal, 'read');
      else authorizer.authorize(principal, 'infer', project, deployment);
    };
    const principal = authorizer.identify(request);
    if (principal instanceof Promise) return principal.then(check);
    check(principal);
    return undefined;
  };
}

/** `fraud@canary` and `fraud@3` belong to the deployment `fraud`. */
export function deploymentOf(model: string): string {
  const at = model.indexOf('@');
  return at < 0 ? model : model.slice(0, at);
}
