/**
 * Picking a traffic target per request: weighted random, or sticky when the spec names a header (the same header
 * value always lands on the same target while the weights stay the same). Pure, so it is tested exactly.
 */
import { ModelportError } from '../core/index.ts';

/** The header naming the tagged target a request wants (`fraud@canary` in the model name does the same). */
export const TAG_HEADER = 'modelport-tag';

export interface Weighted {
  weight: number;
}

/** FNV-1a of a string, mapped to [0, 100). */
export function bucketOf(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return ((hash >>> 0) % 10_000) / 100;
}

/** The target whose cumulative weight range holds `point` (0 <= point < 100). Zero-weight targets never win. */
export function pickByPoint<T extends Weighted>(targets: readonly T[], point: number): T {
  let cumulative = 0;
  for (const target of targets) {
    cumulative += target.weight;
    if (point < cumulative) return target;
  }
  // Weights add up to 100, so this is reached only through rounding at the very top: the last with weight.
  return [...targets].reverse().find((t) => t.weight > 0) ?? targets[targets.length - 1]!;
}

export function pickTarget<T extends Weighted>(targets: readonly T[], stickyValue?: string, random = Math.random): T {
  if (targets.length === 1) return targets[0]!;
  const point = stickyValue === undefined ? random() * 100 : bucketOf(stickyValue);
  return pickByPoint(targets, point);
}

/** A target a request can be routed to: weighted, optionally tagged. */
export interface Routable extends Weighted {
  tag?: string | undefined;
}

/** What a request asks of a deployment: a tag (`name@tag` or the tag header), a version, or a sticky value. */
export interface TargetRequest {
  tag?: string | undefined;
  version?: string | undefined;
  sticky?: string | undefined;
}

/** `fraud@canary` -> `{ base: 'fraud', tag: 'canary' }`; no `@` -> no tag. */
export function splitTag(name: string): { base: string; tag: string | undefined } {
  const at = name.indexOf('@');
  return at < 0 ? { base: name, tag: undefined } : { base: name.slice(0, at), tag: name.slice(at + 1) };
}

/**
 * The target of one request to `deployment`: the one tagged `tag` when a tag is given, else the one serving
 * `version`, else one by weight (sticky on `sticky`). Throws `not_found` when no target has the tag or version.
 * The local deployment resolver and the compose gateway both route through this.
 */
export function selectTarget<T extends Routable>(
  deployment: string,
  targets: readonly T[],
  versionOf: (target: T) => number,
  request: TargetRequest,
  random = Math.random,
): T {
  const { tag, version } = request;
  if (tag !== undefined && tag !== '') {
    const tagged = targets.find((t) => t.tag === tag);
    if (tagged) return tagged;
    throw new ModelportError('not_found', `deployment '${deployment}' has no target tagged '${tag.slice(0, 40)}'`, {
      field: 'model',
    });
  }
  if (version !== undefined) {
    const serving = targets.find((t) => String(versionOf(t)) === version);
    if (serving) return serving;
    throw new ModelportError('not_found', `deployment '${deployment}' does not serve version ${version.slice(0, 20)}`, {
      field: 'version',
    });
  }
  return pickTarget(targets, request.sticky, random);
}
