/** Policies as code: CEL expressions compiled once, evaluated with an explanation of every value they read. */
export {
  type CompiledPolicy,
  compilePolicy,
  describeValue,
  type PolicyRead,
  type PolicyResult,
  type PolicyVariable,
} from './policy.ts';
