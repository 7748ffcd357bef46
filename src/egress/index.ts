/** The egress guard: every outbound URL goes through `EgressGuard.fetch`. */
export { blockedRange } from './address-policy.ts';
export {
  type CheckedTarget,
  EgressGuard,
  type EgressGuardOptions,
  type EgressRequestInit,
  type GuardedFetch,
  type LookupAll,
} from './egress-guard.ts';
