/**
 * Traffic targets whose signatures differ: a client calling the deployment gets answers of another shape depending
 * on the arm it lands on (a canary without the `label` output, say). Allowed, since it may be meant, but said at
 * apply so that it never goes unnoticed.
 *
 *   signatureWarnings([{ name: 'fraud@1 (stable)', signature: a }, { name: 'fraud@2 (canary)', signature: b }])
 *   // ['spec.traffic: the targets' signatures differ: fraud@1 (stable) outputs label, probabilities; ...']
 */
import type { ModelSignature } from '../core/index.ts';

export interface NamedSignature {
  /** How the warning names the target: `fraud@2 (canary)`. */
  name: string;
  signature: ModelSignature;
}

const describe = (tensors: ModelSignature['inputs']) =>
  tensors.map((t) => `${t.name} ${t.datatype} [${t.shape.join(', ')}]`).join(', ');

export function signatureWarnings(targets: readonly NamedSignature[]): string[] {
  const [first, ...rest] = targets;
  if (!first) return [];
  const warnings: string[] = [];
  for (const side of ['inputs', 'outputs'] as const) {
    const differ = rest.some((t) => describe(t.signature[side]) !== describe(first.signature[side]));
    if (!differ) continue;
    const each = targets.map(
      (t) => `${t.name} ${side === 'inputs' ? 'takes' : 'outputs'} ${describe(t.signature[side]) || 'nothing'}`,
    );
    warnings.push(
      `spec.traffic: the targets' ${side} differ, so a request gets ${side === 'inputs' ? 'refused or accepted' : 'other outputs'} depending on the arm it lands on: ${each.join('; ')}`,
    );
  }
  return warnings;
}
